//! Every attempt at a delivery, with what the receiver answered.

use sea_orm::entity::prelude::*;

use crate::ids::{WebhookAttemptId, WebhookDeliveryId};

/// One row of `webhook_attempts`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_attempts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = true)]
    pub id: WebhookAttemptId,
    pub delivery_id: WebhookDeliveryId,
    pub attempt: i32,
    pub at: DateTimeUtc,
    pub duration_ms: i32,
    pub status: Option<i32>,
    pub response_excerpt: String,
    pub error: Option<String>,
}

/// No relations are navigated through the ORM: repositories join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
