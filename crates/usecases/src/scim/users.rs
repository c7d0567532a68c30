//! Users: provisioning semantics. Creating a SCIM user links (or creates) the SaaS account by email
//! and adds an *invited* membership; `active: false` suspends the membership and `active: true`
//! restores it; deleting removes the SCIM user and the membership, never the account. An Owner's
//! membership is never suspended or removed by provisioning: what was asked is recorded instead.

use scim_core::patch::{PatchRequest, apply_patch};
use scim_core::schema::ResourceSchema;
use serde_json::{Value, json};
use store::OrgScope;
use store::repo::memberships::{self, Membership};
use store::repo::scim_users::{self, ScimUser, UserColumns};
use store::repo::{accounts, scim_groups, stacks};
use store::types::{Email, MembershipSource, MembershipStatus, OrgRole};

use super::resource::{etag, user_columns, user_resource};
use super::{Ctx, Retry, check_if_match, not_found, retry_on_conflict};
use crate::Result;
use crate::events::{Event, EventType, Subject, changed_attributes};
use crate::unit::{Audit, Unit};

/// The account a SCIM user is linked to is found by its primary email, else its `userName` when
/// that is an address. A user with neither is kept unlinked (no account, no membership) until an
/// update brings an address.
pub fn account_email(columns: &UserColumns) -> Option<Email> {
    columns
        .primary_email()
        .and_then(|e| Email::parse(e).ok())
        .or_else(|| Email::parse(&columns.user_name).ok())
}

/// The account a user with these columns is linked to, matched or created by email (`None` for
/// a user without an address).
async fn ensure_account(
    conn: &impl store::Conn,
    columns: &UserColumns,
) -> Result<Option<accounts::Account>> {
    match account_email(columns) {
        Some(email) => Ok(Some(
            accounts::ensure(conn, &email, columns.display_name.as_deref()).await?,
        )),
        None => Ok(None),
    }
}

/// The subject of a user's events.
fn user_subject(user: &ScimUser) -> Subject {
    Subject::versioned("user", user.uid.clone(), user.version)
}

/// The data of a user's `directory.user.*` events: the resource as stored (bounded by the SCIM
/// limits), without `meta`.
fn user_data(user: &ScimUser) -> Value {
    let mut data = serde_json::from_str::<Value>(&user.resource).unwrap_or_else(|_| json!({}));
    if let Some(obj) = data.as_object_mut() {
        obj.insert("id".into(), json!(user.uid));
    }
    data
}

fn membership_event(
    kind: EventType,
    account: &accounts::Account,
    user: &ScimUser,
    status: MembershipStatus,
) -> Event {
    Event::new(
        kind,
        Subject::new("membership", account.uid.clone()),
        json!({"account_id": account.uid, "email": account.email, "scim_user_id": user.uid,
            "status": status.as_str()}),
    )
}

/// Whether provisioning must leave this membership alone: an Owner is managed by hand only.
fn is_owner(membership: &Membership) -> bool {
    membership.role == OrgRole::OWNER || membership.effective_role == OrgRole::OWNER
}

/// Records that provisioning asked for something the Owner rules did not allow.
fn owner_protected(unit: &mut Unit<'_>, account: &accounts::Account, user: &ScimUser, asked: &str) {
    unit.emit(Event::new(
        EventType::OwnerProtected,
        Subject::new("membership", account.uid.clone()),
        json!({"account_id": account.uid, "email": account.email, "scim_user_id": user.uid,
            "asked": asked, "done": "nothing: the organization's Owners are managed by hand, never by provisioning"}),
    ));
}

/// The audit detail `detail`, with what the Owner rules refused in this change (`owner_protected`:
/// who, what was asked, what was done instead), so the console's Activity can say so.
fn audited(unit: &Unit<'_>, mut detail: Value) -> Value {
    let refused: Vec<Value> = unit
        .emitted(EventType::OwnerProtected)
        .into_iter()
        .map(|p| json!({"email": p["email"], "asked": p["asked"], "done": "kept"}))
        .collect();
    if let (false, Some(obj)) = (refused.is_empty(), detail.as_object_mut()) {
        obj.insert("owner_protected".into(), Value::Array(refused));
    }
    detail
}

