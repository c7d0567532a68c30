//! Repositories: plain async functions over any sea-orm connection or transaction, so a service
//! composes several of them in one transaction. Tenant functions take an [`crate::OrgScope`].

pub mod accounts;
pub mod api_tokens;
pub mod audit;
pub mod backend_clients;
pub mod directory;
pub mod events;
pub mod feed;
mod first_pages;
pub mod group_mappings;
pub mod idempotency;
pub mod installations;
pub mod invitations;
pub mod members;
pub mod memberships;
pub mod oauth_clients;
pub mod organizations;
pub mod portal_links;
pub mod refresh_tokens;
pub mod resource_counts;
pub mod role_catalog;
pub mod roles;
pub mod scim_groups;
pub mod scim_request_log;
pub mod scim_users;
pub mod signing_keys;
pub mod stacks;
pub mod webhooks;

#[cfg(test)]
mod plan_cache_tests;

use chrono::{DateTime, Utc};

/// The most bind parameters one statement carries. SQLite refuses more than 32,766 and
/// PostgreSQL more than 65,535; inputs whose size the client chooses (a user's emails, a group's
/// members) are written in chunks of this many, so no statement grows with the input.
pub(crate) const MAX_PARAMS: usize = 1000;

/// How many rows of `columns` bound values each one multi-row INSERT may carry.
pub(crate) const fn rows_per_insert(columns: usize) -> usize {
    MAX_PARAMS / columns
}

/// The current time, truncated to microseconds so a value read back from PostgreSQL compares
/// equal to the one written.
pub(crate) fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// The OFFSET of a page query: none for the first page. A prepared `OFFSET $n` makes PostgreSQL
/// price its generic plan as if it skipped rows, so it re-plans the statement on every execution
/// (a custom plan each time); without it the cached generic plan serves the common first page.
pub(crate) fn skip(offset: u64) -> Option<u64> {
    (offset > 0).then_some(offset)
}

/// A page query as a statement: `select` (which has no window of its own) with `LIMIT limit`,
/// after `OFFSET offset` rows when that is not zero.
///
/// Without an offset the limit is written into the SQL rather than bound. PostgreSQL plans a
/// prepared statement for its first five executions' parameters and then weighs a generic plan,
/// which prices an unknown `LIMIT $n` as if it returned a tenth of the table: for a page of a large
/// organization that plan looked 30 times dearer than the custom one, so every page was planned
/// anew (0.15–0.3 ms of PostgreSQL's CPU per page). With the limit in the text both plans cost the
/// same and the generic plan is kept. The server caps `count`, so the texts are few, and the
/// driver's per-connection statement cache is bounded (least recently used first out). A page
/// that skips rows keeps its window bound: its offsets are as many as the positions in the list.
pub(crate) fn page_statement<S>(
    select: S,
    backend: sea_orm::DbBackend,
    offset: u64,
    limit: u64,
) -> sea_orm::Statement
where
    S: sea_orm::QuerySelect + sea_orm::QueryTrait,
{
    if offset > 0 {
        return select.offset(offset).limit(limit).build(backend);
    }
    let mut statement = select.build(backend);
    statement.sql.push_str(" LIMIT ");
    statement.sql.push_str(&limit.to_string());
    statement
}

/// The total of a listing whose first page came back short: it already holds every match, so the
/// COUNT query (a scan of the matches) is not needed — the common case of an IdP's `eq` lookup.
pub(crate) fn complete_total(
    offset: u64,
    after_id: Option<impl Copy>,
    limit: u64,
    returned: usize,
) -> Option<u64> {
    let returned = returned as u64;
    (offset == 0 && after_id.is_none() && returned < limit).then_some(returned)
}

/// A new public identifier: UUID v7, time-ordered so indexes stay compact.
pub fn new_uid() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Escapes `\`, `%` and `_` for a `LIKE … ESCAPE '\'` pattern.
pub(crate) fn escape_like(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
