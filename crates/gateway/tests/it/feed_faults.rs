//! Webhook delivery through faults: a PostgreSQL restart and a Redis outage while deliveries are
//! in flight (the test's own instances, never the machine's shared ones) — delivery resumes by
//! itself and every event arrives; and receivers that misbehave — one too slow for the timeout,
//! one that resets the connection — get the same message again, with the same webhook-id, until
//! it is accepted. Every loop is bounded.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::receiver::{RESET, WebhookReceiver};
use testkit::{Backend, TestDatabase, backend_tests};

use crate::common::Target;
use crate::common::api::{ALL_SCOPES, ApiEnv};
use crate::common::services::{OwnPostgres, OwnRedis};

/// Delivery settings: loopback receivers allowed, retries after a second, attempts cut at one
/// second, and leases of three (an attempt cut short by an outage is taken up again soon).
const SETTINGS: &[(&str, &str)] = &[
    (
        "SCIMGATE_WEBHOOKS__ALLOWED_DESTINATIONS",
        r#"["127.0.0.0/8"]"#,
    ),
    (
        "SCIMGATE_WEBHOOKS__RETRY_SCHEDULE_SECS",
        "[1, 1, 1, 1, 1, 1, 1, 1, 1, 1]",
    ),
    ("SCIMGATE_WEBHOOKS__JITTER", "0.0"),
    ("SCIMGATE_WEBHOOKS__POLL_MS", "50"),
    ("SCIMGATE_WEBHOOKS__TIMEOUT_SECS", "1"),
    ("SCIMGATE_WEBHOOKS__LEASE_SECS", "3"),
    // While the database is down, requests fail fast instead of queueing for the pool.
    ("SCIMGATE_DATABASE__ACQUIRE_TIMEOUT_SECS", "1"),
    (
        "SCIMGATE_SECRETS__WEBHOOK_KEY",
        r#""a webhook key for tests, at least 32 characters""#,
    ),
];

