//! Webhooks: the endpoints the SaaS backend registers, one delivery per (endpoint, event) created
//! when the sequencer publishes the event, and every attempt with its answer. Plus the feed's
//! per-organization index, and region-level events (an endpoint disabled): `events.org_id`
//! becomes nullable.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    Id,
    Uid,
    Url,
    Description,
    EventTypes,
    Organizations,
    Ordered,
    Enabled,
    DisabledReason,
    Secret,
    PreviousSecret,
    PreviousSecretUntil,
    CreatedBy,
    FailingSince,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    EndpointId,
    EventId,
    OrgId,
    Position,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    LeaseOwner,
    LastStatus,
    LastError,
    CreatedAt,
    DeliveredAt,
}

#[derive(DeriveIden)]
enum WebhookAttempts {
    Table,
    Id,
    DeliveryId,
    Attempt,
    At,
    DurationMs,
    Status,
    ResponseExcerpt,
    Error,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
}

const INDEXES: &[&str] = &[
    "CREATE INDEX ix_events_org_position ON events (org_id, position) WHERE position IS NOT NULL",
    "CREATE UNIQUE INDEX ux_webhook_deliveries_endpoint_event ON webhook_deliveries (endpoint_id, event_id)",
    "CREATE INDEX ix_webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending'",
    "CREATE INDEX ix_webhook_deliveries_ordered ON webhook_deliveries (endpoint_id, org_id, position) WHERE status = 'pending'",
    "CREATE INDEX ix_webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id)",
    "CREATE INDEX ix_webhook_deliveries_event ON webhook_deliveries (event_id)",
    "CREATE INDEX ix_webhook_attempts_delivery ON webhook_attempts (delivery_id, id)",
];

