//! The one migration tree for SQLite and PostgreSQL. Migrations only ever move forward; a change to
//! a released table is a new migration, never an edit.

use sea_orm_migration::prelude::*;

mod m0001_initial;
mod m0002_oauth_keys;
mod m0003_event_envelope;
mod m0004_management_api;
mod m0005_change_feed;
mod m0006_invitations;
mod m0007_scim_request_log;
mod m0008_delivery_fillfactor;
mod m0009_resource_counts;
mod m0010_count_removals;
mod m0100_search_documents;
mod m0200_operations;
mod m0300_request_log_lz4;

/// Every migration, in order.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_initial::Migration),
            Box::new(m0002_oauth_keys::Migration),
            Box::new(m0003_event_envelope::Migration),
            Box::new(m0004_management_api::Migration),
            Box::new(m0005_change_feed::Migration),
            Box::new(m0006_invitations::Migration),
            Box::new(m0007_scim_request_log::Migration),
            Box::new(m0008_delivery_fillfactor::Migration),
            Box::new(m0009_resource_counts::Migration),
            Box::new(m0010_count_removals::Migration),
            Box::new(m0100_search_documents::Migration),
            Box::new(m0200_operations::Migration),
            Box::new(m0300_request_log_lz4::Migration),
        ]
    }
}
