//! Every workload binary starts on the mesh bootstrap, serves health over
//! mutual TLS, stops cleanly on SIGTERM, and refuses bad configuration
//! with a non-zero exit and a message naming the flag or file.

use std::path::Path;

use mesh::testing::{ClientCert, TestPki, raw_channel};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::support::{Process, WORKLOADS, command, run_to_exit};

fn with_files(cmd: &mut tokio::process::Command, cert: &Path, key: &Path, ca: &Path) {
    cmd.arg("--cert")
        .arg(cert)
        .arg("--key")
        .arg(key)
        .arg("--ca")
        .arg(ca);
}

#[tokio::test]
async fn every_binary_serves_health_over_mtls_and_stops_on_sigterm() {
    let pki = TestPki::new();
    // Token checkers are ready once they have keys: a stand-in auth serves them.
    let (keys, _) = mesh::testing::start_key_server(&pki).await;
    for name in WORKLOADS {
        let mut cmd = command(name, pki.dir().path());
        cmd.arg("--certs-dir").arg(pki.dir().path());
        cmd.env("MESH_AUTH_ADDR", keys.grpc_addr.to_string());
        let process = Process::start(cmd).await;
        let channel = raw_channel(
            &(&pki.files("loadgen")).into(),
            &pki.dir().ca_cert(),
            process.grpc_addr,
        );
        let reply = HealthClient::new(channel)
            .check(HealthCheckRequest::default())
            .await
            .unwrap_or_else(|e| panic!("{name}: health check failed: {e}"));
        assert_eq!(
            reply.into_inner().status(),
            ServingStatus::Serving,
            "{name}"
        );
        let ready = mesh::testing::eventually(std::time::Duration::from_secs(30), || async {
            (mesh::testing::http_get(process.admin_addr, "/readyz")
                .await
                .0
                == 200)
                .then_some(())
        })
        .await;
        assert!(ready.is_some(), "{name} never reported ready on /readyz");

        // Without a client certificate the first call fails.
        let anonymous = raw_channel(&ClientCert::None, &pki.dir().ca_cert(), process.grpc_addr);
        assert!(
            HealthClient::new(anonymous)
                .check(HealthCheckRequest::default())
                .await
                .is_err(),
            "{name} served a client without a certificate"
        );
        let status = process.terminate().await;
        assert!(
            status.success(),
            "{name} exited with {status} after SIGTERM"
        );
    }
}

/// Starts every binary with `configure` applied and checks each exits
/// non-zero with a message containing every string of `expect`.
async fn refused(configure: impl Fn(&mut tokio::process::Command, &str), expect: &[&str]) {
    let scratch = tempfile::tempdir().expect("temp dir");
    for name in WORKLOADS {
        let mut cmd = command(name, scratch.path());
        configure(&mut cmd, name);
        let (status, output) = run_to_exit(cmd).await;
        assert!(
            !status.success(),
            "{name} started with a bad configuration:\n{output}"
        );
        for needle in expect {
            assert!(
                output.contains(needle),
                "{name}: expected {needle:?} in:\n{output}"
            );
        }
    }
}

#[tokio::test]
async fn a_missing_certificate_file_is_named() {
    let pki = TestPki::new();
    let missing = pki.dir().path().join("missing.pem");
    refused(
        |cmd, name| with_files(cmd, &missing, &pki.dir().key(name), &pki.dir().ca_cert()),
        &["--cert", "missing.pem", "cannot read"],
    )
    .await;
}

#[tokio::test]
async fn an_unreadable_key_file_is_named() {
    let pki = TestPki::new();
    // A directory cannot be read as a file, even by root.
    let dir = pki.dir().path().to_owned();
    refused(
        |cmd, name| with_files(cmd, &pki.dir().cert(name), &dir, &pki.dir().ca_cert()),
        &["--key", "cannot read"],
    )
    .await;
}

#[tokio::test]
async fn a_file_that_is_not_pem_is_named() {
    let pki = TestPki::new();
    let junk = pki.dir().path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").expect("write junk");
    refused(
        |cmd, name| with_files(cmd, &pki.dir().cert(name), &pki.dir().key(name), &junk),
        &["--ca", "junk.pem"],
    )
    .await;
}

#[tokio::test]
async fn a_key_that_does_not_match_the_certificate_is_named() {
    let pki = TestPki::new();
    refused(
        |cmd, name| {
            with_files(
                cmd,
                &pki.dir().cert(name),
                &pki.dir().key("loadgen"),
                &pki.dir().ca_cert(),
            )
        },
        &["--key", "does not belong to the certificate"],
    )
    .await;
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_named() {
    let pki = TestPki::new();
    let other = TestPki::new();
    refused(
        |cmd, name| {
            with_files(
                cmd,
                &other.dir().cert(name),
                &other.dir().key(name),
                &pki.dir().ca_cert(),
            )
        },
        &["--cert", "is not valid under the CA in --ca"],
    )
    .await;
}

#[tokio::test]
async fn an_expired_certificate_is_named() {
    let pki = TestPki::new();
    let scratch = tempfile::tempdir().expect("temp dir");
    let expired = mesh::pki::PkiDir::new(scratch.path());
    for name in WORKLOADS {
        let mut spec = pki.spec(name);
        spec.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(2);
        spec.not_after = time::OffsetDateTime::now_utc() - time::Duration::days(1);
        expired
            .write_workload(name, &pki.ca().issue(&spec).expect("issue"), true)
            .expect("write");
    }
    refused(
        |cmd, name| {
            with_files(
                cmd,
                &expired.cert(name),
                &expired.key(name),
                &pki.dir().ca_cert(),
            )
        },
        &["--cert", "expired"],
    )
    .await;
}

#[tokio::test]
async fn another_workloads_certificate_is_named() {
    let pki = TestPki::new();
    refused(
        |cmd, _| {
            with_files(
                cmd,
                &pki.dir().cert("loadgen"),
                &pki.dir().key("loadgen"),
                &pki.dir().ca_cert(),
            )
        },
        &["--cert", "spiffe://mesh.local/loadgen"],
    )
    .await;
}

#[tokio::test]
async fn a_port_in_use_is_named() {
    let pki = TestPki::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    refused(
        |cmd, _| {
            cmd.arg("--certs-dir")
                .arg(pki.dir().path())
                .arg("--listen")
                .arg(&addr);
        },
        &["--listen", &addr, "cannot listen"],
    )
    .await;
}

#[tokio::test]
async fn an_invalid_limit_is_named() {
    refused(
        |cmd, _| {
            cmd.args(["--max-concurrent-streams", "0"]);
        },
        &["--max-concurrent-streams"],
    )
    .await;
}
