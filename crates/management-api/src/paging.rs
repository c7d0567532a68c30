//! Cursor pagination: every list answers `{"data": [...], "next_cursor": "…" | null}` and takes
//! `?cursor=&limit=`. A cursor is opaque to clients (base64url of the last row's key and the
//! listing it belongs to), so a cursor of one listing is refused by another.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use utoipa::ToSchema;

use crate::problem::{ApiResult, Problem};

/// Page size when none is asked for.
pub const DEFAULT_LIMIT: u64 = 50;
/// Largest page.
pub const MAX_LIMIT: u64 = 200;

/// One page of a listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    /// The items, in a stable order.
    pub data: Vec<T>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

/// The limit a request asks for, checked.
pub fn limit(requested: Option<u64>) -> ApiResult<u64> {
    match requested {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(Problem::invalid(format!(
            "limit must be 1 to {MAX_LIMIT} (got {n})"
        ))),
    }
}

/// The cursor after a row with key `last` in the listing `listing`.
pub fn encode(listing: &str, last: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{listing}:{last}"))
}

/// The key a cursor of `listing` points after (`None`: from the start).
pub fn decode(listing: &str, cursor: Option<&str>) -> ApiResult<Option<i64>> {
    let Some(cursor) = cursor.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let refused = || Problem::invalid("cursor is not a cursor of this listing");
    let text = URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(refused)?;
    let (name, key) = text.split_once(':').ok_or_else(refused)?;
    if name != listing {
        return Err(refused());
    }
    key.parse::<i64>().map(Some).map_err(|_| refused())
}

/// A page of `items` of at most `limit`, asked for with `limit + 1` rows: the extra row only says
/// there is a next page.
pub fn page<R, T>(
    mut rows: Vec<R>,
    limit: u64,
    listing: &str,
    key: impl Fn(&R) -> i64,
    to_item: impl FnMut(R) -> T,
) -> Page<T> {
    let more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_cursor = more
        .then(|| rows.last().map(|r| encode(listing, key(r))))
        .flatten();
    Page {
        data: rows.into_iter().map(to_item).collect(),
        next_cursor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_stay_in_their_listing() {
        let cursor = encode("members", 42);
        assert_eq!(decode("members", Some(&cursor)).ok(), Some(Some(42)));
        assert!(decode("organizations", Some(&cursor)).is_err());
        assert!(decode("members", Some("!!")).is_err());
        assert_eq!(decode("members", None).ok(), Some(None));
    }

    #[test]
    fn a_page_says_whether_more_follow() {
        let page = page((1..=3).collect::<Vec<i64>>(), 2, "x", |r| *r, |r| r);
        assert_eq!(page.data, vec![1, 2]);
        assert_eq!(page.next_cursor, Some(encode("x", 2)));
        let last = super::page(vec![1_i64], 2, "x", |r| *r, |r| r);
        assert_eq!(last.next_cursor, None);
        assert!(limit(Some(0)).is_err() && limit(Some(201)).is_err());
    }
}
