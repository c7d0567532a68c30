//! The events outbox: every change that the SaaS backend must hear about, written in the change's
//! transaction and read in id order as a feed.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::Value;

use super::{new_uid, now};
use crate::entity::events::{self, Entity as Events};
use crate::{OrgScope, StoreResult};

/// An event row.
pub type Event = events::Model;

/// Appends an event (`kind` such as `membership.invited`) about one subject.
pub async fn append(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    kind: &str,
    subject: (&str, &str),
    payload: &Value,
) -> StoreResult<()> {
    let row = events::ActiveModel {
        uid: Set(new_uid()),
        org_id: Set(scope.org_id()),
        kind: Set(kind.to_owned()),
        subject_type: Set(subject.0.to_owned()),
        subject_id: Set(subject.1.to_owned()),
        payload: Set(payload.to_string()),
        created_at: Set(now()),
        ..Default::default()
    };
    Events::insert(row).exec(conn).await?;
    Ok(())
}

/// The organization's events after `after_id`, oldest first, `limit` at most.
pub async fn list_after(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    after_id: i64,
    limit: u64,
) -> StoreResult<Vec<Event>> {
    Ok(Events::find()
        .filter(events::Column::OrgId.eq(scope.org_id()))
        .filter(events::Column::Id.gt(after_id))
        .order_by_asc(events::Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}
