//! An identity provider's OAuth client: secret digest, exact redirect URIs, scopes.

use sea_orm::entity::prelude::*;

use crate::ids::OauthClientId;

/// One row of `oauth_clients`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_clients")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = true)]
    pub id: OauthClientId,
    pub client_id: String,
    pub name: String,
    pub secret_hash: Option<String>,
    pub redirect_uris: String,
    pub scopes: String,
    pub insecure_redirect_allowed: bool,
    pub created_at: DateTimeUtc,
}

/// No relations are navigated through the ORM: repositories join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
