//! The demo seed: with no `--config`, credentials are generated once,
//! written owner-only to the data directory, and stable across restarts.

use crate::support::{Options, TestAuth, mode, post};

#[tokio::test]
async fn the_demo_seed_generates_credentials_once_and_keeps_them() {
    let demo = || Options {
        args: vec!["--enable-password-grant".to_owned()],
        demo_seed: true,
        config: None,
    };
    let auth = TestAuth::start_with(demo()).await;
    let file = auth.data_dir().join(auth::DEMO_CREDENTIALS_FILE);
    assert_eq!(mode(&file), 0o600);
    let written = std::fs::read_to_string(&file).expect("demo credentials");
    let credentials: serde_json::Value = serde_json::from_str(&written).expect("JSON");
    let names = |section: &str| -> Vec<String> {
        credentials[section]
            .as_object()
            .expect(section)
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(names("clients"), ["gateway", "loadgen", "meshctl"]);
    assert_eq!(names("users"), ["ada", "alice", "bob", "maria"]);
    let loadgen = credentials["clients"]["loadgen"]
        .as_str()
        .expect("secret")
        .to_owned();
    assert_eq!(loadgen.len(), 43, "256 random bits");

    let grant = [
        ("grant_type", "client_credentials"),
        ("client_id", "loadgen"),
        ("client_secret", loadgen.as_str()),
    ];
    assert_eq!(
        post(&auth.client(), "/oauth2/token", &grant, None)
            .await
            .status,
        200
    );

    let auth = auth.restart(demo()).await;
    assert_eq!(
        std::fs::read_to_string(&file).expect("still there"),
        written
    );
    assert_eq!(
        post(&auth.client(), "/oauth2/token", &grant, None)
            .await
            .status,
        200
    );
    let ada = credentials["users"]["ada"].as_str().expect("password");
    let meshctl = credentials["clients"]["meshctl"].as_str().expect("secret");
    let login = [
        ("grant_type", "password"),
        ("client_id", "meshctl"),
        ("client_secret", meshctl),
        ("username", "ada"),
        ("password", ada),
    ];
    let reply = post(&auth.client(), "/oauth2/token", &login, None).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
}
