//! One suite for both key-value stores: the in-process one and Redis.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use store::kv::{self, Kv};
use testkit::{Backend, backend_tests};

async fn open(backend: Backend) -> Kv {
    testkit::install_crypto_provider();
    let url = backend.kv_url();
    kv::open(&url, &testkit::unique_namespace())
        .await
        .unwrap_or_else(|e| panic!("key-value store at {url} is not reachable: {e}"))
}

async fn single_use_values_are_taken_once(backend: Backend) {
    let kv = open(backend).await;
    assert!(
        kv.put_once("code:a", b"grant", Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert!(
        !kv.put_once("code:a", b"other", Duration::from_secs(60))
            .await
            .unwrap(),
        "never overwritten"
    );
    assert_eq!(
        kv.take("code:a").await.unwrap().as_deref(),
        Some(&b"grant"[..])
    );
    assert_eq!(
        kv.take("code:a").await.unwrap(),
        None,
        "second take finds nothing"
    );
}

async fn concurrent_takes_have_exactly_one_winner(backend: Backend) {
    let kv = open(backend).await;
    kv.put_once("code:race", b"x", Duration::from_secs(60))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let kv = kv.clone();
            tokio::spawn(async move { kv.take("code:race").await.unwrap().is_some() })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        winners += usize::from(task.await.unwrap());
    }
    assert_eq!(winners, 1);
}

async fn values_expire(backend: Backend) {
    let kv = open(backend).await;
    kv.set("session:s", b"v", Duration::from_millis(200))
        .await
        .unwrap();
    kv.put_once("code:c", b"v", Duration::from_millis(200))
        .await
        .unwrap();
    assert!(kv.get("session:s").await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(kv.get("session:s").await.unwrap(), None);
    assert_eq!(kv.take("code:c").await.unwrap(), None);
    assert!(
        kv.put_once("code:c", b"again", Duration::from_secs(5))
            .await
            .unwrap(),
        "an expired key is free"
    );
}

async fn counters_count_within_a_window(backend: Backend) {
    let kv = open(backend).await;
    for expected in 1..=5 {
        assert_eq!(
            kv.incr("rate:ip", Duration::from_millis(300))
                .await
                .unwrap(),
            expected
        );
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        kv.incr("rate:ip", Duration::from_millis(300))
            .await
            .unwrap(),
        1,
        "a new window starts"
    );
}

async fn revocation_set_and_plain_values(backend: Backend) {
    let kv = open(backend).await;
    assert!(!kv.is_revoked("inst-1").await.unwrap());
    kv.revoke("inst-1", Duration::from_secs(60)).await.unwrap();
    assert!(kv.is_revoked("inst-1").await.unwrap());
    assert!(!kv.is_revoked("inst-2").await.unwrap());

    kv.set("k", b"one", Duration::from_secs(60)).await.unwrap();
    kv.set("k", b"two", Duration::from_secs(60)).await.unwrap();
    assert_eq!(kv.get("k").await.unwrap().as_deref(), Some(&b"two"[..]));
    assert!(kv.delete("k").await.unwrap());
    assert!(!kv.delete("k").await.unwrap());
    kv.ping().await.unwrap();
}

async fn namespaces_do_not_see_each_other(backend: Backend) {
    let a = open(backend).await;
    let b = open(backend).await;
    a.set("shared", b"a", Duration::from_secs(60))
        .await
        .unwrap();
    if backend == Backend::Postgres {
        assert_eq!(b.get("shared").await.unwrap(), None);
    }
    assert_eq!(a.get("shared").await.unwrap().as_deref(), Some(&b"a"[..]));
}

backend_tests!(
    single_use_values_are_taken_once,
    concurrent_takes_have_exactly_one_winner,
    values_expire,
    counters_count_within_a_window,
    revocation_set_and_plain_values,
    namespaces_do_not_see_each_other,
);

#[tokio::test]
async fn unknown_kv_url_is_refused() {
    let err = kv::open("memcached://localhost", "x").await.unwrap_err();
    assert!(err.to_string().contains("memcached://localhost"));
}
