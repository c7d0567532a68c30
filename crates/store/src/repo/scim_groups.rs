//! SCIM Groups of an organization and their members. Members are rows: adding or removing one is
//! an insert or a delete keyed by (group, user), never a read-modify-write of a list, so its cost
//! does not depend on the group's size and concurrent PATCHes never lose a member.

use std::collections::{BTreeMap, HashMap, HashSet};

use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult,
    JoinType, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, RelationDef,
};

use super::{complete_total, new_uid, now};
use crate::db::{Conn, Raw};
use crate::entity::scim_group_members::{self, Entity as Members};
use crate::entity::scim_groups::{self, Entity as ScimGroups};
use crate::entity::scim_users::{self, Entity as ScimUsers};
use crate::ids::{AccountId, ScimGroupId, ScimUserId};
use crate::types::normalize_key;
use crate::{OrgScope, StoreError, StoreResult};

/// A SCIM group row.
pub type ScimGroup = scim_groups::Model;

fn member_user() -> RelationDef {
    Members::belongs_to(ScimUsers)
        .from(scim_group_members::Column::UserId)
        .to(scim_users::Column::Id)
        .into()
}

fn member_group() -> RelationDef {
    Members::belongs_to(ScimGroups)
        .from(scim_group_members::Column::GroupId)
        .to(scim_groups::Column::Id)
        .into()
}

/// How many ids go into one `IN (…)` list (with the few other parameters of the statement, well
/// under [`super::MAX_PARAMS`]).
const CHUNK: usize = 500;

/// Bound values of one membership row (org_id, group_id, user_id, display, created_at).
const MEMBER_COLUMNS: usize = 5;

/// The columns of a group the caller derives from its resource.
#[derive(Debug, Clone)]
pub struct GroupColumns {
    /// `displayName`, stored as sent, unique per organization ignoring case.
    pub display_name: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// The resource as JSON text, without `id`, `meta` and `members`.
    pub resource: String,
}

/// What a group row stores besides its [`GroupColumns`] (see
/// [`super::scim_users::DerivedUserColumns`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerivedGroupColumns {
    /// `displayName` folded: unique per organization.
    pub display_name_normalized: String,
    /// The search document (`crate::search::group`).
    pub search: String,
}

impl GroupColumns {
    /// The columns the row derives from these.
    pub fn derived(&self) -> DerivedGroupColumns {
        DerivedGroupColumns {
            display_name_normalized: normalize_key(&self.display_name),
            search: crate::search::group(&self.resource),
        }
    }
}

/// A member as the SCIM API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRef {
    /// The user's SCIM id.
    pub user_uid: String,
    /// Its display name, else its userName.
    pub display: String,
}

/// Users a membership change touched, resolved within the organization.
#[derive(Debug, Clone, Default)]
pub struct ResolvedMembers {
    /// (user id, linked account id, SCIM id) of every requested id that is a user of this
    /// organization.
    pub users: Vec<(ScimUserId, Option<AccountId>, String)>,
    /// Requested ids that are not users of this organization: never stored.
    pub unknown: Vec<String>,
    /// The SCIM ids whose membership the change actually added or removed (not those that
    /// already were, or were not, members).
    pub changed: Vec<String>,
    /// The linked accounts of [`ResolvedMembers::changed`], for recomputing roles.
    pub changed_accounts: Vec<AccountId>,
}

impl ResolvedMembers {
    /// The linked accounts, for recomputing roles.
    pub fn account_ids(&self) -> Vec<AccountId> {
        self.users.iter().filter_map(|(_, a, _)| *a).collect()
    }
}

/// A sortable column of groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupSort {
    /// Creation order (default).
    Id,
    /// `displayName`, case-insensitively.
    DisplayName,
    /// `externalId`.
    ExternalId,
    /// `meta.created`.
    Created,
    /// `meta.lastModified`.
    LastModified,
}

/// One page of a group listing.
#[derive(Debug, Clone)]
pub struct GroupPageRequest {
    /// A filter translated to SQL (`None`: every group).
    pub condition: Option<Condition>,
    /// Sort column and direction (ascending when true).
    pub sort: (GroupSort, bool),
    /// Rows to skip.
    pub offset: u64,
    /// Rows to return.
    pub limit: u64,
    /// Keyset pagination: only ids greater than this (cursor paging, sorted by id).
    pub after_id: Option<ScimGroupId>,
}

