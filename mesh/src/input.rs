//! Checks of request fields that every workload makes the same way, each
//! naming the field at fault: currency codes, ids the mesh issued,
//! idempotency keys, free text and positive amounts.
//!
//! They live in the kit so that a field means the same thing, and is
//! refused with the same message, whichever workload receives it. A
//! service keeps only its own domain checks and maps [`InvalidInput`]
//! into its "invalid argument" error with one `From` impl.

use uuid::Uuid;

/// Longest idempotency key (or payment or refund id) accepted.
pub const MAX_KEY_LEN: usize = 128;

/// Longest free text (a reason, a reference, a SKU) accepted.
pub const MAX_TEXT_LEN: usize = 500;

/// A refused field. The message names it and is safe to send to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidInput(pub String);

/// An ISO 4217 code: three upper-case ASCII letters.
pub fn currency(value: &str) -> Result<&str, InvalidInput> {
    if value.len() == 3 && value.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(value)
    } else {
        Err(InvalidInput(
            "currency must be an ISO 4217 code such as EUR".to_owned(),
        ))
    }
}

/// A positive amount of minor units, in field `amount_minor`.
pub fn amount(value: i64) -> Result<i64, InvalidInput> {
    if value > 0 {
        Ok(value)
    } else {
        Err(InvalidInput(
            "amount_minor must be greater than zero".to_owned(),
        ))
    }
}

/// An id a mesh server issued. Anything else names nothing, so it is
/// refused before any lookup.
pub fn id<'a>(field: &str, value: &'a str) -> Result<&'a str, InvalidInput> {
    match Uuid::try_parse(value) {
        Ok(_) => Ok(value),
        Err(_) => Err(InvalidInput(format!("{field} is not a valid id"))),
    }
}

/// An idempotency key chosen by the caller: present and of bounded length.
pub fn key<'a>(field: &str, value: &'a str) -> Result<&'a str, InvalidInput> {
    if value.is_empty() || value.len() > MAX_KEY_LEN {
        return Err(InvalidInput(format!(
            "{field} must be 1 to {MAX_KEY_LEN} bytes"
        )));
    }
    Ok(value)
}

/// Free text of bounded length (may be empty).
pub fn text<'a>(field: &str, value: &'a str) -> Result<&'a str, InvalidInput> {
    if value.len() > MAX_TEXT_LEN {
        return Err(InvalidInput(format!(
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
