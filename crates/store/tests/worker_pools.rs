//! Each HTTP worker's thread gets a database pool of its own on PostgreSQL (a connection wakes the
//! thread that opened it on every round trip), opened lazily on that thread, watched like the
//! shared pool, and counted in the pool metrics; SQLite keeps its one pool.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use store::Database;
use testkit::{Backend, backend_tests};

/// Runs a statement and a write transaction on a thread of its own (with its own runtime, as an
/// HTTP worker has), bound to the next worker pool when `bound`.
fn on_a_worker_thread(db: &Database, bound: bool) {
    let db = db.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        if bound {
            db.serve_from_this_thread();
        }
        runtime.block_on(async {
            store::db::ping(&db).await.unwrap();
            store::repo::organizations::find_by_uid(&db, "none")
                .await
                .unwrap();
            let txn = store::db::begin_write(&db).await.unwrap();
            store::repo::organizations::find_by_uid(&txn, "none")
                .await
                .unwrap();
            txn.commit().await.unwrap();
        });
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

    // A thread that is not a worker's uses the shared pool.
    on_a_worker_thread(&db, false);
    assert_eq!(db.pool_state().max, shared_max);

    let before = statements.load(Ordering::Relaxed);
    on_a_worker_thread(&db, true);
    on_a_worker_thread(&db, true);
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
    on_a_worker_thread(&db, true);
    if backend == Backend::Postgres {
        assert_eq!(db.pool_state().max, shared_max + 24);
    }
    store::db::close(db).await.unwrap();
}

backend_tests!(each_worker_thread_uses_a_pool_of_its_own);