/// Adds a newly linked user's account to the organization as *invited* (or *suspended* when the
/// IdP says inactive); an existing membership is kept (SCIM now manages it, access unchanged
/// unless the IdP says it is inactive).
async fn invite(
    unit: &mut Unit<'_>,
    scope: &OrgScope,
    user: &ScimUser,
    account: &accounts::Account,
    columns: &UserColumns,
) -> Result<()> {
    let status = if columns.active {
        MembershipStatus::Invited
    } else {
        MembershipStatus::Suspended
    };
    // Provisioning gives the catalog's least privileged role (read by the insert itself); mapped
    // groups raise it.
    let added = memberships::add_with_base_role_if_absent(
        unit.conn(),
        scope,
        account.id,
        status,
        MembershipSource::Scim,
    )
    .await?;
    if added {
        unit.emit(membership_event(
            EventType::MembershipInvited,
            account,
            user,
            status,
        ));
    } else if !columns.active {
        apply_active(unit, scope, user, true, false).await?;
    }
    Ok(())
}

/// Links an unlinked user to its account (matched or created by email) and invites it into the
/// organization; a no-op for a linked user or one without an address.
async fn link_and_invite(
    unit: &mut Unit<'_>,
    scope: &OrgScope,
    user: &mut ScimUser,
    columns: &UserColumns,
) -> Result<()> {
    if user.account_id.is_some() {
        return Ok(());
    }
    let Some(account) = ensure_account(unit.conn(), columns).await? else {
        return Ok(());
    };
    scim_users::link_account(unit.conn(), scope, user.id, account.id).await?;
    user.account_id = Some(account.id);
    invite(unit, scope, user, &account, columns).await
}

/// Applies an `active` transition to the membership and records its event.
async fn apply_active(
    unit: &mut Unit<'_>,
    scope: &OrgScope,
    user: &ScimUser,
    was_active: bool,
    now_active: bool,
) -> Result<()> {
    let Some(account_id) = user.account_id else {
        return Ok(());
    };
    if was_active == now_active {
        return Ok(());
    }
    let Some(membership) = memberships::get(unit.conn(), scope, account_id).await? else {
        return Ok(());
    };
    let Some(account) = accounts::find_by_id(unit.conn(), account_id).await? else {
        return Ok(());
    };
    let (status, kind) = if now_active {
        // Someone who had accepted the invitation (has a password) gets access back; everyone
        // else returns to the invited state.
        let status = if account.password_hash.is_some() {
            MembershipStatus::Active
        } else {
            MembershipStatus::Invited
        };
        (status, EventType::MembershipRestored)
    } else {
        if is_owner(&membership) {
            owner_protected(unit, &account, user, "suspend");
            return Ok(());
        }
        (MembershipStatus::Suspended, EventType::MembershipSuspended)
    };
    if membership.status == status.as_str() {
        return Ok(());
    }
    memberships::set_status(unit.conn(), scope, account_id, status).await?;
    unit.emit(membership_event(kind, &account, user, status));
    Ok(())
}

/// The columns of the user a `POST /Users` body creates (what the data generator of the load
/// harness writes too, so its rows are the ones this would write).
pub fn new_user_columns(body: Value) -> Result<UserColumns> {
    let schema = ResourceSchema::user();
    let mut resource = scim_core::normalize::normalize_resource(schema, body)?;
    // A user created without `active` is active (RFC 7643 leaves the default to the service):
    // stored so, it is answered so — and a later PATCH that removes `active` removes it.
    if let Some(attributes) = resource.as_object_mut() {
        attributes.entry("active").or_insert(Value::Bool(true));
    }
    Ok(user_columns(&resource)?)
}

/// `POST /Users`.
pub async fn create(ctx: Ctx<'_>, body: Value) -> Result<Value> {
    let columns = new_user_columns(body)?;
    let scope = ctx.scope();
    let mut unit = Unit::begin(ctx.core, ctx.actor).await?;
    // The account first, so the user row is written once, already linked.
    let account = ensure_account(unit.conn(), &columns).await?;
    let user =
        scim_users::insert(unit.conn(), scope, account.as_ref().map(|a| a.id), &columns).await?;
    unit.emit(Event::new(
        EventType::DirectoryUserCreated,
        user_subject(&user),
        user_data(&user),
    ));
    if let Some(account) = &account {
        invite(&mut unit, scope, &user, account, &columns).await?;
    }
    // The audit row and the events together: one statement on PostgreSQL.
    let audit = Audit::new(
        "scim_user.created",
        "User",
        &user.uid,
        audited(&unit, json!({"userName": user.user_name})),
    );
    unit.commit(Some(scope), audit).await?;
    Ok(user_resource(user.stored(), ctx.base_url, Some(&[])))
}

