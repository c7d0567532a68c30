//! A stack (workspace) of an organization.

use sea_orm::entity::prelude::*;

use crate::ids::{OrgId, StackId};

/// One row of `stacks`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stacks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = true)]
    pub id: StackId,
    pub uid: String,
    pub org_id: OrgId,
    pub name: String,
    pub name_normalized: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through the ORM: repositories join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
