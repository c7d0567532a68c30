//! The first answer to a POST with an `Idempotency-Key`, replayed for a retry of it.

use sea_orm::entity::prelude::*;

use crate::ids::IdempotencyKeyId;

/// One row of `idempotency_keys`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = true)]
    pub id: IdempotencyKeyId,
    pub client_id: String,
    pub key: String,
    pub fingerprint: String,
    pub status: Option<i32>,
    pub response: Option<String>,
    pub created_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
}

/// No relations are navigated through the ORM: repositories join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