/// `GET /Users/{id}`; `groups` are loaded only when wanted.
pub async fn get(ctx: Ctx<'_>, uid: &str, with_groups: bool) -> Result<(Value, String)> {
    let db = ctx.core.db();
    let user = scim_users::get(db, ctx.scope(), uid)
        .await?
        .ok_or_else(|| not_found("User", uid))?;
    let groups = if with_groups {
        scim_groups::groups_of_users(db, ctx.scope(), &[user.id])
            .await?
            .remove(&user.id)
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    Ok((
        user_resource(
            user.stored(),
            ctx.base_url,
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
) -> Result<Value> {
    let schema = ResourceSchema::user();
    let scope = ctx.scope();
    retry_on_conflict(|| async {
        let mut unit = Unit::begin(ctx.core, ctx.actor).await?;
        let user = scim_users::get_for_update(unit.conn(), scope, uid)
            .await?
            .ok_or_else(|| not_found("User", uid))?;
        check_if_match(user.version, if_match)?;
        let current = user_resource(user.stored(), ctx.base_url, None);
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
        let mut updated = match scim_users::update(unit.conn(), scope, &user, &columns).await {
            Err(store::StoreError::VersionMismatch) if if_match.is_none() => {
                return Ok(Retry::Again);
            }
            other => other?,
        };
        let previous = changed_attributes(&user_data(&user), &user_data(&updated));
        if !previous.is_empty() {
            unit.emit(
                Event::new(
                    EventType::DirectoryUserUpdated,
                    user_subject(&updated),
                    user_data(&updated),
                )
                .with_previous(Value::Object(previous)),
            );
        }
        apply_active(&mut unit, scope, &updated, user.active, updated.active).await?;
        link_and_invite(&mut unit, scope, &mut updated, &columns).await?;
        let audit = Audit::new(
            "scim_user.updated",
            "User",
            &updated.uid,
            audited(
                &unit,
                json!({"userName": updated.user_name, "version": updated.version}),
            ),
        );
        unit.commit(Some(scope), audit).await?;
        let groups = scim_groups::groups_of_users(ctx.core.db(), scope, &[updated.id])
            .await?
            .remove(&updated.id)
            .unwrap_or_default();
        Ok(Retry::Done(user_resource(
            updated.stored(),
            ctx.base_url,
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
) -> Result<Value> {
    write(ctx, uid, Change::Replace(body), if_match).await
}

/// `PATCH /Users/{id}`.
pub async fn patch(
    ctx: Ctx<'_>,
    uid: &str,
    request: &PatchRequest,
    if_match: Option<&str>,
) -> Result<Value> {
    write(ctx, uid, Change::Patch(request), if_match).await
}

/// `DELETE /Users/{id}`: the SCIM user and the membership go; the account stays. An Owner keeps
/// the membership (the organization's Owners are managed by hand).
pub async fn delete(ctx: Ctx<'_>, uid: &str, if_match: Option<&str>) -> Result<()> {
    let scope = ctx.scope();
    let mut unit = Unit::begin(ctx.core, ctx.actor).await?;
    let user = scim_users::get(unit.conn(), scope, uid)
        .await?
        .ok_or_else(|| not_found("User", uid))?;
    check_if_match(user.version, if_match)?;
    scim_users::delete(unit.conn(), scope, uid).await?;
    unit.emit(Event::new(
        EventType::DirectoryUserDeleted,
        user_subject(&user),
        json!({"id": user.uid, "userName": user.user_name, "externalId": user.external_id}),
    ));
    if let Some(account_id) = user.account_id
        && let Some(membership) = memberships::get(unit.conn(), scope, account_id).await?
        && let Some(account) = accounts::find_by_id(unit.conn(), account_id).await?
    {
        if is_owner(&membership) {
            owner_protected(&mut unit, &account, &user, "remove");
        } else if memberships::remove(unit.conn(), scope, account_id).await? {
            stacks::remove_roles_of(unit.conn(), scope, account_id).await?;
            let status = membership
                .status
                .parse()
                .unwrap_or(MembershipStatus::Active);
            unit.emit(membership_event(
                EventType::MembershipRemoved,
                &account,
                &user,
                status,
            ));
        }
    }
    let audit = Audit::new(
        "scim_user.deleted",
        "User",
        &user.uid,
        audited(&unit, json!({"userName": user.user_name})),
    );
    unit.commit(Some(scope), audit).await
}
