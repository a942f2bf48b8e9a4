//! OAuth 2.0 scopes (RFC 6749 §3.3): a set of scope tokens, written space
//! separated on the wire.
//!
//! Every grant computes the scope it issues as a subset of what the client,
//! the user or the subject token may have; [`Scope::is_subset`] is the one
//! check all of them use.

use std::{collections::BTreeSet, fmt};

/// Most scope tokens accepted in one request.
const MAX_TOKENS: usize = 32;
/// Longest scope token accepted.
const MAX_TOKEN_LEN: usize = 64;

/// A set of scope tokens, ordered so that it prints the same every time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope(BTreeSet<String>);

impl Scope {
    /// Parses a space-separated `scope` parameter. Tokens must be
    /// `NQCHAR`s (printable ASCII except space, `"` and `\`).
    pub fn parse(s: &str) -> Result<Self, ScopeError> {
        let mut tokens = BTreeSet::new();
        for token in s.split(' ') {
            if token.is_empty() {
                return Err(ScopeError::Syntax);
            }
            if token.len() > MAX_TOKEN_LEN {
                return Err(ScopeError::TooLong);
            }
            let nqchar =
                |b: u8| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b);
            if !token.bytes().all(nqchar) {
                return Err(ScopeError::Syntax);
            }
            tokens.insert(token.to_owned());
            if tokens.len() > MAX_TOKENS {
                return Err(ScopeError::TooMany);
            }
        }
        Ok(Self(tokens))
    }

    /// The set of `tokens`, which must already be valid (from a checked config).
    pub fn from_tokens<I, S>(tokens: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self(tokens.into_iter().map(Into::into).collect())
    }

    /// Whether every token of `self` is in `other`.
    pub fn is_subset(&self, other: &Scope) -> bool {
        self.0.is_subset(&other.0)
    }

    /// The tokens in both.
    pub fn intersection(&self, other: &Scope) -> Scope {
        Self(self.0.intersection(&other.0).cloned().collect())
    }

    /// The tokens in either.
    pub fn union(&self, other: &Scope) -> Scope {
        Self(self.0.union(&other.0).cloned().collect())
    }

    /// Whether `token` is in the set.
    pub fn contains(&self, token: &str) -> bool {
        self.0.contains(token)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The tokens, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl fmt::Display for Scope {
    /// Space separated, as in a `scope` parameter or claim.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for token in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(token)?;
            first = false;
        }
        Ok(())
    }
}

/// Why a `scope` parameter is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("scope must be space-separated tokens of printable ASCII without '\"' or '\\'")]
    Syntax,
    #[error("a scope token is longer than {MAX_TOKEN_LEN} characters")]
    TooLong,
    #[error("more than {MAX_TOKENS} scope tokens")]
    TooMany,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_in_order() {
        let scope = Scope::parse("orders:write accounts:read orders:write").expect("valid");
        assert_eq!(scope.to_string(), "accounts:read orders:write");
    }

    #[test]
    fn rejects_malformed_scopes() {
        for bad in ["", " a", "a  b", "a ", "a\"b", "a\\b", "caf\u{e9}", "a\tb"] {
            assert_eq!(Scope::parse(bad), Err(ScopeError::Syntax), "{bad:?}");
        }
        assert_eq!(Scope::parse(&"x".repeat(65)), Err(ScopeError::TooLong));
        let many: Vec<String> = (0..33).map(|i| format!("s{i}")).collect();
        assert_eq!(Scope::parse(&many.join(" ")), Err(ScopeError::TooMany));
    }

    #[test]
    fn subsets_and_intersections() {
        let all = Scope::parse("a b c").expect("valid");
        let some = Scope::parse("a c").expect("valid");
        assert!(some.is_subset(&all));
        assert!(!all.is_subset(&some));
        assert_eq!(
            all.intersection(&Scope::parse("c d").expect("valid"))
                .to_string(),
            "c"
        );
    }
}
