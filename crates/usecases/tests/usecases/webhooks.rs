//! Webhook delivery with a real receiver over HTTP and an injected clock: signatures, the retry
//! schedule, `Retry-After`, 410, auto-disable (and its event), re-enabling and recovery, ordered
//! mode, secret rotation, and two workers sharing deliveries without sending one twice.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use testkit::receiver::{Received, WebhookReceiver};
use testkit::{Backend, backend_tests};
use usecases::webhooks::{DeliverySettings, EndpointSpec, Sealer};
use usecases::{Actor, Core};
use webhooks::{RetrySchedule, WebhookSecret};

use super::common::*;

/// The webhook side of a world: a receiver, a sender allowed to reach it, and an endpoint.
struct Hook {
    world: World,
    receiver: WebhookReceiver,
    sender: webhooks::Sender,
    sealer: Sealer,
    endpoint: String,
    secret: String,
}

fn loopback_allowed() -> webhooks::DestinationPolicy {
    webhooks::DestinationPolicy::new(vec!["127.0.0.0/8".parse().unwrap()])
}

fn backend_actor() -> Actor {
    Actor::new(usecases::ActorKind::BackendClient("cli_test".into()))
}

async fn hook(backend: Backend, spec: EndpointSpec) -> Hook {
    let world = world(backend).await;
    sequence_all(&world.core).await;
    let receiver = WebhookReceiver::start().await;
    let sender = webhooks::Sender::new(webhooks::SenderSettings {
        timeout: Duration::from_secs(5),
        policy: loopback_allowed(),
        ..webhooks::SenderSettings::default()
    })
    .unwrap();
    let sealer = Sealer::new("a test key that is long enough to be one: 0123456789");
    let rules = usecases::webhooks::EndpointRules {
        sealer: sealer.clone(),
        policy: loopback_allowed(),
    };
    let (view, secret) = usecases::webhooks::create(
        &world.core,
        &rules,
        &backend_actor(),
        EndpointSpec {
            url: Some(receiver.url("/hooks")),
            ..spec
        },
    )
    .await
    .unwrap();
    assert!(secret.starts_with("whsec_"));
    Hook {
        world,
        receiver,
        sender,
        sealer,
        endpoint: view.endpoint.uid,
        secret,
    }
}

fn settings(schedule_secs: &[u64], disable_after: chrono::Duration) -> DeliverySettings {
    DeliverySettings {
        schedule: RetrySchedule::new(
            schedule_secs
                .iter()
                .map(|s| Duration::from_secs(*s))
                .collect(),
        )
        .with_jitter(0.0),
        disable_after,
        ..DeliverySettings::default()
    }
}

impl Hook {
    fn core(&self) -> &Core {
        &self.world.core
    }

    async fn step(
        &self,
        settings: &DeliverySettings,
        owner: &str,
        at: DateTime<Utc>,
    ) -> (usize, usize) {
        let done = usecases::webhooks::deliver_due(
            self.core(),
            &self.sealer,
            &self.sender,
            settings,
            owner,
            at,
        )
        .await
        .unwrap();
        (done.attempted, done.succeeded)
    }

    /// One sequencer pass at `now` whose new deliveries, up to `room`, are leased to `owner`'s
    /// worker (as the replica's own sequencer hands them over).
    async fn sequence_leased_to(
        &self,
        owner: &str,
        room: usize,
        now: DateTime<Utc>,
    ) -> store::repo::feed::Sequenced {
        usecases::feed::sequence(
            self.core(),
            1000,
            now,
            Some(store::repo::feed::FreshLease {
                owner,
                until: now + chrono::Duration::minutes(5),
                max: room,
            }),
        )
        .await
        .unwrap()
    }

    async fn user(&self, name: &str) {
        scim_user(&self.world, &idp(), name, &format!("{name}@acme.test")).await;
        sequence_all(self.core()).await;
    }

    async fn endpoint(&self) -> usecases::webhooks::EndpointView {
        usecases::webhooks::get(self.core(), &self.endpoint)
            .await
            .unwrap()
    }

