//! Users: provisioning semantics. Creating a SCIM user links (or creates) the SaaS account by email
//! and adds an *invited* membership; `active: false` suspends the membership and `active: true`
//! restores it; deleting removes the SCIM user and the membership, never the account.

use scim_core::error::ScimError;
use scim_core::patch::{PatchRequest, apply_patch};
use scim_core::schema::ResourceSchema;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use store::repo::events::{self, NewEvent};
use store::repo::memberships::{self, NewMembership};
use store::repo::scim_users::{self, ScimUser, UserColumns};
use store::repo::{accounts, scim_groups, stacks};
use store::types::{Email, MembershipSource, MembershipStatus, OrgRole};
use store::{OrgScope, StoreError, StoreResult};

use super::{Ctx, Retry, check_if_match, retry_on_conflict};
use crate::error::ApiResult;
use crate::resource::{etag, user_columns, user_resource};

/// The account a SCIM user is linked to is found by its primary email, else its `userName` when
/// that is an address. A user with neither is kept unlinked (no account, no membership) until an
/// update brings an address.
fn account_email(columns: &UserColumns) -> Option<Email> {
    columns
        .primary_email()
        .and_then(|e| Email::parse(e).ok())
        .or_else(|| Email::parse(&columns.user_name).ok())
}

/// The account a user with these columns is linked to, matched or created by email (`None` for
/// a user without an address).
async fn ensure_account(
    conn: &impl ConnectionTrait,
    columns: &UserColumns,
) -> StoreResult<Option<accounts::Account>> {
    match account_email(columns) {
        Some(email) => Ok(Some(
            accounts::ensure(conn, &email, columns.display_name.as_deref()).await?,
        )),
        None => Ok(None),
    }
}

/// Links an unlinked user to its account (matched or created by email) and invites it into the
/// organization; a no-op for a linked user or one without an address.
async fn link_and_invite(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    user: &mut ScimUser,
    columns: &UserColumns,
) -> StoreResult<()> {
    if user.account_id.is_some() {
        return Ok(());
    }
    let Some(account) = ensure_account(conn, columns).await? else {
        return Ok(());
    };
    scim_users::link_account(conn, scope, user.id, account.id).await?;
    user.account_id = Some(account.id);
    match invite(conn, scope, user, &account, columns).await? {
        Some(invitation) => events::append_event(conn, scope, &invitation).await,
        None => Ok(()),
    }
}

/// Adds a newly linked user's account to the organization as *invited* (or *suspended* when the
/// IdP says inactive) and returns the invitation event for the caller to record; an existing
/// membership is kept.
async fn invite(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    user: &ScimUser,
    account: &accounts::Account,
    columns: &UserColumns,
) -> StoreResult<Option<NewEvent>> {
    let status = if columns.active {
        MembershipStatus::Invited
    } else {
        MembershipStatus::Suspended
    };
    let new = NewMembership {
        account_id: account.id,
        role: OrgRole::Member,
        status,
        source: MembershipSource::Scim,
    };
    if memberships::add_if_absent(conn, scope, new).await? {
        return Ok(Some(NewEvent {
            kind: "membership.invited",
            subject_type: "scim_user",
            subject_id: user.uid.clone(),
            payload: json!({"account_id": account.uid, "email": account.email, "scim_user_id": user.uid, "status": status.as_str()}),
        }));
    }
    // The account was already a member (added by hand): SCIM now manages it, access unchanged
    // unless the IdP says it is inactive.
    if !columns.active {
        apply_active(conn, scope, user, true, false).await?;
    }
    Ok(None)
}

/// Applies an `active` transition to the membership and records its event.
async fn apply_active(
    conn: &impl ConnectionTrait,
    scope: &OrgScope,
    user: &ScimUser,
    was_active: bool,
    now_active: bool,
) -> StoreResult<()> {
    let Some(account_id) = user.account_id else {
        return Ok(());
    };
    if was_active == now_active {
        return Ok(());
    }
    let (status, kind) = if now_active {
        // Someone who had accepted the invitation (has a password) gets access back; everyone
        // else returns to the invited state.
        let accepted = accounts::find_by_id(conn, account_id)
            .await?
            .is_some_and(|a| a.password_hash.is_some());
        let status = if accepted {
            MembershipStatus::Active
        } else {
            MembershipStatus::Invited
        };
        (status, "membership.restored")
    } else {
        (MembershipStatus::Suspended, "membership.suspended")
    };
    if memberships::get(conn, scope, account_id).await?.is_none() {
        return Ok(());
    }
    memberships::set_status(conn, scope, account_id, status).await?;
    let payload = json!({"scim_user_id": user.uid, "status": status.as_str()});
    events::append(conn, scope, kind, ("scim_user", &user.uid), &payload).await
}

