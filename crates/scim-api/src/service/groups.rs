//! Groups: attributes are compare-and-swap updates of one row; membership changes are row inserts
//! and deletes taken from the PATCH engine's change set, so their cost does not depend on the
//! group's size. When the group is mapped to roles, the touched members' effective roles are
//! recomputed in the same transaction and every change is recorded as an event.
//!
//! Member ids that are not users of this organization are never stored; the rest of the request
//! still applies, and the ignored ids are listed in the audit row.

use std::collections::{BTreeMap, BTreeSet};

use scim_core::error::ScimError;
use scim_core::patch::{PatchRequest, apply_patch};
use scim_core::schema::ResourceSchema;
use serde_json::{Value, json};
use store::repo::group_mappings;
use store::repo::roles;
use store::repo::scim_groups::{self, ScimGroup};
use store::{StoreError, StoreResult};

use super::{Ctx, Retry, check_if_match, retry_on_conflict};
use crate::error::ApiResult;
use crate::resource::{etag, group_columns, group_resource};
use scim_core::normalize::take_members_with_display;
use store::repo::events::record_role_changes;

/// The largest number of members a GET returns inline (beyond it, use the console or filter).
pub const MAX_INLINE_MEMBERS: u64 = 100_000;

/// Member ids in order, and the displays the client sent with some of them.
fn split_members(
    members: Vec<(String, Option<String>)>,
) -> (Vec<String>, BTreeMap<String, String>) {
    let displays = members
        .iter()
        .filter_map(|(id, display)| Some((id.clone(), display.clone()?)))
        .collect();
    (members.into_iter().map(|(id, _)| id).collect(), displays)
}

/// The group as answered, members loaded only when wanted.
pub async fn render(ctx: Ctx<'_>, group: &ScimGroup, with_members: bool) -> StoreResult<Value> {
    let members = if with_members {
        Some(scim_groups::members(&ctx.api.db, ctx.scope(), group.id, 0, MAX_INLINE_MEMBERS).await?)
    } else {
        None
    };
    Ok(group_resource(group, &ctx.base_url(), members.as_deref()))
}

/// What a membership change did, for roles and the audit row.
#[derive(Debug, Default)]
struct MemberDelta {
    accounts: BTreeSet<i64>,
    added: usize,
    removed: usize,
    ignored: Vec<String>,
    cleared: bool,
}

impl MemberDelta {
    fn changed(&self) -> bool {
        self.cleared || self.added > 0 || self.removed > 0
    }
}

async fn apply_members(
    ctx: Ctx<'_>,
    conn: &impl sea_orm::ConnectionTrait,
    group: &ScimGroup,
    clear: bool,
    add: &[String],
    displays: &BTreeMap<String, String>,
    remove: &[String],
) -> StoreResult<MemberDelta> {
    let scope = ctx.scope();
    let mapped = group_mappings::is_mapped(conn, scope, group.id).await?;
    let mut delta = MemberDelta {
        cleared: clear,
        ..MemberDelta::default()
    };
    if clear {
        if mapped {
            delta
                .accounts
                .extend(scim_groups::member_accounts(conn, scope, group.id).await?);
        }
        scim_groups::clear_members(conn, scope, group.id).await?;
    }
    if !remove.is_empty() {
        let resolved = scim_groups::remove_members(conn, scope, group.id, remove).await?;
        delta.removed = resolved.users.len();
        delta.accounts.extend(resolved.account_ids());
    }
    if !add.is_empty() {
        let resolved = scim_groups::add_members(conn, scope, group.id, add, displays).await?;
        delta.added = resolved.users.len();
        delta.ignored = resolved.unknown.clone();
        delta.accounts.extend(resolved.account_ids());
    }
    if mapped && !delta.accounts.is_empty() {
        let accounts: Vec<i64> = delta.accounts.iter().copied().collect();
        let changes = roles::recompute(conn, scope, &accounts).await?;
        record_role_changes(conn, scope, &changes).await?;
    }
    Ok(delta)
}

fn delta_detail(delta: &MemberDelta) -> Value {
    json!({"members_added": delta.added, "members_removed": delta.removed, "members_cleared": delta.cleared,
        "ignored_member_ids": delta.ignored})
}

/// `POST /Groups`.
pub async fn create(ctx: Ctx<'_>, body: Value) -> ApiResult<Value> {
    let schema = ResourceSchema::group();
    let mut resource = scim_core::normalize::normalize_resource(schema, body)?;
    let (members, displays) = split_members(take_members_with_display(&mut resource));
    let columns = group_columns(&resource)?;
    let txn = store::db::begin_write(&ctx.api.db).await?;
    let group = scim_groups::insert(&txn, ctx.scope(), &columns).await?;
    let delta = apply_members(ctx, &txn, &group, false, &members, &displays, &[]).await?;
    ctx.audit(
        &txn,
        "scim_group.created",
        "Group",
        &group.uid,
        json!({"displayName": group.display_name, "members": delta_detail(&delta)}),
    )
    .await?;
    txn.commit().await.map_err(StoreError::from)?;
    Ok(render(ctx, &group, true).await?)
}

