//! Effective roles: an account's organization role and stack roles are the highest of its manual
//! role and what every mapped group it belongs to grants. Recomputed, in the caller's transaction,
//! for exactly the accounts a change touched; every change of someone's effective roles is
//! returned so the caller records an event.

use std::collections::{BTreeMap, HashMap};

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, JoinType, QueryFilter, QuerySelect, RelationDef,
};

use super::{now, role_catalog};
use crate::db::{Conn, Raw};
use crate::entity::group_mapping_stack_roles::{self, Entity as MappingStackRoles};
use crate::entity::group_mappings::{self, Entity as GroupMappings};
use crate::entity::org_memberships::{self, Entity as Memberships};
use crate::entity::scim_group_members::{self, Entity as Members};
use crate::entity::scim_users::{self, Entity as ScimUsers};
use crate::entity::stack_roles::{self, Entity as StackRoles};
use crate::ids::{AccountId, StackId};
use crate::types::{OrgRole, StackRole};
use crate::{OrgScope, StoreResult};

const CHUNK: usize = 500;

/// An account's effective roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveRoles {
    /// The organization role.
    pub org_role: OrgRole,
    /// Stack id → role.
    pub stacks: BTreeMap<StackId, StackRole>,
}

/// One account whose effective roles changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleChange {
    /// The account.
    pub account_id: AccountId,
    /// Before the change.
    pub before: EffectiveRoles,
    /// After it.
    pub after: EffectiveRoles,
}

fn members_to_users() -> RelationDef {
    Members::belongs_to(ScimUsers)
        .from(scim_group_members::Column::UserId)
        .to(scim_users::Column::Id)
        .into()
}

fn members_to_mappings() -> RelationDef {
    Members::belongs_to(GroupMappings)
        .from(scim_group_members::Column::GroupId)
        .to(group_mappings::Column::GroupId)
        .into()
}

fn mappings_to_stack_roles() -> RelationDef {
    MappingStackRoles::belongs_to(GroupMappings)
        .from(group_mapping_stack_roles::Column::MappingId)
        .to(group_mappings::Column::Id)
        .into()
}

fn parse_all<T: std::str::FromStr>(
    values: impl IntoIterator<Item = String>,
) -> impl Iterator<Item = T> {
    values.into_iter().filter_map(|v| v.parse().ok())
}

/// Recomputes the effective roles of `account_ids` in the organization and writes what changed.
pub async fn recompute(
    conn: &impl Conn,
    scope: &OrgScope,
    account_ids: &[AccountId],
) -> StoreResult<Vec<RoleChange>> {
    let mut ids = account_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut changes = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        changes.extend(recompute_chunk(conn, scope, chunk).await?);
    }
    Ok(changes)
}

