//! Stacks (an organization's workspaces) and the roles accounts hold on them.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::{new_uid, now};
use crate::db::{Conn, Raw};
use crate::entity::group_mapping_stack_roles::{self, Entity as MappingStackRoles};
use crate::entity::stack_roles::{self, Entity as StackRoles};
use crate::entity::stacks::{self, Entity as Stacks};
use crate::ids::{AccountId, StackId};
use crate::types::{StackRole, normalize_key};
use crate::{OrgScope, StoreError, StoreResult};

/// A stack row.
pub type Stack = stacks::Model;
/// A stack-role row.
pub type StackRoleRow = stack_roles::Model;

fn valid_name(name: &str) -> StoreResult<&str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(StoreError::Invalid(
            "stack name must be 1 to 100 characters".into(),
        ));
    }
    Ok(name)
}

/// Creates a stack; names are unique per organization, ignoring letter case.
pub async fn create(conn: &impl Conn, scope: &OrgScope, name: &str) -> StoreResult<Stack> {
    let name = valid_name(name)?;
    let at = now();
    let row = stacks::ActiveModel {
        uid: Set(new_uid()),
        org_id: Set(scope.org_id()),
        name: Set(name.to_owned()),
        name_normalized: Set(normalize_key(name)),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    };
    Stacks::insert(row)
        .exec_with_returning(conn.raw())
        .await
        .map_err(|e| StoreError::from_db_unique(e, "stack"))
}

/// The organization's stacks by name.
pub async fn list(conn: &impl Conn, scope: &OrgScope) -> StoreResult<Vec<Stack>> {
    Ok(scope
        .select::<Stacks>()
        .order_by_asc(stacks::Column::NameNormalized)
        .all(conn.raw())
        .await?)
}

/// One stack of the organization by its UID.
pub async fn get(conn: &impl Conn, scope: &OrgScope, uid: &str) -> StoreResult<Stack> {
    scope
        .select::<Stacks>()
        .filter(stacks::Column::Uid.eq(uid))
        .one(conn.raw())
        .await?
        .ok_or(StoreError::NotFound("stack"))
}

/// Renames a stack.
pub async fn rename(
    conn: &impl Conn,
    scope: &OrgScope,
    uid: &str,
    name: &str,
) -> StoreResult<Stack> {
    let name = valid_name(name)?;
    let mut row: stacks::ActiveModel = get(conn, scope, uid).await?.into();
    row.name = Set(name.to_owned());
    row.name_normalized = Set(normalize_key(name));
    row.updated_at = Set(now());
    scope
        .update(row)?
        .exec(conn.raw())
        .await
        .map_err(|e| StoreError::from_db_unique(e, "stack"))
}

/// Withdraws every role on a stack, manual ones and those group mappings grant, and recomputes
/// the effective roles of the accounts that held one; returns the changes (for events). Run
/// before deleting the stack, in the same transaction, so the events can still name it.
pub async fn withdraw_roles(
    conn: &impl Conn,
    scope: &OrgScope,
    uid: &str,
) -> StoreResult<Vec<super::roles::RoleChange>> {
    let stack = get(conn, scope, uid).await?;
    let accounts: Vec<AccountId> = scope
        .select::<StackRoles>()
        .filter(stack_roles::Column::StackId.eq(stack.id))
        .all(conn.raw())
        .await?
        .into_iter()
        .map(|r| r.account_id)
        .collect();
    scope
        .delete_many::<MappingStackRoles>()
        .filter(group_mapping_stack_roles::Column::StackId.eq(stack.id))
        .exec(conn.raw())
        .await?;
    scope
        .update_many::<StackRoles>()
        .col_expr(
            stack_roles::Column::Role,
            sea_orm::sea_query::Expr::value(Option::<String>::None),
        )
        .filter(stack_roles::Column::StackId.eq(stack.id))
        .exec(conn.raw())
        .await?;
    super::roles::recompute(conn, scope, &accounts).await
}

/// Deletes a stack and every role on it.
pub async fn delete(conn: &impl Conn, scope: &OrgScope, uid: &str) -> StoreResult<()> {
    let result = scope
        .delete_many::<Stacks>()
        .filter(stacks::Column::Uid.eq(uid))
        .exec(conn.raw())
        .await?;
    if result.rows_affected == 0 {
        return Err(StoreError::NotFound("stack"));
    }
    Ok(())
}

/// Sets an account's manual role on a stack (`None` removes it). The effective role is at least
/// the manual one; group mappings may raise it further.
pub async fn set_role(
    conn: &impl Conn,
    scope: &OrgScope,
    stack_uid: &str,
    account_id: AccountId,
    role: Option<StackRole>,
) -> StoreResult<()> {
    let stack = get(conn, scope, stack_uid).await?;
    let role_text = role.map(|r| r.as_str().to_owned());
    let row = stack_roles::ActiveModel {
        org_id: Set(scope.org_id()),
        stack_id: Set(stack.id),
        account_id: Set(account_id),
        role: Set(role_text.clone()),
        effective_role: Set(role_text),
        updated_at: Set(now()),
        ..Default::default()
    };
    StackRoles::insert(row)
        .on_conflict(
            OnConflict::columns([stack_roles::Column::StackId, stack_roles::Column::AccountId])
                .update_columns([
                    stack_roles::Column::Role,
                    stack_roles::Column::EffectiveRole,
                    stack_roles::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(conn.raw())
        .await?;
    Ok(())
}

/// Every stack role an account holds in the organization.
pub async fn roles_of(
    conn: &impl Conn,
    scope: &OrgScope,
    account_id: AccountId,
) -> StoreResult<Vec<StackRoleRow>> {
    Ok(scope
        .select::<StackRoles>()
        .filter(stack_roles::Column::AccountId.eq(account_id))
        .order_by_asc(stack_roles::Column::StackId)
        .all(conn.raw())
        .await?)
}

/// Removes every stack role an account holds in the organization (it left the organization).
pub async fn remove_roles_of(
    conn: &impl Conn,
    scope: &OrgScope,
    account_id: AccountId,
) -> StoreResult<u64> {
    let result = scope
        .delete_many::<StackRoles>()
        .filter(stack_roles::Column::AccountId.eq(account_id))
        .exec(conn.raw())
        .await?;
    Ok(result.rows_affected)
}

/// The effective stack roles of each of `account_ids`: account → (stack id, role), for listings.
pub async fn effective_roles_of(
    conn: &impl Conn,
    scope: &OrgScope,
    account_ids: &[AccountId],
) -> StoreResult<std::collections::HashMap<AccountId, Vec<(StackId, StackRole)>>> {
    let mut out: std::collections::HashMap<AccountId, Vec<(StackId, StackRole)>> =
        std::collections::HashMap::new();
    for chunk in account_ids.chunks(500) {
        let rows = scope
            .select::<StackRoles>()
            .filter(stack_roles::Column::AccountId.is_in(chunk.iter().copied()))
            .filter(stack_roles::Column::EffectiveRole.is_not_null())
            .order_by_asc(stack_roles::Column::StackId)
            .all(conn.raw())
            .await?;
        for row in rows {
            if let Some(role) = row.effective_role.as_deref().and_then(|r| r.parse().ok()) {
                out.entry(row.account_id)
                    .or_default()
                    .push((row.stack_id, role));
            }
        }
    }
    Ok(out)
}
