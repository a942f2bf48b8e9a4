//! The claims of an RFC 9068 access token, typed.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// A role a user (or client) holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum Role {
    #[serde(rename = "ADMIN")]
    Admin,
    #[serde(rename = "MANAGER")]
    Manager,
    #[serde(rename = "USER")]
    User,
}

impl Role {
    /// The role as written in tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "ADMIN",
            Self::Manager => "MANAGER",
            Self::User => "USER",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The party acting on the subject's behalf (RFC 8693 `act`), for example
/// the workload that exchanged the token.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Actor {
    /// Who acts: a SPIFFE ID for mesh workloads.
    pub sub: String,
    /// An earlier actor in a chain of exchanges.
    #[serde(default)]
    pub act: Option<Box<Actor>>,
}

/// The verified claims of the caller's access token. Handlers receive it
/// as a request extension (inside [`crate::Caller`]); it exists only after
/// every check of RFC 8725 and RFC 9068 passed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Subject: the user, or the client for `client_credentials`.
    pub sub: String,
    /// Audiences: workload names this token is for.
    #[serde(deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    /// The OAuth client the token was issued to.
    pub client_id: String,
    /// Granted scopes.
    #[serde(default, rename = "scope", deserialize_with = "space_separated")]
    pub scopes: Vec<String>,
    /// Roles of the subject.
    #[serde(default)]
    pub roles: Vec<Role>,
    /// Issued at (Unix seconds).
    pub iat: u64,
    /// Not before (Unix seconds); absent means "from `iat`".
    #[serde(default)]
    pub nbf: Option<u64>,
    /// Expiry (Unix seconds).
    pub exp: u64,
    /// Token id.
    pub jti: String,
    /// Who acts for the subject, when the token came from an exchange.
    #[serde(default)]
    pub act: Option<Actor>,
    /// The `jti` of the token an exchange chain started from: revoking
    /// that token revokes every token exchanged from it.
    #[serde(default)]
    pub root_jti: Option<String>,
}

impl Claims {
    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Whether the subject holds `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// MANAGER or ADMIN: may see and act on every subject's objects.
    pub fn is_staff(&self) -> bool {
        self.has_role(Role::Manager) || self.has_role(Role::Admin)
    }

    /// The object-level rule of the sample domain: the owner, or staff.
    pub fn may_access(&self, owner: &str) -> bool {
        self.sub == owner || self.is_staff()
    }
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

fn space_separated<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let s = String::deserialize(d)?;
    Ok(s.split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Claims, serde_json::Error> {
        serde_json::from_str(json)
    }

    const BASE: &str = r#""iss":"i","sub":"alice","client_id":"c","iat":1,"jti":"j""#;

    #[test]
    fn reads_rfc9068_claims() {
        let claims = parse(&format!(
            r#"{{{BASE},"aud":"orders","exp":2,"scope":"orders:read  orders:write","roles":["USER"]}}"#
        ))
        .expect("valid");
        assert_eq!(claims.aud, ["orders"]);
        assert_eq!(claims.scopes, ["orders:read", "orders:write"]);
        assert!(claims.has_role(Role::User) && !claims.is_staff());
        assert!(claims.may_access("alice") && !claims.may_access("bob"));
    }

    #[test]
    fn refuses_wrongly_typed_times() {
        for exp in [
            r#""2""#,
            "null",
            "1e400",
            "-1",
            "18446744073709551616",
            "2.5",
        ] {
            let json = format!(r#"{{{BASE},"aud":["orders"],"exp":{exp}}}"#);
            assert!(parse(&json).is_err(), "exp {exp} must be refused");
        }
        assert!(
            parse(&format!(r#"{{{BASE},"aud":["orders"]}}"#)).is_err(),
            "missing exp"
        );
        let json = format!(r#"{{{BASE},"aud":["orders"],"exp":2,"roles":["ROOT"]}}"#);
        assert!(parse(&json).is_err(), "unknown role");
    }
}
