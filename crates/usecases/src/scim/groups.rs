//! Groups: attributes are compare-and-swap updates of one row; membership changes are row inserts
//! and deletes taken from the PATCH engine's change set, so their cost does not depend on the
//! group's size. When the group is mapped to roles, the touched members' effective roles are
//! recomputed in the same transaction and every change is an event.
//!
//! Member ids that are not users of this organization are never stored; the rest of the request
//! still applies, and the ignored ids are listed in the audit row.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use scim_core::normalize::take_members_with_display;
use scim_core::patch::{PatchRequest, apply_patch};
use scim_core::schema::ResourceSchema;
use serde_json::{Value, json};
use store::OrgScope;
use store::ids::AccountId;
use store::repo::scim_groups::{self, ScimGroup};
use store::repo::{group_mappings, roles};

use super::resource::{etag, group_columns, group_resource};
use super::{Ctx, Retry, check_if_match, not_found, retry_on_conflict};
use crate::Result;
use crate::events::{self, Event, EventType, Subject, changed_attributes};
use crate::unit::{Audit, Unit};

/// The largest number of members a GET returns inline (beyond it, use the console or filter).
pub const MAX_INLINE_MEMBERS: u64 = 100_000;

/// Member ids per `directory.group.members_added|removed` event: a 50,000-member push is 100
/// events of bounded size.
pub const MEMBER_IDS_PER_EVENT: usize = 500;

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
pub async fn render(ctx: Ctx<'_>, group: &ScimGroup, with_members: bool) -> Result<Value> {
    let members = if with_members {
        Some(
            scim_groups::members(ctx.core.db(), ctx.scope(), group.id, 0, MAX_INLINE_MEMBERS)
                .await?,
        )
    } else {
        None
    };
    Ok(group_resource(group, ctx.base_url, members.as_deref()))
}

fn group_subject(group: &ScimGroup) -> Subject {
    Subject::versioned("group", group.uid.clone(), group.version)
}

fn group_data(group: &ScimGroup) -> Value {
    json!({"id": group.uid, "displayName": group.display_name, "externalId": group.external_id})
}

/// What a membership change did, for roles, events and the audit row.
#[derive(Debug, Default)]
struct MemberDelta {
    accounts: BTreeSet<AccountId>,
    added: Vec<String>,
    removed: Vec<String>,
    ignored: Vec<String>,
}

impl MemberDelta {
    fn changed(&self) -> bool {
        !self.added.is_empty() || !self.removed.is_empty()
    }

    fn detail(&self) -> Value {
        json!({"members_added": self.added.len(), "members_removed": self.removed.len(),
            "ignored_member_ids": self.ignored})
    }
}

/// The membership events of a change, in bounded chunks.
fn member_events(group: &ScimGroup, delta: &MemberDelta) -> Vec<Event> {
    let chunked = |kind: EventType, ids: &[String]| -> Vec<Event> {
        let count = ids.len().div_ceil(MEMBER_IDS_PER_EVENT);
        ids.chunks(MEMBER_IDS_PER_EVENT)
            .enumerate()
            .map(|(index, chunk)| {
                Event::new(
                    kind,
                    group_subject(group),
                    json!({"group_id": group.uid, "members": chunk,
                        "chunk": {"index": index + 1, "count": count}}),
                )
            })
            .collect()
    };
    let mut out = chunked(EventType::DirectoryGroupMembersRemoved, &delta.removed);
    out.extend(chunked(EventType::DirectoryGroupMembersAdded, &delta.added));
    out
}

