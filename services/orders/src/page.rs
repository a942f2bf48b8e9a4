//! Paging with opaque tokens. A token carries the id of the last item of
//! the previous page; every query still applies the caller's own filter,
//! so an edited token can skip ahead but never reveals anything more.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use uuid::Uuid;

use crate::Error;

/// Items per page when the request says 0.
const DEFAULT_SIZE: i64 = 20;
/// Most items per page.
const MAX_SIZE: i64 = 100;

/// Where a page starts and how long it is.
#[derive(Debug, Clone)]
pub(crate) struct Page {
    /// Items on the page.
    pub(crate) size: i64,
    /// The last id of the previous page, if any.
    pub(crate) after: Option<String>,
}

impl Page {
    /// Reads `page_size` and `page_token` from a request.
    pub(crate) fn parse(size: i32, token: &str) -> Result<Self, Error> {
        let size = match i64::from(size) {
            0 => DEFAULT_SIZE,
            n if (1..=MAX_SIZE).contains(&n) => n,
            _ => {
                return Err(Error::Invalid(format!(
                    "page_size must be between 0 and {MAX_SIZE}"
                )));
            }
        };
        if token.is_empty() {
            return Ok(Self { size, after: None });
        }
        let invalid = || Error::Invalid("page_token is not valid".to_owned());
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
        let id = Uuid::from_slice(&bytes).map_err(|_| invalid())?;
        Ok(Self {
            size,
            after: Some(id.to_string()),
        })
    }

    /// Rows to fetch: one more than the page, to learn whether another follows.
    pub(crate) fn fetch(&self) -> i64 {
        self.size + 1
    }

    /// Cuts `rows` (fetched with [`Page::fetch`]) to the page and returns the
    /// token of the next page, empty on the last one.
    pub(crate) fn finish<T>(&self, rows: &mut Vec<T>, id: impl Fn(&T) -> &str) -> String {
        if rows.len() as i64 <= self.size {
            return String::new();
        }
        rows.truncate(self.size as usize);
        rows.last()
            .and_then(|last| Uuid::try_parse(id(last)).ok())
            .map(|last| URL_SAFE_NO_PAD.encode(last.as_bytes()))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        let ids: Vec<String> = (0..3).map(|_| Uuid::now_v7().to_string()).collect();
        let page = Page::parse(2, "").expect("first page");
        let mut rows = ids.clone();
        let token = page.finish(&mut rows, |s| s);
        assert_eq!(rows.len(), 2);
        let next = Page::parse(2, &token).expect("next page");
        assert_eq!(next.after.as_deref(), Some(ids[1].as_str()));
    }

    #[test]
    fn bad_sizes_and_tokens_are_refused() {
        assert!(Page::parse(-1, "").is_err());
        assert!(Page::parse(101, "").is_err());
        assert!(Page::parse(0, "not a token!").is_err());
        assert!(Page::parse(0, "AAAA").is_err());
        assert_eq!(Page::parse(0, "").expect("default").size, 20);
    }
}
