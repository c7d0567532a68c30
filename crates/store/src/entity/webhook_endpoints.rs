//! Where the change feed is pushed: URL, filters, ordering, the signing secret (sealed).

use sea_orm::entity::prelude::*;

use crate::ids::WebhookEndpointId;

/// One row of `webhook_endpoints`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = true)]
    pub id: WebhookEndpointId,
    pub uid: String,
    pub url: String,
    pub description: String,
    pub event_types: String,
    pub organizations: String,
    pub ordered: bool,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<DateTimeUtc>,
    pub created_by: String,
    pub failing_since: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through the ORM: repositories join explicitly.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