/// `POST /Users`.
pub async fn create(ctx: Ctx<'_>, body: Value) -> ApiResult<Value> {
    let schema = ResourceSchema::user();
    let resource = scim_core::normalize::normalize_resource(schema, body)?;
    let columns = user_columns(&resource)?;
    let scope = ctx.scope();
    let txn = store::db::begin_write(&ctx.api.db).await?;
    // The account first, so the user row is written once, already linked.
    let account = ensure_account(&txn, &columns).await?;
    let user = scim_users::insert(&txn, scope, account.as_ref().map(|a| a.id), &columns).await?;
    let invitation = match &account {
        Some(account) => invite(&txn, scope, &user, account, &columns).await?,
        None => None,
    };
    // The audit row and the invitation together: one statement on PostgreSQL.
    ctx.audit_with_event(
        &txn,
        "scim_user.created",
        "User",
        &user.uid,
        json!({"userName": user.user_name}),
        invitation,
    )
    .await?;
    txn.commit().await.map_err(StoreError::from)?;
    Ok(user_resource(&user, &ctx.base_url(), Some(&[])))
}

/// `GET /Users/{id}`; `groups` are loaded only when wanted.
pub async fn get(ctx: Ctx<'_>, uid: &str, with_groups: bool) -> ApiResult<(Value, String)> {
    let user = scim_users::get(&ctx.api.db, ctx.scope(), uid)
        .await?
        .ok_or_else(|| ScimError::not_found(format!("User {uid} not found")))?;
    let groups = if with_groups {
        scim_groups::groups_of_users(&ctx.api.db, ctx.scope(), &[user.id])
            .await?
            .remove(&user.id)
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    Ok((
        user_resource(
            &user,
            &ctx.base_url(),
            with_groups.then_some(groups.as_slice()),
        ),
        etag(user.version),
    ))
}

/// A change to one user: from the stored resource, the new one.
enum Change<'a> {
    Replace(&'a Value),
    Patch(&'a PatchRequest),
}

async fn write(
    ctx: Ctx<'_>,
    uid: &str,
    change: Change<'_>,
    if_match: Option<&str>,
) -> ApiResult<Value> {
    let schema = ResourceSchema::user();
    let scope = ctx.scope();
    retry_on_conflict(|| async {
        let txn = store::db::begin_write(&ctx.api.db).await?;
        let user = scim_users::get(&txn, scope, uid)
            .await?
            .ok_or_else(|| ScimError::not_found(format!("User {uid} not found")))?;
        check_if_match(user.version, if_match)?;
        let current = user_resource(&user, &ctx.base_url(), None);
        let resource = match change {
            Change::Replace(body) => {
                let mut body = body.clone();
                if let Some(obj) = body.as_object_mut() {
                    // Immutable and read-only attributes come from the stored resource.
                    obj.insert("id".into(), json!(user.uid));
                }
                scim_core::normalize::normalize_resource(schema, body)?
            }
            Change::Patch(request) => apply_patch(schema, &current, request)?.resource,
        };
        let columns = user_columns(&resource)?;
        let mut updated = match scim_users::update(&txn, scope, &user, &columns).await {
            Err(StoreError::VersionMismatch) if if_match.is_none() => return Ok(Retry::Again),
            other => other?,
        };
        apply_active(&txn, scope, &updated, user.active, updated.active).await?;
        link_and_invite(&txn, scope, &mut updated, &columns).await?;
        ctx.audit(
            &txn,
            "scim_user.updated",
            "User",
            &updated.uid,
            json!({"version": updated.version}),
        )
        .await?;
        txn.commit().await.map_err(StoreError::from)?;
        let groups = scim_groups::groups_of_users(&ctx.api.db, scope, &[updated.id])
            .await?
            .remove(&updated.id)
            .unwrap_or_default();
        Ok(Retry::Done(user_resource(
            &updated,
            &ctx.base_url(),
            Some(&groups),
        )))
    })
    .await
}

/// `PUT /Users/{id}`.
pub async fn replace(
    ctx: Ctx<'_>,
    uid: &str,
    body: &Value,
    if_match: Option<&str>,
) -> ApiResult<Value> {
    write(ctx, uid, Change::Replace(body), if_match).await
}

/// `PATCH /Users/{id}`.
pub async fn patch(
    ctx: Ctx<'_>,
    uid: &str,
    request: &PatchRequest,
    if_match: Option<&str>,
) -> ApiResult<Value> {
    write(ctx, uid, Change::Patch(request), if_match).await
}

/// `DELETE /Users/{id}`: the SCIM user and the membership go; the account stays.
pub async fn delete(ctx: Ctx<'_>, uid: &str, if_match: Option<&str>) -> ApiResult<()> {
    let scope = ctx.scope();
    let txn = store::db::begin_write(&ctx.api.db).await?;
    let user = scim_users::get(&txn, scope, uid)
        .await?
        .ok_or_else(|| ScimError::not_found(format!("User {uid} not found")))?;
    check_if_match(user.version, if_match)?;
    scim_users::delete(&txn, scope, uid).await?;
    if let Some(account_id) = user.account_id
        && memberships::remove(&txn, scope, account_id).await?
    {
        stacks::remove_roles_of(&txn, scope, account_id).await?;
        let payload = json!({"scim_user_id": user.uid, "userName": user.user_name});
        events::append(
            &txn,
            scope,
            "membership.removed",
            ("scim_user", &user.uid),
            &payload,
        )
        .await?;
    }
    ctx.audit(
        &txn,
        "scim_user.deleted",
        "User",
        &user.uid,
        json!({"userName": user.user_name}),
    )
    .await?;
    txn.commit().await.map_err(StoreError::from)?;
    Ok(())
}
