//! The change feed's envelope: every event records who caused it (actor, request id), the version
//! of its subject and, for updates, the previous values; and the feed's order. Events are written
//! in the transaction of their change without any shared counter (no lock on the hot path); the
//! sequencer later gives each one its organization's next `sequence` (gapless) and the region's
//! next `position` (the feed's cursor), in the order they became visible.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Events {
    Table,
    Sequence,
    Position,
    SubjectVersion,
    ActorType,
    ActorId,
    RequestId,
    Previous,
}

#[derive(DeriveIden)]
enum EventCounters {
    Table,
    OrgId,
    LastSequence,
}

#[derive(DeriveIden)]
enum FeedState {
    Table,
    Id,
    LastPosition,
    PrunedThrough,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

const INDEXES: &[&str] = &[
    "CREATE UNIQUE INDEX ux_events_position ON events (position) WHERE position IS NOT NULL",
    "CREATE INDEX ix_events_unpositioned ON events (id) WHERE position IS NULL",
    "CREATE UNIQUE INDEX ux_events_org_sequence ON events (org_id, sequence) WHERE sequence IS NOT NULL",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        let columns = [
            big_integer_null(Events::Sequence),
            big_integer_null(Events::Position),
            big_integer_null(Events::SubjectVersion),
            string(Events::ActorType).default("system").to_owned(),
            string_null(Events::ActorId),
            string_null(Events::RequestId),
            text_null(Events::Previous),
        ];
        for mut column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(Events::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(EventCounters::Table)
                    .col(big_integer(EventCounters::OrgId).primary_key())
                    .col(big_integer(EventCounters::LastSequence).default(0))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_event_counters_org")
                            .from(EventCounters::Table, EventCounters::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FeedState::Table)
                    .col(integer(FeedState::Id).primary_key())
                    .col(big_integer(FeedState::LastPosition).default(0))
                    .col(big_integer(FeedState::PrunedThrough).default(0))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "INSERT INTO feed_state (id, last_position, pruned_through) VALUES (1, 0, 0)",
        )
        .await?;
        for sql in INDEXES {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for name in [
            "ux_events_position",
            "ix_events_unpositioned",
            "ux_events_org_sequence",
        ] {
            db.execute_unprepared(&format!("DROP INDEX {name}")).await?;
        }
        manager
            .drop_table(Table::drop().table(FeedState::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(EventCounters::Table).to_owned())
            .await?;
        for column in [
            Events::Sequence,
            Events::Position,
            Events::SubjectVersion,
            Events::ActorType,
            Events::ActorId,
            Events::RequestId,
            Events::Previous,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Events::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
