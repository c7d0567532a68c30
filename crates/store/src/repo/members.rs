//! The members of an organization as the SaaS backend reads them: each membership with its
//! account, its SCIM user (when provisioned), its stack roles, and the mapped groups it belongs
//! to — everything needed to say what someone's effective roles are and where each comes from.
//! A page costs a fixed number of queries whatever its size or the organization's.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect, RelationDef,
};

use crate::db::{Conn, Raw};
use crate::entity::accounts::{self, Entity as Accounts};
use crate::entity::group_mapping_stack_roles::{self, Entity as MappingStackRoles};
use crate::entity::group_mappings::{self, Entity as GroupMappings};
use crate::entity::org_memberships::{self, Entity as Memberships};
use crate::entity::scim_group_members::{self, Entity as Members};
use crate::entity::scim_groups::{self, Entity as ScimGroups};
use crate::entity::scim_users::{self, Entity as ScimUsers};
use crate::entity::stack_roles::{self, Entity as StackRoles};
use crate::ids::{AccountId, MappingId, MembershipId, StackId};
use crate::repo::accounts::Account;
use crate::repo::memberships::Membership;
use crate::types::MembershipStatus;
use crate::{OrgScope, StoreResult};

/// Which members a listing wants.
#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    /// One status.
    pub status: Option<MembershipStatus>,
    /// One effective organization role (its key).
    pub role: Option<String>,
    /// One email (compared case-insensitively).
    pub email: Option<String>,
}

/// One stack role of a member: its manual part and its effective value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackRoleRecord {
    /// The stack.
    pub stack_id: StackId,
    /// The role set by hand, if any.
    pub manual: Option<String>,
    /// The role in effect (manual or granted by a mapped group).
    pub effective: Option<String>,
}

/// A mapped group a member belongs to, with what it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedGroup {
    /// The group's SCIM id.
    pub group_uid: String,
    /// Its display name.
    pub group_name: String,
    /// The organization role it grants.
    pub org_role: Option<String>,
    /// The stack roles it grants.
    pub stack_roles: Vec<(StackId, String)>,
}

/// A member with everything the API shows about it.
#[derive(Debug, Clone)]
pub struct MemberRecord {
    /// The membership.
    pub membership: Membership,
    /// The person's account.
    pub account: Account,
    /// The SCIM user linked to the account in this organization: (SCIM id, userName).
    pub scim_user: Option<(String, String)>,
    /// Every stack role row.
    pub stack_roles: Vec<StackRoleRecord>,
    /// The mapped groups the person belongs to.
    pub mapped_groups: Vec<MappedGroup>,
}

fn membership_account() -> RelationDef {
    Memberships::belongs_to(Accounts)
        .from(org_memberships::Column::AccountId)
        .to(accounts::Column::Id)
        .into()
}

/// Members after `after` (by membership id) matching `filter`, `limit` at most.
pub async fn page(
    conn: &impl Conn,
    scope: &OrgScope,
    filter: &MemberFilter,
    after: Option<MembershipId>,
    limit: u64,
) -> StoreResult<Vec<MemberRecord>> {
    let mut query = scope
        .select::<Memberships>()
        .join(JoinType::InnerJoin, membership_account())
        .select_also(Accounts);
    if let Some(after) = after {
        query = query.filter(org_memberships::Column::Id.gt(after));
    }
    if let Some(status) = filter.status {
        query = query.filter(org_memberships::Column::Status.eq(status.as_str()));
    }
    if let Some(role) = &filter.role {
        query = query.filter(org_memberships::Column::EffectiveRole.eq(role.as_str()));
    }
    if let Some(email) = &filter.email {
        query =
            query.filter(accounts::Column::EmailNormalized.eq(crate::types::normalize_key(email)));
    }
    let rows = query
        .order_by_asc(org_memberships::Column::Id)
        .limit(limit)
        .all(conn.raw())
        .await?;
    let pairs: Vec<(Membership, Account)> = rows
        .into_iter()
        .filter_map(|(m, a)| Some((m, a?)))
        .collect();
    complete(conn, scope, pairs).await
}

/// One member by account id.
pub async fn by_account(
    conn: &impl Conn,
    scope: &OrgScope,
    account_id: AccountId,
) -> StoreResult<Option<MemberRecord>> {
    let row = scope
        .select::<Memberships>()
        .join(JoinType::InnerJoin, membership_account())
        .select_also(Accounts)
        .filter(org_memberships::Column::AccountId.eq(account_id))
        .one(conn.raw())
        .await?;
    let pairs: Vec<(Membership, Account)> =
        row.and_then(|(m, a)| Some((m, a?))).into_iter().collect();
    Ok(complete(conn, scope, pairs).await?.into_iter().next())
}

