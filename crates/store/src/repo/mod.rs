//! Repositories: plain async functions over any sea-orm connection or transaction, so a service
//! composes several of them in one transaction. Tenant functions take an [`crate::OrgScope`].

pub mod accounts;
pub mod api_tokens;
pub mod audit;
pub mod directory;
pub mod events;
pub mod group_mappings;
pub mod installations;
pub mod memberships;
pub mod oauth_clients;
pub mod organizations;
pub mod refresh_tokens;
pub mod roles;
pub mod scim_groups;
pub mod scim_users;
pub mod signing_keys;
pub mod stacks;

use chrono::{DateTime, Utc};

/// The current time, truncated to microseconds so a value read back from PostgreSQL compares
/// equal to the one written.
pub(crate) fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// A new public identifier: UUID v7, time-ordered so indexes stay compact.
pub(crate) fn new_uid() -> String {
    uuid::Uuid::now_v7().to_string()
}
