//! One member of a SCIM Group: a row, never an element of a JSON array.

use sea_orm::entity::prelude::*;

use crate::ids::{OrgId, ScimGroupId, ScimUserId};

/// One row of `scim_group_members`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scim_group_members")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub group_id: ScimGroupId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: ScimUserId,
    pub org_id: OrgId,
    pub display: Option<String>,
    pub created_at: DateTimeUtc,
}

/// No relations are navigated through the ORM: repositories join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
