//! A SCIM Group of an organization (members are rows of `scim_group_members`).

use sea_orm::entity::prelude::*;

use crate::ids::{OrgId, ScimGroupId};

/// One row of `scim_groups`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scim_groups")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = true)]
    pub id: ScimGroupId,
    pub uid: String,
    pub org_id: OrgId,
    pub display_name: String,
    pub display_name_normalized: String,
    pub external_id: Option<String>,
    pub resource: String,
    /// The resource's search document (`scim_core::search`), what filters run against.
    pub search: String,
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through the ORM: repositories join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