/// Registers an endpoint on `receiver` for `event_types` (all when empty); returns its id.
async fn endpoint(env: &ApiEnv, receiver: &WebhookReceiver, event_types: &[&str]) -> String {
    let mut body = json!({"url": receiver.url("/hook")});
    if !event_types.is_empty() {
        body["event_types"] = json!(event_types);
    }
    let created = env.post("/webhook-endpoints", &body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    created.body["id"].as_str().unwrap().to_owned()
}

/// Creates a SCIM user, trying again (bounded) while the deployment answers 503 or not at all.
async fn create_user_when_possible(env: &ApiEnv, org: &crate::common::ScimOrg, name: &str) {
    let url = env
        .server
        .url(&format!("/scim/v2.0/organizations/{}/Users", org.org));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let res = env
            .http
            .post(&url)
            .bearer_auth(&org.token)
            .header("content-type", "application/scim+json")
            .body(crate::common::scim::user(name).to_string())
            .send()
            .await;
        match res.map(|r| r.status().as_u16()) {
            Ok(201) => return,
            // A create whose answer was lost to the outage, then retried.
            Ok(409) => return,
            Ok(503) | Err(_) => {}
            Ok(other) => panic!("creating {name}: {other}"),
        }
        assert!(Instant::now() < deadline, "{name} could not be created");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The organization's events, as committed (read from the database).
async fn committed_ids(db_url: &str, org: &str) -> BTreeSet<String> {
    let db = store::connect(db_url, &Default::default()).await.unwrap();
    let scope = store::repo::organizations::operator_scope(&db, org)
        .await
        .unwrap();
    store::repo::events::list_after(&db, &scope, store::ids::EventId(0), 100_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.uid)
        .collect()
}

/// Waits (bounded) until the receiver accepted every one of `ids`.
async fn wait_until_all_accepted(receiver: &WebhookReceiver, ids: &BTreeSet<String>) {
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let accepted: BTreeSet<String> = receiver
            .accepted()
            .iter()
            .filter_map(|r| r.header("webhook-id").map(str::to_owned))
            .collect();
        let missing: Vec<&String> = ids.difference(&accepted).collect();
        if missing.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} events never delivered: {missing:?}",
            missing.len(),
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits (bounded) until the receiver has received at least `n` requests.
async fn wait_until_received(receiver: &WebhookReceiver, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while receiver.received().len() < n {
        assert!(Instant::now() < deadline, "fewer than {n} requests arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// PostgreSQL stops (fast shutdown) while a slow receiver holds deliveries in flight, and starts
/// again: the replica's workers reconnect by themselves, the deliveries whose outcome could not
/// be recorded are sent again when their lease runs out, and events written after the restart are
/// delivered too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_resume_after_a_postgres_restart() {
    let pg = OwnPostgres::start();
    let target = Target::on(
        TestDatabase::external(&pg.url(), Backend::Postgres),
        "memory://".into(),
    );
    let env = ApiEnv::start_on(target, ALL_SCOPES, SETTINGS).await;
    // The endpoint first: every event of the organization is then its.
    let receiver = WebhookReceiver::start().await;
    endpoint(&env, &receiver, &[]).await;
    let org = env.target.scim_org("Acme");
    receiver.delay(Some(Duration::from_millis(200)));
    for n in 0..10 {
        create_user_when_possible(&env, &org, &format!("before.{n}")).await;
    }
    // Deliveries are going out (slowly) when the database goes away.
    wait_until_received(&receiver, 3).await;
    pg.stop("INT");
    tokio::time::sleep(Duration::from_millis(500)).await;
    pg.start_again();
    receiver.delay(None);
    for n in 0..10 {
        create_user_when_possible(&env, &org, &format!("after.{n}")).await;
    }
    let ids = committed_ids(&env.target.db.url, &org.org).await;
    assert!(ids.len() >= 40, "{} events", ids.len());
    wait_until_all_accepted(&receiver, &ids).await;
    eprintln!(
        "postgres restart: {} events delivered in {} requests",
        ids.len(),
        receiver.received().len()
    );
}

/// Redis is killed while deliveries are in flight and started again, empty: delivery, which
/// needs only the database, goes on; SCIM writes (whose rate limits live in Redis) come back by
/// themselves, and their events are delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_go_on_through_a_redis_outage() {
    let mut redis = OwnRedis::start();
    let target = Target::on(TestDatabase::create(Backend::Postgres).await, redis.url());
    let env = ApiEnv::start_on(target, ALL_SCOPES, SETTINGS).await;
    // The endpoint first: every event of the organization is then its.
    let receiver = WebhookReceiver::start().await;
    endpoint(&env, &receiver, &[]).await;
    let org = env.target.scim_org("Acme");
    receiver.delay(Some(Duration::from_millis(200)));
    for n in 0..10 {
        create_user_when_possible(&env, &org, &format!("before.{n}")).await;
    }
    wait_until_received(&receiver, 3).await;
    redis.kill();
    let during_outage = committed_ids(&env.target.db.url, &org.org).await;
    receiver.delay(None);
    // Everything written before the outage arrives while Redis is still down.
    wait_until_all_accepted(&receiver, &during_outage).await;
    redis.start_again();
    for n in 0..10 {
        create_user_when_possible(&env, &org, &format!("after.{n}")).await;
    }
    let ids = committed_ids(&env.target.db.url, &org.org).await;
    assert!(ids.len() > during_outage.len(), "the later writes happened");
    wait_until_all_accepted(&receiver, &ids).await;
}

/// The delivery log's entry for the only delivery of endpoint `id`, once it is delivered.
async fn delivered_entry(env: &ApiEnv, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = env
            .get(&format!("/webhook-endpoints/{id}/deliveries"))
            .await;
        assert_eq!(log.status, StatusCode::OK, "{}", log.body);
        let entries = log.body["data"].as_array().unwrap().clone();
        if let [entry] = entries.as_slice()
            && entry["status"] == "delivered"
        {
            return entry.clone();
        }
        assert!(Instant::now() < deadline, "not delivered: {}", log.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A receiver slower than the timeout: the attempt is cut at one second and counted failed, and
/// the retry — the same webhook-id — is accepted.
async fn a_receiver_too_slow_gets_the_same_message_again(backend: Backend) {
    let env = ApiEnv::start_configured(backend, ALL_SCOPES, SETTINGS).await;
    let org = env.target.scim_org("Acme");
    let receiver = WebhookReceiver::start().await;
    let id = endpoint(&env, &receiver, &["directory.user.created"]).await;
    receiver.delay(Some(Duration::from_millis(2500)));
    env.scim_user(&org, "bjensen").await;
    wait_until_received(&receiver, 1).await;
    // Only the first attempt is slow (the receiver reads the delay when a request arrives).
    receiver.delay(None);
    let entry = delivered_entry(&env, &id).await;
    assert_eq!(entry["attempts"], 2, "{entry}");
    assert_eq!(entry["last_attempt"]["status"], 200, "{entry}");
    let received = receiver.received();
    let ids: Vec<&str> = received
        .iter()
        .map(|r| r.header("webhook-id").unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert_eq!(ids[0], ids[1], "the retry is the same message");
    assert_eq!(entry["event_id"], ids[0]);
    assert_eq!(received[0].body, received[1].body);
}

/// A receiver that resets the connection instead of answering: a failed attempt, and the retry —
/// the same webhook-id — is accepted.
async fn a_reset_connection_gets_the_same_message_again(backend: Backend) {
    let env = ApiEnv::start_configured(backend, ALL_SCOPES, SETTINGS).await;
    let org = env.target.scim_org("Acme");
    let receiver = WebhookReceiver::start().await;
    let id = endpoint(&env, &receiver, &["directory.user.created"]).await;
    receiver.reset_next(1);
    env.scim_user(&org, "bjensen").await;
    let entry = delivered_entry(&env, &id).await;
    assert_eq!(entry["attempts"], 2, "{entry}");
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].answered, RESET);
    assert_eq!(received[1].answered, 200);
    assert_eq!(
        received[0].header("webhook-id"),
        received[1].header("webhook-id"),
        "the retry is the same message"
    );
    assert_eq!(entry["event_id"], received[1].header("webhook-id").unwrap());
}

backend_tests!(
    a_receiver_too_slow_gets_the_same_message_again,
    a_reset_connection_gets_the_same_message_again,
);