/// Creates a group (without members).
pub async fn insert(
    conn: &impl Conn,
    scope: &OrgScope,
    columns: &GroupColumns,
) -> StoreResult<ScimGroup> {
    let at = now();
    let derived = columns.derived();
    let row = scim_groups::ActiveModel {
        uid: Set(new_uid()),
        org_id: Set(scope.org_id()),
        display_name: Set(columns.display_name.clone()),
        display_name_normalized: Set(derived.display_name_normalized),
        external_id: Set(columns.external_id.clone()),
        resource: Set(columns.resource.clone()),
        search: Set(derived.search),
        version: Set(1),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    };
    ScimGroups::insert(row)
        .exec_with_returning(conn.raw())
        .await
        .map_err(|e| StoreError::from_db_unique(e, "displayName"))
}

/// A group of the organization by its SCIM id.
pub async fn get(conn: &impl Conn, scope: &OrgScope, uid: &str) -> StoreResult<Option<ScimGroup>> {
    Ok(scope
        .select::<ScimGroups>()
        .filter(scim_groups::Column::Uid.eq(uid))
        .one(conn.raw())
        .await?)
}

/// A group of the organization by its SCIM id, its row locked until the transaction ends (see
/// [`super::scim_users::get_for_update`]).
pub async fn get_for_update(
    conn: &impl Conn,
    scope: &OrgScope,
    uid: &str,
) -> StoreResult<Option<ScimGroup>> {
    Ok(scope
        .select::<ScimGroups>()
        .filter(scim_groups::Column::Uid.eq(uid))
        .lock_exclusive()
        .one(conn.raw())
        .await?)
}

/// A group of the organization by its row id.
pub async fn by_id(
    conn: &impl Conn,
    scope: &OrgScope,
    id: ScimGroupId,
) -> StoreResult<Option<ScimGroup>> {
    Ok(scope
        .select::<ScimGroups>()
        .filter(scim_groups::Column::Id.eq(id))
        .one(conn.raw())
        .await?)
}

/// Replaces a group's columns if its version is still the one read; bumps the version.
pub async fn update(
    conn: &impl Conn,
    scope: &OrgScope,
    group: &ScimGroup,
    columns: &GroupColumns,
) -> StoreResult<ScimGroup> {
    let derived = columns.derived();
    let result = scope
        .update_many::<ScimGroups>()
        .col_expr(
            scim_groups::Column::DisplayName,
            Expr::value(columns.display_name.clone()),
        )
        .col_expr(
            scim_groups::Column::DisplayNameNormalized,
            Expr::value(derived.display_name_normalized),
        )
        .col_expr(
            scim_groups::Column::ExternalId,
            Expr::value(columns.external_id.clone()),
        )
        .col_expr(
            scim_groups::Column::Resource,
            Expr::value(columns.resource.clone()),
        )
        .col_expr(scim_groups::Column::Search, Expr::value(derived.search))
        .col_expr(scim_groups::Column::Version, Expr::value(group.version + 1))
        .col_expr(scim_groups::Column::UpdatedAt, Expr::value(now()))
        .filter(scim_groups::Column::Id.eq(group.id))
        .filter(scim_groups::Column::Version.eq(group.version))
        .exec(conn.raw())
        .await
        .map_err(|e| StoreError::from_db_unique(e, "displayName"))?;
    if result.rows_affected == 0 {
        return Err(StoreError::VersionMismatch);
    }
    get(conn, scope, &group.uid)
        .await?
        .ok_or(StoreError::NotFound("group"))
}

/// Marks a group changed (new version and lastModified) after a membership change, with an
/// atomic increment rather than a compare-and-swap: concurrent member changes all succeed.
pub async fn touch(conn: &impl Conn, scope: &OrgScope, group_id: ScimGroupId) -> StoreResult<()> {
    scope
        .update_many::<ScimGroups>()
        .col_expr(
            scim_groups::Column::Version,
            Expr::col(scim_groups::Column::Version).add(1),
        )
        .col_expr(scim_groups::Column::UpdatedAt, Expr::value(now()))
        .filter(scim_groups::Column::Id.eq(group_id))
        .exec(conn.raw())
        .await?;
    Ok(())
}

