//! The role catalog: the organization roles and stack roles the SaaS product defines, with
//! names, descriptions and their privilege order (`rank`: higher is more privileged). Effective
//! roles are "the highest of" by that order. `owner` is a system role: always there, always at
//! the top, never removed. A role in use (by a membership, a mapping or a stack role) is never
//! removed either: the refusal lists what uses it.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};

use super::now;
use crate::db::{Conn, Raw};
use crate::entity::group_mapping_stack_roles::{self, Entity as MappingStackRoles};
use crate::entity::group_mappings::{self, Entity as GroupMappings};
use crate::entity::org_memberships::{self, Entity as Memberships};
use crate::entity::roles::{self, Entity as Roles};
use crate::entity::stack_roles::{self, Entity as StackRoles};
use crate::types::{OrgRole, StackRole};
use crate::{StoreError, StoreResult};

/// Which half of the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleKind {
    /// Roles in an organization.
    Organization,
    /// Roles on a stack.
    Stack,
}

impl RoleKind {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            RoleKind::Organization => "organization",
            RoleKind::Stack => "stack",
        }
    }
}

impl std::str::FromStr for RoleKind {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "organization" => Ok(RoleKind::Organization),
            "stack" => Ok(RoleKind::Stack),
            other => Err(StoreError::Invalid(format!(
                "'{other}' is not a role kind (organization or stack)"
            ))),
        }
    }
}

/// One role of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RoleDef {
    /// Organization or stack.
    pub kind: RoleKind,
    /// Its key (what memberships and mappings store).
    pub key: String,
    /// Display name.
    pub name: String,
    /// What it allows, in words.
    pub description: String,
    /// Privilege order: higher wins.
    pub rank: i32,
    /// Organization roles only: whether holders manage SCIM (console, "Authorize & Install").
    pub manages_scim: bool,
    /// A role the product cannot remove (`owner`).
    pub system: bool,
}

impl From<roles::Model> for RoleDef {
    fn from(row: roles::Model) -> Self {
        Self {
            kind: row.kind.parse().unwrap_or(RoleKind::Organization),
            key: row.key,
            name: row.name,
            description: row.description,
            rank: row.rank,
            manages_scim: row.manages_scim,
            system: row.system,
        }
    }
}

/// The whole catalog, each half in privilege order (least privileged first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleCatalog {
    organization: Vec<RoleDef>,
    stack: Vec<RoleDef>,
}

impl RoleCatalog {
    /// The organization roles, least privileged first.
    pub fn organization_roles(&self) -> &[RoleDef] {
        &self.organization
    }

    /// The stack roles, least privileged first.
    pub fn stack_roles(&self) -> &[RoleDef] {
        &self.stack
    }

    fn find(&self, kind: RoleKind, key: &str) -> Option<&RoleDef> {
        let half = match kind {
            RoleKind::Organization => &self.organization,
            RoleKind::Stack => &self.stack,
        };
        half.iter().find(|r| r.key == key)
    }

    /// The rank of a role (`None`: not in the catalog).
    pub fn rank(&self, kind: RoleKind, key: &str) -> Option<i32> {
        self.find(kind, key).map(|r| r.rank)
    }

    /// The more privileged of two organization roles (a role missing from the catalog loses).
    pub fn higher_org(&self, a: OrgRole, b: OrgRole) -> OrgRole {
        let rank = |r: &OrgRole| self.rank(RoleKind::Organization, r.as_str());
        if rank(&b) > rank(&a) { b } else { a }
    }

    /// The more privileged of two stack roles.
    pub fn higher_stack(&self, a: StackRole, b: StackRole) -> StackRole {
        let rank = |r: &StackRole| self.rank(RoleKind::Stack, r.as_str());
        if rank(&b) > rank(&a) { b } else { a }
    }

    /// Whether holders of `role` manage SCIM.
    pub fn manages_scim(&self, role: &OrgRole) -> bool {
        role.is_owner()
            || self
                .find(RoleKind::Organization, role.as_str())
                .is_some_and(|r| r.manages_scim)
    }

    /// The least privileged organization role: what provisioning gives a new member.
    pub fn base_org_role(&self) -> OrgRole {
        self.organization
            .first()
            .and_then(|r| r.key.parse().ok())
            .unwrap_or_else(OrgRole::owner)
    }

    /// An organization role of the catalog, by key.
    pub fn org_role(&self, key: &str) -> StoreResult<OrgRole> {
        let role: OrgRole = key.parse()?;
        self.find(RoleKind::Organization, role.as_str())
            .map(|_| role)
            .ok_or_else(|| unknown(RoleKind::Organization, key, &self.organization))
    }

