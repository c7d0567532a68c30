//! The ListResponse message (RFC 7644 §3.4.2), with RFC 9865's cursor members.

use serde::Serialize;
use serde_json::Value;

use crate::schema::LIST_RESPONSE;

/// One resource already written as JSON text. A page of 100 users is written by splicing the
/// stored text of each user rather than parsing it into values and serializing them again,
/// which was most of the server's CPU per page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonText(Vec<u8>);

impl JsonText {
    /// The text of `value`.
    pub fn of(value: &Value) -> Self {
        Self(value.to_string().into_bytes())
    }

    /// Text the caller wrote and vouches for: one complete JSON value.
    pub fn written(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The text.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The text parsed back (`Value::Null` if it were not JSON, which [`JsonText::written`]'s
    /// callers promise it is).
    pub fn to_value(&self) -> Value {
        serde_json::from_slice(&self.0).unwrap_or(Value::Null)
    }
}

impl ListResponse<JsonText> {
    /// The message as JSON text: the page's members, then its resources spliced in as written.
    pub fn to_json(&self) -> Vec<u8> {
        let size = self.resources.iter().map(|r| r.0.len() + 1).sum::<usize>() + 256;
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(br#"{"schemas":[""#);
        out.extend_from_slice(LIST_RESPONSE.as_bytes());
        out.extend_from_slice(br#""],"totalResults":"#);
        out.extend_from_slice(self.total_results.to_string().as_bytes());
        out.extend_from_slice(br#","itemsPerPage":"#);
        out.extend_from_slice(self.items_per_page.to_string().as_bytes());
        if let Some(start) = self.start_index {
            out.extend_from_slice(br#","startIndex":"#);
            out.extend_from_slice(start.to_string().as_bytes());
        }
        for (name, cursor) in [
            ("nextCursor", &self.next_cursor),
            ("previousCursor", &self.previous_cursor),
        ] {
            if let Some(cursor) = cursor {
                out.extend_from_slice(format!(",\"{name}\":").as_bytes());
                out.extend_from_slice(Value::from(cursor.as_str()).to_string().as_bytes());
            }
        }
        out.extend_from_slice(br#","Resources":["#);
        for (i, resource) in self.resources.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&resource.0);
        }
        out.extend_from_slice(b"]}");
        out
    }
}

/// A page of query results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListResponse<T> {
    /// Always `["urn:ietf:params:scim:api:messages:2.0:ListResponse"]`.
    pub schemas: [&'static str; 1],
    /// Total number of results matching the query (across all pages).
    #[serde(rename = "totalResults")]
    pub total_results: u64,
    /// Number of resources on this page.
    #[serde(rename = "itemsPerPage")]
    pub items_per_page: u64,
    /// 1-based index of the first result (index pagination only).
    #[serde(rename = "startIndex", skip_serializing_if = "Option::is_none")]
    pub start_index: Option<u64>,
    /// Cursor of the next page (RFC 9865), absent on the last page.
    #[serde(rename = "nextCursor", skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// Cursor of the previous page (RFC 9865), when supported.
    #[serde(rename = "previousCursor", skip_serializing_if = "Option::is_none")]
    pub previous_cursor: Option<String>,
    /// The resources of this page (always present, possibly empty).
    #[serde(rename = "Resources")]
    pub resources: Vec<T>,
}

impl<T> ListResponse<T> {
    /// A page for index-based pagination.
    pub fn indexed(resources: Vec<T>, total_results: u64, start_index: u64) -> Self {
        Self {
            schemas: [LIST_RESPONSE],
            total_results,
            items_per_page: resources.len() as u64,
            start_index: Some(start_index),
            next_cursor: None,
            previous_cursor: None,
            resources,
        }
    }

    /// A page for cursor-based pagination (RFC 9865).
    pub fn with_cursor(resources: Vec<T>, total_results: u64, next_cursor: Option<String>) -> Self {
        Self {
            schemas: [LIST_RESPONSE],
            total_results,
            items_per_page: resources.len() as u64,
            start_index: None,
            next_cursor,
            previous_cursor: None,
            resources,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn serializes_index_page() {
        let page = ListResponse::indexed(vec![json!({"id": "1"})], 3, 1);
        assert_eq!(
            serde_json::to_value(&page).unwrap(),
            json!({"schemas": [LIST_RESPONSE], "totalResults": 3, "itemsPerPage": 1, "startIndex": 1,
                   "Resources": [{"id": "1"}]})
        );
    }

    #[test]
    fn a_page_of_json_texts_is_the_page_of_their_values() {
        let resources = [
            json!({"id": "1", "name": {"givenName": "Zo\u{eb} \"Z\""}}),
            json!({"id": "2"}),
        ];
        let texts = || resources.iter().map(JsonText::of).collect::<Vec<_>>();
        let values = || resources.to_vec();
        let pages = [
            (
                ListResponse::indexed(texts(), 7, 3),
                ListResponse::indexed(values(), 7, 3),
            ),
            (
                ListResponse::with_cursor(texts(), 7, Some("a\"b".into())),
                ListResponse::with_cursor(values(), 7, Some("a\"b".into())),
            ),
            (
                ListResponse::with_cursor(Vec::new(), 0, None),
                ListResponse::with_cursor(Vec::new(), 0, None),
            ),
        ];
        for (text, value) in pages {
            let written: Value = serde_json::from_slice(&text.to_json()).unwrap();
            assert_eq!(written, serde_json::to_value(&value).unwrap());
        }
        assert_eq!(
            JsonText::written(b"{\"a\":1}".to_vec()).to_value(),
            json!({"a": 1})
        );
    }

    #[test]
    fn serializes_cursor_page_and_empty_resources() {
        let page: ListResponse<serde_json::Value> =
            ListResponse::with_cursor(vec![], 0, Some("abc".into()));
        assert_eq!(
            serde_json::to_value(&page).unwrap(),
            json!({"schemas": [LIST_RESPONSE], "totalResults": 0, "itemsPerPage": 0, "nextCursor": "abc",
                   "Resources": []})
        );
    }
}