    async fn deliveries(&self) -> Vec<usecases::webhooks::DeliveryView> {
        usecases::webhooks::deliveries(self.core(), &self.endpoint, None, 100)
            .await
            .unwrap()
    }

    /// Verifies a received message's signature with `secret` (at its own timestamp, since the
    /// clock here is injected) and returns its body.
    fn verified(&self, message: &Received, secret: &str) -> Value {
        let secret = WebhookSecret::parse(secret).unwrap();
        let timestamp: i64 = message
            .header("webhook-timestamp")
            .unwrap()
            .parse()
            .unwrap();
        webhooks::verify(
            &secret,
            message.header("webhook-id").unwrap(),
            message.header("webhook-timestamp").unwrap(),
            message.header("webhook-signature").unwrap(),
            &message.body,
            timestamp,
            webhooks::signature::DEFAULT_TOLERANCE,
        )
        .unwrap_or_else(|e| panic!("signature of {message:?}: {e:?}"));
        message.json()
    }
}

fn invited_only() -> EndpointSpec {
    EndpointSpec {
        event_types: Some(vec!["membership.invited".into()]),
        ..EndpointSpec::default()
    }
}

/// Failed attempts are retried after each delay of the schedule, never before, with the same
/// `webhook-id` and a valid signature every time; the record keeps every attempt's answer.
async fn retries_follow_the_schedule_with_the_same_id(backend: Backend) {
    let hook = hook(backend, invited_only()).await;
    let settings = settings(&[5, 300], chrono::Duration::days(5));
    hook.receiver.fail_next(2, 500);
    hook.user("bjensen").await;
    let t0 = Utc::now();
    assert_eq!(hook.step(&settings, "w1", t0).await, (1, 0));
    assert_eq!(
        hook.step(&settings, "w1", t0).await,
        (0, 0),
        "not due again yet"
    );
    assert_eq!(
        hook.step(&settings, "w1", t0 + chrono::Duration::seconds(4))
            .await,
        (0, 0)
    );
    let t1 = t0 + chrono::Duration::seconds(5);
    assert_eq!(hook.step(&settings, "w1", t1).await, (1, 0));
    assert_eq!(
        hook.step(&settings, "w1", t1 + chrono::Duration::seconds(299))
            .await,
        (0, 0)
    );
    assert_eq!(
        hook.step(&settings, "w1", t1 + chrono::Duration::seconds(300))
            .await,
        (1, 1)
    );
    let received = hook.receiver.received();
    assert_eq!(
        received.iter().map(|r| r.answered).collect::<Vec<_>>(),
        [500, 500, 200]
    );
    let ids: Vec<&str> = received
        .iter()
        .map(|r| r.header("webhook-id").unwrap())
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0] && id.starts_with("evt_")),
        "{ids:?}"
    );
    for message in &received {
        let body = hook.verified(message, &hook.secret);
        assert_eq!(body["id"], ids[0]);
        assert_eq!(body["type"], "membership.invited");
        assert_eq!(body["data"]["email"], "bjensen@acme.test");
    }
    let deliveries = hook.deliveries().await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].delivery.status, "delivered");
    assert_eq!(deliveries[0].delivery.attempts, 3);
    assert_eq!(deliveries[0].event_uid, ids[0]);
    assert_eq!(
        deliveries[0].last_attempt.as_ref().unwrap().status,
        Some(200)
    );
    assert!(hook.endpoint().await.endpoint.failing_since.is_none());
}

/// A 429's `Retry-After` moves the next attempt later than the schedule would.
async fn retry_after_is_honoured(backend: Backend) {
    let hook = hook(backend, invited_only()).await;
    let settings = settings(&[5, 5], chrono::Duration::days(5));
    hook.receiver.throttle_next(1, 120);
    hook.user("slow").await;
    let t0 = Utc::now();
    assert_eq!(hook.step(&settings, "w1", t0).await, (1, 0));
    assert_eq!(
        hook.step(&settings, "w1", t0 + chrono::Duration::seconds(5))
            .await,
        (0, 0)
    );
    assert_eq!(
        hook.step(&settings, "w1", t0 + chrono::Duration::seconds(121))
            .await,
        (1, 1)
    );
}

