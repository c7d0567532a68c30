//! One suite for both key-value stores: the in-process one and Redis.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use store::kv::{self, Kv, Notice};
use store::ratelimit::{Limit, SharedLimits};
use testkit::{Backend, backend_tests};

async fn open(backend: Backend) -> Kv {
    open_in(backend, &testkit::unique_namespace()).await
}

async fn open_in(backend: Backend, namespace: &str) -> Kv {
    testkit::install_crypto_provider();
    let url = backend.kv_url();
    kv::open(&url, namespace)
        .await
        .unwrap_or_else(|e| panic!("key-value store at {url} is not reachable: {e}"))
}

/// What a listener heard: "listening", "lost", or a message's text.
#[derive(Clone, Default)]
struct Heard(Arc<Mutex<Vec<String>>>);

impl Heard {
    fn listen(&self, kv: &Kv, channel: &str) -> kv::Listening {
        let heard = self.0.clone();
        kv.listen(
            channel,
            Arc::new(move |notice| {
                let entry = match notice {
                    Notice::Listening => "listening".to_owned(),
                    Notice::Lost => "lost".to_owned(),
                    Notice::Message(m) => String::from_utf8_lossy(m).into_owned(),
                };
                heard.lock().unwrap().push(entry);
            }),
        )
    }

    fn has(&self, entry: &str) -> bool {
        self.0.lock().unwrap().iter().any(|e| e == entry)
    }

    /// Waits (bounded) until `entry` was heard.
    async fn wait_for(&self, entry: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.has(entry) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }
}

async fn published_messages_reach_this_process_before_publish_returns(backend: Backend) {
    let kv = open(backend).await;
    let heard = Heard::default();
    let listening = heard.listen(&kv, "changes");
    assert!(
        heard.wait_for("listening").await,
        "the subscription went live"
    );
    kv.publish("changes", b"org-1").await.unwrap();
    assert!(
        heard.has("org-1"),
        "delivered locally before publish returned"
    );
    kv.publish("other-channel", b"org-2").await.unwrap();
    drop(listening);
    kv.publish("changes", b"org-3").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!heard.has("org-2"), "only the channel listened to");
    assert!(!heard.has("org-3"), "nothing after the guard is dropped");
}

