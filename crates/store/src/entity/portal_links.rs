//! Single-use links that open one organization's SCIM settings for someone without an account.

use sea_orm::entity::prelude::*;

use crate::ids::{OrgId, PortalLinkId};

/// One row of `portal_links`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "portal_links")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = true)]
    pub id: PortalLinkId,
    pub uid: String,
    pub org_id: OrgId,
    pub token_hash: String,
    pub created_by: String,
    pub return_url: Option<String>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub used_at: Option<DateTimeUtc>,
}

/// No relations are navigated through the ORM: repositories join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
