//! The ListResponse message (RFC 7644 §3.4.2), with RFC 9865's cursor members.

use serde::Serialize;

use crate::schema::LIST_RESPONSE;

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
