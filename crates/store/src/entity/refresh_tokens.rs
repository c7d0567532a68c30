//! An opaque refresh token (digest only), its rotation family and parent.

use sea_orm::entity::prelude::*;

use crate::ids::{InstallationId, OrgId, RefreshTokenId};

/// One row of `refresh_tokens`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = true)]
    pub id: RefreshTokenId,
    pub token_hash: String,
    pub family_id: String,
    pub parent_id: Option<RefreshTokenId>,
    pub installation_id: InstallationId,
    pub org_id: OrgId,
    pub code_hash: Option<String>,
    pub scopes: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
}

/// No relations are navigated through the ORM: repositories join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
