//! Group mappings: a SCIM group grants an organization role and per-stack roles to its members.
//! Changing a mapping recomputes the effective roles of the group's members.

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::{new_uid, now, roles, scim_groups};
use crate::db::{Conn, Raw};
use crate::entity::group_mapping_stack_roles::{self, Entity as MappingStackRoles};
use crate::entity::group_mappings::{self, Entity as GroupMappings};
use crate::ids::{MappingId, ScimGroupId, StackId};
use crate::types::{OrgRole, StackRole};
use crate::{OrgScope, StoreError, StoreResult};

/// A mapping row.
pub type GroupMapping = group_mappings::Model;

/// What a group grants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// The organization role (none: the group grants no org role).
    pub org_role: Option<OrgRole>,
    /// (stack id, role) pairs.
    pub stack_roles: Vec<(StackId, StackRole)>,
}

/// The mapping of a group, if any, with its grants.
pub async fn get(
    conn: &impl Conn,
    scope: &OrgScope,
    group_id: ScimGroupId,
) -> StoreResult<Option<(GroupMapping, Grants)>> {
    let Some(mapping) = scope
        .select::<GroupMappings>()
        .filter(group_mappings::Column::GroupId.eq(group_id))
        .one(conn.raw())
        .await?
    else {
        return Ok(None);
    };
    let stack_roles = scope
        .select::<MappingStackRoles>()
        .filter(group_mapping_stack_roles::Column::MappingId.eq(mapping.id))
        .order_by_asc(group_mapping_stack_roles::Column::StackId)
        .all(conn.raw())
        .await?
        .into_iter()
        .map(|r| Ok((r.stack_id, r.role.parse()?)))
        .collect::<StoreResult<Vec<_>>>()?;
    let org_role = mapping.org_role.as_deref().map(str::parse).transpose()?;
    Ok(Some((
        mapping,
        Grants {
            org_role,
            stack_roles,
        },
    )))
}

/// True when the group is mapped (membership changes then affect roles).
pub async fn is_mapped(
    conn: &impl Conn,
    scope: &OrgScope,
    group_id: ScimGroupId,
) -> StoreResult<bool> {
    Ok(scope
        .select::<GroupMappings>()
        .filter(group_mappings::Column::GroupId.eq(group_id))
        .one(conn.raw())
        .await?
        .is_some())
}

/// Sets (creates or replaces) the mapping of a group and recomputes its members' roles.
pub async fn set(
    conn: &impl Conn,
    scope: &OrgScope,
    group_id: ScimGroupId,
    grants: &Grants,
) -> StoreResult<Vec<roles::RoleChange>> {
    let at = now();
    let mapping = match get(conn, scope, group_id).await? {
        Some((existing, _)) => {
            scope
                .update_many::<GroupMappings>()
                .col_expr(
                    group_mappings::Column::OrgRole,
                    sea_orm::sea_query::Expr::value(
                        grants.org_role.as_ref().map(|r| r.as_str().to_owned()),
                    ),
                )
                .col_expr(
                    group_mappings::Column::UpdatedAt,
                    sea_orm::sea_query::Expr::value(at),
                )
                .filter(group_mappings::Column::Id.eq(existing.id))
                .exec(conn.raw())
                .await?;
            existing.id
        }
        None => {
            let row = group_mappings::ActiveModel {
                uid: Set(new_uid()),
                org_id: Set(scope.org_id()),
                group_id: Set(group_id),
                org_role: Set(grants.org_role.as_ref().map(|r| r.as_str().to_owned())),
                created_at: Set(at),
                updated_at: Set(at),
                ..Default::default()
            };
            GroupMappings::insert(row)
                .exec_with_returning(conn.raw())
                .await?
                .id
        }
    };
    scope
        .delete_many::<MappingStackRoles>()
        .filter(group_mapping_stack_roles::Column::MappingId.eq(mapping))
        .exec(conn.raw())
        .await?;
    if !grants.stack_roles.is_empty() {
        let rows = grants.stack_roles.iter().map(|(stack_id, role)| {
            group_mapping_stack_roles::ActiveModel {
                mapping_id: Set(mapping),
                org_id: Set(scope.org_id()),
                stack_id: Set(*stack_id),
                role: Set(role.as_str().to_owned()),
            }
        });
        MappingStackRoles::insert_many(rows)
            .exec(conn.raw())
            .await
            .map_err(|e| StoreError::from_db_unique(e, "stack role of this mapping"))?;
    }
    let accounts = scim_groups::member_accounts(conn, scope, group_id).await?;
    roles::recompute(conn, scope, &accounts).await
}

