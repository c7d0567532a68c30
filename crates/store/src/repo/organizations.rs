//! Organizations: creation, lookup by public UID, and the SCIM switch.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use super::{new_uid, now};
use crate::db::{Conn, Raw};
use crate::entity::organizations::{self, Entity as Organizations};
use crate::{OrgScope, StoreError, StoreResult};

/// An organization row.
pub type Organization = organizations::Model;

/// Creates an organization living in `home_region`, with the scope to act in it: whoever may
/// create an organization may set it up.
pub async fn create(
    conn: &impl Conn,
    name: &str,
    home_region: &str,
) -> StoreResult<(Organization, OrgScope)> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(StoreError::Invalid(
            "organization name must be 1 to 200 characters".into(),
        ));
    }
    let at = now();
    let row = organizations::ActiveModel {
        uid: Set(new_uid()),
        name: Set(name.to_owned()),
        home_region: Set(home_region.to_owned()),
        scim_enabled: Set(false),
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

/// Finds an organization by its public UID. Not tenant data: it is what routing and
/// authentication look at before any scope exists.
pub async fn find_by_uid(conn: &impl Conn, uid: &str) -> StoreResult<Option<Organization>> {
    Ok(Organizations::find()
        .filter(organizations::Column::Uid.eq(uid))
        .one(conn.raw())
        .await?)
}

/// The operator's scope: the CLI runs with direct access to the database, which is itself the
/// credential. Nothing reachable over HTTP calls this.
pub async fn operator_scope(conn: &impl Conn, uid: &str) -> StoreResult<OrgScope> {
    let org = find_by_uid(conn, uid)
        .await?
        .ok_or(StoreError::NotFound("organization"))?;
    Ok(OrgScope::new(org.id, org.uid))
}

/// The organization a scope stands for.
pub async fn get(conn: &impl Conn, scope: &OrgScope) -> StoreResult<Organization> {
    Organizations::find_by_id(scope.org_id())
        .one(conn.raw())
        .await?
        .ok_or(StoreError::NotFound("organization"))
}

/// Turns SCIM on or off. Turning it off keeps every token and resource; they stop working.
pub async fn set_scim_enabled(
    conn: &impl Conn,
    scope: &OrgScope,
    enabled: bool,
) -> StoreResult<Organization> {
    let mut row: organizations::ActiveModel = get(conn, scope).await?.into();
    row.scim_enabled = Set(enabled);
    row.updated_at = Set(now());
    Ok(row.update(conn.raw()).await?)
}
