//! The events outbox: every change that the SaaS backend must hear about, written in the change's
//! transaction and read in id order as a feed.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::{Value, json};

use super::roles::RoleChange;
use super::{accounts, stacks};

use super::{new_uid, now};
use crate::entity::events::{self, Entity as Events};
use crate::{OrgScope, StoreResult};

/// An event row.
pub type Event = events::Model;

/// An event to append: `kind` (such as `membership.invited`) about one subject.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// What happened.
    pub kind: &'static str,
    /// The subject's type (`scim_user`, `account`).
    pub subject_type: &'static str,
    /// The subject's public id.
    pub subject_id: String,
    /// The event's data.
    pub payload: Value,
}

/// The row an event is stored as.
pub(crate) fn row(scope: &OrgScope, event: &NewEvent) -> events::ActiveModel {
    events::ActiveModel {
        uid: Set(new_uid()),
        org_id: Set(scope.org_id()),
        kind: Set(event.kind.to_owned()),
        subject_type: Set(event.subject_type.to_owned()),
        subject_id: Set(event.subject_id.clone()),
        payload: Set(event.payload.to_string()),
        created_at: Set(now()),
        ..Default::default()
    }
}

/// Appends an event (`kind` such as `membership.invited`) about one subject.
pub async fn append(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    kind: &'static str,
    subject: (&'static str, &str),
    payload: &Value,
) -> StoreResult<()> {
    let event = NewEvent {
        kind,
        subject_type: subject.0,
        subject_id: subject.1.to_owned(),
        payload: payload.clone(),
    };
    append_event(conn, scope, &event).await
}

/// Appends an event.
pub async fn append_event(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    event: &NewEvent,
) -> StoreResult<()> {
    Events::insert(row(scope, event)).exec(conn).await?;
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

/// Records a `member.roles_changed` event for every account whose effective roles changed.
pub async fn record_role_changes(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    changes: &[RoleChange],
) -> StoreResult<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = changes.iter().map(|c| c.account_id).collect();
    let accounts = accounts::by_ids(conn, &ids).await?;
    let stacks: std::collections::HashMap<i64, String> = stacks::list(conn, scope)
        .await?
        .into_iter()
        .map(|s| (s.id, s.uid))
        .collect();
    let stack_roles = |roles: &std::collections::BTreeMap<i64, crate::types::StackRole>| -> Value {
        roles
            .iter()
            .filter_map(|(id, role)| Some((stacks.get(id)?.clone(), json!(role.as_str()))))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    for change in changes {
        let Some(account) = accounts.iter().find(|a| a.id == change.account_id) else {
            continue;
        };
        let payload = json!({
            "account_id": account.uid,
            "email": account.email,
            "before": {"org_role": change.before.org_role.as_str(), "stack_roles": stack_roles(&change.before.stacks)},
            "after": {"org_role": change.after.org_role.as_str(), "stack_roles": stack_roles(&change.after.stacks)},
        });
        append(
            conn,
            scope,
            "member.roles_changed",
            ("account", &account.uid),
            &payload,
        )
        .await?;
    }
    Ok(())
}