    /// A stack role of the catalog, by key.
    pub fn stack_role(&self, key: &str) -> StoreResult<StackRole> {
        let role: StackRole = key.parse()?;
        self.find(RoleKind::Stack, role.as_str())
            .map(|_| role)
            .ok_or_else(|| unknown(RoleKind::Stack, key, &self.stack))
    }
}

fn unknown(kind: RoleKind, key: &str, roles: &[RoleDef]) -> StoreError {
    let known: Vec<&str> = roles.iter().map(|r| r.key.as_str()).collect();
    StoreError::Invalid(format!(
        "'{key}' is not a {} role of the catalog (known: {})",
        kind.as_str(),
        known.join(", ")
    ))
}

/// Reads the catalog.
pub async fn load(conn: &impl Conn) -> StoreResult<RoleCatalog> {
    let rows = Roles::find()
        .order_by_asc(roles::Column::Rank)
        .order_by_asc(roles::Column::Key)
        .all(conn.raw())
        .await?;
    let mut catalog = RoleCatalog::default();
    for row in rows {
        let def = RoleDef::from(row);
        match def.kind {
            RoleKind::Organization => catalog.organization.push(def),
            RoleKind::Stack => catalog.stack.push(def),
        }
    }
    Ok(catalog)
}

/// Whether holders of the organization role `key` manage SCIM (one indexed read, for the check
/// every console request makes).
pub async fn org_role_manages_scim(conn: &impl Conn, key: &str) -> StoreResult<bool> {
    if key == OrgRole::OWNER {
        return Ok(true);
    }
    Ok(Roles::find()
        .filter(roles::Column::Kind.eq(RoleKind::Organization.as_str()))
        .filter(roles::Column::Key.eq(key))
        .one(conn.raw())
        .await?
        .is_some_and(|r| r.manages_scim))
}

fn valid_text(what: &str, value: &str, max: usize) -> StoreResult<String> {
    let value = value.trim();
    if value.chars().count() > max || value.contains('\0') || (what == "name" && value.is_empty()) {
        return Err(StoreError::Invalid(format!(
            "role {what} must be {} to {max} characters",
            usize::from(what == "name")
        )));
    }
    Ok(value.to_owned())
}

/// A role to add.
#[derive(Debug, Clone)]
pub struct NewRole {
    /// Organization or stack.
    pub kind: RoleKind,
    /// Its key.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Privilege order (unique within its kind; below Owner's for organization roles).
    pub rank: i32,
    /// Whether holders manage SCIM (organization roles).
    pub manages_scim: bool,
}

async fn check_rank(conn: &impl Conn, kind: RoleKind, key: &str, rank: i32) -> StoreResult<()> {
    let catalog = load(conn).await?;
    let half = match kind {
        RoleKind::Organization => catalog.organization_roles(),
        RoleKind::Stack => catalog.stack_roles(),
    };
    if let Some(taken) = half.iter().find(|r| r.rank == rank && r.key != key) {
        return Err(StoreError::Invalid(format!(
            "rank {rank} is already the rank of '{}': each role has its own place in the order",
            taken.key
        )));
    }
    if kind == RoleKind::Organization
        && key != OrgRole::OWNER
        && catalog
            .rank(RoleKind::Organization, OrgRole::OWNER)
            .is_some_and(|owner| rank >= owner)
    {
        return Err(StoreError::Invalid(
            "no role may rank at or above Owner".into(),
        ));
    }
    Ok(())
}

/// Adds a role.
pub async fn create(conn: &impl Conn, new: NewRole) -> StoreResult<RoleDef> {
    let key = match new.kind {
        RoleKind::Organization => new.key.parse::<OrgRole>()?.to_string(),
        RoleKind::Stack => new.key.parse::<StackRole>()?.to_string(),
    };
    check_rank(conn, new.kind, &key, new.rank).await?;
    let at = now();
    let row = roles::ActiveModel {
        kind: Set(new.kind.as_str().to_owned()),
        key: Set(key),
        name: Set(valid_text("name", &new.name, 100)?),
        description: Set(valid_text("description", &new.description, 500)?),
        rank: Set(new.rank),
        manages_scim: Set(new.kind == RoleKind::Organization && new.manages_scim),
        system: Set(false),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    };
    Ok(Roles::insert(row)
        .exec_with_returning(conn.raw())
        .await
        .map_err(|e| StoreError::from_db_unique(e, "role"))?
        .into())
}

