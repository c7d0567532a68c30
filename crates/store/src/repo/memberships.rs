//! Memberships: which accounts belong to an organization, with what role and in what state. Also
//! where a console session turns into an [`OrgScope`]: only an active Owner/Admin gets one.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, Func, OnConflict, Order, Query, QueryStatementBuilder};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};

use super::now;
use super::role_catalog::RoleKind;
use crate::db::{Conn, Raw};
use crate::entity::accounts::{self, Entity as Accounts};
use crate::entity::org_memberships::{self, Entity as Memberships};
use crate::entity::organizations::{self, Entity as Organizations};
use crate::entity::roles::{self, Entity as Roles};
use crate::ids::{AccountId, OrgId};
use crate::types::{MembershipSource, MembershipStatus, OrgRole};
use crate::{OrgScope, StoreError, StoreResult};

/// A membership row.
pub type Membership = org_memberships::Model;

/// What a new membership starts with.
#[derive(Debug, Clone)]
pub struct NewMembership {
    /// The account joining.
    pub account_id: AccountId,
    /// Its manual role (the effective role starts equal to it).
    pub role: OrgRole,
    /// Invited (SCIM), or active (added by an admin or the CLI).
    pub status: MembershipStatus,
    /// Who added it.
    pub source: MembershipSource,
}

