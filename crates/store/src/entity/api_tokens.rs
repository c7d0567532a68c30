//! An organization's bearer token: only its SHA-256 digest and a display prefix are kept.

use sea_orm::entity::prelude::*;

use crate::ids::{AccountId, ApiTokenId, OrgId};

/// One row of `api_tokens`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = true)]
    pub id: ApiTokenId,
    pub uid: String,
    pub org_id: OrgId,
    pub name: String,
    pub token_hash: String,
    pub prefix: String,
    pub created_by: Option<AccountId>,
    pub created_at: DateTimeUtc,
    pub expires_at: Option<DateTimeUtc>,
    pub last_used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
}

/// No relations are navigated through the ORM: repositories join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