/// What an update changes (`None`: unchanged).
#[derive(Debug, Clone, Default)]
pub struct RoleChanges {
    /// Display name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Privilege order.
    pub rank: Option<i32>,
    /// Whether holders manage SCIM.
    pub manages_scim: Option<bool>,
}

/// Changes a role's name, description, rank or SCIM flag (Owner keeps its rank and flag).
pub async fn update(
    conn: &impl Conn,
    kind: RoleKind,
    key: &str,
    changes: &RoleChanges,
) -> StoreResult<RoleDef> {
    let existing = find(conn, kind, key).await?;
    let mut update = Roles::update_many()
        .col_expr(roles::Column::UpdatedAt, Expr::value(now()))
        .filter(roles::Column::Id.eq(existing.id));
    if let Some(name) = &changes.name {
        update = update.col_expr(
            roles::Column::Name,
            Expr::value(valid_text("name", name, 100)?),
        );
    }
    if let Some(description) = &changes.description {
        update = update.col_expr(
            roles::Column::Description,
            Expr::value(valid_text("description", description, 500)?),
        );
    }
    if existing.system && (changes.rank.is_some() || changes.manages_scim == Some(false)) {
        return Err(StoreError::Invalid(format!(
            "'{key}' is a system role: its rank and SCIM management do not change"
        )));
    }
    if let Some(rank) = changes.rank {
        check_rank(conn, kind, key, rank).await?;
        update = update.col_expr(roles::Column::Rank, Expr::value(rank));
    }
    if let Some(manages) = changes.manages_scim {
        update = update.col_expr(
            roles::Column::ManagesScim,
            Expr::value(kind == RoleKind::Organization && manages),
        );
    }
    update.exec(conn.raw()).await?;
    Ok(find(conn, kind, key).await?.into())
}

async fn find(conn: &impl Conn, kind: RoleKind, key: &str) -> StoreResult<roles::Model> {
    Roles::find()
        .filter(roles::Column::Kind.eq(kind.as_str()))
        .filter(roles::Column::Key.eq(key))
        .one(conn.raw())
        .await?
        .ok_or(StoreError::NotFound("role"))
}

/// Where a role is used, across the region.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RoleUsage {
    /// Memberships holding it (manually or in effect).
    pub memberships: u64,
    /// Group mappings granting it.
    pub group_mappings: u64,
    /// Stack role assignments holding it.
    pub stack_roles: u64,
}

impl RoleUsage {
    /// Whether anything uses the role.
    pub fn in_use(&self) -> bool {
        self.memberships + self.group_mappings + self.stack_roles > 0
    }
}

/// What uses a role.
pub async fn usage(conn: &impl Conn, kind: RoleKind, key: &str) -> StoreResult<RoleUsage> {
    Ok(match kind {
        RoleKind::Organization => RoleUsage {
            memberships: Memberships::find()
                .filter(
                    sea_orm::Condition::any()
                        .add(org_memberships::Column::Role.eq(key))
                        .add(org_memberships::Column::EffectiveRole.eq(key)),
                )
                .count(conn.raw())
                .await?,
            group_mappings: GroupMappings::find()
                .filter(group_mappings::Column::OrgRole.eq(key))
                .count(conn.raw())
                .await?,
            stack_roles: 0,
        },
        RoleKind::Stack => RoleUsage {
            memberships: 0,
            group_mappings: MappingStackRoles::find()
                .filter(group_mapping_stack_roles::Column::Role.eq(key))
                .count(conn.raw())
                .await?,
            stack_roles: StackRoles::find()
                .filter(
                    sea_orm::Condition::any()
                        .add(stack_roles::Column::Role.eq(key))
                        .add(stack_roles::Column::EffectiveRole.eq(key)),
                )
                .count(conn.raw())
                .await?,
        },
    })
}

/// Removes a role nothing uses; a system role or a role in use is refused (with its usage).
pub async fn delete(
    conn: &impl Conn,
    kind: RoleKind,
    key: &str,
) -> StoreResult<Result<(), RoleUsage>> {
    let existing = find(conn, kind, key).await?;
    if existing.system {
        return Err(StoreError::Invalid(format!(
            "'{key}' is a system role and cannot be removed"
        )));
    }
    let used = usage(conn, kind, key).await?;
    if used.in_use() {
        return Ok(Err(used));
    }
    Roles::delete_many()
        .filter(roles::Column::Id.eq(existing.id))
        .exec(conn.raw())
        .await?;
    Ok(Ok(()))
}