/// Removes `remove` and adds `add` (with the displays sent) to the group, recomputes the roles
/// of the members who came or went when the group is mapped, and emits the events.
async fn apply_members(
    unit: &mut Unit<'_>,
    scope: &OrgScope,
    group: &ScimGroup,
    add: &[String],
    displays: &BTreeMap<String, String>,
    remove: &[String],
) -> Result<MemberDelta> {
    let mut delta = MemberDelta::default();
    if !remove.is_empty() {
        let resolved = scim_groups::remove_members(unit.conn(), scope, group.id, remove).await?;
        delta.accounts.extend(resolved.changed_accounts);
        delta.removed = resolved.changed;
    }
    if !add.is_empty() {
        let resolved =
            scim_groups::add_members(unit.conn(), scope, group.id, add, displays).await?;
        delta.accounts.extend(resolved.changed_accounts);
        delta.added = resolved.changed;
        delta.ignored = resolved.unknown;
    }
    unit.emit_all(member_events(group, &delta));
    if !delta.accounts.is_empty() && group_mappings::is_mapped(unit.conn(), scope, group.id).await?
    {
        let accounts: Vec<AccountId> = delta.accounts.iter().copied().collect();
        let changes = roles::recompute(unit.conn(), scope, &accounts).await?;
        let events = events::role_changes(unit.conn(), scope, &changes).await?;
        unit.emit_all(events);
    }
    Ok(delta)
}

/// The `directory.group.updated` event of an attribute change, if anything changed.
fn updated_event(before: &ScimGroup, after: &ScimGroup) -> Option<Event> {
    let previous = changed_attributes(&group_data(before), &group_data(after));
    (!previous.is_empty()).then(|| {
        Event::new(
            EventType::DirectoryGroupUpdated,
            group_subject(after),
            group_data(after),
        )
        .with_previous(Value::Object(previous))
    })
}

/// `POST /Groups`.
pub async fn create(ctx: Ctx<'_>, body: Value) -> Result<Value> {
    let schema = ResourceSchema::group();
    let mut resource = scim_core::normalize::normalize_resource(schema, body)?;
    let (members, displays) = split_members(take_members_with_display(&mut resource));
    let columns = group_columns(&resource)?;
    let scope = ctx.scope();
    let mut unit = Unit::begin_keyed(ctx.core, ctx.actor).await?;
    let group = scim_groups::insert(unit.conn(), scope, &columns).await?;
    unit.emit(Event::new(
        EventType::DirectoryGroupCreated,
        group_subject(&group),
        group_data(&group),
    ));
    let delta = apply_members(&mut unit, scope, &group, &members, &displays, &[]).await?;
    let audit = Audit::new(
        "scim_group.created",
        "Group",
        &group.uid,
        json!({"displayName": group.display_name, "members": delta.detail()}),
    );
    unit.commit(Some(scope), audit).await?;
    render(ctx, &group, true).await
}

/// `GET /Groups/{id}`.
pub async fn get(ctx: Ctx<'_>, uid: &str, with_members: bool) -> Result<(Value, String)> {
    let group = scim_groups::get(ctx.core.db(), ctx.scope(), uid)
        .await?
        .ok_or_else(|| not_found("Group", uid))?;
    Ok((
        render(ctx, &group, with_members).await?,
        etag(group.version),
    ))
}

/// `PUT /Groups/{id}`: attributes and the whole member list are replaced (as the difference
/// between the old list and the new one, so unchanged members cost nothing and emit nothing).
pub async fn replace(
    ctx: Ctx<'_>,
    uid: &str,
    body: &Value,
    if_match: Option<&str>,
    with_members: bool,
) -> Result<Value> {
    let schema = ResourceSchema::group();
    let mut resource = scim_core::normalize::normalize_resource(schema, body.clone())?;
    let (members, displays) = split_members(take_members_with_display(&mut resource));
    let columns = group_columns(&resource)?;
    let scope = ctx.scope();
    let group = retry_on_conflict(|| async {
        let mut unit = Unit::begin_keyed(ctx.core, ctx.actor).await?;
        let group = scim_groups::get_for_update(unit.conn(), scope, uid)
            .await?
            .ok_or_else(|| not_found("Group", uid))?;
        check_if_match(group.version, if_match)?;
        let updated = match scim_groups::update(unit.conn(), scope, &group, &columns).await {
            Err(store::StoreError::VersionMismatch) if if_match.is_none() => {
                return Ok(Retry::Again);
            }
            other => other?,
        };
        unit.emit_all(updated_event(&group, &updated));
        let wanted: HashSet<&str> = members.iter().map(String::as_str).collect();
        let gone: Vec<String> = scim_groups::member_uids(unit.conn(), scope, group.id)
            .await?
            .into_iter()
            .filter(|m| !wanted.contains(m.as_str()))
            .collect();
        let delta = apply_members(&mut unit, scope, &updated, &members, &displays, &gone).await?;
        let audit = Audit::new("scim_group.replaced", "Group", uid, delta.detail());
        unit.commit(Some(scope), audit).await?;
        Ok(Retry::Done(updated))
    })
    .await?;
    render(ctx, &group, with_members).await
}

