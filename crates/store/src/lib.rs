//! scimgate's data layer: the sea-orm entities and migrations (one tree for SQLite and PostgreSQL),
//! repositories that only run inside a proven tenant ([`OrgScope`]), and the key-value port for the
//! short-lived state replicas share (codes, counters, revocations, sessions).
#![deny(missing_docs)]

pub mod credential_cache;
pub mod db;
pub mod deployment;
pub(crate) mod entity;
pub mod error;
pub mod grants;
pub mod ids;
pub mod kv;
pub mod migration;
pub mod ratelimit;
pub mod repo;
pub mod revocations;
pub mod scim_filter;
pub mod scope;
pub mod search;
pub mod secret;
pub mod types;

pub use db::{Conn, Database, Transaction, connect};
pub use error::StoreError;
pub use scope::OrgScope;

/// Result type of every store operation.
pub type StoreResult<T> = Result<T, StoreError>;
