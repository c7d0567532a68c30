//! An organization (tenant): the unit every tenant row belongs to.

use sea_orm::entity::prelude::*;

use crate::ids::OrgId;

/// One row of `organizations`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organizations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = true)]
    pub id: OrgId,
    pub uid: String,
    pub name: String,
    pub home_region: String,
    pub scim_enabled: bool,
    pub invitations_enabled: bool,
    pub deleted_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through the ORM: repositories join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
