//! What SCIM requests mean for the SaaS: the services behind the handlers. Each write runs in one
//! transaction together with its audit row and its outbox events, so a request either happens
//! whole or not at all.

pub mod groups;
pub mod list;
pub mod users;

use sea_orm::ConnectionTrait;
use serde_json::Value;
use store::repo::audit::{self, AuditEntry};
use store::repo::events::NewEvent;
use store::{OrgScope, StoreError, StoreResult};

use crate::ScimApi;
use crate::auth::Caller;
use crate::error::ApiResult;

/// Refuses a write whose `If-Match` names another version than the stored one (`*` matches any).
pub fn check_if_match(version: i64, if_match: Option<&str>) -> ApiResult<()> {
    let current = crate::resource::etag(version);
    match if_match.map(str::trim) {
        Some(tag) if tag != "*" && tag != current => {
            Err(scim_core::error::ScimError::precondition_failed(format!(
                "If-Match {tag} does not match the current version {current}"
            ))
            .into())
        }
        _ => Ok(()),
    }
}

/// How often a write is retried after losing a compare-and-swap race to a concurrent writer.
const CAS_ATTEMPTS: usize = 5;

/// One SCIM request: the API's state and the authenticated caller.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// Shared state.
    pub api: &'a ScimApi,
    /// Who is calling, for which organization.
    pub caller: &'a Caller,
}

impl Ctx<'_> {
    /// The organization this request acts in.
    pub fn scope(&self) -> &OrgScope {
        &self.caller.scope
    }

    /// The SCIM Base URL of the organization (what `meta.location` starts with).
    pub fn base_url(&self) -> String {
        self.api.base_url(self.scope().org_uid())
    }

    /// Records what this request did, in the caller's transaction.
    pub async fn audit(
        &self,
        conn: &impl ConnectionTrait,
        action: &'static str,
        resource_type: &'static str,
        resource_id: &str,
        detail: Value,
    ) -> StoreResult<()> {
        self.audit_with_event(conn, action, resource_type, resource_id, detail, None)
            .await
    }

    /// Records what this request did and, when there is one, the outbox event it raised, in the
    /// caller's transaction.
    pub async fn audit_with_event(
        &self,
        conn: &impl ConnectionTrait,
        action: &'static str,
        resource_type: &'static str,
        resource_id: &str,
        detail: Value,
        event: Option<NewEvent>,
    ) -> StoreResult<()> {
        let entry = AuditEntry {
            actor: self.caller.actor.clone(),
            action,
            resource_type,
            resource_id: Some(resource_id.to_owned()),
            request_id: self.caller.request_id.clone(),
            ip: self.caller.ip.clone(),
            detail,
        };
        audit::record_with_event(conn, self.scope(), entry, event).await
    }
}

/// Runs `attempt` again while it loses compare-and-swap races (another request wrote the same
/// resource in between); each attempt starts from a fresh read in a fresh transaction.
pub async fn retry_on_conflict<T, F, Fut>(mut attempt: F) -> ApiResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ApiResult<Retry<T>>>,
{
    for _ in 0..CAS_ATTEMPTS {
        match attempt().await? {
            Retry::Done(value) => return Ok(value),
            Retry::Again => continue,
        }
    }
    Err(StoreError::VersionMismatch.into())
}

/// The outcome of one attempt of [`retry_on_conflict`].
#[derive(Debug)]
pub enum Retry<T> {
    /// Finished.
    Done(T),
    /// Lost a race; try again.
    Again,
}
