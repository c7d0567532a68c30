//! The role catalog, defined by the SaaS product: read it, add, change and remove roles. A role
//! in use is never removed; the refusal says what uses it.

use serde_json::json;
use store::repo::role_catalog::{
    self, NewRole, RoleCatalog, RoleChanges, RoleDef, RoleKind, RoleUsage,
};

use crate::unit::{Audit, Unit};
use crate::{Actor, Core, Error, Result};

/// The catalog.
pub async fn catalog(core: &Core) -> Result<RoleCatalog> {
    Ok(role_catalog::load(core.db()).await?)
}

/// Adds a role.
pub async fn create(core: &Core, actor: &Actor, new: NewRole) -> Result<RoleDef> {
    let unit = Unit::begin(core, actor).await?;
    let role = role_catalog::create(unit.conn(), new)
        .await
        .map_err(|e| match e {
            store::StoreError::Conflict(_) => Error::Conflict("a role with this key exists".into()),
            other => other.into(),
        })?;
    let audit = Audit::new(
        "role.created",
        "role",
        format!("{}:{}", role.kind.as_str(), role.key),
        json!({"name": role.name, "rank": role.rank, "manages_scim": role.manages_scim}),
    );
    unit.commit(None, audit).await?;
    Ok(role)
}

/// Changes a role.
pub async fn update(
    core: &Core,
    actor: &Actor,
    kind: RoleKind,
    key: &str,
    changes: &RoleChanges,
) -> Result<RoleDef> {
    let unit = Unit::begin(core, actor).await?;
    let role = role_catalog::update(unit.conn(), kind, key, changes).await?;
    let audit = Audit::new(
        "role.updated",
        "role",
        format!("{}:{key}", kind.as_str()),
        json!({"name": role.name, "rank": role.rank, "manages_scim": role.manages_scim}),
    );
    unit.commit(None, audit).await?;
    Ok(role)
}

/// Why a role was not removed.
#[derive(Debug, Clone)]
pub struct RoleInUse(pub RoleUsage);

/// Removes a role nothing uses; otherwise says what uses it.
pub async fn delete(
    core: &Core,
    actor: &Actor,
    kind: RoleKind,
    key: &str,
) -> Result<std::result::Result<(), RoleInUse>> {
    let unit = Unit::begin(core, actor).await?;
    if let Err(usage) = role_catalog::delete(unit.conn(), kind, key).await? {
        return Ok(Err(RoleInUse(usage)));
    }
    unit.commit(
        None,
        Audit::new(
            "role.deleted",
            "role",
            format!("{}:{key}", kind.as_str()),
            json!({}),
        ),
    )
    .await?;
    Ok(Ok(()))
}
