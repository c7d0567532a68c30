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
use crate::entity::audit_log::{self, Entity as AuditLog};
use crate::entity::events::Entity as Events;
use crate::{OrgScope, StoreResult};

/// An audit row.
pub type AuditRow = audit_log::Model;

/// Who acted.
#[derive(Debug, Clone)]
pub enum Actor {
    /// A signed-in account (console, consent page).
    Account(String),
    /// An organization API token, by its UID.
    ApiToken(String),
    /// An OAuth installation, by its UID.
    Installation(String),
    /// The operator through the CLI.
    Operator,
}

impl Actor {
    fn parts(&self) -> (&'static str, &str) {
        match self {
            Actor::Account(id) => ("account", id),
            Actor::ApiToken(id) => ("api_token", id),
            Actor::Installation(id) => ("installation", id),
            Actor::Operator => ("operator", "cli"),
        }
    }
}

/// One thing that happened.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// Who.
    pub actor: Actor,
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

/// Records an entry for the organization, or for the installation as a whole when `scope` is
/// `None` (registering a client, rotating keys).
pub async fn record(
    conn: &impl ConnectionTrait,
    scope: Option<&OrgScope>,
    entry: AuditEntry,
) -> StoreResult<()> {
    AuditLog::insert(row(scope, entry)).exec(conn).await?;
    Ok(())
}

/// Records an entry and, when there is one, the outbox event of the same change. On PostgreSQL
/// both go in one statement (`WITH … AS (INSERT INTO events …) INSERT INTO audit_log …`): one round
/// trip fewer on the hot path of provisioning. SQLite, which has no data-modifying CTEs and no
/// round trips to save, runs the two inserts.
pub async fn record_with_event(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    entry: AuditEntry,
    event: Option<NewEvent>,
) -> StoreResult<()> {
    let Some(event) = event else {
        return record(conn, Some(scope), entry).await;
    };
    let backend = conn.get_database_backend();
    if backend != DbBackend::Postgres {
        events::append_event(conn, scope, &event).await?;
        return record(conn, Some(scope), entry).await;
    }
    let event_insert = Events::insert(events::row(scope, &event)).into_query();
    let cte = CommonTableExpression::new()
        .query(event_insert)
        .table_name(Alias::new("recorded_event"))
        .to_owned();
    let statement = AuditLog::insert(row(Some(scope), entry))
        .into_query()
        .with(WithClause::new().cte(cte).to_owned());
    conn.execute_raw(backend.build(&statement)).await?;
    Ok(())
}

fn row(scope: Option<&OrgScope>, entry: AuditEntry) -> audit_log::ActiveModel {
    let (actor_type, actor_id) = entry.actor.parts();
    audit_log::ActiveModel {
        org_id: Set(scope.map(OrgScope::org_id)),
        actor_type: Set(actor_type.to_owned()),
        actor_id: Set(actor_id.to_owned()),
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
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    before_id: Option<i64>,
    limit: u64,
) -> StoreResult<Vec<AuditRow>> {
    let mut query = AuditLog::find().filter(audit_log::Column::OrgId.eq(scope.org_id()));
    if let Some(before) = before_id {
        query = query.filter(audit_log::Column::Id.lt(before));
    }
    Ok(query
        .order_by_desc(audit_log::Column::Id)
        .limit(limit)
        .all(conn)
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
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    filter: &AuditFilter,
    before_id: Option<i64>,
    limit: u64,
) -> StoreResult<Vec<AuditRow>> {
    let mut query = AuditLog::find().filter(audit_log::Column::OrgId.eq(scope.org_id()));
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
        .all(conn)
        .await?)
}
