//! A JWT signing key and where it is in its lifecycle (next, active, retired).

use sea_orm::entity::prelude::*;

use crate::ids::SigningKeyId;

/// One row of `signing_keys`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = true)]
    pub id: SigningKeyId,
    pub kid: String,
    pub algorithm: String,
    pub private_key_pem: String,
    pub public_jwk: String,
    pub state: String,
    pub created_at: DateTimeUtc,
    pub activated_at: Option<DateTimeUtc>,
    pub retired_at: Option<DateTimeUtc>,
}

/// No relations are navigated through the ORM: repositories join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
