//! The SaaS backend's OAuth clients (client credentials): secret digest and granted scopes.

use sea_orm::entity::prelude::*;

use crate::ids::BackendClientId;

/// One row of `backend_clients`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "backend_clients")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = true)]
    pub id: BackendClientId,
    pub client_id: String,
    pub name: String,
    pub secret_hash: String,
    pub scopes: String,
    pub created_at: DateTimeUtc,
    pub last_used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
}

/// No relations are navigated through the ORM: repositories join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