/// `PATCH /Groups/{id}`. Returns the updated group (members loaded only when wanted).
pub async fn patch(
    ctx: Ctx<'_>,
    uid: &str,
    request: &PatchRequest,
    if_match: Option<&str>,
    with_members: bool,
) -> Result<Value> {
    let schema = ResourceSchema::group();
    let scope = ctx.scope();
    retry_on_conflict(|| async {
        let mut unit = Unit::begin_keyed(ctx.core, ctx.actor).await?;
        let group = scim_groups::get_for_update(unit.conn(), scope, uid)
            .await?
            .ok_or_else(|| not_found("Group", uid))?;
        check_if_match(group.version, if_match)?;
        // The engine sees the group without its members: member operations come back as a
        // change set, never as a list to write back.
        let current = group_resource(&group, ctx.base_url, None);
        let outcome = apply_patch(schema, &current, request)?;
        let changes = &outcome.changes;
        let mut updated = group.clone();
        if !changes.attributes.is_empty() {
            let columns = group_columns(&outcome.resource)?;
            updated = match scim_groups::update(unit.conn(), scope, &group, &columns).await {
                Err(store::StoreError::VersionMismatch) if if_match.is_none() => {
                    return Ok(Retry::Again);
                }
                other => other?,
            };
            unit.emit_all(updated_event(&group, &updated));
        }
        let mut remove = changes.members_removed.clone();
        if changes.members_cleared {
            let added: HashSet<&str> = changes.members_added.iter().map(String::as_str).collect();
            remove.extend(
                scim_groups::member_uids(unit.conn(), scope, group.id)
                    .await?
                    .into_iter()
                    .filter(|m| !added.contains(m.as_str())),
            );
        }
        let delta = apply_members(
            &mut unit,
            scope,
            &updated,
            &changes.members_added,
            &changes.member_displays,
            &remove,
        )
        .await?;
        if delta.changed() && changes.attributes.is_empty() {
            scim_groups::touch(unit.conn(), scope, group.id).await?;
        }
        let audit = Audit::new(
            "scim_group.patched",
            "Group",
            uid,
            json!({"attributes": changes.attributes, "members": delta.detail()}),
        );
        unit.commit(Some(scope), audit).await?;
        Ok(Retry::Done(()))
    })
    .await?;
    let (resource, _) = get(ctx, uid, with_members).await?;
    Ok(resource)
}

/// `DELETE /Groups/{id}`: members lose what the group's mapping granted.
pub async fn delete(ctx: Ctx<'_>, uid: &str, if_match: Option<&str>) -> Result<()> {
    let scope = ctx.scope();
    let mut unit = Unit::begin_keyed(ctx.core, ctx.actor).await?;
    let group = scim_groups::get(unit.conn(), scope, uid)
        .await?
        .ok_or_else(|| not_found("Group", uid))?;
    check_if_match(group.version, if_match)?;
    let affected = if group_mappings::is_mapped(unit.conn(), scope, group.id).await? {
        scim_groups::member_accounts(unit.conn(), scope, group.id).await?
    } else {
        Vec::new()
    };
    scim_groups::delete(unit.conn(), scope, uid).await?;
    unit.emit(Event::new(
        EventType::DirectoryGroupDeleted,
        group_subject(&group),
        group_data(&group),
    ));
    let changes = roles::recompute(unit.conn(), scope, &affected).await?;
    let role_events = events::role_changes(unit.conn(), scope, &changes).await?;
    unit.emit_all(role_events);
    let audit = Audit::new(
        "scim_group.deleted",
        "Group",
        uid,
        json!({"displayName": group.display_name}),
    );
    unit.commit(Some(scope), audit).await
}
