//! Read models for the console: provisioned users with their membership state and effective
//! role, groups with member counts. Paged by id (keyset), so a page costs the same at 100,000
//! users as at 10.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, Condition, QueryFilter, QueryOrder, QuerySelect};

use crate::db::{Conn, Raw};
use crate::entity::org_memberships::{self, Entity as Memberships};
use crate::entity::scim_group_members::{self, Entity as Members};
use crate::entity::scim_groups::{self, Entity as ScimGroups};
use crate::entity::scim_users::{self, Entity as ScimUsers};
use crate::ids::{AccountId, ScimGroupId, ScimUserId};
use crate::repo::scim_groups::ScimGroup;
use crate::repo::scim_users::ScimUser;
use crate::types::normalize_key;
use crate::{OrgScope, StoreResult};

/// A provisioned user as the console lists it.
#[derive(Debug, Clone)]
pub struct UserRow {
    /// The SCIM user.
    pub user: ScimUser,
    /// Its membership status (`None`: not linked to an account yet).
    pub status: Option<String>,
    /// Its effective organization role.
    pub effective_role: Option<String>,
}

/// A group as the console lists it.
#[derive(Debug, Clone)]
pub struct GroupRow {
    /// The SCIM group.
    pub group: ScimGroup,
    /// How many members it has.
    pub member_count: u64,
}

/// Users of the organization after `after_id`, `limit` at most, whose userName or primary email
/// starts with `search` (ignoring case).
pub async fn users(
    conn: &impl Conn,
    scope: &OrgScope,
    search: Option<&str>,
    after_id: ScimUserId,
    limit: u64,
) -> StoreResult<Vec<UserRow>> {
    let mut query = scope
        .select::<ScimUsers>()
        .filter(scim_users::Column::Id.gt(after_id));
    if let Some(term) = search.map(normalize_key).filter(|t| !t.is_empty()) {
        let pattern = sea_orm::sea_query::LikeExpr::new(format!("{}%", super::escape_like(&term)))
            .escape('\\');
        query = query.filter(
            Condition::any()
                .add(Expr::col(scim_users::Column::UserNameNormalized).like(pattern.clone()))
                .add(Expr::col(scim_users::Column::PrimaryEmailNormalized).like(pattern)),
        );
    }
    let users = query
        .order_by_asc(scim_users::Column::Id)
        .limit(limit)
        .all(conn.raw())
        .await?;
    let accounts: Vec<AccountId> = users.iter().filter_map(|u| u.account_id).collect();
    let memberships: HashMap<AccountId, org_memberships::Model> = if accounts.is_empty() {
        HashMap::new()
    } else {
        scope
            .select::<Memberships>()
            .filter(org_memberships::Column::AccountId.is_in(accounts))
            .all(conn.raw())
            .await?
            .into_iter()
            .map(|m| (m.account_id, m))
            .collect()
    };
    Ok(users
        .into_iter()
        .map(|user| {
            let membership = user.account_id.and_then(|a| memberships.get(&a));
            UserRow {
                status: membership.map(|m| m.status.clone()),
                effective_role: membership.map(|m| m.effective_role.clone()),
                user,
            }
        })
        .collect())
}

/// Groups of the organization after `after_id`, `limit` at most, whose displayName starts with
/// `search` (ignoring case), with their member counts.
pub async fn groups(
    conn: &impl Conn,
    scope: &OrgScope,
    search: Option<&str>,
    after_id: ScimGroupId,
    limit: u64,
) -> StoreResult<Vec<GroupRow>> {
    let mut query = scope
        .select::<ScimGroups>()
        .filter(scim_groups::Column::Id.gt(after_id));
    if let Some(term) = search.map(normalize_key).filter(|t| !t.is_empty()) {
        let pattern = sea_orm::sea_query::LikeExpr::new(format!("{}%", super::escape_like(&term)))
            .escape('\\');
        query = query.filter(Expr::col(scim_groups::Column::DisplayNameNormalized).like(pattern));
    }
    let groups = query
        .order_by_asc(scim_groups::Column::Id)
        .limit(limit)
        .all(conn.raw())
        .await?;
    let ids: Vec<ScimGroupId> = groups.iter().map(|g| g.id).collect();
    let counts: HashMap<ScimGroupId, i64> = if ids.is_empty() {
        HashMap::new()
    } else {
        scope
            .select::<Members>()
            .select_only()
            .column(scim_group_members::Column::GroupId)
            .column_as(Expr::col(scim_group_members::Column::UserId).count(), "n")
            .filter(scim_group_members::Column::GroupId.is_in(ids))
            .group_by(scim_group_members::Column::GroupId)
            .into_tuple::<(ScimGroupId, i64)>()
            .all(conn.raw())
            .await?
            .into_iter()
            .collect()
    };
    Ok(groups
        .into_iter()
        .map(|group| GroupRow {
            member_count: counts
                .get(&group.id)
                .copied()
                .map_or(0, |n| u64::try_from(n).unwrap_or(0)),
            group,
        })
        .collect())
}

/// How many SCIM users and groups the organization has.
pub async fn counts(conn: &impl Conn, scope: &OrgScope) -> StoreResult<(u64, u64)> {
    use sea_orm::PaginatorTrait;
    let users = scope.select::<ScimUsers>().count(conn.raw()).await?;
    let groups = scope.select::<ScimGroups>().count(conn.raw()).await?;
    Ok((users, groups))
}