async fn recompute_chunk(
    conn: &impl Conn,
    scope: &OrgScope,
    ids: &[AccountId],
) -> StoreResult<Vec<RoleChange>> {
    let account_col = Expr::col((ScimUsers, scim_users::Column::AccountId));
    let mapped_org: Vec<(AccountId, Option<String>)> = scope
        .select::<Members>()
        .select_only()
        .column_as(account_col.clone(), "account_id")
        .column_as(
            Expr::col((GroupMappings, group_mappings::Column::OrgRole)),
            "org_role",
        )
        .join(JoinType::InnerJoin, members_to_users())
        .join(JoinType::InnerJoin, members_to_mappings())
        .filter(Expr::col((ScimUsers, scim_users::Column::AccountId)).is_in(ids.iter().copied()))
        .into_tuple()
        .all(conn.raw())
        .await?;
    let mapped_stacks: Vec<(AccountId, StackId, String)> = scope
        .select::<Members>()
        .select_only()
        .column_as(account_col, "account_id")
        .column_as(
            Expr::col((
                MappingStackRoles,
                group_mapping_stack_roles::Column::StackId,
            )),
            "stack_id",
        )
        .column_as(
            Expr::col((MappingStackRoles, group_mapping_stack_roles::Column::Role)),
            "role",
        )
        .join(JoinType::InnerJoin, members_to_users())
        .join(JoinType::InnerJoin, members_to_mappings())
        .join(JoinType::InnerJoin, mappings_to_stack_roles().rev())
        .filter(Expr::col((ScimUsers, scim_users::Column::AccountId)).is_in(ids.iter().copied()))
        .into_tuple()
        .all(conn.raw())
        .await?;
    let memberships = scope
        .select::<Memberships>()
        .filter(org_memberships::Column::AccountId.is_in(ids.iter().copied()))
        .all(conn.raw())
        .await?;
    let stack_rows = scope
        .select::<StackRoles>()
        .filter(stack_roles::Column::AccountId.is_in(ids.iter().copied()))
        .all(conn.raw())
        .await?;

    let catalog = role_catalog::load(conn).await?;
    let mut granted_org: HashMap<AccountId, OrgRole> = HashMap::new();
    for (account, role) in mapped_org {
        if let Some(role) = parse_all::<OrgRole>(role).next() {
            let held = granted_org.remove(&account);
            let higher = held.map_or(role.clone(), |h| catalog.higher_org(h, role));
            granted_org.insert(account, higher);
        }
    }
    let mut granted_stacks: HashMap<AccountId, BTreeMap<StackId, StackRole>> = HashMap::new();
    for (account, stack, role) in mapped_stacks {
        if let Some(role) = parse_all::<StackRole>([role]).next() {
            let stacks = granted_stacks.entry(account).or_default();
            let held = stacks.remove(&stack);
            stacks.insert(
                stack,
                held.map_or(role.clone(), |h| catalog.higher_stack(h, role)),
            );
        }
    }
    let mut rows_by_account: HashMap<AccountId, Vec<stack_roles::Model>> = HashMap::new();
    for row in stack_rows {
        rows_by_account.entry(row.account_id).or_default().push(row);
    }

    let at = now();
    let mut changes = Vec::new();
    for membership in memberships {
        let account = membership.account_id;
        let manual: OrgRole = membership
            .role
            .parse()
            .unwrap_or_else(|_| catalog.base_org_role());
        let before_org: OrgRole = membership
            .effective_role
            .parse()
            .unwrap_or_else(|_| manual.clone());
        let after_org = match granted_org.get(&account) {
            Some(granted) => catalog.higher_org(manual, granted.clone()),
            None => manual,
        };

        let rows = rows_by_account.remove(&account).unwrap_or_default();
        let before_stacks: BTreeMap<StackId, StackRole> = rows
            .iter()
            .filter_map(|r| Some((r.stack_id, r.effective_role.as_deref()?.parse().ok()?)))
            .collect();
        let mut after_stacks: BTreeMap<StackId, StackRole> = rows
            .iter()
            .filter_map(|r| Some((r.stack_id, r.role.as_deref()?.parse().ok()?)))
            .collect();
        for (stack, role) in granted_stacks.remove(&account).unwrap_or_default() {
            let held = after_stacks.remove(&stack);
            after_stacks.insert(
                stack,
                held.map_or(role.clone(), |h| catalog.higher_stack(h, role)),
            );
        }

        if after_org != before_org {
            scope
                .update_many::<Memberships>()
                .col_expr(
                    org_memberships::Column::EffectiveRole,
                    Expr::value(after_org.as_str()),
                )
                .col_expr(org_memberships::Column::UpdatedAt, Expr::value(at))
                .filter(org_memberships::Column::Id.eq(membership.id))
                .exec(conn.raw())
                .await?;
        }
        if after_stacks != before_stacks {
            write_stack_roles(conn, scope, account, &rows, &after_stacks).await?;
        }
        if after_org != before_org || after_stacks != before_stacks {
            changes.push(RoleChange {
                account_id: account,
                before: EffectiveRoles {
                    org_role: before_org,
                    stacks: before_stacks,
                },
                after: EffectiveRoles {
                    org_role: after_org,
                    stacks: after_stacks,
                },
            });
        }
    }
    Ok(changes)
}

async fn write_stack_roles(
    conn: &impl Conn,
    scope: &OrgScope,
    account: AccountId,
    rows: &[stack_roles::Model],
    effective: &BTreeMap<StackId, StackRole>,
) -> StoreResult<()> {
    let at = now();
    for row in rows {
        let new_effective = effective.get(&row.stack_id).map(|r| r.as_str().to_owned());
        if new_effective.is_none() && row.role.is_none() {
            scope
                .delete_many::<StackRoles>()
                .filter(stack_roles::Column::Id.eq(row.id))
                .exec(conn.raw())
                .await?;
        } else if new_effective != row.effective_role {
            scope
                .update_many::<StackRoles>()
                .col_expr(
                    stack_roles::Column::EffectiveRole,
                    Expr::value(new_effective),
                )
                .col_expr(stack_roles::Column::UpdatedAt, Expr::value(at))
                .filter(stack_roles::Column::Id.eq(row.id))
                .exec(conn.raw())
                .await?;
        }
    }
    for (stack, role) in effective {
        if rows.iter().any(|r| r.stack_id == *stack) {
            continue;
        }
        let row = stack_roles::ActiveModel {
            org_id: Set(scope.org_id()),
            stack_id: Set(*stack),
            account_id: Set(account),
            role: Set(None),
            effective_role: Set(Some(role.as_str().to_owned())),
            updated_at: Set(at),
            ..Default::default()
        };
        StackRoles::insert(row).exec(conn.raw()).await?;
    }
    Ok(())
}
