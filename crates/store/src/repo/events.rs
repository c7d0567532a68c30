//! The events outbox: every change the SaaS backend must hear about, written in the change's
//! transaction. What the events mean (their catalogue) lives with the use cases; this is storage.

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value;

use super::now;
use crate::db::{Conn, Raw};
use crate::entity::events::{self, Entity as Events};
use crate::{OrgScope, StoreResult};

/// An event row.
pub type Event = events::Model;

/// Events inserted per statement: 15 bind parameters each, well under every backend's limit.
pub(crate) const INSERT_CHUNK: usize = 60;

/// An event to append: `kind` (such as `membership.invited`) about one subject, caused by one
/// actor.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// What happened (`membership.invited`).
    pub kind: &'static str,
    /// The subject's type (`user`, `membership`, `group`).
    pub subject_type: &'static str,
    /// The subject's public id.
    pub subject_id: String,
    /// The subject's version after the change, when it has one.
    pub subject_version: Option<i64>,
    /// Who caused it (`account`, `api_token`, `installation`, `operator`, …).
    pub actor_type: &'static str,
    /// The actor's public id.
    pub actor_id: Option<String>,
    /// The HTTP request that caused it.
    pub request_id: Option<String>,
    /// The event's data.
    pub payload: Value,
    /// For updates: the previous values of what changed.
    pub previous: Option<Value>,
}

/// A new public event id: `evt_` and a UUID v7, time-ordered.
fn new_event_uid() -> String {
    format!("evt_{}", uuid::Uuid::now_v7().simple())
}

/// The row an event is stored as.
pub(crate) fn row(scope: &OrgScope, event: &NewEvent) -> events::ActiveModel {
    row_of(Some(scope.org_id()), event)
}

/// The row of an event of `org` (`None`: region-level).
fn row_of(org: Option<crate::ids::OrgId>, event: &NewEvent) -> events::ActiveModel {
    events::ActiveModel {
        uid: Set(new_event_uid()),
        org_id: Set(org),
        kind: Set(event.kind.to_owned()),
        subject_type: Set(event.subject_type.to_owned()),
        subject_id: Set(event.subject_id.clone()),
        subject_version: Set(event.subject_version),
        actor_type: Set(event.actor_type.to_owned()),
        actor_id: Set(event.actor_id.clone()),
        request_id: Set(event.request_id.clone()),
        payload: Set(event.payload.to_string()),
        previous: Set(event.previous.as_ref().map(Value::to_string)),
        created_at: Set(now()),
        sequence: Set(None),
        position: Set(None),
        ..Default::default()
    }
}

/// Appends events, in order, in bounded statements.
pub async fn append(conn: &impl Conn, scope: &OrgScope, events: &[NewEvent]) -> StoreResult<()> {
    for chunk in events.chunks(INSERT_CHUNK) {
        Events::insert_many(chunk.iter().map(|e| row(scope, e)))
            .exec_without_returning(conn.raw())
            .await?;
    }
    Ok(())
}

/// Appends a region-level event (about no organization: a webhook endpoint disabled).
pub async fn append_region(conn: &impl Conn, event: &NewEvent) -> StoreResult<()> {
    Events::insert(row_of(None, event))
        .exec_without_returning(conn.raw())
        .await?;
    Ok(())
}

/// The organization's events after `after_id` in insertion order, `limit` at most (tests and
/// diagnostics; the feed reads by position).
pub async fn list_after(
    conn: &impl Conn,
    scope: &OrgScope,
    after_id: crate::ids::EventId,
    limit: u64,
) -> StoreResult<Vec<Event>> {
    Ok(scope
        .select::<Events>()
        .filter(events::Column::Id.gt(after_id))
        .order_by_asc(events::Column::Id)
        .limit(limit)
        .all(conn.raw())
        .await?)
}

/// An event by its public id.
pub async fn find_by_uid(conn: &impl Conn, uid: &str) -> StoreResult<Option<Event>> {
    Ok(Events::find()
        .filter(events::Column::Uid.eq(uid))
        .one(conn.raw())
        .await?)
}
