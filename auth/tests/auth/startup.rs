//! Configuration is checked at start-up, with a message naming what is wrong.

use crate::support::{Options, TestAuth};

async fn refused(options: Options) -> String {
    match TestAuth::try_start(options).await {
        Ok(_) => panic!("the server started"),
        Err(error) => error.to_string(),
    }
}

#[tokio::test]
async fn bad_flags_are_refused_naming_the_flag() {
    let cases: [(&[&str], &str); 4] = [
        (&["--issuer", "https://auth:7443/"], "--issuer"),
        (&["--issuer", "http://auth:7443"], "--issuer"),
        (
            &[
                "--key-rotation-interval",
                "5m",
                "--key-publish-ahead",
                "10m",
            ],
            "--key-rotation-interval",
        ),
        (&["--access-token-ttl", "2d"], "--access-token-ttl"),
    ];
    for (args, flag) in cases {
        let message = refused(Options::args(args)).await;
        assert!(message.contains(flag), "{args:?}: {message}");
    }
}

#[tokio::test]
async fn bad_config_files_are_refused_naming_the_entry() {
    let dir = tempfile::tempdir().expect("dir");
    let cases = [
        (
            "unknown.toml",
            "scopes = []\naudiences = []\nsuperuser = true\n",
            "superuser",
        ),
        (
            "no-secret.toml",
            "scopes = [\"a\"]\naudiences = [\"x\"]\n[[clients]]\nid = \"c\"\ngrants = [\"client_credentials\"]\naudiences = [\"x\"]\n",
            "client 'c' needs secret_hash or secret_env",
        ),
        (
            "missing-env.json",
            r#"{"scopes": [], "audiences": ["x"], "clients": [{"id": "c", "secret_env": "AUTH_TEST_NOT_SET_ANYWHERE", "grants": ["client_credentials"], "audiences": ["x"]}]}"#,
            "AUTH_TEST_NOT_SET_ANYWHERE",
        ),
        (
            "plain-hash.toml",
            "scopes = []\naudiences = [\"x\"]\n[[clients]]\nid = \"c\"\nsecret_hash = \"hunter2\"\ngrants = [\"client_credentials\"]\naudiences = [\"x\"]\n",
            "client 'c': unusable hash",
        ),
    ];
    for (name, text, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write config");
        let options = Options {
            config: Some(path),
            ..Options::default()
        };
        let message = refused(options).await;
        assert!(message.contains(expected), "{name}: {message}");
    }
}