/// Redis only: the in-process store has no other replicas.
#[tokio::test]
async fn redis_messages_reach_the_other_replicas_of_the_namespace() {
    let backend = Backend::Postgres;
    let namespace = testkit::unique_namespace();
    let publisher = open_in(backend, &namespace).await;
    let replica = open_in(backend, &namespace).await;
    let stranger = open(backend).await;
    let (on_replica, on_stranger) = (Heard::default(), Heard::default());
    let _a = on_replica.listen(&replica, "changes");
    let _b = on_stranger.listen(&stranger, "changes");
    assert!(on_replica.wait_for("listening").await);
    assert!(on_stranger.wait_for("listening").await);
    publisher.publish("changes", b"org-9").await.unwrap();
    assert!(
        on_replica.wait_for("org-9").await,
        "the other replica heard it"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!on_stranger.has("org-9"), "another namespace did not");
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

/// Several counters in one call: each gets its own amount and window, created or added to.
async fn counters_are_added_to_in_one_call(backend: Backend) {
    let kv = open(backend).await;
    let add = |by| {
        [
            kv::Counter {
                key: "rate:a",
                by,
                window: Duration::from_secs(60),
            },
            kv::Counter {
                key: "rate:b",
                by: by * 10,
                window: Duration::from_millis(300),
            },
        ]
    };
    let first = kv.add_to_counters(&add(2)).await.unwrap();
    assert_eq!(first.iter().map(|c| c.0).collect::<Vec<_>>(), [2, 20]);
    assert!(first[0].1 > Duration::from_secs(55) && first[0].1 <= Duration::from_secs(60));
    assert!(first[1].1 <= Duration::from_millis(300));
    let second = kv.add_to_counters(&add(1)).await.unwrap();
    assert_eq!(second.iter().map(|c| c.0).collect::<Vec<_>>(), [3, 30]);
    assert_eq!(kv.incr("rate:a", Duration::from_secs(60)).await.unwrap(), 4);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let third = kv.add_to_counters(&add(1)).await.unwrap();
    assert_eq!(
        third.iter().map(|c| c.0).collect::<Vec<_>>(),
        [5, 10],
        "the short window ended and started over"
    );
    assert!(kv.add_to_counters(&[]).await.unwrap().is_empty());
}

fn per_minute(max: u64) -> Limit {
    Limit::per_minute(max)
}

/// Limits are exact within a process, checked in order, and a refused hit counts nowhere.
async fn shared_limits_count_in_order_and_stop_at_the_first_over(backend: Backend) {
    let limits = SharedLimits::new(open(backend).await);
    let checks = [("cred", per_minute(2)), ("org", per_minute(3))];
    assert_eq!(limits.check(&checks), Ok(()));
    assert_eq!(limits.check(&checks), Ok(()));
    let (index, retry_after) = limits.check(&checks).unwrap_err();
    assert_eq!(index, 0, "the credential's third hit is over its 2");
    assert!(retry_after > Duration::from_secs(55) && retry_after <= Duration::from_secs(60));
    // The refused hit did not count on the organization: it has had two.
    assert_eq!(limits.check(&[("org", per_minute(3))]), Ok(()));
    let (index, _) = limits
        .check(&[("other cred", per_minute(2)), ("org", per_minute(3))])
        .unwrap_err();
    assert_eq!(index, 1, "the organization's fourth hit is over its 3");
    // A limit of 0 is off.
    for _ in 0..10 {
        assert_eq!(limits.check(&[("cred", per_minute(0))]), Ok(()));
    }
    limits.share().await.unwrap();
    assert!(
        limits.check(&checks).is_err(),
        "sharing changes nothing here"
    );
    // A window that ends starts the count over.
    let short = Limit {
        max: 1,
        window: Duration::from_millis(300),
    };
    assert_eq!(limits.check(&[("short", short)]), Ok(()));
    assert!(limits.check(&[("short", short)]).is_err());
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(limits.check(&[("short", short)]), Ok(()), "a new window");
}

/// Two replicas on one store: what one counted reaches the other with its next share, so the
/// second is held to what is left of the limit after at most one batch of its own.
async fn shared_limits_add_up_across_replicas(backend: Backend) {
    let kv = open(backend).await;
    let (first, second) = (SharedLimits::new(kv.clone()), SharedLimits::new(kv.clone()));
    let limit = [("org", per_minute(5))];
    for _ in 0..4 {
        assert_eq!(first.check(&limit), Ok(()));
    }
    first.share().await.unwrap();
    assert_eq!(
        kv.add_to_counters(&[]).await.unwrap(),
        Vec::new(),
        "nothing added by an empty call"
    );
    // The second replica has not heard of those four until it shares its own first hit.
    assert_eq!(second.check(&limit), Ok(()));
    second.share().await.unwrap();
    assert!(second.check(&limit).is_err(), "4 + 1 of 5 used");
    // And the first hears of the second's hit with its own next one.
    assert!(first.check(&limit).is_ok(), "its own count is 4 of 5");
    first.share().await.unwrap();
    assert!(first.check(&limit).is_err(), "now 6 counted in the store");
}

async fn revocation_set_and_plain_values(backend: Backend) {
    let kv = open(backend).await;
    assert!(!kv.is_revoked("inst-1").await.unwrap());
    kv.revoke("inst-1", Duration::from_secs(60)).await.unwrap();
    assert!(kv.is_revoked("inst-1").await.unwrap());
    assert!(!kv.is_revoked("inst-2").await.unwrap());
    assert!(kv.any_revoked(&["inst-2", "inst-1"]).await.unwrap());
    assert!(!kv.any_revoked(&["inst-2", "inst-3"]).await.unwrap());
    assert!(!kv.any_revoked(&[]).await.unwrap());

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
    counters_are_added_to_in_one_call,
    shared_limits_count_in_order_and_stop_at_the_first_over,
    shared_limits_add_up_across_replicas,
    revocation_set_and_plain_values,
    namespaces_do_not_see_each_other,
    published_messages_reach_this_process_before_publish_returns,
);

#[tokio::test]
async fn unknown_kv_url_is_refused() {
    let err = kv::open("memcached://localhost", "x").await.unwrap_err();
    assert!(err.to_string().contains("memcached://localhost"));
}
