//! `meshctl certs`: the development PKI. One CA, and for each workload a
//! P-256 key (mode 0600) and a short-lived certificate naming its SPIFFE ID.
//!
//! Existing keys are never replaced without `--force`; a run with an
//! existing CA reuses it and issues only what is missing or about to
//! expire, so repeated runs (and `meshctl up`) keep identities stable.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, bail};
use clap::Args;
use mesh::{
    TrustDomain,
    pki::{CertAuthority, IssuedCert, LeafSpec, PkiDir, WORKLOADS},
};
use time::OffsetDateTime;

/// Flags of `meshctl certs`.
#[derive(Debug, Args)]
pub(crate) struct CertsArgs {
    /// Directory to write `ca.pem`, `ca-key.pem`, `<workload>.pem` and `<workload>-key.pem` into.
    #[arg(long, env = "MESH_CERTS_DIR", default_value = ".mesh/certs")]
    out: PathBuf,

    /// Trust domain of the SPIFFE IDs.
    #[arg(long, env = "MESH_TRUST_DOMAIN", default_value = "mesh.local")]
    trust_domain: TrustDomain,

    /// Lifetime of workload certificates (short by default; rotate by re-running with --force).
    #[arg(long, default_value = "24h", value_parser = mesh::config::parse_duration)]
    validity: Duration,

    /// Lifetime of the CA certificate.
    #[arg(long, default_value = "30d", value_parser = mesh::config::parse_duration)]
    ca_validity: Duration,

    /// Workloads to issue for (default: every workload of the mesh).
    #[arg(long, value_delimiter = ',')]
    workloads: Vec<String>,

    /// Re-issue a workload certificate that expires within this time.
    #[arg(long, default_value = "1h", value_parser = mesh::config::parse_duration)]
    renew_before: Duration,

    /// Replace existing keys and certificates (the CA is kept unless --new-ca).
    #[arg(long)]
    force: bool,

    /// Create a new CA even if one exists (implies re-issuing everything).
    #[arg(long)]
    new_ca: bool,

    /// Also copy each workload's own files (`ca.pem`, `<workload>.pem`,
    /// `<workload>-key.pem`) into `<DIR>/<workload>/`, one directory per
    /// workload to mount alone: never the CA key, never another's key.
    #[arg(long, value_name = "DIR")]
    export: Option<PathBuf>,

    /// Say nothing about certificates kept as they are.
    #[arg(skip)]
    quiet: bool,
}

/// `meshctl certs` flags alone, to build [`CertsArgs`] from their defaults.
#[derive(Debug, clap::Parser)]
struct Defaults {
    #[command(flatten)]
    args: CertsArgs,
}

impl CertsArgs {
    /// The flags `meshctl up` uses for the PKI in `out`: the defaults of
    /// `meshctl certs` (and its environment variables), renewing what
    /// expires within `renew_before`.
    pub(crate) fn for_stack(
        out: &Path,
        renew_before: Duration,
        quiet: bool,
    ) -> anyhow::Result<Self> {
        let mut args = <Defaults as clap::Parser>::try_parse_from([
            "meshctl certs".as_ref(),
            "--out".as_ref(),
            out.as_os_str(),
        ])
        .context("the default flags of `meshctl certs`")?
        .args;
        args.renew_before = renew_before;
        args.quiet = quiet;
        Ok(args)
    }

    /// The trust domain the certificates name.
    pub(crate) fn trust_domain(&self) -> &TrustDomain {
        &self.trust_domain
    }
}

pub(crate) fn run(args: &CertsArgs) -> anyhow::Result<()> {
    let dir = PkiDir::new(&args.out);
    let (ca, fresh_ca) = if dir.ca_key().exists() && !args.new_ca {
        let ca = dir
            .load_ca()
            .with_context(|| format!("cannot use the existing CA in {}", args.out.display()))?;
        // Leaves issued now must not outlive their CA.
        let needed = OffsetDateTime::now_utc() + args.validity;
        if dir
            .not_after("ca")
            .is_none_or(|t| t <= needed.unix_timestamp())
        {
            bail!(
                "the CA in {dir} expires within the lifetime of a new certificate ({validity:?}): \
                 create a new one with `meshctl certs --out {dir} --new-ca` (every workload then gets a new certificate)",
                dir = args.out.display(),
                validity = args.validity,
            );
        }
        (ca, false)
    } else {
        let ca = CertAuthority::generate(&args.trust_domain, args.ca_validity)?;
        dir.write_ca(&ca, args.force || args.new_ca)?;
        println!("created CA         {}", dir.ca_cert().display());
        (ca, true)
    };
    let names: Vec<&str> = if args.workloads.is_empty() {
        WORKLOADS.to_vec()
    } else {
        args.workloads.iter().map(String::as_str).collect()
    };
    for name in names.iter().copied() {
        let renew_at = OffsetDateTime::now_utc() + args.renew_before;
        let expiring = dir
            .not_after(name)
            .is_none_or(|not_after| not_after <= renew_at.unix_timestamp());
        let existed = dir.key(name).exists();
        if existed && !args.force && !fresh_ca && !expiring {
            if !args.quiet {
                println!("kept {:<14} {}", name, dir.cert(name).display());
            }
            continue;
        }
        let spec = LeafSpec::workload(&args.trust_domain, name, args.validity)?;
        let issued = ca.issue(&spec)?;
        dir.write_workload(name, &issued, args.force || fresh_ca || expiring)?;
        println!(
            "{} {:<12} {} ({})",
            if existed { "renewed" } else { "issued" },
            name,
            dir.cert(name).display(),
            spec.uris.join(", ")
        );
    }
    if let Some(export) = &args.export {
        for name in names {
            export_workload(&dir, name, &export.join(name))?;
        }
    }
    Ok(())
}

/// Copies what workload `name` needs to run, and nothing else, into `to`:
/// the CA certificate, its certificate and its key (mode 0600).
fn export_workload(dir: &PkiDir, name: &str, to: &Path) -> anyhow::Result<()> {
    let read = |path: PathBuf| {
        std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
    };
    let issued = IssuedCert {
        cert_pem: read(dir.cert(name))?,
        key_pem: read(dir.key(name))?,
    };
    let out = PkiDir::new(to);
    out.write_workload(name, &issued, true)?;
    // Written through a temporary file, as the keys are, so a workload
    // reloading its trust bundle never reads half a certificate.
    let tmp = out.ca_cert().with_extension("pem.tmp");
    std::fs::write(&tmp, read(dir.ca_cert())?)
        .and_then(|()| std::fs::rename(&tmp, out.ca_cert()))
        .with_context(|| format!("cannot write {}", out.ca_cert().display()))?;
    println!("exported {:<10} {}", name, to.display());
    Ok(())
}
