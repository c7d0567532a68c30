//! A SCIM User of an organization: filterable attributes as columns, the resource as JSON.

use sea_orm::entity::prelude::*;

use crate::ids::{AccountId, OrgId, ScimUserId};

/// One row of `scim_users`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scim_users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = true)]
    pub id: ScimUserId,
    pub uid: String,
    pub org_id: OrgId,
    pub account_id: Option<AccountId>,
    pub user_name: String,
    pub user_name_normalized: String,
    pub external_id: Option<String>,
    pub active: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub primary_email: Option<String>,
    pub primary_email_normalized: Option<String>,
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
