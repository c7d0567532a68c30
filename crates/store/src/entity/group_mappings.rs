//! A SCIM Group mapped to an organization role (and stack roles).

use sea_orm::entity::prelude::*;

use crate::ids::{MappingId, OrgId, ScimGroupId};

/// One row of `group_mappings`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "group_mappings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = true)]
    pub id: MappingId,
    pub uid: String,
    pub org_id: OrgId,
    pub group_id: ScimGroupId,
    pub org_role: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through the ORM: repositories join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
