//! Opens a migrated store on a fresh per-test database.
#![allow(dead_code)]

use store::db::{PoolSettings, migrate};
use store::{Database, OrgScope};
use testkit::{Backend, TestDatabase};

pub async fn open(backend: Backend) -> (TestDatabase, Database) {
    let test_db = TestDatabase::create(backend).await;
    let db = store::connect(&test_db.url, &PoolSettings::default())
        .await
        .unwrap_or_else(|e| panic!("connect {}: {e}", test_db.url));
    migrate(&db)
        .await
        .unwrap_or_else(|e| panic!("migrate: {e}"));
    (test_db, db)
}

pub async fn org(db: &Database, name: &str) -> OrgScope {
    let (_, scope) = store::repo::organizations::create(db, name, "local")
        .await
        .unwrap();
    scope
}
