//! Paging with opaque tokens, the same in every workload that lists things.
//!
//! A token carries the id (a UUID) of the last item of the previous page;
//! every query still applies the caller's own filter, so an edited token
//! can skip ahead but never reveals anything more. It lives in the kit so
//! that page sizes, limits and the token format are one contract across
//! the mesh; a service maps [`PageError`] into its own "invalid argument"
//! error with one `From` impl.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use uuid::Uuid;

/// Items per page when the request says 0.
pub const DEFAULT_SIZE: i64 = 20;
/// Most items per page.
pub const MAX_SIZE: i64 = 100;

/// Why a request's `page_size` or `page_token` was refused. The message
/// names the field and is safe to send to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    /// `page_size` is negative or above [`MAX_SIZE`].
    #[error("page_size must be between 0 and {MAX_SIZE}")]
    Size,
    /// `page_token` is not one this module issued.
    #[error("page_token is not valid")]
    Token,
}

/// Where a page starts and how long it is.
#[derive(Debug, Clone)]
pub struct Page {
    /// Items on the page.
    pub size: i64,
    /// The last id of the previous page, if any.
    pub after: Option<String>,
}

impl Page {
    /// Reads `page_size` and `page_token` from a request.
    pub fn parse(size: i32, token: &str) -> Result<Self, PageError> {
        let size = match i64::from(size) {
            0 => DEFAULT_SIZE,
            n if (1..=MAX_SIZE).contains(&n) => n,
            _ => return Err(PageError::Size),
        };
        if token.is_empty() {
            return Ok(Self { size, after: None });
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| PageError::Token)?;
        let id = Uuid::from_slice(&bytes).map_err(|_| PageError::Token)?;
        Ok(Self {
            size,
            after: Some(id.to_string()),
        })
    }

    /// Rows to fetch: one more than the page, to learn whether another follows.
    pub fn fetch(&self) -> i64 {
        self.size + 1
    }

    /// Cuts `rows` (fetched with [`Page::fetch`]) to the page and returns the
    /// token of the next page, empty on the last one.
    pub fn finish<T>(&self, rows: &mut Vec<T>, id: impl Fn(&T) -> &str) -> String {
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
