//! The whole mesh as separate processes, the way a user runs it: auth,
//! accounts, payments, orders and the gateway, on loopback ports chosen by
//! the kernel, each told where the others are, with certificates from a
//! test PKI and auth's demo seed (password grant on).

use std::net::SocketAddr;

use base64::{Engine, engine::general_purpose::STANDARD};
use mesh::testing::{HttpReply, TestPki, https_request_from};
use serde_json::Value;

use crate::support::{Process, command};

/// A running stack; every process is killed on drop.
pub(crate) struct Stack {
    pub(crate) pki: TestPki,
    pub(crate) scratch: tempfile::TempDir,
    pub(crate) auth: Process,
    pub(crate) accounts: Process,
    pub(crate) payments: Process,
    pub(crate) orders: Process,
    pub(crate) gateway: Process,
}

impl Stack {
    /// Starts every workload, in dependency order, with `extra` environment.
    pub(crate) async fn start(extra: &[(&str, String)]) -> Self {
        let pki = TestPki::new();
        let scratch = tempfile::tempdir().expect("temp dir");
        let cmd = |name: &str| {
            let mut cmd = command(name, scratch.path());
            cmd.arg("--certs-dir").arg(pki.dir().path());
            for (key, value) in extra {
                cmd.env(key, value);
            }
            cmd
        };
        let mut auth_cmd = cmd("auth");
        auth_cmd.env("AUTH_ENABLE_PASSWORD_GRANT", "true");
        let auth = Process::start_https(auth_cmd).await;
        let auth_addr = auth.grpc_addr.to_string();

        let mut accounts_cmd = cmd("accounts");
        accounts_cmd.env("MESH_AUTH_ADDR", &auth_addr);
        let accounts = Process::start(accounts_cmd).await;

        let mut payments_cmd = cmd("payments");
        payments_cmd
            .env("MESH_AUTH_ADDR", &auth_addr)
            .env("ACCOUNTS_ADDR", accounts.grpc_addr.to_string());
        let payments = Process::start(payments_cmd).await;

        let mut orders_cmd = cmd("orders");
        orders_cmd
            .env("MESH_AUTH_ADDR", &auth_addr)
            .env("ACCOUNTS_ADDR", accounts.grpc_addr.to_string())
            .env("PAYMENTS_ADDR", payments.grpc_addr.to_string());
        let orders = Process::start(orders_cmd).await;

        let mut gateway_cmd = cmd("gateway");
        gateway_cmd
            .env("MESH_AUTH_ADDR", &auth_addr)
            .env("ACCOUNTS_ADDR", accounts.grpc_addr.to_string())
            .env("PAYMENTS_ADDR", payments.grpc_addr.to_string())
            .env("ORDERS_ADDR", orders.grpc_addr.to_string())
            .env(
                "AUTH_HTTP_ADDR",
                auth.https_addr.expect("auth HTTPS").to_string(),
            );
        let gateway = Process::start_https(gateway_cmd).await;

        let stack = Self {
            pki,
            scratch,
            auth,
            accounts,
            payments,
            orders,
            gateway,
        };
        stack.wait_ready().await;
        stack
    }

    /// Every process, for checks that apply to all.
    pub(crate) fn processes(&self) -> [(&'static str, &Process); 5] {
        [
            ("auth", &self.auth),
            ("accounts", &self.accounts),
            ("payments", &self.payments),
            ("orders", &self.orders),
            ("gateway", &self.gateway),
        ]
    }

    /// Waits (bounded) until every process reports ready: the token
    /// checkers have fetched their first JWKS.
    async fn wait_ready(&self) {
        for (name, process) in self.processes() {
            let ready = mesh::testing::eventually(std::time::Duration::from_secs(30), || async {
                (mesh::testing::http_get(process.admin_addr, "/readyz")
                    .await
                    .0
                    == 200)
                    .then_some(())
            })
            .await;
            assert!(ready.is_some(), "{name} never became ready");
        }
    }

    /// The gateway's public address.
    pub(crate) fn public(&self) -> SocketAddr {
        self.gateway.https_addr.expect("gateway HTTPS")
    }

    /// The demo credentials auth generated.
    pub(crate) fn credentials(&self) -> Value {
        let path = self
            .scratch
            .path()
            .join("auth-data")
            .join("demo-credentials.json");
        serde_json::from_slice(&std::fs::read(&path).expect("demo credentials")).expect("JSON")
    }

    /// A REST call to the gateway: `head` is the request line plus header lines.
    pub(crate) async fn rest(&self, head: &str, body: &str) -> HttpReply {
        self.rest_from(None, head, body).await
    }

    /// [`Self::rest`] from local address `from` (another loopback address
    /// plays another client machine).
    pub(crate) async fn rest_from(
        &self,
        from: Option<std::net::IpAddr>,
        head: &str,
        body: &str,
    ) -> HttpReply {
        https_request_from(
            from,
            self.public(),
            &self.pki.dir().ca_cert(),
            head,
            body.as_bytes(),
        )
        .await
    }

    /// A JSON REST call with a bearer token.
    pub(crate) async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: &str,
    ) -> HttpReply {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        );
        self.rest(&head, body).await
    }

    /// Opens an EUR account as `token`'s subject through the gateway; its id.
    pub(crate) async fn open_account(&self, token: &str) -> String {
        let account = self
            .call("POST", "/v1/accounts", token, r#"{"currency":"EUR"}"#)
            .await;
        assert_eq!(account.status, 200, "open account: {}", account.body);
        account.json()["accountId"]
            .as_str()
            .expect("accountId")
            .to_owned()
    }

    /// A user's access token from auth, through the gateway (password grant
    /// with the `meshctl` client, as `meshctl token` does), with every scope
    /// the user's roles allow.
    pub(crate) async fn token(&self, user: &str) -> String {
        self.login(user, &[]).await["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// A password-grant login of `user` with `extra` parameters: the whole
    /// token response (access and refresh token).
    pub(crate) async fn login(&self, user: &str, extra: &[(&str, &str)]) -> Value {
        let creds = self.credentials();
        let password = creds["users"][user].as_str().expect("demo user");
        let mut params = vec![
            ("grant_type", "password"),
            ("username", user),
            ("password", password),
        ];
        params.extend_from_slice(extra);
        let reply = self.oauth("/oauth2/token", &params).await;
        assert_eq!(reply.status, 200, "token for {user}: {}", reply.body);
        reply.json()
    }

    /// POSTs form `params` to an OAuth2 endpoint of auth through the
    /// gateway, as the `meshctl` client (basic authentication).
    pub(crate) async fn oauth(&self, path: &str, params: &[(&str, &str)]) -> HttpReply {
        let secret = self.credentials()["clients"]["meshctl"]
            .as_str()
            .expect("meshctl client")
            .to_owned();
        let form = serde_urlencoded::to_string(params).expect("form");
        let basic = STANDARD.encode(format!("meshctl:{secret}"));
        let head = format!(
            "POST {path} HTTP/1.1\r\nAuthorization: Basic {basic}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        );
        self.rest(&head, &form).await
    }
}