/// Deletes a group and its member rows. Returns the deleted row.
pub async fn delete(
    conn: &impl Conn,
    scope: &OrgScope,
    uid: &str,
) -> StoreResult<Option<ScimGroup>> {
    let Some(group) = get(conn, scope, uid).await? else {
        return Ok(None);
    };
    scope
        .delete_many::<ScimGroups>()
        .filter(scim_groups::Column::Id.eq(group.id))
        .exec(conn.raw())
        .await?;
    Ok(Some(group))
}

/// Counts the groups matching `condition` and returns a page, in a stable order.
pub async fn page(
    conn: &impl Conn,
    scope: &OrgScope,
    request: &GroupPageRequest,
) -> StoreResult<(u64, Vec<ScimGroup>)> {
    let GroupPageRequest {
        condition,
        sort,
        offset,
        limit,
        after_id,
    } = request.clone();
    let filtered = condition.is_some();
    let mut base = scope.select::<ScimGroups>();
    if let Some(condition) = condition {
        base = base.filter(condition);
    }
    let counter = base.clone();
    if let Some(after) = after_id {
        base = base.filter(scim_groups::Column::Id.gt(after));
    }
    let column = match sort.0 {
        GroupSort::Id => scim_groups::Column::Id,
        GroupSort::DisplayName => scim_groups::Column::DisplayNameNormalized,
        GroupSort::ExternalId => scim_groups::Column::ExternalId,
        GroupSort::Created => scim_groups::Column::CreatedAt,
        GroupSort::LastModified => scim_groups::Column::UpdatedAt,
    };
    let query = if sort.1 {
        base.order_by_asc(column)
    } else {
        base.order_by_desc(column)
    };
    let query = query.order_by_asc(scim_groups::Column::Id);
    let backend = conn.raw().get_database_backend();
    let rows = ScimGroup::find_by_statement(super::page_statement(query, backend, offset, limit))
        .all(conn.raw())
        .await?;
    let total = match complete_total(offset, after_id, limit, rows.len()) {
        Some(total) => total,
        None if !filtered => {
            super::resource_counts::get(conn, scope, super::resource_counts::Kind::Groups).await?
        }
        None => counter.count(conn.raw()).await?,
    };
    Ok((total, rows))
}

/// Every group of the organization in id order after `after_id` (for untranslatable filters).
pub async fn batch_after(
    conn: &impl Conn,
    scope: &OrgScope,
    after_id: ScimGroupId,
    batch: u64,
) -> StoreResult<Vec<ScimGroup>> {
    Ok(scope
        .select::<ScimGroups>()
        .filter(scim_groups::Column::Id.gt(after_id))
        .order_by_asc(scim_groups::Column::Id)
        .limit(batch)
        .all(conn.raw())
        .await?)
}

