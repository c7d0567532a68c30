//! What SCIM requests mean for the SaaS: provisioning users and groups into an organization. Each
//! write runs in one unit of work with its audit row and its events, so a request either happens
//! whole or not at all; reads translate SCIM listings to store queries.

pub mod groups;
pub mod list;
pub mod positions;
pub mod resource;
pub mod users;

use scim_core::cursor::CursorCodec;
use scim_core::error::ScimError;
use store::OrgScope;

use crate::{Actor, Core, Error, Result};

/// Paging limits and the cursor key of the SCIM API.
#[derive(Debug, Clone)]
pub struct ScimSettings {
    /// Page size when the client gives no `count`.
    pub default_count: u64,
    /// Largest page (`filter.maxResults`).
    pub max_results: u64,
    /// Signs RFC 9865 cursors; every replica of a region must use the same key.
    pub cursor: CursorCodec,
    /// How long a cursor stays valid.
    pub cursor_ttl: chrono::Duration,
    /// A deep `startIndex` page skips at most this many users from a position this replica
    /// knows ([`positions`]).
    pub mark_every: u64,
}

impl ScimSettings {
    /// The defaults, signing cursors with `cursor_key`.
    pub fn new(cursor_key: &[u8]) -> Self {
        Self {
            default_count: 100,
            max_results: 1000,
            cursor: CursorCodec::new(cursor_key),
            cursor_ttl: chrono::Duration::minutes(30),
            mark_every: 1000,
        }
    }
}

/// One SCIM request: the use cases, the organization its credential proved, who it is, and the
/// organization's SCIM Base URL (what `meta.location` starts with).
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// The use cases' dependencies.
    pub core: &'a Core,
    /// The organization this request acts in.
    pub scope: &'a OrgScope,
    /// Who is calling.
    pub actor: &'a Actor,
    /// Paging limits and cursors.
    pub settings: &'a ScimSettings,
    /// The organization's SCIM Base URL.
    pub base_url: &'a str,
}

impl Ctx<'_> {
    /// The organization this request acts in.
    pub fn scope(&self) -> &OrgScope {
        self.scope
    }

    /// The SCIM Base URL of the organization.
    pub fn base_url(&self) -> String {
        self.base_url.to_owned()
    }
}

/// Refuses a write whose `If-Match` names another version than the stored one (`*` matches any).
pub fn check_if_match(version: i64, if_match: Option<&str>) -> Result<()> {
    let current = resource::etag(version);
    match if_match.map(str::trim) {
        Some(tag) if tag != "*" && tag != current => Err(ScimError::precondition_failed(format!(
            "If-Match {tag} does not match the current version {current}"
        ))
        .into()),
        _ => Ok(()),
    }
}

/// How often a write is retried after losing a compare-and-swap race to a concurrent writer.
/// Writes read the resource with a row lock (`FOR UPDATE`) first, so on PostgreSQL a race is left
/// only against writers that change the row without that read (a group's member count, a user's
/// account link); SQLite runs write transactions one at a time. The retries, with a growing
/// pause, are for those: a client that sent no `If-Match` asked for no precondition, and gets
/// a 412 only when the resource keeps changing for well over a second.
const CAS_ATTEMPTS: u32 = 12;

/// Runs `attempt` again while it loses compare-and-swap races (another request wrote the same
/// resource in between); each attempt starts from a fresh read in a fresh transaction.
pub(crate) async fn retry_on_conflict<T, F, Fut>(mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Retry<T>>>,
{
    for round in 0..CAS_ATTEMPTS {
        match attempt().await? {
            Retry::Done(value) => return Ok(value),
            // Back off (2 ms, 4 ms, … up to 128 ms, with jitter) so racing writers spread out
            // instead of colliding again at once.
            Retry::Again => {
                let base = 2u64 << round.min(6);
                let jitter = rand::random_range(0..=base);
                tokio::time::sleep(std::time::Duration::from_millis(base + jitter)).await;
            }
        }
    }
    Err(Error::from(store::StoreError::VersionMismatch))
}

/// The outcome of one attempt of [`retry_on_conflict`].
#[derive(Debug)]
pub(crate) enum Retry<T> {
    /// Finished.
    Done(T),
    /// Lost a race; try again.
    Again,
}

/// A SCIM 404 naming the resource.
fn not_found(kind: &str, uid: &str) -> Error {
    ScimError::not_found(format!("{kind} {uid} not found")).into()
}
