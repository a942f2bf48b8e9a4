//! The three domain workloads as separate processes on loopback, killed
//! with SIGKILL and restarted on the same ports and data directories.

use std::{net::SocketAddr, path::Path};

use mesh::testing::TestPki;
use tokio::process::Command;

use crate::support::{Process, command};

/// The domain workloads, in the order they depend on each other.
pub(super) const WORKLOADS: [&str; 3] = ["accounts", "payments", "orders"];

/// accounts, payments and orders, each a child process.
pub(super) struct Cluster<'a> {
    pki: &'a TestPki,
    scratch: &'a Path,
    auth: SocketAddr,
    processes: Vec<Process>,
}

impl<'a> Cluster<'a> {
    /// Starts the workloads with their data in `scratch`, taking keys and
    /// workload tokens from the key server at `auth`.
    pub(super) async fn start(pki: &'a TestPki, scratch: &'a Path, auth: SocketAddr) -> Self {
        let mut cluster = Self {
            pki,
            scratch,
            auth,
            processes: Vec::new(),
        };
        for name in WORKLOADS {
            let process = Process::start(cluster.command(name, None)).await;
            cluster.processes.push(process);
        }
        cluster
    }

    /// The mutual-TLS address of workload `name`.
    pub(super) fn addr(&self, name: &str) -> SocketAddr {
        self.processes[index(name)].grpc_addr
    }

    /// SIGKILLs workload `name`, then starts it again on the same port
    /// and data directory and waits until it serves.
    pub(super) async fn kill_and_restart(&mut self, name: &str) {
        let i = index(name);
        let restart = self.command(name, Some(self.processes[i].grpc_addr));
        self.processes[i]
            .child
            .kill()
            .await
            .expect("SIGKILL the process");
        self.processes[i] = Process::start(restart).await;
    }

    fn command(&self, name: &str, listen: Option<SocketAddr>) -> Command {
        let mut cmd = command(name, self.scratch);
        cmd.arg("--certs-dir")
            .arg(self.pki.dir().path())
            .env("MESH_AUTH_ADDR", self.auth.to_string());
        if let Some(addr) = listen {
            cmd.arg("--listen").arg(addr.to_string());
        }
        match name {
            "payments" => {
                cmd.arg("--accounts-addr")
                    .arg(self.addr("accounts").to_string());
            }
            "orders" => {
                cmd.arg("--payments-addr")
                    .arg(self.addr("payments").to_string())
                    // Resume interrupted orders soon after a restart.
                    .env("ORDERS_RESUME_INTERVAL", "200ms")
                    // Clients retry at once here; after that, the resumer.
                    .env("ORDERS_RESUME_AFTER", "1s");
            }
            _ => {}
        }
        cmd
    }
}

fn index(name: &str) -> usize {
    WORKLOADS
        .iter()
        .position(|w| *w == name)
        .unwrap_or_else(|| panic!("{name} is not a domain workload"))
}