/// Resolves SCIM user ids to users of this organization; ids of other organizations or of nobody
/// come back as `unknown`.
pub async fn resolve_users(
    conn: &impl Conn,
    scope: &OrgScope,
    user_uids: &[String],
) -> StoreResult<ResolvedMembers> {
    let mut found: HashMap<String, (ScimUserId, Option<AccountId>)> = HashMap::new();
    for chunk in user_uids.chunks(CHUNK) {
        let rows: Vec<(String, ScimUserId, Option<AccountId>)> = scope
            .select::<ScimUsers>()
            .select_only()
            .column(scim_users::Column::Uid)
            .column(scim_users::Column::Id)
            .column(scim_users::Column::AccountId)
            .filter(scim_users::Column::Uid.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(conn.raw())
            .await?;
        found.extend(
            rows.into_iter()
                .map(|(uid, id, account)| (uid, (id, account))),
        );
    }
    let mut seen = HashSet::new();
    let mut resolved = ResolvedMembers::default();
    for uid in user_uids {
        if !seen.insert(uid.as_str()) {
            continue;
        }
        match found.get(uid) {
            Some((id, account)) => resolved.users.push((*id, *account, uid.clone())),
            None => resolved.unknown.push(uid.clone()),
        }
    }
    Ok(resolved)
}

/// Which of `user_ids` are members of the group already.
async fn present_members(
    conn: &impl Conn,
    scope: &OrgScope,
    group_id: ScimGroupId,
    user_ids: &[ScimUserId],
) -> StoreResult<HashSet<ScimUserId>> {
    let mut present = HashSet::new();
    for chunk in user_ids.chunks(CHUNK) {
        let rows: Vec<ScimUserId> = scope
            .select::<Members>()
            .select_only()
            .column(scim_group_members::Column::UserId)
            .filter(scim_group_members::Column::GroupId.eq(group_id))
            .filter(scim_group_members::Column::UserId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(conn.raw())
            .await?;
        present.extend(rows);
    }
    Ok(present)
}

/// Sets `changed` to the resolved users whose presence in the group differs from `want_present`.
fn mark_changed(resolved: &mut ResolvedMembers, present: &HashSet<ScimUserId>, want_present: bool) {
    for (user_id, account, uid) in &resolved.users {
        if present.contains(user_id) != want_present {
            resolved.changed.push(uid.clone());
            resolved.changed_accounts.extend(*account);
        }
    }
}

/// Adds users (by SCIM id) to a group, with the `display` the client sent for some of them;
/// existing members stay (a newly sent display replaces theirs), unknown ids are reported and not
/// stored.
pub async fn add_members(
    conn: &impl Conn,
    scope: &OrgScope,
    group_id: ScimGroupId,
    user_uids: &[String],
    displays: &BTreeMap<String, String>,
) -> StoreResult<ResolvedMembers> {
    let mut resolved = resolve_users(conn, scope, user_uids).await?;
    let ids: Vec<ScimUserId> = resolved.users.iter().map(|(id, _, _)| *id).collect();
    let present = present_members(conn, scope, group_id, &ids).await?;
    mark_changed(&mut resolved, &present, true);
    let at = now();
    for chunk in resolved
        .users
        .chunks(super::rows_per_insert(MEMBER_COLUMNS))
    {
        let rows = chunk
            .iter()
            .map(|(user_id, _, uid)| scim_group_members::ActiveModel {
                org_id: Set(scope.org_id()),
                group_id: Set(group_id),
                user_id: Set(*user_id),
                display: Set(displays.get(uid).cloned()),
                created_at: Set(at),
            });
        Members::insert_many(rows)
            .on_conflict(
                OnConflict::columns([
                    scim_group_members::Column::GroupId,
                    scim_group_members::Column::UserId,
                ])
                .value(
                    scim_group_members::Column::Display,
                    Expr::cust("COALESCE(excluded.display, scim_group_members.display)"),
                )
                .to_owned(),
            )
            .exec_without_returning(conn.raw())
            .await?;
    }
    Ok(resolved)
}

/// Removes users (by SCIM id) from a group.
pub async fn remove_members(
    conn: &impl Conn,
    scope: &OrgScope,
    group_id: ScimGroupId,
    user_uids: &[String],
) -> StoreResult<ResolvedMembers> {
    let mut resolved = resolve_users(conn, scope, user_uids).await?;
    let ids: Vec<ScimUserId> = resolved.users.iter().map(|(id, _, _)| *id).collect();
    let present = present_members(conn, scope, group_id, &ids).await?;
    mark_changed(&mut resolved, &present, false);
    for chunk in resolved.users.chunks(CHUNK) {
        scope
            .delete_many::<Members>()
            .filter(scim_group_members::Column::GroupId.eq(group_id))
            .filter(scim_group_members::Column::UserId.is_in(chunk.iter().map(|(id, _, _)| *id)))
            .exec(conn.raw())
            .await?;
    }
    Ok(resolved)
}

/// The SCIM ids of every member of a group, read in bounded pages.
pub async fn member_uids(
    conn: &impl Conn,
    scope: &OrgScope,
    group_id: ScimGroupId,
) -> StoreResult<Vec<String>> {
    let mut out = Vec::new();
    let mut after = ScimUserId(0);
    loop {
        let rows: Vec<(ScimUserId, String)> = scope
            .select::<Members>()
            .select_only()
            .column(scim_group_members::Column::UserId)
            .column_as(Expr::col((ScimUsers, scim_users::Column::Uid)), "uid")
            .join(JoinType::InnerJoin, member_user())
            .filter(scim_group_members::Column::GroupId.eq(group_id))
            .filter(scim_group_members::Column::UserId.gt(after))
            .order_by_asc(scim_group_members::Column::UserId)
            .limit(CHUNK as u64)
            .into_tuple()
            .all(conn.raw())
            .await?;
        let Some((last, _)) = rows.last() else {
            return Ok(out);
        };
        after = *last;
        let full = rows.len() == CHUNK;
        out.extend(rows.into_iter().map(|(_, uid)| uid));
        if !full {
            return Ok(out);
        }
    }
}

/// The accounts linked to a group's members (to recompute their roles when a mapped group
/// changes wholesale).
pub async fn member_accounts(
    conn: &impl Conn,
    scope: &OrgScope,
    group_id: ScimGroupId,
) -> StoreResult<Vec<AccountId>> {
    let rows: Vec<Option<AccountId>> = scope
        .select::<Members>()
        .select_only()
        .column_as(
            Expr::col((ScimUsers, scim_users::Column::AccountId)),
            "account_id",
        )
        .join(JoinType::InnerJoin, member_user())
        .filter(scim_group_members::Column::GroupId.eq(group_id))
        .into_tuple()
        .all(conn.raw())
        .await?;
    Ok(rows.into_iter().flatten().collect())
}

/// Removes every member of a group.
pub async fn clear_members(
    conn: &impl Conn,
    scope: &OrgScope,
    group_id: ScimGroupId,
) -> StoreResult<u64> {
    let result = scope
        .delete_many::<Members>()
        .filter(scim_group_members::Column::GroupId.eq(group_id))
        .exec(conn.raw())
        .await?;
    Ok(result.rows_affected)
}

/// A page of a group's members in the order they were added.
pub async fn members(
    conn: &impl Conn,
    scope: &OrgScope,
    group_id: ScimGroupId,
    offset: u64,
    limit: u64,
) -> StoreResult<Vec<MemberRef>> {
    let rows: Vec<(String, String, Option<String>, Option<String>)> = scope
        .select::<Members>()
        .select_only()
        .column_as(Expr::col((ScimUsers, scim_users::Column::Uid)), "uid")
        .column_as(
            Expr::col((ScimUsers, scim_users::Column::UserName)),
            "user_name",
        )
        .column_as(
            Expr::col((ScimUsers, scim_users::Column::DisplayName)),
            "display_name",
        )
        .column(scim_group_members::Column::Display)
        .join(JoinType::InnerJoin, member_user())
        .filter(scim_group_members::Column::GroupId.eq(group_id))
        .order_by_asc(scim_group_members::Column::UserId)
        .offset(super::skip(offset))
        .limit(limit)
        .into_tuple()
        .all(conn.raw())
        .await?;
    Ok(rows
        .into_iter()
        .map(|(user_uid, user_name, user_display, sent)| MemberRef {
            user_uid,
            display: sent.or(user_display).unwrap_or(user_name),
        })
        .collect())
}

/// How many members a group has.
pub async fn member_count(
    conn: &impl Conn,
    scope: &OrgScope,
    group_id: ScimGroupId,
) -> StoreResult<u64> {
    Ok(scope
        .select::<Members>()
        .filter(scim_group_members::Column::GroupId.eq(group_id))
        .count(conn.raw())
        .await?)
}

/// The groups each of `user_ids` belongs to: (group SCIM id, displayName), for the read-only
/// `groups` attribute of users.
pub async fn groups_of_users(
    conn: &impl Conn,
    scope: &OrgScope,
    user_ids: &[ScimUserId],
) -> StoreResult<HashMap<ScimUserId, Vec<(String, String)>>> {
    let mut out: HashMap<ScimUserId, Vec<(String, String)>> = HashMap::new();
    for chunk in user_ids.chunks(CHUNK) {
        let rows: Vec<(ScimUserId, String, String)> = scope
            .select::<Members>()
            .select_only()
            .column(scim_group_members::Column::UserId)
            .column_as(Expr::col((ScimGroups, scim_groups::Column::Uid)), "uid")
            .column_as(
                Expr::col((ScimGroups, scim_groups::Column::DisplayName)),
                "display_name",
            )
            .join(JoinType::InnerJoin, member_group())
            .filter(scim_group_members::Column::UserId.is_in(chunk.iter().copied()))
            .order_by_asc(scim_group_members::Column::GroupId)
            .into_tuple()
            .all(conn.raw())
            .await?;
        for (user_id, uid, name) in rows {
            out.entry(user_id).or_default().push((uid, name));
        }
    }
    Ok(out)
}