/// `GET /Groups/{id}`.
pub async fn get(ctx: Ctx<'_>, uid: &str, with_members: bool) -> ApiResult<(Value, String)> {
    let group = scim_groups::get(&ctx.api.db, ctx.scope(), uid)
        .await?
        .ok_or_else(|| ScimError::not_found(format!("Group {uid} not found")))?;
    Ok((
        render(ctx, &group, with_members).await?,
        etag(group.version),
    ))
}

/// `PUT /Groups/{id}`: attributes and the whole member list are replaced.
pub async fn replace(
    ctx: Ctx<'_>,
    uid: &str,
    body: &Value,
    if_match: Option<&str>,
    with_members: bool,
) -> ApiResult<Value> {
    let schema = ResourceSchema::group();
    let mut resource = scim_core::normalize::normalize_resource(schema, body.clone())?;
    let (members, displays) = split_members(take_members_with_display(&mut resource));
    let columns = group_columns(&resource)?;
    let scope = ctx.scope();
    let group = retry_on_conflict(|| async {
        let txn = store::db::begin_write(&ctx.api.db).await?;
        let group = scim_groups::get(&txn, scope, uid)
            .await?
            .ok_or_else(|| ScimError::not_found(format!("Group {uid} not found")))?;
        check_if_match(group.version, if_match)?;
        let updated = match scim_groups::update(&txn, scope, &group, &columns).await {
            Err(StoreError::VersionMismatch) if if_match.is_none() => return Ok(Retry::Again),
            other => other?,
        };
        let delta = apply_members(ctx, &txn, &updated, true, &members, &displays, &[]).await?;
        ctx.audit(
            &txn,
            "scim_group.replaced",
            "Group",
            uid,
            delta_detail(&delta),
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(Retry::Done(updated))
    })
    .await?;
    Ok(render(ctx, &group, with_members).await?)
}

/// `PATCH /Groups/{id}`. Returns the updated group (members loaded only when wanted).
pub async fn patch(
    ctx: Ctx<'_>,
    uid: &str,
    request: &PatchRequest,
    if_match: Option<&str>,
    with_members: bool,
) -> ApiResult<Value> {
    let schema = ResourceSchema::group();
    let scope = ctx.scope();
    let group = retry_on_conflict(|| async {
        let txn = store::db::begin_write(&ctx.api.db).await?;
        let group = scim_groups::get(&txn, scope, uid)
            .await?
            .ok_or_else(|| ScimError::not_found(format!("Group {uid} not found")))?;
        check_if_match(group.version, if_match)?;
        // The engine sees the group without its members: member operations come back as a
        // change set, never as a list to write back.
        let current = group_resource(&group, &ctx.base_url(), None);
        let outcome = apply_patch(schema, &current, request)?;
        let changes = &outcome.changes;
        let mut updated = group.clone();
        if !changes.attributes.is_empty() {
            let columns = group_columns(&outcome.resource)?;
            updated = match scim_groups::update(&txn, scope, &group, &columns).await {
                Err(StoreError::VersionMismatch) if if_match.is_none() => return Ok(Retry::Again),
                other => other?,
            };
        }
        let delta = apply_members(
            ctx,
            &txn,
            &updated,
            changes.members_cleared,
            &changes.members_added,
            &changes.member_displays,
            &changes.members_removed,
        )
        .await?;
        if delta.changed() && changes.attributes.is_empty() {
            scim_groups::touch(&txn, scope, group.id).await?;
        }
        ctx.audit(
            &txn,
            "scim_group.patched",
            "Group",
            uid,
            json!({"attributes": changes.attributes, "members": delta_detail(&delta)}),
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(Retry::Done(()))
    })
    .await;
    group?;
    let (resource, _) = get(ctx, uid, with_members).await?;
    Ok(resource)
}

/// `DELETE /Groups/{id}`: members lose what the group's mapping granted.
pub async fn delete(ctx: Ctx<'_>, uid: &str, if_match: Option<&str>) -> ApiResult<()> {
    let scope = ctx.scope();
    let txn = store::db::begin_write(&ctx.api.db).await?;
    let group = scim_groups::get(&txn, scope, uid)
        .await?
        .ok_or_else(|| ScimError::not_found(format!("Group {uid} not found")))?;
    check_if_match(group.version, if_match)?;
    let affected = if group_mappings::is_mapped(&txn, scope, group.id).await? {
        scim_groups::member_accounts(&txn, scope, group.id).await?
    } else {
        Vec::new()
    };
    scim_groups::delete(&txn, scope, uid).await?;
    let changes = roles::recompute(&txn, scope, &affected).await?;
    record_role_changes(&txn, scope, &changes).await?;
    ctx.audit(
        &txn,
        "scim_group.deleted",
        "Group",
        uid,
        json!({"displayName": group.display_name}),
    )
    .await?;
    txn.commit().await.map_err(StoreError::from)?;
    Ok(())
}