/// When the schedule runs out the delivery fails for good; 410 disables the endpoint at once.
async fn gone_disables_and_an_exhausted_schedule_fails(backend: Backend) {
    let hook = hook(backend, invited_only()).await;
    let settings = settings(&[5], chrono::Duration::days(5));
    hook.receiver.fail_next(2, 503);
    hook.user("a").await;
    let t0 = Utc::now();
    hook.step(&settings, "w1", t0).await;
    hook.step(&settings, "w1", t0 + chrono::Duration::seconds(5))
        .await;
    assert_eq!(hook.deliveries().await[0].delivery.status, "failed");
    assert!(hook.endpoint().await.endpoint.enabled);
    hook.receiver.fail_next(1, 410);
    hook.user("b").await;
    assert_eq!(
        hook.step(&settings, "w1", t0 + chrono::Duration::seconds(10))
            .await,
        (1, 0)
    );
    let endpoint = hook.endpoint().await.endpoint;
    assert!(!endpoint.enabled);
    assert!(endpoint.disabled_reason.unwrap().contains("410"));
}

/// An endpoint with no success for `disable_after` is disabled, and a region-level event says
/// so. Re-enabled, it clears its failure record; `recover` sends what it missed — including
/// events published while it was disabled, which got no delivery then.
async fn failing_too_long_disables_then_reenable_and_recover(backend: Backend) {
    let hook = hook(backend, invited_only()).await;
    let half_hour = 30 * 60;
    let settings = settings(&[half_hour; 4], chrono::Duration::hours(1));
    hook.receiver.answer_always(Some(500));
    hook.user("first").await;
    let t0 = Utc::now();
    hook.step(&settings, "w1", t0).await;
    hook.step(&settings, "w1", t0 + chrono::Duration::minutes(30))
        .await;
    assert!(hook.endpoint().await.endpoint.enabled);
    hook.step(&settings, "w1", t0 + chrono::Duration::minutes(60))
        .await;
    let endpoint = hook.endpoint().await.endpoint;
    assert!(!endpoint.enabled, "disabled after an hour of failures");
    assert!(
        endpoint
            .disabled_reason
            .as_deref()
            .unwrap()
            .contains("1 hours")
    );
    sequence_all(hook.core()).await;
    let (events, _) = follow(
        hook.core(),
        None,
        usecases::feed::FeedQuery {
            limit: 100,
            ..Default::default()
        },
    )
    .await;
    let disabled: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "webhook_endpoint.disabled")
        .collect();
    assert_eq!(disabled.len(), 1, "{events:?}");
    assert!(disabled[0]["organization"].is_null());
    assert!(disabled[0]["sequence"].is_null());
    assert_eq!(disabled[0]["data"]["endpoint_id"], hook.endpoint.as_str());
    assert!(
        !disabled[0].to_string().contains("whsec_"),
        "no secret in events"
    );
    // While disabled nothing is sent, and new events make no deliveries.
    hook.user("missed").await;
    assert_eq!(
        hook.step(&settings, "w1", t0 + chrono::Duration::hours(3))
            .await,
        (0, 0)
    );
    assert_eq!(hook.deliveries().await.len(), 1);
    // Re-enabled (one call), it starts clean; recover sends both.
    let actor = backend_actor();
    let view = usecases::webhooks::update(
        hook.core(),
        &usecases::webhooks::EndpointRules {
            sealer: hook.sealer.clone(),
            policy: loopback_allowed(),
        },
        &actor,
        &hook.endpoint,
        EndpointSpec {
            enabled: Some(true),
            ..EndpointSpec::default()
        },
    )
    .await
    .unwrap();
    assert!(
        view.endpoint.enabled
            && view.endpoint.failing_since.is_none()
            && view.endpoint.disabled_reason.is_none()
    );
    hook.receiver.answer_always(None);
    let now = t0 + chrono::Duration::hours(3);
    let due = usecases::webhooks::recover(
        hook.core(),
        &actor,
        &hook.endpoint,
        t0 - chrono::Duration::minutes(1),
        now,
    )
    .await
    .unwrap();
    assert_eq!(due, 2);
    assert_eq!(hook.step(&settings, "w1", now).await, (2, 2));
    let mut emails: Vec<String> = hook
        .receiver
        .accepted()
        .iter()
        .map(|m| {
            hook.verified(m, &hook.secret)["data"]["email"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    emails.sort();
    assert_eq!(emails, ["first@acme.test", "missed@acme.test"]);
}

/// In ordered mode an organization's next event waits until the previous one is delivered;
/// without it, a failing event does not hold back the others.
async fn ordered_mode_holds_the_next_event_until_the_previous_is_delivered(backend: Backend) {
    let hook = hook(
        backend,
        EndpointSpec {
            ordered: Some(true),
            ..invited_only()
        },
    )
    .await;
    let settings = settings(&[5, 5, 5], chrono::Duration::days(5));
    hook.receiver.fail_next(1, 500);
    hook.user("one").await;
    hook.user("two").await;
    hook.user("three").await;
    let t0 = Utc::now();
    assert_eq!(
        hook.step(&settings, "w1", t0).await,
        (1, 0),
        "only the first is sent"
    );
    assert_eq!(
        hook.step(&settings, "w1", t0).await,
        (0, 0),
        "the others wait for it"
    );
    let t1 = t0 + chrono::Duration::seconds(5);
    assert_eq!(hook.step(&settings, "w1", t1).await, (1, 1));
    assert_eq!(hook.step(&settings, "w1", t1).await, (1, 1));
    assert_eq!(hook.step(&settings, "w1", t1).await, (1, 1));
    let order: Vec<String> = hook
        .receiver
        .received()
        .iter()
        .map(|m| m.json()["data"]["email"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        order,
        [
            "one@acme.test",
            "one@acme.test",
            "two@acme.test",
            "three@acme.test"
        ]
    );
    let sequences: Vec<i64> = hook
        .receiver
        .accepted()
        .iter()
        .map(|m| m.json()["sequence"].as_i64().unwrap())
        .collect();
    assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");
}

/// After a rotation messages carry two signatures, one per secret, for 24 hours; then only the
/// new secret signs.
async fn a_rotated_secret_signs_alongside_the_new_one_for_a_day(backend: Backend) {
    let hook = hook(backend, invited_only()).await;
    let settings = settings(&[5], chrono::Duration::days(5));
    let now = Utc::now();
    let (_, new_secret) = usecases::webhooks::rotate_secret(
        hook.core(),
        &hook.sealer,
        &backend_actor(),
        &hook.endpoint,
        now,
    )
    .await
    .unwrap();
    assert_ne!(new_secret, hook.secret);
    hook.user("during").await;
    hook.step(&settings, "w1", now + chrono::Duration::hours(1))
        .await;
    hook.user("after").await;
    hook.step(&settings, "w1", now + chrono::Duration::hours(25))
        .await;
    let messages = hook.receiver.accepted();
    assert_eq!(messages.len(), 2);
    assert_eq!(
        messages[0]
            .header("webhook-signature")
            .unwrap()
            .split(' ')
            .count(),
        2
    );
    hook.verified(&messages[0], &hook.secret);
    hook.verified(&messages[0], &new_secret);
    assert_eq!(
        messages[1]
            .header("webhook-signature")
            .unwrap()
            .split(' ')
            .count(),
        1
    );
    hook.verified(&messages[1], &new_secret);
}

/// Secrets are sealed at rest: the stored value is neither the secret nor usable without the
/// deployment's key, and a sealer with another key cannot sign (the attempt fails, visibly).
async fn secrets_are_sealed_at_rest(backend: Backend) {
    let hook = hook(backend, invited_only()).await;
    let stored = hook.endpoint().await.endpoint.secret;
    assert!(stored.starts_with("v1:"), "{stored}");
    assert!(!stored.contains(hook.secret.trim_start_matches("whsec_")));
    let wrong = Sealer::new("another deployment's key, also long enough: 0123456789");
    hook.user("x").await;
    let done = usecases::webhooks::deliver_due(
        hook.core(),
        &wrong,
        &hook.sender,
        &settings(&[5], chrono::Duration::days(5)),
        "w1",
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!((done.attempted, done.succeeded), (1, 0));
    assert!(
        hook.receiver.received().is_empty(),
        "nothing unsigned is sent"
    );
    let last = hook.deliveries().await[0].last_attempt.clone().unwrap();
    assert!(last.error.unwrap().contains("webhook_key"));
}

backend_tests!(
    retries_follow_the_schedule_with_the_same_id,
    retry_after_is_honoured,
    gone_disables_and_an_exhausted_schedule_fails,
    failing_too_long_disables_then_reenable_and_recover,
    ordered_mode_holds_the_next_event_until_the_previous_is_delivered,
    a_rotated_secret_signs_alongside_the_new_one_for_a_day,
    secrets_are_sealed_at_rest,
);

/// Two workers (two replicas) claiming at once never send the same delivery twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_share_deliveries_without_sending_one_twice() {
    let hook = hook(Backend::Postgres, invited_only()).await;
    for i in 0..40 {
        scim_user(
            &hook.world,
            &idp(),
            &format!("u{i}"),
            &format!("u{i}@acme.test"),
        )
        .await;
    }
    sequence_all(hook.core()).await;
    let settings = DeliverySettings {
        batch: 7,
        ..settings(&[5], chrono::Duration::days(5))
    };
    let now = Utc::now();
    for _ in 0..20 {
        let (a, b) = tokio::join!(
            hook.step(&settings, "w1", now),
            hook.step(&settings, "w2", now)
        );
        if a.0 + b.0 == 0 {
            break;
        }
    }
    let received = hook.receiver.received();
    let mut ids: Vec<&str> = received
        .iter()
        .map(|r| r.header("webhook-id").unwrap())
        .collect();
    assert_eq!(ids.len(), 40);
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 40, "no message was sent twice");
}

/// The sequencing replica creates new deliveries leased to its own worker and hands them over,
/// so they are sent without a claim: no more than the worker has room for, never those to an
/// ordered endpoint (their claim is what keeps an organization's order), and no other worker's
/// claim takes them while the lease holds. Sent, they are recorded like claimed ones.
async fn new_deliveries_are_leased_to_the_sequencing_worker(backend: Backend) {
    let hook = hook(backend, EndpointSpec::default()).await;
    let (ordered, _) = usecases::webhooks::create(
        hook.core(),
        &usecases::webhooks::EndpointRules {
            sealer: hook.sealer.clone(),
            policy: loopback_allowed(),
        },
        &backend_actor(),
        EndpointSpec {
            url: Some(hook.receiver.url("/ordered")),
            ordered: Some(true),
            ..EndpointSpec::default()
        },
    )
    .await
    .unwrap();
    for name in ["one", "two", "three"] {
        scim_user(&hook.world, &idp(), name, &format!("{name}@acme.test")).await;
    }
    let now = Utc::now();
    let done = hook.sequence_leased_to("w1", 4, now).await;
    assert!(
        done.deliveries >= 12,
        "6+ events to each endpoint: {done:?}"
    );
    assert_eq!(done.leased.len(), 4, "no more than the worker has room for");
    assert!(done.leased.iter().all(
        |c| c.endpoint.uid == hook.endpoint && c.delivery.lease_owner.as_deref() == Some("w1")
    ));
    let leased: Vec<_> = done.leased.iter().map(|c| c.delivery.id).collect();

    let settings = settings(&[5], chrono::Duration::days(5));
    let other = usecases::webhooks::claim_due(hook.core(), &settings, "w2", now, 100)
        .await
        .unwrap();
    assert!(!other.deliveries.is_empty());
    assert!(
        other
            .deliveries
            .iter()
            .all(|c| !leased.contains(&c.delivery.id)),
        "a leased delivery is not claimed by another worker"
    );
    assert_eq!(
        other
            .deliveries
            .iter()
            .filter(|c| c.endpoint.uid == ordered.endpoint.uid)
            .count(),
        1,
        "the ordered endpoint's first delivery waits for a claim, the rest behind it"
    );

    let batch = usecases::webhooks::ClaimedBatch::of(hook.core(), done.leased)
        .await
        .unwrap();
    let mut sent = Vec::new();
    for job in batch.into_jobs() {
        sent.push(
            usecases::webhooks::send_job(
                hook.core(),
                &hook.sealer,
                &hook.sender,
                &settings,
                job,
                now,
            )
            .await,
        );
    }
    let recorded = usecases::webhooks::record_sent(hook.core(), &settings, "w1", sent)
        .await
        .unwrap();
    assert_eq!((recorded.attempted, recorded.succeeded), (4, 4));
    let received = hook.receiver.received();
    assert_eq!(received.len(), 4);
    for message in &received {
        hook.verified(message, &hook.secret);
    }
    let delivered = hook
        .deliveries()
        .await
        .into_iter()
        .filter(|d| d.delivery.status == "delivered")
        .count();
    assert_eq!(delivered, 4);
}

backend_tests!(new_deliveries_are_leased_to_the_sequencing_worker);

/// The delivery worker is woken only when a claim has something to find: not by a publication
/// without endpoints, nor by one whose deliveries were all leased to the worker at creation; it
/// is by deliveries left for a claim (no room, or an ordered endpoint) and by a redelivery.
async fn the_delivery_worker_wakes_only_for_deliveries_to_claim(backend: Backend) {
    let quiet = world(backend).await;
    let scheduled = quiet.core.signals().deliveries();
    scim_user(&quiet, &idp(), "quiet", "quiet@acme.test").await;
    let done = usecases::feed::sequence(&quiet.core, 1000, Utc::now(), None)
        .await
        .unwrap();
    assert!(done.events > 0 && done.deliveries == 0, "{done:?}");
    assert!(
        !scheduled.has_changed().unwrap(),
        "nothing to deliver: the worker sleeps"
    );

    let hook = hook(backend, EndpointSpec::default()).await;
    let mut scheduled = hook.core().signals().deliveries();
    scim_user(&hook.world, &idp(), "handed", "handed@acme.test").await;
    let done = hook.sequence_leased_to("w1", 100, Utc::now()).await;
    assert!(done.deliveries > 0, "{done:?}");
    assert_eq!(
        done.leased.len(),
        done.deliveries,
        "all handed to the worker"
    );
    assert_eq!(done.waiting(), 0);
    assert!(
        !scheduled.has_changed().unwrap(),
        "handed over: no claim needed"
    );

    scim_user(&hook.world, &idp(), "waiting", "waiting@acme.test").await;
    let done = usecases::feed::sequence(hook.core(), 1000, Utc::now(), None)
        .await
        .unwrap();
    assert!(done.waiting() > 0, "{done:?}");
    assert!(
        scheduled.has_changed().unwrap(),
        "left for a claim: the worker wakes"
    );

    scheduled.mark_unchanged();
    let event = usecases::feed::page(
        hook.core(),
        &usecases::feed::FeedQuery {
            after: None,
            limit: 1,
            kinds: Vec::new(),
            organization: None,
        },
    )
    .await
    .unwrap()
    .unwrap()
    .events
    .into_iter()
    .next()
    .unwrap();
    let count = usecases::webhooks::redeliver(
        hook.core(),
        &backend_actor(),
        event["id"].as_str().unwrap(),
        Some(&hook.endpoint),
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(count, 1);
    assert!(
        scheduled.has_changed().unwrap(),
        "a redelivery wakes the worker"
    );
}

backend_tests!(the_delivery_worker_wakes_only_for_deliveries_to_claim);
