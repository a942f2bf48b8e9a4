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

/// Case 51: a client named like a user would own that user's objects, and
/// a cheap hash makes offline guessing cheap; both are refused at start,
/// naming the entries and the fix.
#[tokio::test]
async fn case_51_client_named_like_a_user_or_weak_hash_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let strong = auth::PasswordHash::create(&auth::Secret::new("s"), crate::support::TEST_HASH)
        .expect("hash");
    let weak = auth::PasswordHash::create(
        &auth::Secret::new("s"),
        auth::HashParams {
            memory_kib: 4_096,
            iterations: 1,
        },
    )
    .expect("hash");
    let client = |id: &str, hash: &str| {
        format!(
            "[[clients]]\nid = \"{id}\"\nsecret_hash = \"{hash}\"\n\
             grants = [\"client_credentials\"]\naudiences = [\"x\"]\n"
        )
    };
    let user = |name: &str, hash: &str| {
        format!(
            "[[users]]\nusername = \"{name}\"\npassword_hash = \"{hash}\"\nroles = [\"USER\"]\n"
        )
    };
    let head = "scopes = []\naudiences = [\"x\"]\n";
    let cases = [
        (
            "same-name.toml",
            format!(
                "{head}{}{}",
                client("alice", strong.as_str()),
                user("alice", strong.as_str())
            ),
            vec!["user 'alice'", "client 'alice'", "rename one"],
        ),
        (
            "weak-client.toml",
            format!("{head}{}", client("c", weak.as_str())),
            vec![
                "client 'c'",
                "m=4096 KiB, t=1",
                "OWASP",
                "hash the secret again",
            ],
        ),
        (
            "weak-user.toml",
            format!("{head}{}", user("bob", weak.as_str())),
            vec!["user 'bob'", "below OWASP's minimum"],
        ),
    ];
    for (name, text, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write config");
        let message = refused(Options {
            config: Some(path),
            ..Options::default()
        })
        .await;
        for part in expected {
            assert!(message.contains(part), "{name}: {message}");
        }
    }
    // The same names apart, with OWASP-strength hashes, start.
    let path = dir.path().join("fine.toml");
    let text = format!(
        "{head}{}{}",
        client("c", strong.as_str()),
        user("alice", strong.as_str())
    );
    std::fs::write(&path, text).expect("write config");
    let server = TestAuth::try_start(Options {
        config: Some(path),
        ..Options::default()
    })
    .await
    .expect("a sound config starts");
    server.stop().await;
}
