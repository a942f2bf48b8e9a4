//! `meshctl certs`: the development PKI on disk.

use std::{os::unix::fs::PermissionsExt, path::Path, process::Command};

use mesh::{
    pki::{PkiDir, WORKLOADS},
    tls::MeshTls,
};
use x509_parser::{extensions::GeneralName, prelude::*};

fn meshctl(args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_meshctl"))
        .args(args)
        .output()
        .expect("run meshctl");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

fn sans(path: &Path) -> Vec<String> {
    let pem = std::fs::read(path).expect("read cert");
    let (_, pem) = parse_x509_pem(&pem).expect("PEM");
    let cert = pem.parse_x509().expect("X.509");
    let ext = cert
        .subject_alternative_name()
        .expect("SAN ext")
        .expect("has SANs");
    ext.value
        .general_names
        .iter()
        .map(|name| match name {
            GeneralName::URI(u) => format!("uri:{u}"),
            GeneralName::DNSName(d) => format!("dns:{d}"),
            GeneralName::IPAddress(ip) => format!("ip:{ip:?}"),
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn creates_a_ca_and_one_identity_per_workload() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("certs");
    let (ok, text) = meshctl(&[
        "certs",
        "--out",
        out.to_str().expect("utf-8"),
        "--validity",
        "2h",
    ]);
    assert!(ok, "{text}");
    let pki = PkiDir::new(&out);
    assert_eq!(mode(&pki.ca_key()), 0o600);
    for name in WORKLOADS {
        assert_eq!(mode(&pki.key(name)), 0o600, "{name} key mode");
        let sans = sans(&pki.cert(name));
        assert!(
            sans.contains(&format!("uri:spiffe://mesh.local/{name}")),
            "{sans:?}"
        );
        assert!(sans.contains(&format!("dns:{name}")), "{sans:?}");
        assert!(sans.contains(&"dns:localhost".to_owned()), "{sans:?}");
        assert!(sans.contains(&"ip:[127, 0, 0, 1]".to_owned()), "{sans:?}");
        assert_eq!(sans.iter().filter(|s| s.starts_with("uri:")).count(), 1);
        // Each identity passes the checks every server applies at start-up.
        let files = mesh::tls::TlsFiles {
            cert: pki.cert(name),
            key: pki.key(name),
            ca: pki.ca_cert(),
        };
        let tls =
            MeshTls::load(files, "mesh.local".parse().expect("td"), name).expect("usable identity");
        let lifetime = tls.not_after() - time_now();
        assert!(
            (3600..=7300).contains(&lifetime),
            "{name}: lifetime {lifetime}s"
        );
    }
}

fn time_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

#[test]
fn reruns_keep_keys_and_force_replaces_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().to_str().expect("utf-8").to_owned();
    assert!(meshctl(&["certs", "--out", &out]).0);
    let pki = PkiDir::new(dir.path());
    let key = std::fs::read(pki.key("orders")).expect("key");
    let ca = std::fs::read(pki.ca_cert()).expect("ca");

    let (ok, text) = meshctl(&["certs", "--out", &out]);
    assert!(ok, "{text}");
    assert!(text.contains("kept"), "{text}");
    assert_eq!(
        std::fs::read(pki.key("orders")).expect("key"),
        key,
        "a rerun must not replace keys"
    );

    let (ok, text) = meshctl(&["certs", "--out", &out, "--force", "--workloads", "orders"]);
    assert!(ok, "{text}");
    assert_ne!(
        std::fs::read(pki.key("orders")).expect("key"),
        key,
        "--force issues a new key"
    );
    assert_eq!(
        std::fs::read(pki.ca_cert()).expect("ca"),
        ca,
        "the CA is kept"
    );
}

#[test]
fn bad_flags_are_named() {
    let (ok, text) = meshctl(&["certs", "--trust-domain", "Not Valid"]);
    assert!(!ok);
    assert!(text.contains("--trust-domain"), "{text}");
    let (ok, text) = meshctl(&["certs", "--validity", "soon"]);
    assert!(!ok);
    assert!(text.contains("--validity"), "{text}");
}

#[test]
fn export_gives_each_workload_its_own_key_and_the_ca_certificate_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (out, export) = (dir.path().join("certs"), dir.path().join("export"));
    let (ok, text) = meshctl(&[
        "certs",
        "--out",
        out.to_str().expect("utf-8"),
        "--workloads",
        "orders,payments",
        "--export",
        export.to_str().expect("utf-8"),
    ]);
    assert!(ok, "{text}");
    let ca = std::fs::read(PkiDir::new(&out).ca_cert()).expect("CA cert");
    for name in ["orders", "payments"] {
        let own = PkiDir::new(export.join(name));
        let mut files: Vec<String> = std::fs::read_dir(own.path())
            .expect("export dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        // Nothing else: no CA key, no other workload's key.
        assert_eq!(
            files,
            [
                "ca.pem".to_owned(),
                format!("{name}-key.pem"),
                format!("{name}.pem"),
            ]
        );
        assert_eq!(mode(&own.key(name)), 0o600, "{name} key mode");
        assert_eq!(std::fs::read(own.ca_cert()).expect("CA cert"), ca);
        assert_eq!(
            std::fs::read(own.key(name)).expect("key"),
            std::fs::read(PkiDir::new(&out).key(name)).expect("key")
        );
        // A workload loads its identity from the exported directory alone.
        let files = mesh::tls::TlsFiles {
            cert: own.cert(name),
            key: own.key(name),
            ca: own.ca_cert(),
        };
        MeshTls::load(files, "mesh.local".parse().expect("td"), name)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    // A second run keeps the identities and exports the same files again.
    let (ok, text) = meshctl(&[
        "certs",
        "--out",
        out.to_str().expect("utf-8"),
        "--workloads",
        "orders,payments",
        "--export",
        export.to_str().expect("utf-8"),
    ]);
    assert!(ok, "{text}");
    assert!(text.contains("kept"), "{text}");
}