fn new_row(scope: &OrgScope, new: NewMembership) -> org_memberships::ActiveModel {
    let at = now();
    org_memberships::ActiveModel {
        org_id: Set(scope.org_id()),
        account_id: Set(new.account_id),
        role: Set(new.role.as_str().to_owned()),
        effective_role: Set(new.role.as_str().to_owned()),
        status: Set(new.status.as_str().to_owned()),
        source: Set(new.source.as_str().to_owned()),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
}

/// Adds an account to the organization; a second membership of the same account is a conflict.
pub async fn add(
    conn: &impl Conn,
    scope: &OrgScope,
    new: NewMembership,
) -> StoreResult<Membership> {
    Memberships::insert(new_row(scope, new))
        .exec_with_returning(conn.raw())
        .await
        .map_err(|e| StoreError::from_db_unique(e, "membership"))
}

/// Adds an account to the organization unless it is a member already, with the catalog's least
/// privileged organization role ([`RoleCatalog::base_org_role`], `owner` when the catalog has
/// none) as its manual and effective role; true when it was added. One statement — the role is
/// read by a subquery and the unique index decides — for provisioning's hot path.
///
/// [`RoleCatalog::base_org_role`]: super::role_catalog::RoleCatalog::base_org_role
pub async fn add_with_base_role_if_absent(
    conn: &impl Conn,
    scope: &OrgScope,
    account_id: AccountId,
    status: MembershipStatus,
    source: MembershipSource,
) -> StoreResult<bool> {
    let base_role = || {
        let least_privileged = Query::select()
            .column(roles::Column::Key)
            .from(Roles)
            .and_where(roles::Column::Kind.eq(RoleKind::Organization.as_str()))
            .order_by(roles::Column::Rank, Order::Asc)
            .order_by(roles::Column::Key, Order::Asc)
            .limit(1)
            .to_owned();
        Expr::expr(Func::coalesce([
            Expr::SubQuery(None, Box::new(least_privileged.into_sub_query_statement())),
            Expr::val(OrgRole::OWNER),
        ]))
    };
    let at = now();
    let insert = Query::insert()
        .into_table(Memberships)
        .columns([
            org_memberships::Column::OrgId,
            org_memberships::Column::AccountId,
            org_memberships::Column::Role,
            org_memberships::Column::EffectiveRole,
            org_memberships::Column::Status,
            org_memberships::Column::Source,
            org_memberships::Column::CreatedAt,
            org_memberships::Column::UpdatedAt,
        ])
        .values([
            Expr::val(scope.org_id()),
            Expr::val(account_id),
            base_role(),
            base_role(),
            Expr::val(status.as_str()),
            Expr::val(source.as_str()),
            Expr::val(at),
            Expr::val(at),
        ])
        .map_err(|e| StoreError::Database(DbErr::Custom(e.to_string())))?
        .on_conflict(
            OnConflict::columns([
                org_memberships::Column::OrgId,
                org_memberships::Column::AccountId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .to_owned();
    let backend = conn.raw().get_database_backend();
    let result = conn.raw().execute_raw(backend.build(&insert)).await?;
    Ok(result.rows_affected() > 0)
}

/// The membership of `account_id` in this organization, if any.
pub async fn get(
    conn: &impl Conn,
    scope: &OrgScope,
    account_id: AccountId,
) -> StoreResult<Option<Membership>> {
    Ok(scope
        .select::<Memberships>()
        .filter(org_memberships::Column::AccountId.eq(account_id))
        .one(conn.raw())
        .await?)
}

/// Every membership of the organization with its account, oldest first.
pub async fn list(
    conn: &impl Conn,
    scope: &OrgScope,
) -> StoreResult<Vec<(Membership, accounts::Model)>> {
    let memberships = scope
        .select::<Memberships>()
        .order_by_asc(org_memberships::Column::Id)
        .all(conn.raw())
        .await?;
    let accounts: HashMap<AccountId, accounts::Model> = Accounts::find()
        .filter(accounts::Column::Id.is_in(memberships.iter().map(|m| m.account_id)))
        .all(conn.raw())
        .await?
        .into_iter()
        .map(|a| (a.id, a))
        .collect();
    Ok(pair_up(memberships, accounts, |m| m.account_id))
}

/// Changes a membership's status (suspend on `active: false`, restore on `active: true`).
pub async fn set_status(
    conn: &impl Conn,
    scope: &OrgScope,
    account_id: AccountId,
    status: MembershipStatus,
) -> StoreResult<Membership> {
    let existing = get(conn, scope, account_id)
        .await?
        .ok_or(StoreError::NotFound("membership"))?;
    let mut row: org_memberships::ActiveModel = existing.into();
    row.status = Set(status.as_str().to_owned());
    row.updated_at = Set(now());
    Ok(scope.update(row)?.exec(conn.raw()).await?)
}

/// Changes a membership's manual role and recomputes the effective one (the highest of the
/// manual role and what mapped groups grant); returns the membership and the role change, if the
/// effective roles changed.
pub async fn set_role(
    conn: &impl Conn,
    scope: &OrgScope,
    account_id: AccountId,
    role: &OrgRole,
) -> StoreResult<(Membership, Vec<super::roles::RoleChange>)> {
    let existing = get(conn, scope, account_id)
        .await?
        .ok_or(StoreError::NotFound("membership"))?;
    let mut row: org_memberships::ActiveModel = existing.into();
    row.role = Set(role.as_str().to_owned());
    row.updated_at = Set(now());
    scope.update(row)?.exec(conn.raw()).await?;
    let changes = super::roles::recompute(conn, scope, &[account_id]).await?;
    let membership = get(conn, scope, account_id)
        .await?
        .ok_or(StoreError::NotFound("membership"))?;
    Ok((membership, changes))
}

/// Removes the account from the organization; the account itself stays.
pub async fn remove(
    conn: &impl Conn,
    scope: &OrgScope,
    account_id: AccountId,
) -> StoreResult<bool> {
    let result = scope
        .delete_many::<Memberships>()
        .filter(org_memberships::Column::AccountId.eq(account_id))
        .exec(conn.raw())
        .await?;
    Ok(result.rows_affected > 0)
}

/// The organizations an account belongs to, with its membership in each.
pub async fn organizations_of(
    conn: &impl Conn,
    account_id: AccountId,
) -> StoreResult<Vec<(Membership, organizations::Model)>> {
    let memberships = Memberships::find()
        .filter(org_memberships::Column::AccountId.eq(account_id))
        .order_by_asc(org_memberships::Column::Id)
        .all(conn.raw())
        .await?;
    let orgs: HashMap<OrgId, organizations::Model> = Organizations::find()
        .filter(organizations::Column::Id.is_in(memberships.iter().map(|m| m.org_id)))
        .all(conn.raw())
        .await?
        .into_iter()
        .map(|o| (o.id, o))
        .collect();
    Ok(pair_up(memberships, orgs, |m| m.org_id))
}

fn pair_up<K: std::hash::Hash + Eq, T>(
    memberships: Vec<Membership>,
    mut others: HashMap<K, T>,
    key: impl Fn(&Membership) -> K,
) -> Vec<(Membership, T)> {
    memberships
        .into_iter()
        .filter_map(|m| others.remove(&key(&m)).map(|o| (m, o)))
        .collect()
}

/// The scope of a console session: granted only to an active Owner or Admin of `org_uid`.
pub async fn admin_scope(
    conn: &impl Conn,
    account_id: AccountId,
    org_uid: &str,
) -> StoreResult<OrgScope> {
    let org = Organizations::find()
        .filter(organizations::Column::Uid.eq(org_uid))
        .one(conn.raw())
        .await?
        .ok_or(StoreError::NotFound("organization"))?;
    admin_scope_in(conn, account_id, &org).await
}

/// [`admin_scope`] for an organization the caller has already loaded (the console, which needs
/// the row anyway).
pub async fn admin_scope_in(
    conn: &impl Conn,
    account_id: AccountId,
    org: &organizations::Model,
) -> StoreResult<OrgScope> {
    let membership = Memberships::find()
        .filter(org_memberships::Column::OrgId.eq(org.id))
        .filter(org_memberships::Column::AccountId.eq(account_id))
        .one(conn.raw())
        .await?
        .ok_or(StoreError::NotFound("organization"))?;
    let active = membership.status == MembershipStatus::Active.as_str();
    let manages =
        super::role_catalog::org_role_manages_scim(conn, &membership.effective_role).await?;
    if !(active && manages) {
        return Err(StoreError::Forbidden(
            "only an active Owner or Admin of this organization can do this".into(),
        ));
    }
    Ok(OrgScope::new(org.id, org.uid.clone()))
}