/// Adds each member's SCIM user, stack roles and mapped groups: four queries for the page.
async fn complete(
    conn: &impl Conn,
    scope: &OrgScope,
    pairs: Vec<(Membership, Account)>,
) -> StoreResult<Vec<MemberRecord>> {
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<AccountId> = pairs.iter().map(|(m, _)| m.account_id).collect();
    let users: Vec<(Option<AccountId>, String, String)> = scope
        .select::<ScimUsers>()
        .select_only()
        .column(scim_users::Column::AccountId)
        .column(scim_users::Column::Uid)
        .column(scim_users::Column::UserName)
        .filter(scim_users::Column::AccountId.is_in(ids.iter().copied()))
        .into_tuple()
        .all(conn.raw())
        .await?;
    let mut users: HashMap<AccountId, (String, String)> = users
        .into_iter()
        .filter_map(|(account, uid, name)| Some((account?, (uid, name))))
        .collect();
    let stack_rows = scope
        .select::<StackRoles>()
        .filter(stack_roles::Column::AccountId.is_in(ids.iter().copied()))
        .order_by_asc(stack_roles::Column::StackId)
        .all(conn.raw())
        .await?;
    let mut stacks: HashMap<AccountId, Vec<StackRoleRecord>> = HashMap::new();
    for row in stack_rows {
        stacks
            .entry(row.account_id)
            .or_default()
            .push(StackRoleRecord {
                stack_id: row.stack_id,
                manual: row.role,
                effective: row.effective_role,
            });
    }
    let groups = mapped_groups(conn, scope, &ids).await?;
    let mut groups_of: HashMap<AccountId, Vec<MappedGroup>> = HashMap::new();
    for (account, group) in groups {
        groups_of.entry(account).or_default().push(group);
    }
    Ok(pairs
        .into_iter()
        .map(|(membership, account)| MemberRecord {
            scim_user: users.remove(&account.id),
            stack_roles: stacks.remove(&account.id).unwrap_or_default(),
            mapped_groups: groups_of.remove(&account.id).unwrap_or_default(),
            membership,
            account,
        })
        .collect())
}

/// (account, group SCIM id, group name, mapping, organization role granted).
type MappedGroupRow = (Option<AccountId>, String, String, MappingId, Option<String>);

/// The mapped groups each of `accounts` belongs to (through its SCIM user), with their grants.
async fn mapped_groups(
    conn: &impl Conn,
    scope: &OrgScope,
    accounts: &[AccountId],
) -> StoreResult<Vec<(AccountId, MappedGroup)>> {
    let to_user = Members::belongs_to(ScimUsers)
        .from(scim_group_members::Column::UserId)
        .to(scim_users::Column::Id)
        .into();
    let to_group = Members::belongs_to(ScimGroups)
        .from(scim_group_members::Column::GroupId)
        .to(scim_groups::Column::Id)
        .into();
    let to_mapping = Members::belongs_to(GroupMappings)
        .from(scim_group_members::Column::GroupId)
        .to(group_mappings::Column::GroupId)
        .into();
    let rows: Vec<MappedGroupRow> = scope
        .select::<Members>()
        .select_only()
        .column_as(
            Expr::col((ScimUsers, scim_users::Column::AccountId)),
            "account_id",
        )
        .column_as(
            Expr::col((ScimGroups, scim_groups::Column::Uid)),
            "group_uid",
        )
        .column_as(
            Expr::col((ScimGroups, scim_groups::Column::DisplayName)),
            "group_name",
        )
        .column_as(
            Expr::col((GroupMappings, group_mappings::Column::Id)),
            "mapping_id",
        )
        .column_as(
            Expr::col((GroupMappings, group_mappings::Column::OrgRole)),
            "org_role",
        )
        .join(JoinType::InnerJoin, to_user)
        .join(JoinType::InnerJoin, to_group)
        .join(JoinType::InnerJoin, to_mapping)
        .filter(
            Expr::col((ScimUsers, scim_users::Column::AccountId)).is_in(accounts.iter().copied()),
        )
        .order_by_asc(Expr::col((ScimGroups, scim_groups::Column::Id)))
        .into_tuple()
        .all(conn.raw())
        .await?;
    let mapping_ids: Vec<MappingId> = rows.iter().map(|r| r.3).collect();
    let mut grants: HashMap<MappingId, Vec<(StackId, String)>> = HashMap::new();
    if !mapping_ids.is_empty() {
        let stack_grants = scope
            .select::<MappingStackRoles>()
            .filter(group_mapping_stack_roles::Column::MappingId.is_in(mapping_ids))
            .order_by_asc(group_mapping_stack_roles::Column::StackId)
            .all(conn.raw())
            .await?;
        for row in stack_grants {
            grants
                .entry(row.mapping_id)
                .or_default()
                .push((row.stack_id, row.role));
        }
    }
    Ok(rows
        .into_iter()
        .filter_map(|(account, group_uid, group_name, mapping, org_role)| {
            Some((
                account?,
                MappedGroup {
                    group_uid,
                    group_name,
                    org_role,
                    stack_roles: grants.get(&mapping).cloned().unwrap_or_default(),
                },
            ))
        })
        .collect())
}
