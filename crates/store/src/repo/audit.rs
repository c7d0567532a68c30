//! The audit log: who did what to which resource, from which request. Written in the same
//! transaction as the change it records.

use sea_orm::sea_query::{Alias, CommonTableExpression, WithClause};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait,
};
use serde_json::Value;

use super::events::{self, NewEvent};
use super::now;
use crate::db::{Conn, Raw};
use crate::entity::audit_log::{self, Entity as AuditLog};
use crate::entity::events::Entity as Events;
use crate::{OrgScope, StoreResult};

/// An audit row.
pub type AuditRow = audit_log::Model;

/// One thing that happened.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// The kind of actor (`account`, `api_token`, `installation`, `backend_client`,
    /// `portal_link`, `operator`, `system`).
    pub actor_type: &'static str,
    /// The actor's public id.
    pub actor_id: String,
    /// What, as `noun.verb` (`scim.enabled`, `api_token.created`).
    pub action: &'static str,
    /// The kind of resource acted on.
    pub resource_type: &'static str,
    /// Its public id.
    pub resource_id: Option<String>,
    /// The request id of the HTTP request that did it.
    pub request_id: Option<String>,
    /// The client address.
    pub ip: Option<String>,
    /// Anything else worth keeping (never secrets).
    pub detail: Value,
}

/// Records an entry and the outbox events of the same change, for the organization, or for the
/// deployment as a whole when `scope` is `None` (registering a client, rotating keys; such
/// changes have no events). On PostgreSQL the entry and the last chunk of events go in one
/// statement (`WITH … AS (INSERT INTO events …) INSERT INTO audit_log …`): on provisioning's hot
/// path a change costs one round trip for both. SQLite, which has no data-modifying CTEs and no
/// round trips to save, runs the inserts one after the other.
pub async fn record(
    conn: &impl Conn,
    scope: Option<&OrgScope>,
    entry: AuditEntry,
    events: &[NewEvent],
) -> StoreResult<()> {
    if scope.is_none() {
        // Region-level events (about the deployment, not an organization): few and small.
        for event in events {
            events::append_region(conn, event).await?;
        }
    }
    let backend = conn.raw().get_database_backend();
    let (Some(scope), Some((last, earlier))) = (scope, split_last_chunk(events)) else {
        AuditLog::insert(row(scope, entry)).exec(conn.raw()).await?;
        return Ok(());
    };
    if backend != DbBackend::Postgres {
        events::append(conn, scope, events).await?;
        AuditLog::insert(row(Some(scope), entry))
            .exec(conn.raw())
            .await?;
        return Ok(());
    }
    events::append(conn, scope, earlier).await?;
    let event_insert = Events::insert_many(last.iter().map(|e| events::row(scope, e))).into_query();
    let cte = CommonTableExpression::new()
        .query(event_insert)
        .table_name(Alias::new("recorded_events"))
        .to_owned();
    let statement = AuditLog::insert(row(Some(scope), entry))
        .into_query()
        .with(WithClause::new().cte(cte).to_owned());
    conn.raw().execute_raw(backend.build(&statement)).await?;
    Ok(())
}

/// The events split into the last insert chunk and everything before it.
fn split_last_chunk(events: &[NewEvent]) -> Option<(&[NewEvent], &[NewEvent])> {
    if events.is_empty() {
        return None;
    }
    let cut = (events.len() - 1) / events::INSERT_CHUNK * events::INSERT_CHUNK;
    Some((&events[cut..], &events[..cut]))
}

fn row(scope: Option<&OrgScope>, entry: AuditEntry) -> audit_log::ActiveModel {
    audit_log::ActiveModel {
        org_id: Set(scope.map(OrgScope::org_id)),
        actor_type: Set(entry.actor_type.to_owned()),
        actor_id: Set(entry.actor_id),
        action: Set(entry.action.to_owned()),
        resource_type: Set(entry.resource_type.to_owned()),
        resource_id: Set(entry.resource_id),
        request_id: Set(entry.request_id),
        ip: Set(entry.ip),
        detail: Set(entry.detail.to_string()),
        created_at: Set(now()),
        ..Default::default()
    }
}

/// The organization's newest entries, `limit` at most, older than `before_id` when given.
pub async fn list(
    conn: &impl Conn,
    scope: &OrgScope,
    before_id: Option<crate::ids::AuditId>,
    limit: u64,
) -> StoreResult<Vec<AuditRow>> {
    let mut query = scope.select::<AuditLog>();
    if let Some(before) = before_id {
        query = query.filter(audit_log::Column::Id.lt(before));
    }
    Ok(query
        .order_by_desc(audit_log::Column::Id)
        .limit(limit)
        .all(conn.raw())
        .await?)
}

/// What the console's Activity view filters on.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Actions starting with this (`scim_user.`, `api_token.revoked`).
    pub action_prefix: Option<String>,
    /// One kind of actor (`account`, `api_token`, `installation`, `operator`).
    pub actor_type: Option<String>,
    /// One resource, by its public id.
    pub resource_id: Option<String>,
    /// One HTTP request.
    pub request_id: Option<String>,
}

/// The organization's newest entries matching `filter`, older than `before_id` when given.
pub async fn search(
    conn: &impl Conn,
    scope: &OrgScope,
    filter: &AuditFilter,
    before_id: Option<crate::ids::AuditId>,
    limit: u64,
) -> StoreResult<Vec<AuditRow>> {
    let mut query = scope.select::<AuditLog>();
    if let Some(before) = before_id {
        query = query.filter(audit_log::Column::Id.lt(before));
    }
    if let Some(prefix) = filter.action_prefix.as_deref().filter(|p| !p.is_empty()) {
        query = query.filter(audit_log::Column::Action.starts_with(prefix));
    }
    if let Some(actor) = filter.actor_type.as_deref().filter(|a| !a.is_empty()) {
        query = query.filter(audit_log::Column::ActorType.eq(actor));
    }
    if let Some(resource) = filter.resource_id.as_deref().filter(|r| !r.is_empty()) {
        query = query.filter(audit_log::Column::ResourceId.eq(resource));
    }
    if let Some(request) = filter.request_id.as_deref().filter(|r| !r.is_empty()) {
        query = query.filter(audit_log::Column::RequestId.eq(request));
    }
    Ok(query
        .order_by_desc(audit_log::Column::Id)
        .limit(limit)
        .all(conn.raw())
        .await?)
}

/// The organization's newest entry by one of `actor_types` (the last change an identity provider
/// made, say).
pub async fn last_by(
    conn: &impl Conn,
    scope: &OrgScope,
    actor_types: &[&str],
) -> StoreResult<Option<AuditRow>> {
    Ok(scope
        .select::<AuditLog>()
        .filter(audit_log::Column::ActorType.is_in(actor_types.iter().copied()))
        .order_by_desc(audit_log::Column::Id)
        .limit(1)
        .one(conn.raw())
        .await?)
}

/// The organization's newest entries about any of `resource_ids` (a person's SCIM user, account
/// and invitations, say), `limit` at most.
pub async fn about(
    conn: &impl Conn,
    scope: &OrgScope,
    resource_ids: &[String],
    limit: u64,
) -> StoreResult<Vec<AuditRow>> {
    if resource_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(scope
        .select::<AuditLog>()
        .filter(audit_log::Column::ResourceId.is_in(resource_ids.iter().cloned()))
        .order_by_desc(audit_log::Column::Id)
        .limit(limit)
        .all(conn.raw())
        .await?)
}
