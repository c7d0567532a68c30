//! Organizations: creation, lookup by public UID, listing for the SaaS backend, settings, the
//! SCIM switch, and deletion. A deleted organization keeps its row as a tombstone (its change
//! feed ends with `organization.deleted`) while everything in it goes; lookups skip it.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::backend_clients::BackendPrincipal;
use super::{new_uid, now};
use crate::db::{Conn, Raw};
use crate::entity::organizations::{self, Entity as Organizations};
use crate::entity::{
    api_tokens, group_mappings, installations, org_memberships, portal_links, scim_groups,
    scim_users, stack_roles, stacks,
};
use crate::ids::OrgId;
use crate::{OrgScope, StoreError, StoreResult};

/// An organization row.
pub type Organization = organizations::Model;

/// The longest organization name.
pub const MAX_NAME_CHARS: usize = 200;

fn valid_name(name: &str) -> StoreResult<&str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.contains('\0') {
        return Err(StoreError::Invalid(format!(
            "organization name must be 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    Ok(name)
}

/// Creates an organization living in `home_region`, with the scope to act in it: whoever may
/// create an organization may set it up.
pub async fn create(
    conn: &impl Conn,
    name: &str,
    home_region: &str,
) -> StoreResult<(Organization, OrgScope)> {
    let name = valid_name(name)?;
    let at = now();
    let row = organizations::ActiveModel {
        uid: Set(new_uid()),
        name: Set(name.to_owned()),
        home_region: Set(home_region.to_owned()),
        scim_enabled: Set(false),
        invitations_enabled: Set(true),
        deleted_at: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    };
    let org = Organizations::insert(row)
        .exec_with_returning(conn.raw())
        .await
        .map_err(|e| StoreError::from_db_unique(e, "organization"))?;
    let scope = OrgScope::new(org.id, org.uid.clone());
    Ok((org, scope))
}

/// Finds a live organization by its public UID. Not tenant data: it is what routing and
/// authentication look at before any scope exists.
pub async fn find_by_uid(conn: &impl Conn, uid: &str) -> StoreResult<Option<Organization>> {
    Ok(Organizations::find()
        .filter(organizations::Column::Uid.eq(uid))
        .filter(organizations::Column::DeletedAt.is_null())
        .one(conn.raw())
        .await?)
}

/// The operator's scope: the CLI runs with direct access to the database, which is itself the
/// credential. Nothing reachable over HTTP calls this (clippy's `disallowed_methods` enforces it).
pub async fn operator_scope(conn: &impl Conn, uid: &str) -> StoreResult<OrgScope> {
    let org = find_by_uid(conn, uid)
        .await?
        .ok_or(StoreError::NotFound("organization"))?;
    Ok(OrgScope::new(org.id, org.uid))
}

/// The organization a scope stands for.
pub async fn get(conn: &impl Conn, scope: &OrgScope) -> StoreResult<Organization> {
    Organizations::find_by_id(scope.org_id())
        .filter(organizations::Column::DeletedAt.is_null())
        .one(conn.raw())
        .await?
        .ok_or(StoreError::NotFound("organization"))
}

/// Live organizations of the region after `after`, by id, whose name starts with `name_prefix`
/// (ignoring ASCII case): a backend client's listing.
pub async fn list(
    conn: &impl Conn,
    _principal: &BackendPrincipal,
    name_prefix: Option<&str>,
    after: Option<OrgId>,
    limit: u64,
) -> StoreResult<Vec<Organization>> {
    let mut query = Organizations::find().filter(organizations::Column::DeletedAt.is_null());
    if let Some(after) = after {
        query = query.filter(organizations::Column::Id.gt(after));
    }
    if let Some(prefix) = name_prefix.filter(|p| !p.is_empty()) {
        let pattern = format!("{}%", super::escape_like(&prefix.to_lowercase()));
        query = query.filter(
            Expr::expr(Func::lower(Expr::col(organizations::Column::Name)))
                .like(sea_orm::sea_query::LikeExpr::new(pattern).escape('\\')),
        );
    }
    Ok(query
        .order_by_asc(organizations::Column::Id)
        .limit(limit)
        .all(conn.raw())
        .await?)
}

/// What an update changes (`None`: unchanged).
#[derive(Debug, Clone, Default)]
pub struct OrganizationChanges {
    /// A new name.
    pub name: Option<String>,
    /// Whether invitations go out by email.
    pub invitations_enabled: Option<bool>,
}

/// Updates an organization; `expected` (its `updated_at` when the caller read it) makes the
/// update a compare-and-swap: [`StoreError::VersionMismatch`] when someone changed it since.
pub async fn update(
    conn: &impl Conn,
    scope: &OrgScope,
    changes: &OrganizationChanges,
    expected: Option<DateTime<Utc>>,
) -> StoreResult<Organization> {
    let current = get(conn, scope).await?;
    if expected.is_some_and(|at| at != current.updated_at) {
        return Err(StoreError::VersionMismatch);
    }
    let mut update = Organizations::update_many()
        .col_expr(
            organizations::Column::UpdatedAt,
            Expr::value(next_stamp(current.updated_at)),
        )
        .filter(organizations::Column::Id.eq(scope.org_id()))
        .filter(organizations::Column::UpdatedAt.eq(current.updated_at));
    if let Some(name) = &changes.name {
        update = update.col_expr(organizations::Column::Name, Expr::value(valid_name(name)?));
    }
    if let Some(enabled) = changes.invitations_enabled {
        update = update.col_expr(
            organizations::Column::InvitationsEnabled,
            Expr::value(enabled),
        );
    }
    if update.exec(conn.raw()).await?.rows_affected == 0 {
        return Err(StoreError::VersionMismatch);
    }
    get(conn, scope).await
}

/// A stamp strictly after `previous`, so two updates within one clock tick still differ (the
/// stamp is the ETag).
fn next_stamp(previous: DateTime<Utc>) -> DateTime<Utc> {
    let at = now();
    if at > previous {
        at
    } else {
        previous + chrono::Duration::microseconds(1)
    }
}

/// Turns SCIM on or off. Turning it off keeps every token and resource; they stop working.
pub async fn set_scim_enabled(
    conn: &impl Conn,
    scope: &OrgScope,
    enabled: bool,
) -> StoreResult<Organization> {
    let current = get(conn, scope).await?;
    Organizations::update_many()
        .col_expr(organizations::Column::ScimEnabled, Expr::value(enabled))
        .col_expr(
            organizations::Column::UpdatedAt,
            Expr::value(next_stamp(current.updated_at)),
        )
        .filter(organizations::Column::Id.eq(scope.org_id()))
        .exec(conn.raw())
        .await?;
    get(conn, scope).await
}

/// Deletes everything in an organization — memberships, stack roles, SCIM users and groups,
/// mappings, tokens, installations (their refresh tokens go with them), stacks, portal links —
/// and leaves a tombstone. Accounts stay: they may belong to other organizations.
pub async fn delete(conn: &impl Conn, scope: &OrgScope) -> StoreResult<Organization> {
    let org = get(conn, scope).await?;
    // Children before parents, each scoped; the foreign keys' cascades handle rows below these
    // (emails, group members, mapping stack roles, refresh tokens).
    scope
        .delete_many::<group_mappings::Entity>()
        .exec(conn.raw())
        .await?;
    scope
        .delete_many::<scim_groups::Entity>()
        .exec(conn.raw())
        .await?;
    scope
        .delete_many::<scim_users::Entity>()
        .exec(conn.raw())
        .await?;
    scope
        .delete_many::<stack_roles::Entity>()
        .exec(conn.raw())
        .await?;
    scope
        .delete_many::<stacks::Entity>()
        .exec(conn.raw())
        .await?;
    scope
        .delete_many::<org_memberships::Entity>()
        .exec(conn.raw())
        .await?;
    scope
        .delete_many::<api_tokens::Entity>()
        .exec(conn.raw())
        .await?;
    scope
        .delete_many::<installations::Entity>()
        .exec(conn.raw())
        .await?;
    scope
        .delete_many::<portal_links::Entity>()
        .exec(conn.raw())
        .await?;
    super::resource_counts::forget(conn, scope).await?;
    let at = now();
    Organizations::update_many()
        .col_expr(organizations::Column::DeletedAt, Expr::value(at))
        .col_expr(organizations::Column::ScimEnabled, Expr::value(false))
        .col_expr(
            organizations::Column::UpdatedAt,
            Expr::value(next_stamp(org.updated_at)),
        )
        .filter(organizations::Column::Id.eq(scope.org_id()))
        .exec(conn.raw())
        .await?;
    Ok(org)
}

/// The public UIDs of organizations (tombstoned ones too: old events still name them).
pub async fn uids(
    conn: &impl Conn,
    ids: &[OrgId],
) -> StoreResult<std::collections::HashMap<OrgId, String>> {
    let mut out = std::collections::HashMap::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<(OrgId, String)> = Organizations::find()
            .select_only()
            .column(organizations::Column::Id)
            .column(organizations::Column::Uid)
            .filter(organizations::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(conn.raw())
            .await?;
        out.extend(rows);
    }
    Ok(out)
}
