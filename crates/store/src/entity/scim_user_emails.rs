//! One email of a SCIM User, so `emails[type eq "work"].value` filters use an index.

use sea_orm::entity::prelude::*;

/// One row of `scim_user_emails`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scim_user_emails")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub org_id: i64,
    pub user_id: i64,
    pub kind: Option<String>,
    pub value: String,
    pub value_normalized: String,
    pub is_primary: bool,
}

/// No relations are navigated through the ORM: repositories join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
