//! `docker-compose.yml` validates, alone and with the offline override:
//! `docker-compose config` (Debian's docker-compose, which `.ci/run`
//! installs) accepts them, with no variable needing a value. This needs no
//! Docker Engine; running the stack in containers is `compose_docker.rs`.

use std::{path::Path, process::Stdio};

use tokio::process::Command;

/// `docker-compose --file <each of files> config --quiet` from the
/// repository root: whether it passed, and what it said.
async fn config(files: &[&str]) -> (bool, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repository root");
    let mut cmd = Command::new("docker-compose");
    for file in files {
        cmd.arg("--file").arg(root.join(file));
    }
    cmd.args(["config", "--quiet"])
        // `config` interpolates ${VARS}; the files must not need any.
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let output = cmd.output().await.unwrap_or_else(|e| {
        panic!("cannot run docker-compose ({e}); install it: apt-get install docker-compose")
    });
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[tokio::test]
async fn the_compose_file_validates() {
    let (ok, output) = config(&["docker-compose.yml"]).await;
    assert!(ok, "docker-compose config refused the file:\n{output}");
    let (ok, output) = config(&["docker-compose.yml", "deploy/compose.offline.yml"]).await;
    assert!(
        ok,
        "docker-compose config refused the offline override:\n{output}"
    );
}
