//! The stack role a group mapping grants on one stack.

use sea_orm::entity::prelude::*;

use crate::ids::{MappingId, OrgId, StackId};

/// One row of `group_mapping_stack_roles`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "group_mapping_stack_roles")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub mapping_id: MappingId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub stack_id: StackId,
    pub org_id: OrgId,
    pub role: String,
}

/// No relations are navigated through the ORM: repositories join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
