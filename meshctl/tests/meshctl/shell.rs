//! What a shell user expects of a clap CLI: completion scripts and a man
//! page, generated from the same definition as `--help`.

use std::process::Command;

fn meshctl(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_meshctl"))
        .args(args)
        .output()
        .expect("run meshctl");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn completions_cover_every_subcommand_in_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let (ok, script, stderr) = meshctl(&["completions", shell]);
        assert!(ok, "{shell}: {stderr}");
        for subcommand in ["certs", "up", "demo", "token", "load", "completions"] {
            assert!(script.contains(subcommand), "{shell} lacks {subcommand}");
        }
        assert!(script.contains("data-dir"), "{shell} lacks flags");
    }
    let (ok, _, stderr) = meshctl(&["completions", "tcsh"]);
    assert!(!ok);
    assert!(stderr.contains("possible values"), "{stderr}");
}

#[test]
fn the_man_page_is_roff_with_every_subcommand() {
    let (ok, page, stderr) = meshctl(&["man"]);
    assert!(ok, "{stderr}");
    assert!(
        page.starts_with(".ie") || page.contains(".TH meshctl"),
        "{page}"
    );
    for subcommand in ["certs", "up", "demo", "token", "load"] {
        assert!(page.contains(subcommand), "man page lacks {subcommand}");
    }
}
