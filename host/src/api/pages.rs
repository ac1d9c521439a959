//! Lists: `?limit=` (default 50, at most 500) and an opaque `cursor`, newest first, answered as
//! `{items, next_cursor}`.

use super::error::{ApiError, ApiResult};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// One page of a list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Pass it as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A storage page, with its items converted.
    pub fn of<S>(page: crate::storage::Page<S>, convert: impl FnMut(S) -> T) -> Self {
        Page { items: page.items.into_iter().map(convert).collect(), next_cursor: page.next_cursor }
    }
}

/// The paging parameters of every list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1 to 500 (default 50; more than 500 reads as 500).
    #[param(minimum = 1)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageParams {
    /// The checked limit (`None`: the default).
    pub fn limit(&self) -> ApiResult<Option<i64>> {
        match self.limit {
            Some(limit) if limit < 1 => Err(ApiError::bad_request("`limit` must be at least 1")),
            other => Ok(other.map(|l| l.min(crate::storage::MAX_PAGE_LIMIT))),
        }
    }

    /// A page of a short list held in memory (keys, environments, plugins), in its order; the
    /// cursor is the position after the page.
    pub fn page_of<T>(&self, items: Vec<T>) -> ApiResult<Page<T>> {
        let limit = usize::try_from(self.limit()?.unwrap_or(crate::storage::DEFAULT_PAGE_LIMIT)).unwrap_or(50);
        let start = match &self.cursor {
            None => 0,
            Some(cursor) => decode_offset(cursor).ok_or_else(|| ApiError::bad_request("invalid cursor"))?,
        };
        let total = items.len();
        let items: Vec<T> = items.into_iter().skip(start).take(limit).collect();
        let end = start.saturating_add(items.len());
        let next_cursor = (end < total).then(|| URL_SAFE_NO_PAD.encode(format!("o:{end}")));
        Ok(Page { items, next_cursor })
    }
}

fn decode_offset(cursor: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    String::from_utf8(bytes).ok()?.strip_prefix("o:")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_memory_pages_follow_their_cursor() {
        let params = PageParams { limit: Some(2), cursor: None };
        let first = params.page_of(vec![1, 2, 3]).expect("page");
        assert_eq!(first.items, vec![1, 2]);
        let next = PageParams { limit: Some(2), cursor: first.next_cursor };
        let second = next.page_of(vec![1, 2, 3]).expect("page");
        assert_eq!(second.items, vec![3]);
        assert!(second.next_cursor.is_none());
        assert!(PageParams { limit: Some(0), cursor: None }.page_of(vec![1]).is_err());
        assert!(PageParams { limit: None, cursor: Some("?".into()) }.page_of(vec![1]).is_err());
    }
}