/// Removes the mapping of a group and recomputes its members' roles.
pub async fn remove(
    conn: &impl Conn,
    scope: &OrgScope,
    group_id: ScimGroupId,
) -> StoreResult<Vec<roles::RoleChange>> {
    let deleted = scope
        .delete_many::<GroupMappings>()
        .filter(group_mappings::Column::GroupId.eq(group_id))
        .exec(conn.raw())
        .await?;
    if deleted.rows_affected == 0 {
        return Ok(Vec::new());
    }
    let accounts = scim_groups::member_accounts(conn, scope, group_id).await?;
    roles::recompute(conn, scope, &accounts).await
}

/// What setting `grants` on a group would change, without changing it: the mapping is written and
/// roles recomputed inside a transaction that is then rolled back. For the console's "12 users gain
/// Admin" preview.
pub async fn preview(
    db: &crate::Database,
    scope: &OrgScope,
    group_id: ScimGroupId,
    grants: Option<&Grants>,
) -> StoreResult<Vec<roles::RoleChange>> {
    let txn = crate::db::begin_write(db).await?;
    let changes = match grants {
        Some(grants) => set(&txn, scope, group_id, grants).await?,
        None => remove(&txn, scope, group_id).await?,
    };
    txn.rollback().await?;
    Ok(changes)
}

/// The grants of every mapped group among `group_ids` (all of the organization's when `None`):
/// group id → grants.
pub async fn grants_of(
    conn: &impl Conn,
    scope: &OrgScope,
    group_ids: Option<&[ScimGroupId]>,
) -> StoreResult<std::collections::HashMap<ScimGroupId, Grants>> {
    let mut query = scope.select::<GroupMappings>();
    if let Some(ids) = group_ids {
        query = query.filter(group_mappings::Column::GroupId.is_in(ids.iter().copied()));
    }
    let mappings = query
        .order_by_asc(group_mappings::Column::GroupId)
        .all(conn.raw())
        .await?;
    let by_id: std::collections::HashMap<MappingId, ScimGroupId> =
        mappings.iter().map(|m| (m.id, m.group_id)).collect();
    let mut out = std::collections::HashMap::new();
    for mapping in &mappings {
        let org_role = mapping.org_role.as_deref().map(str::parse).transpose()?;
        out.insert(
            mapping.group_id,
            Grants {
                org_role,
                stack_roles: Vec::new(),
            },
        );
    }
    if by_id.is_empty() {
        return Ok(out);
    }
    let rows = scope
        .select::<MappingStackRoles>()
        .filter(group_mapping_stack_roles::Column::MappingId.is_in(by_id.keys().copied()))
        .order_by_asc(group_mapping_stack_roles::Column::StackId)
        .all(conn.raw())
        .await?;
    for row in rows {
        if let Some(grants) = by_id.get(&row.mapping_id).and_then(|g| out.get_mut(g)) {
            grants.stack_roles.push((row.stack_id, row.role.parse()?));
        }
    }
    Ok(out)
}

/// Every mapping of the organization with its group's SCIM id and name, by group name.
pub async fn list(
    conn: &impl Conn,
    scope: &OrgScope,
) -> StoreResult<Vec<(crate::repo::scim_groups::ScimGroup, Grants)>> {
    let grants = grants_of(conn, scope, None).await?;
    let ids: Vec<ScimGroupId> = grants.keys().copied().collect();
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let groups = scope
            .select::<crate::entity::scim_groups::Entity>()
            .filter(crate::entity::scim_groups::Column::Id.is_in(chunk.iter().copied()))
            .all(conn.raw())
            .await?;
        for group in groups {
            if let Some(g) = grants.get(&group.id) {
                out.push((group, g.clone()));
            }
        }
    }
    out.sort_by(|a, b| {
        a.0.display_name_normalized
            .cmp(&b.0.display_name_normalized)
    });
    Ok(out)
}
