//! One email of a SCIM User, so `emails[type eq "work"].value` filters use an index.

use sea_orm::entity::prelude::*;

use crate::ids::{EmailRowId, OrgId, ScimUserId};

/// One row of `scim_user_emails`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scim_user_emails")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = true)]
    pub id: EmailRowId,
    pub org_id: OrgId,
    pub user_id: ScimUserId,
    pub kind: Option<String>,
    pub value: String,
    pub value_normalized: String,
    pub is_primary: bool,
}

/// No relations are navigated through the ORM: repositories join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