/// Lets `events.org_id` be NULL. SQLite cannot drop a NOT NULL constraint, so the table is
/// rebuilt from its own definition (nothing references `events` yet: `webhook_deliveries` is
/// created after this, and dropped before it is undone). Undone (`nullable` false), region-level
/// events are deleted first.
async fn region_level_events(manager: &SchemaManager<'_>, nullable: bool) -> Result<(), DbErr> {
    let db = manager.get_connection();
    if !nullable {
        db.execute_unprepared("DELETE FROM events WHERE org_id IS NULL")
            .await?;
    }
    let (from, to) = if nullable {
        ("\"org_id\" integer NOT NULL", "\"org_id\" integer NULL")
    } else {
        ("\"org_id\" integer NULL", "\"org_id\" integer NOT NULL")
    };
    match manager.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            db.execute_unprepared(if nullable {
                "ALTER TABLE events ALTER COLUMN org_id DROP NOT NULL"
            } else {
                "ALTER TABLE events ALTER COLUMN org_id SET NOT NULL"
            })
            .await?;
        }
        sea_orm::DbBackend::Sqlite => {
            let rows = db
                .query_all_raw(sea_orm::Statement::from_string(
                    sea_orm::DbBackend::Sqlite,
                    "SELECT type, sql FROM sqlite_master WHERE tbl_name = 'events' AND sql IS NOT NULL",
                ))
                .await?;
            let mut table = None;
            let mut indexes = Vec::new();
            for row in rows {
                let kind: String = row.try_get("", "type")?;
                let sql: String = row.try_get("", "sql")?;
                if kind == "table" {
                    table = Some(sql);
                } else {
                    indexes.push(sql);
                }
            }
            let table = table.ok_or_else(|| DbErr::Migration("no events table".into()))?;
            let rebuilt = table.replacen(from, to, 1).replacen(
                "CREATE TABLE \"events\"",
                "CREATE TABLE \"events_rebuilt\"",
                1,
            );
            if rebuilt == table || !rebuilt.contains("events_rebuilt") {
                return Err(DbErr::Migration(format!(
                    "unexpected events table definition: {table}"
                )));
            }
            // One script on one connection (the pool's others would keep the old schema), in a
            // savepoint: all of it or none.
            let mut script = vec![
                "SAVEPOINT rebuild_events".to_owned(),
                rebuilt,
                "INSERT INTO events_rebuilt SELECT * FROM events".to_owned(),
                "DROP TABLE events".to_owned(),
                "ALTER TABLE events_rebuilt RENAME TO events".to_owned(),
            ];
            script.extend(indexes);
            script.push("RELEASE rebuild_events".to_owned());
            db.execute_unprepared(&script.join(";\n")).await?;
        }
        other => {
            return Err(DbErr::Migration(format!("{other:?} is not supported")));
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        region_level_events(manager, true).await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookEndpoints::Table)
                    .col(big_pk_auto(WebhookEndpoints::Id))
                    .col(string_uniq(WebhookEndpoints::Uid))
                    .col(text(WebhookEndpoints::Url))
                    .col(string(WebhookEndpoints::Description).default(""))
                    .col(text(WebhookEndpoints::EventTypes))
                    .col(text(WebhookEndpoints::Organizations))
                    .col(boolean(WebhookEndpoints::Ordered).default(false))
                    .col(boolean(WebhookEndpoints::Enabled).default(true))
                    .col(string_null(WebhookEndpoints::DisabledReason))
                    .col(text(WebhookEndpoints::Secret))
                    .col(text_null(WebhookEndpoints::PreviousSecret))
                    .col(timestamp_with_time_zone_null(
                        WebhookEndpoints::PreviousSecretUntil,
                    ))
                    .col(string(WebhookEndpoints::CreatedBy))
                    .col(timestamp_with_time_zone_null(
                        WebhookEndpoints::FailingSince,
                    ))
                    .col(timestamp_with_time_zone(WebhookEndpoints::CreatedAt))
                    .col(timestamp_with_time_zone(WebhookEndpoints::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(big_pk_auto(WebhookDeliveries::Id))
                    .col(big_integer(WebhookDeliveries::EndpointId))
                    .col(big_integer(WebhookDeliveries::EventId))
                    .col(big_integer_null(WebhookDeliveries::OrgId))
                    .col(big_integer(WebhookDeliveries::Position))
                    .col(string(WebhookDeliveries::Status))
                    .col(integer(WebhookDeliveries::Attempts).default(0))
                    .col(timestamp_with_time_zone(WebhookDeliveries::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(WebhookDeliveries::LeaseUntil))
                    .col(string_null(WebhookDeliveries::LeaseOwner))
                    .col(integer_null(WebhookDeliveries::LastStatus))
                    .col(text_null(WebhookDeliveries::LastError))
                    .col(timestamp_with_time_zone(WebhookDeliveries::CreatedAt))
                    .col(timestamp_with_time_zone_null(
                        WebhookDeliveries::DeliveredAt,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_deliveries_endpoint")
                            .from(WebhookDeliveries::Table, WebhookDeliveries::EndpointId)
                            .to(WebhookEndpoints::Table, WebhookEndpoints::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_deliveries_event")
                            .from(WebhookDeliveries::Table, WebhookDeliveries::EventId)
                            .to(Events::Table, Events::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookAttempts::Table)
                    .col(big_pk_auto(WebhookAttempts::Id))
                    .col(big_integer(WebhookAttempts::DeliveryId))
                    .col(integer(WebhookAttempts::Attempt))
                    .col(timestamp_with_time_zone(WebhookAttempts::At))
                    .col(integer(WebhookAttempts::DurationMs))
                    .col(integer_null(WebhookAttempts::Status))
                    .col(text(WebhookAttempts::ResponseExcerpt))
                    .col(text_null(WebhookAttempts::Error))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_attempts_delivery")
                            .from(WebhookAttempts::Table, WebhookAttempts::DeliveryId)
                            .to(WebhookDeliveries::Table, WebhookDeliveries::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        for sql in INDEXES {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX ix_events_org_position")
            .await?;
        for table in [
            WebhookAttempts::Table.into_iden(),
            WebhookDeliveries::Table.into_iden(),
            WebhookEndpoints::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        region_level_events(manager, false).await?;
        Ok(())
    }
}
