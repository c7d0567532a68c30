//! Each HTTP worker's thread gets a database pool of its own on PostgreSQL (a connection wakes the
//! thread that opened it on every round trip), opened lazily on that thread, watched like the
//! shared pool, and counted in the pool metrics; SQLite keeps its one pool.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use store::Database;
use testkit::{Backend, backend_tests};

/// A ping, a statement and a write transaction, as a request runs them.
async fn a_requests_statements(db: &Database) {
    store::db::ping(db).await.unwrap();
    store::repo::organizations::find_by_uid(db, "none")
        .await
        .unwrap();
    let txn = store::db::begin_write(db).await.unwrap();
    store::repo::organizations::find_by_uid(&txn, "none")
        .await
        .unwrap();
    txn.commit().await.unwrap();
}

/// Runs [`a_requests_statements`] on a thread of its own bound to the next worker pool, with its
/// own runtime, as an HTTP worker has; the runtime ends with the thread.
fn on_a_worker_thread(db: &Database) {
    let db = db.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        db.serve_from_this_thread();
        runtime.block_on(a_requests_statements(&db));
    })
    .join()
    .unwrap();
}

async fn each_worker_thread_uses_a_pool_of_its_own(backend: Backend) {
    let (_guard, mut db) = common::open(backend).await;
    let statements = Arc::new(AtomicUsize::new(0));
    let seen = statements.clone();
    db.on_statement(move |_| {
        seen.fetch_add(1, Ordering::Relaxed);
    });
    let shared_max = db.pool_state().max;
    db.give_each_worker_a_pool(2);

    // A thread that is not a worker's uses the shared pool. (It runs on this test's runtime: a
    // shared-pool connection opened on a runtime that ends could not be used after it.)
    a_requests_statements(&db).await;
    assert_eq!(db.pool_state().max, shared_max);

    let before = statements.load(Ordering::Relaxed);
    on_a_worker_thread(&db);
    on_a_worker_thread(&db);
    match backend {
        Backend::Postgres => {
            // The default 16 shared between two workers: 8 each, opened by their first use.
            // (How many connections stay open is not asserted: a worker's runtime that ended
            // first may have dropped its connections instead of returning them.)
            assert_eq!(db.pool_state().max, shared_max + 16);
        }
        Backend::Sqlite => assert_eq!(db.pool_state().max, shared_max, "one pool on SQLite"),
    }
    assert!(
        statements.load(Ordering::Relaxed) > before,
        "the workers' statements are watched too"
    );
    // A worker that replaces one whose thread ended (actix restarts a worker after a panic)
    // gets a new pool: the old one's connections belong to a runtime that is gone. Used here,
    // they would fail.
    on_a_worker_thread(&db);
    if backend == Backend::Postgres {
        assert_eq!(db.pool_state().max, shared_max + 24);
    }
    // The workers' runtimes have ended; what they ran left the shared pool's connections usable
    // (on PostgreSQL they ran nothing on it, not even their pings).
    a_requests_statements(&db).await;
    store::db::close(db).await.unwrap();
}

backend_tests!(each_worker_thread_uses_a_pool_of_its_own);
