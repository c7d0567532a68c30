//! The role catalog the SaaS product defines: organization and stack roles in privilege order.

use sea_orm::entity::prelude::*;

use crate::ids::RoleId;

/// One row of `roles`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "roles")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = true)]
    pub id: RoleId,
    pub kind: String,
    pub key: String,
    pub name: String,
    pub description: String,
    pub rank: i32,
    pub manages_scim: bool,
    pub system: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through the ORM: repositories join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
