//! What the console's forms (and the operator's CLI, which calls the same functions) do to an
//! organization. Each operation is one transaction with its audit row — and, where someone's
//! effective roles change, its `member.roles_changed` events — so it happens whole or not at all.

use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use store::kv::Kv;
use store::repo::api_tokens::{self, ApiToken, IssuedToken};
use store::repo::audit::{self, Actor, AuditEntry};
use store::repo::group_mappings::{self, Grants};
use store::repo::installations::{self, Installation};
use store::repo::organizations::{self, Organization};
use store::repo::roles::RoleChange;
use store::repo::stacks::{self, Stack};
use store::repo::{events, scim_groups};
use store::{Database, OrgScope, StoreError, StoreResult};

/// Who does something, and from which request: what every audit row records.
#[derive(Debug, Clone)]
pub struct Who {
    /// The actor.
    pub actor: Actor,
    /// The acting account, when an account acts (recorded as a token's creator).
    pub account_id: Option<i64>,
    /// The HTTP request's id.
    pub request_id: Option<String>,
    /// The client address.
    pub ip: Option<String>,
}

impl Who {
    /// The operator at the CLI.
    pub fn operator() -> Self {
        Who {
            actor: Actor::Operator,
            account_id: None,
            request_id: None,
            ip: None,
        }
    }

    /// The audit row of `action` on one resource.
    pub fn entry(
        &self,
        action: &'static str,
        resource_type: &'static str,
        resource_id: &str,
        detail: Value,
    ) -> AuditEntry {
        AuditEntry {
            actor: self.actor.clone(),
            action,
            resource_type,
            resource_id: Some(resource_id.to_owned()),
            request_id: self.request_id.clone(),
            ip: self.ip.clone(),
            detail,
        }
    }
}

/// Turns SCIM on or off for the organization. Off keeps every token, user and group: SCIM
/// requests are refused until it is turned on again, on every replica at once (the change is
/// announced to their credential caches).
pub async fn set_scim_enabled(
    db: &Database,
    kv: &Kv,
    scope: &OrgScope,
    enabled: bool,
    who: &Who,
) -> StoreResult<Organization> {
    let txn = store::db::begin_write(db).await?;
    let org = organizations::set_scim_enabled(&txn, scope, enabled).await?;
    let action = if enabled {
        "scim.enabled"
    } else {
        "scim.disabled"
    };
    audit::record(
        &txn,
        Some(scope),
        who.entry(action, "organization", &org.uid, json!({})),
    )
    .await?;
    txn.commit().await?;
    store::credential_cache::announce(kv, scope.org_uid()).await?;
    Ok(org)
}

