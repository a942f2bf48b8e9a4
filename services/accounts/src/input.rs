//! Checks of request fields, each naming the field at fault. Everything a
//! client sends passes through here before it reaches the store.

use uuid::Uuid;

use crate::Error;

/// Longest idempotency key, payment id or refund id accepted.
const MAX_KEY_LEN: usize = 128;

/// Longest free text (a reason, a reference) accepted.
const MAX_TEXT_LEN: usize = 500;

/// An ISO 4217 code: three upper-case ASCII letters.
pub(crate) fn currency(value: &str) -> Result<&str, Error> {
    if value.len() == 3 && value.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(value)
    } else {
        Err(Error::Invalid(
            "currency must be an ISO 4217 code such as EUR".to_owned(),
        ))
    }
}

/// A positive amount of minor units.
pub(crate) fn amount(value: i64) -> Result<i64, Error> {
    if value > 0 {
        Ok(value)
    } else {
        Err(Error::Invalid(
            "amount_minor must be greater than zero".to_owned(),
        ))
    }
}

/// An id the server issued. Anything else cannot name an account, so it is
/// refused before any lookup.
pub(crate) fn id<'a>(field: &str, value: &'a str) -> Result<&'a str, Error> {
    match Uuid::try_parse(value) {
        Ok(_) => Ok(value),
        Err(_) => Err(Error::Invalid(format!("{field} is not a valid id"))),
    }
}

/// An idempotency key chosen by the caller: present and of bounded length.
pub(crate) fn key<'a>(field: &str, value: &'a str) -> Result<&'a str, Error> {
    if value.is_empty() || value.len() > MAX_KEY_LEN {
        return Err(Error::Invalid(format!(
            "{field} must be 1 to {MAX_KEY_LEN} bytes"
        )));
    }
    Ok(value)
}

/// Free text of bounded length (may be empty).
pub(crate) fn text<'a>(field: &str, value: &'a str) -> Result<&'a str, Error> {
    if value.len() > MAX_TEXT_LEN {
        return Err(Error::Invalid(format!(
            "{field} must be at most {MAX_TEXT_LEN} bytes"
        )));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies_are_three_capital_letters() {
        assert!(currency("EUR").is_ok());
        for bad in ["", "eur", "EURO", "E1R", "ÉUR"] {
            assert!(currency(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn amounts_are_positive() {
        assert!(amount(1).is_ok());
        assert!(amount(0).is_err() && amount(-5).is_err() && amount(i64::MIN).is_err());
    }

    #[test]
    fn keys_are_bounded() {
        assert!(key("k", "a").is_ok());
        assert!(key("k", "").is_err());
        assert!(key("k", &"x".repeat(129)).is_err());
    }
}
