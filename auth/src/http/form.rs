//! Reading an `application/x-www-form-urlencoded` request body, as every
//! OAuth 2.0 endpoint receives it, with the checks RFC 6749 asks for.
//!
//! Any body that is not a small, well-formed form becomes an OAuth2
//! `invalid_request` (413 if too large), never a 500: wrong or missing
//! content type, a body over [`MAX_BODY_BYTES`] or slower than
//! [`BODY_TIMEOUT`], invalid percent-encoding or UTF-8, too many
//! parameters, or a parameter repeated (§3.1; only `audience` and
//! `resource` may repeat, per RFC 8693 and RFC 8707).

use std::time::Duration;

use axum::{
    body::{Body, Bytes},
    extract::Request,
    http::{header, request::Parts},
};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::error::Error;

/// Largest body accepted. Token requests are a few hundred bytes; an
/// 8 KiB subject token plus the rest still fits.
pub(crate) const MAX_BODY_BYTES: usize = 16 * 1024;
/// Most parameters accepted in one body.
const MAX_PARAMS: usize = 32;
/// A body not received in this time is refused (slow clients).
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Parameters that may appear more than once.
const REPEATABLE: &[&str] = &["audience", "resource"];

/// The parameters of a form body.
#[derive(Default)]
pub(crate) struct Form {
    params: Vec<(String, String)>,
}

impl std::fmt::Debug for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values include secrets and tokens: names only.
        f.debug_list()
            .entries(self.params.iter().map(|(k, _)| k))
            .finish()
    }
}

impl Form {
    /// Reads and checks the body of `request`; returns the head and the form.
    pub(crate) async fn read(request: Request) -> Result<(Parts, Self), Error> {
        let (parts, body) = request.into_parts();
        check_content_type(&parts)?;
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
            return Err(Error::BodyTooLarge);
        }
        let bytes = read_body(body).await?;
        Ok((parts, Self::parse(&bytes)?))
    }

    /// Parses a form body.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, Error> {
        let params: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)
            .map_err(|_| Error::InvalidRequest("the body is not a valid form encoding".into()))?;
        if params.len() > MAX_PARAMS {
            return Err(Error::InvalidRequest("too many parameters".into()));
        }
        for (i, (name, _)) in params.iter().enumerate() {
            let repeated = params[..i].iter().any(|(earlier, _)| earlier == name);
            if repeated && !REPEATABLE.contains(&name.as_str()) {
                return Err(Error::InvalidRequest(repeated_message(name).into()));
            }
        }
        Ok(Self { params })
    }

    /// The value of `name`. Empty values count as absent (RFC 6749 §3.1).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name`, or `invalid_request` naming it.
    pub(crate) fn required(&self, name: &'static str) -> Result<&str, Error> {
        self.get(name)
            .ok_or_else(|| Error::InvalidRequest(format!("missing parameter '{name}'").into()))
    }

    /// Every non-empty value of `name`.
    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.params
            .iter()
            .filter(move |(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }
}

fn check_content_type(parts: &Parts) -> Result<(), Error> {
    let mut values = parts.headers.get_all(header::CONTENT_TYPE).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(Error::InvalidRequest(
            "expected one Content-Type: application/x-www-form-urlencoded".into(),
        ));
    };
    let media_type = value
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .map(str::trim);
    if !media_type.is_some_and(|m| m.eq_ignore_ascii_case("application/x-www-form-urlencoded")) {
        return Err(Error::InvalidRequest(
            "the body must be application/x-www-form-urlencoded".into(),
        ));
    }
    Ok(())
}

async fn read_body(body: Body) -> Result<Bytes, Error> {
    let collect = Limited::new(body, MAX_BODY_BYTES).collect();
    match tokio::time::timeout(BODY_TIMEOUT, collect).await {
        Err(_) => Err(Error::InvalidRequest(
            "the body was not received in time".into(),
        )),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(Error::BodyTooLarge),
        Ok(Err(_)) => Err(Error::InvalidRequest("the body could not be read".into())),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

/// Names a repeated parameter only if it looks like a parameter name, so
/// arbitrary input is never echoed back.
fn repeated_message(name: &str) -> String {
    let plain =
        (1..=32).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    if plain {
        format!("parameter '{name}' is repeated")
    } else {
        "a parameter is repeated".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_are_absent_and_repeats_are_refused() {
        let form = Form::parse(b"grant_type=client_credentials&scope=&audience=a&audience=b")
            .expect("valid");
        assert_eq!(form.get("grant_type"), Some("client_credentials"));
        assert_eq!(form.get("scope"), None);
        assert_eq!(form.all("audience").collect::<Vec<_>>(), ["a", "b"]);
        let error = Form::parse(b"scope=a&scope=b").expect_err("repeated");
        assert!(error.to_string().contains("'scope' is repeated"), "{error}");
        // Bad escapes and invalid UTF-8 decode lossily (never a panic or a
        // 500): a secret sent that way simply does not match.
        let lossy = Form::parse(b"a=%zz&b=%FF").expect("lossy");
        assert_eq!(lossy.get("a"), Some("%zz"));
        assert_eq!(lossy.get("b"), Some("\u{fffd}"));
    }

    #[test]
    fn debug_prints_names_only() {
        let form = Form::parse(b"client_secret=hunter2").expect("valid");
        assert_eq!(format!("{form:?}"), r#"["client_secret"]"#);
    }
}