/// Creates a bearer token; its plaintext exists only in the result.
pub async fn create_token(
    db: &Database,
    scope: &OrgScope,
    name: &str,
    expires_in_days: Option<u32>,
    who: &Who,
) -> StoreResult<IssuedToken> {
    let expires_at =
        expires_in_days.map(|days| Utc::now() + chrono::Duration::days(i64::from(days)));
    let txn = store::db::begin_write(db).await?;
    let issued = api_tokens::create(&txn, scope, name, who.account_id, expires_at).await?;
    audit::record(
        &txn,
        Some(scope),
        who.entry(
            "api_token.created",
            "api_token",
            &issued.row.uid,
            json!({"name": issued.row.name, "prefix": issued.row.prefix,
                "expires_at": issued.row.expires_at}),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(issued)
}

/// Revokes a bearer token: the next request with it is refused, on every replica (the revocation
/// is announced to their credential caches).
pub async fn revoke_token(
    db: &Database,
    kv: &Kv,
    scope: &OrgScope,
    uid: &str,
    who: &Who,
) -> StoreResult<ApiToken> {
    let txn = store::db::begin_write(db).await?;
    let token = api_tokens::revoke(&txn, scope, uid).await?;
    audit::record(
        &txn,
        Some(scope),
        who.entry(
            "api_token.revoked",
            "api_token",
            &token.uid,
            json!({"name": token.name, "prefix": token.prefix}),
        ),
    )
    .await?;
    txn.commit().await?;
    store::credential_cache::announce(kv, scope.org_uid()).await?;
    Ok(token)
}

/// Revokes an IdP's installation: its refresh tokens at once, its access tokens on every replica
/// through the key-value store's revocation set (kept for `ttl`).
pub async fn revoke_installation(
    db: &Database,
    kv: &Kv,
    scope: &OrgScope,
    uid: &str,
    ttl: Duration,
    who: &Who,
) -> StoreResult<Installation> {
    let audit = who.entry("installation.revoked", "installation", uid, json!({}));
    installations::revoke_everywhere(db, kv, scope, uid, ttl, audit).await
}

/// A group of the organization by SCIM id.
pub async fn group(
    db: &Database,
    scope: &OrgScope,
    uid: &str,
) -> StoreResult<scim_groups::ScimGroup> {
    scim_groups::get(db, scope, uid)
        .await?
        .ok_or(StoreError::NotFound("group"))
}

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
    json!({"org_role": grants.org_role.map(|r| r.as_str()), "stack_roles": stack_roles})
}

/// Sets (`Some`) or removes (`None`) a group's mapping; recomputes its members' effective roles
/// and records an event for everyone whose roles changed.
pub async fn save_mapping(
    db: &Database,
    scope: &OrgScope,
    group_uid: &str,
    grants: Option<&Grants>,
    who: &Who,
) -> StoreResult<Vec<RoleChange>> {
    let txn = store::db::begin_write(db).await?;
    let group = scim_groups::get(&txn, scope, group_uid)
        .await?
        .ok_or(StoreError::NotFound("group"))?;
    let before = group_mappings::get(&txn, scope, group.id)
        .await?
        .map(|(_, g)| g);
    let changes = match grants {
        Some(grants) => group_mappings::set(&txn, scope, group.id, grants).await?,
        None => group_mappings::remove(&txn, scope, group.id).await?,
    };
    events::record_role_changes(&txn, scope, &changes).await?;
    let stacks = stacks::list(&txn, scope).await?;
    let action = if grants.is_some() {
        "group_mapping.saved"
    } else {
        "group_mapping.removed"
    };
    audit::record(
        &txn,
        Some(scope),
        who.entry(
            action,
            "scim_group",
            &group.uid,
            json!({"group": group.display_name, "before": grants_json(before.as_ref(), &stacks),
                "after": grants_json(grants, &stacks), "accounts_changed": changes.len()}),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(changes)
}

/// Creates a stack.
pub async fn create_stack(
    db: &Database,
    scope: &OrgScope,
    name: &str,
    who: &Who,
) -> StoreResult<Stack> {
    let txn = store::db::begin_write(db).await?;
    let stack = stacks::create(&txn, scope, name).await?;
    audit::record(
        &txn,
        Some(scope),
        who.entry(
            "stack.created",
            "stack",
            &stack.uid,
            json!({"name": stack.name}),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(stack)
}

/// Renames a stack.
pub async fn rename_stack(
    db: &Database,
    scope: &OrgScope,
    uid: &str,
    name: &str,
    who: &Who,
) -> StoreResult<Stack> {
    let txn = store::db::begin_write(db).await?;
    let before = stacks::get(&txn, scope, uid).await?;
    let stack = stacks::rename(&txn, scope, uid, name).await?;
    audit::record(
        &txn,
        Some(scope),
        who.entry(
            "stack.renamed",
            "stack",
            &stack.uid,
            json!({"from": before.name, "to": stack.name}),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(stack)
}

/// Deletes a stack with every role on it (manual and mapped), recording an event for everyone
/// whose effective roles that changes.
pub async fn delete_stack(
    db: &Database,
    scope: &OrgScope,
    uid: &str,
    who: &Who,
) -> StoreResult<()> {
    let txn = store::db::begin_write(db).await?;
    let stack = stacks::get(&txn, scope, uid).await?;
    let changes = stacks::withdraw_roles(&txn, scope, uid).await?;
    events::record_role_changes(&txn, scope, &changes).await?;
    stacks::delete(&txn, scope, uid).await?;
    audit::record(
        &txn,
        Some(scope),
        who.entry(
            "stack.deleted",
            "stack",
            &stack.uid,
            json!({"name": stack.name, "accounts_changed": changes.len()}),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
