//! The one migration tree applies, re-applies and rolls back on both databases.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::panic)]

mod common;

use sea_orm::{ConnectionTrait, Statement};
use sea_orm_migration::MigratorTrait;
use store::migration::Migrator;
use testkit::{Backend, backend_tests};

const TABLES: &[&str] = &[
    "organizations",
    "accounts",
    "org_memberships",
    "stacks",
    "stack_roles",
    "scim_users",
    "scim_user_emails",
    "scim_groups",
    "scim_group_members",
    "group_mappings",
    "group_mapping_stack_roles",
    "oauth_clients",
    "installations",
    "refresh_tokens",
    "api_tokens",
    "signing_keys",
    "events",
    "audit_log",
    "event_counters",
    "scim_request_log",
];

/// The schema is read with a connection of the test's own: the store hands out none.
async fn raw(url: &str) -> sea_orm::DatabaseConnection {
    sea_orm::Database::connect(url).await.unwrap()
}

async fn count_rows(db: &sea_orm::DatabaseConnection, table: &str) -> Result<i64, sea_orm::DbErr> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_string(
            backend,
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await?
        .ok_or_else(|| sea_orm::DbErr::Custom("no row".into()))?;
    row.try_get::<i64>("", "n")
}

async fn creates_every_table_of_the_design(backend: Backend) {
    let (guard, _db) = common::open(backend).await;
    let db = raw(&guard.url).await;
    assert_eq!(count_rows(&db, "feed_state").await.unwrap(), 1, "one feed");
    for table in TABLES {
        assert_eq!(count_rows(&db, table).await.unwrap(), 0, "table {table}");
    }
    assert!(
        Migrator::get_pending_migrations(&db)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn migrating_twice_is_a_no_op(backend: Backend) {
    let (guard, db) = common::open(backend).await;
    common::org(&db, "Acme").await;
    store::db::migrate(&db).await.unwrap();
    assert_eq!(
        count_rows(&raw(&guard.url).await, "organizations")
            .await
            .unwrap(),
        1,
        "data survives a second migrate"
    );
}

async fn rolls_back_and_forward(backend: Backend) {
    let (guard, store_db) = common::open(backend).await;
    store::db::close(store_db).await.unwrap();
    let db = raw(&guard.url).await;
    Migrator::down(&db, None).await.unwrap();
    assert!(
        count_rows(&db, "organizations").await.is_err(),
        "tables are gone after down"
    );
    Migrator::up(&db, None).await.unwrap();
    for table in TABLES {
        assert_eq!(count_rows(&db, table).await.unwrap(), 0, "table {table}");
    }
}

/// The request log's bodies compress with LZ4 where the PostgreSQL server has it (this one does:
/// Debian builds it in), pglz again after the migration is rolled back, and a logged body longer
/// than the inline limit is stored compressed with LZ4.
async fn request_log_bodies_compress_with_lz4(backend: Backend) {
    if backend != Backend::Postgres {
        return; // SQLite does not compress.
    }
    let (guard, store_db) = common::open(backend).await;
    let acme = common::org(&store_db, "Acme").await;
    store::db::close(store_db).await.unwrap();
    let db = raw(&guard.url).await;
    let methods = |db: sea_orm::DatabaseConnection| async move {
        db.query_all_raw(Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT attname::text AS name, attcompression::text AS method FROM pg_attribute \
             WHERE attrelid = 'scim_request_log'::regclass \
             AND attname IN ('request_body', 'response_body') ORDER BY attname",
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.try_get::<String>("", "name").unwrap(),
                r.try_get::<String>("", "method").unwrap(),
            )
        })
        .collect::<Vec<_>>()
    };
    let both = |method: &str| {
        vec![
            ("request_body".to_owned(), method.to_owned()),
            ("response_body".to_owned(), method.to_owned()),
        ]
    };
    assert_eq!(methods(db.clone()).await, both("l"));
    // A page of users as the log keeps it: 16 KiB of JSON, compressible.
    let body = "{\"userName\":\"bjensen@example.com\",\"active\":true},".repeat(300);
    db.execute_raw(Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        "INSERT INTO scim_request_log (org_id, method, path, status, duration_us, \
         response_body, created_at) VALUES ($1, 'GET', '/Users', 200, 1, $2, now())",
        [acme.org_id().0.into(), body.into()],
    ))
    .await
    .unwrap();
    let stored = db
        .query_one_raw(Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT pg_column_compression(response_body) AS method FROM scim_request_log",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<String>("", "method")
        .unwrap();
    assert_eq!(stored, "lz4");
    Migrator::down(&db, Some(1)).await.unwrap();
    assert_eq!(methods(db.clone()).await, both("p"));
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(methods(db).await, both("l"));
}

backend_tests!(
    creates_every_table_of_the_design,
    migrating_twice_is_a_no_op,
    rolls_back_and_forward,
    request_log_bodies_compress_with_lz4
);
