//! Group mappings: a SCIM group grants an organization role and per-stack roles to its members.
//! Saving or removing one recomputes its members' effective roles and records every change. A
//! mapping never grants Owner: Owners are managed by hand, so provisioning can neither make nor
//! unmake one.

use serde_json::{Value, json};
use store::OrgScope;
use store::repo::group_mappings::{self, Grants};
use store::repo::role_catalog;
use store::repo::roles::RoleChange;
use store::repo::scim_groups::{self, ScimGroup};
use store::repo::stacks::{self, Stack};
use store::types::OrgRole;

use crate::events::{self, Event, EventType, Subject};
use crate::unit::{Audit, Unit};
use crate::{Actor, Core, Error, Result};

fn grants_json(grants: Option<&Grants>, stacks: &[Stack]) -> Value {
    let Some(grants) = grants else {
        return Value::Null;
    };
    let stack_roles: serde_json::Map<String, Value> = grants
        .stack_roles
        .iter()
        .filter_map(|(id, role)| {
            let stack = stacks.iter().find(|s| s.id == *id)?;
            Some((stack.uid.clone(), json!(role.as_str())))
        })
        .collect();
    json!({"org_role": grants.org_role.as_ref().map(OrgRole::as_str), "stack_roles": stack_roles})
}

/// Refuses grants a mapping may not hold: Owner, nothing, or roles the catalog does not have.
async fn check(core: &Core, grants: &Grants) -> Result<()> {
    if grants.org_role.as_ref().is_some_and(OrgRole::is_owner) {
        return Err(Error::Invalid(
            "a group mapping cannot grant Owner: the organization's Owners are managed by hand, \
             never by provisioning"
                .into(),
        ));
    }
    if grants.org_role.is_none() && grants.stack_roles.is_empty() {
        return Err(Error::Invalid(
            "a mapping must grant an organization role or a stack role; to map the group to \
             nothing, remove its mapping"
                .into(),
        ));
    }
    let catalog = role_catalog::load(core.db()).await?;
    if let Some(role) = &grants.org_role {
        catalog.org_role(role.as_str())?;
    }
    for (_, role) in &grants.stack_roles {
        catalog.stack_role(role.as_str())?;
    }
    Ok(())
}

/// A group of the organization by SCIM id.
pub async fn group(core: &Core, scope: &OrgScope, uid: &str) -> Result<ScimGroup> {
    scim_groups::get(core.db(), scope, uid)
        .await?
        .ok_or_else(|| Error::NotFound(format!("group {uid} not found")))
}

/// Sets (`Some`) or removes (`None`) a group's mapping; recomputes its members' effective roles
/// and records an event for everyone whose roles changed.
pub async fn save(
    core: &Core,
    actor: &Actor,
    scope: &OrgScope,
    group_uid: &str,
    grants: Option<&Grants>,
) -> Result<Vec<RoleChange>> {
    if let Some(grants) = grants {
        check(core, grants).await?;
    }
    let mut unit = Unit::begin(core, actor).await?;
    let group = scim_groups::get(unit.conn(), scope, group_uid)
        .await?
        .ok_or_else(|| Error::NotFound(format!("group {group_uid} not found")))?;
    let before = group_mappings::get(unit.conn(), scope, group.id)
        .await?
        .map(|(_, g)| g);
    let changes = match grants {
        Some(grants) => group_mappings::set(unit.conn(), scope, group.id, grants).await?,
        None => group_mappings::remove(unit.conn(), scope, group.id).await?,
    };
    let stacks = stacks::list(unit.conn(), scope).await?;
    let (action, kind) = if grants.is_some() {
        ("group_mapping.saved", EventType::GroupMappingSaved)
    } else {
        ("group_mapping.removed", EventType::GroupMappingRemoved)
    };
    let (before, after) = (
        grants_json(before.as_ref(), &stacks),
        grants_json(grants, &stacks),
    );
    if before != after {
        unit.emit(
            Event::new(
                kind,
                Subject::new("group_mapping", group.uid.clone()),
                json!({"group_id": group.uid, "group": group.display_name, "grants": after}),
            )
            .with_previous(json!({"grants": before})),
        );
    }
    let role_events = events::role_changes(unit.conn(), scope, &changes).await?;
    unit.emit_all(role_events);
    let audit = Audit::new(
        action,
        "scim_group",
        &group.uid,
        json!({"group": group.display_name, "before": before, "after": after,
            "accounts_changed": changes.len()}),
    );
    unit.commit(Some(scope), audit).await?;
    Ok(changes)
}

/// What saving (`Some`) or removing (`None`) a mapping would change, without changing it.
pub async fn preview(
    core: &Core,
    scope: &OrgScope,
    group_uid: &str,
    grants: Option<&Grants>,
) -> Result<Vec<RoleChange>> {
    if let Some(grants) = grants {
        check(core, grants).await?;
    }
    let group = group(core, scope, group_uid).await?;
    Ok(group_mappings::preview(core.db(), scope, group.id, grants).await?)
}
