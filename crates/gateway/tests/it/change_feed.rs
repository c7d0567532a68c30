//! The change feed through the management API, against the real app (its sequencer and delivery
//! workers running) on both databases: `GET /events` (paging, filters, long-poll, errors), the
//! listings' `feed_cursor`, and webhook endpoints end to end — a real receiver that checks every
//! signature with our verifier and with the PyPI `standardwebhooks` package.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::receiver::{Received, WebhookReceiver};
use testkit::{Backend, backend_tests};

use crate::common::api::ApiEnv;

/// Delivery settings for tests: loopback receivers allowed, retries after a second.
const FAST_WEBHOOKS: &[(&str, &str)] = &[
    (
        "SCIMGATE_WEBHOOKS__ALLOWED_DESTINATIONS",
        r#"["127.0.0.0/8"]"#,
    ),
    ("SCIMGATE_WEBHOOKS__RETRY_SCHEDULE_SECS", "[1, 1, 1]"),
    ("SCIMGATE_WEBHOOKS__JITTER", "0.0"),
    ("SCIMGATE_WEBHOOKS__POLL_MS", "50"),
    (
        "SCIMGATE_SECRETS__WEBHOOK_KEY",
        r#""a webhook key for tests, at least 32 characters""#,
    ),
];

async fn feed_env(backend: Backend) -> ApiEnv {
    ApiEnv::start_configured(backend, crate::common::api::ALL_SCOPES, FAST_WEBHOOKS).await
}

/// Every event from `after` until a page comes back empty.
async fn read_all(env: &ApiEnv, query: &str) -> (Vec<Value>, String) {
    let mut events = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..200 {
        let after = cursor
            .as_deref()
            .map(|c| format!("&after={c}"))
            .unwrap_or_default();
        let page = env.get(&format!("/events?limit=50{query}{after}")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let data = page.body["data"].as_array().unwrap().clone();
        cursor = Some(page.body["next_cursor"].as_str().unwrap().to_owned());
        if data.is_empty() {
            break;
        }
        events.extend(data);
    }
    (events, cursor.unwrap())
}

/// Reads until at least `n` events matching `query` are there (the sequencer publishes within
/// milliseconds; the bound only keeps a broken build from hanging).
async fn wait_for_events(env: &ApiEnv, query: &str, n: usize) -> (Vec<Value>, String) {
    for _ in 0..200 {
        let (events, cursor) = read_all(env, query).await;
        if events.len() >= n {
            return (events, cursor);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("fewer than {n} events for {query}");
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

/// `GET /events`: envelopes in commit order, filters, a long-poll that answers when an event is
/// published, and problem details for every bad parameter.
async fn the_events_api_pages_filters_and_long_polls(backend: Backend) {
    let env = feed_env(backend).await;
    let acme = env.target.scim_org("Acme");
    let globex = env.target.scim_org("Globex");
    env.scim_user(&acme, "bjensen").await;
    env.scim_user(&globex, "jsmith").await;
    let (events, cursor) = wait_for_events(&env, "&types=membership.invited", 2).await;
    let orgs: Vec<&str> = events
        .iter()
        .map(|e| e["organization"].as_str().unwrap())
        .collect();
    assert!(orgs.contains(&acme.org.as_str()) && orgs.contains(&globex.org.as_str()));
    let event = &events[0];
    for field in [
        "id",
        "type",
        "api_version",
        "timestamp",
        "region",
        "organization",
        "sequence",
        "subject",
        "actor",
        "request_id",
        "data",
    ] {
        assert!(!event[field].is_null(), "{field} in {event}");
    }
    assert_eq!(event["actor"]["type"], "api_token");
    assert!(
        !event.to_string().contains("sgt_"),
        "no credential in an event"
    );

    let (only_acme, _) = read_all(&env, &format!("&organization={}", acme.org)).await;
    assert!(!only_acme.is_empty());
    assert!(
        only_acme
            .iter()
            .all(|e| e["organization"] == acme.org.as_str())
    );
    assert!(
        types(&only_acme).contains(&"scim.enabled"),
        "{:?}",
        types(&only_acme)
    );

    // Long-poll: a reader at the head is answered when the next event is published.
    let waiting = {
        let http = env.http.clone();
        let url = env.server.url(&format!(
            "/api/v1/events?after={cursor}&types=membership.invited&wait=20"
        ));
        let token = env.token.clone();
        tokio::spawn(async move {
            let res = http.get(url).bearer_auth(token).send().await.unwrap();
            res.json::<Value>().await.unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    env.scim_user(&acme, "late").await;
    let woke = tokio::time::timeout(Duration::from_secs(15), waiting)
        .await
        .expect("the long-poll answered before its wait ran out")
        .unwrap();
    let data = woke["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{woke}");
    assert_eq!(data[0]["data"]["email"], "late@example.com");

    for (query, why) in [
        ("?limit=0", "limit"),
        ("?limit=1001", "limit"),
        ("?wait=31", "wait"),
        ("?types=user.exploded", "event type"),
        ("?after=not-a-cursor", "cursor"),
    ] {
        let reply = env.get(&format!("/events{query}")).await;
        reply.assert_problem(400, "invalid-request");
        assert!(
            reply.body["detail"].as_str().unwrap().contains(why),
            "{}",
            reply.body
        );
    }
    env.get("/events?organization=org_nope")
        .await
        .assert_problem(404, "not-found");
    let narrow = env.access_token(Some("organizations:read")).await;
    env.send(Method::GET, "/events", None, Some(&narrow), &[])
        .await
        .assert_problem(403, "insufficient-scope");
}

/// A listing's `feed_cursor` continues exactly where the listing stands: following the feed from
/// it yields the changes after the listing and none of those it showed.
async fn a_listing_and_the_feed_after_it_meet_exactly(backend: Backend) {
    let env = feed_env(backend).await;
    let acme = env.target.scim_org("Acme");
    env.scim_user(&acme, "before").await;
    let listing = env
        .get(&format!("/organizations/{}/members", acme.org))
        .await;
    assert_eq!(listing.status, StatusCode::OK, "{}", listing.body);
    let emails: Vec<&str> = listing.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["email"].as_str())
        .collect();
    assert!(emails.contains(&"before@example.com"), "{emails:?}");
    let feed_cursor = listing.body["feed_cursor"].as_str().unwrap().to_owned();
    env.scim_user(&acme, "after").await;
    let mut seen = Vec::new();
    for _ in 0..200 {
        let page = env
            .get(&format!(
                "/events?after={feed_cursor}&organization={}",
                acme.org
            ))
            .await;
        seen = page.body["data"].as_array().unwrap().clone();
        if seen
            .iter()
            .any(|e| e.to_string().contains("after@example.com"))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        seen.iter()
            .any(|e| e.to_string().contains("after@example.com")),
        "{seen:?}"
    );
    assert!(
        !seen
            .iter()
            .any(|e| e.to_string().contains("before@example.com")),
        "the listing already had it: {seen:?}"
    );
    let orgs = env.get("/organizations").await;
    assert!(orgs.body["feed_cursor"].as_str().is_some(), "{}", orgs.body);
}

/// Verifies a message as a receiver would, with our verifier.
fn verify(message: &Received, secret: &str) -> Value {
    let secret = webhooks::WebhookSecret::parse(secret).unwrap();
    let now = chrono::Utc::now().timestamp();
    webhooks::verify(
        &secret,
        message.header("webhook-id").unwrap(),
        message.header("webhook-timestamp").unwrap(),
        message.header("webhook-signature").unwrap(),
        &message.body,
        now,
        webhooks::signature::DEFAULT_TOLERANCE,
    )
    .unwrap_or_else(|e| panic!("signature of {message:?}: {e:?}"));
    message.json()
}

/// The PyPI `standardwebhooks` package's verdict on a message (see crates/webhooks/tests).
fn python_verifies(message: &Received, secret: &str) -> bool {
    let dir = std::env::var("SCIMGATE_TEST_WEBHOOK_VERIFIERS").unwrap_or_else(|_| {
        panic!("SCIMGATE_TEST_WEBHOOK_VERIFIERS is not set: run scripts/test (ensure_webhook_verifiers)")
    });
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../webhooks/tests/verifiers/verify.py");
    let mut child = Command::new(std::path::Path::new(&dir).join("venv/bin/python"))
        .arg(script)
        .arg(secret)
        .arg(message.header("webhook-id").unwrap())
        .arg(message.header("webhook-timestamp").unwrap())
        .arg(message.header("webhook-signature").unwrap())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&message.body)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    match out.status.code() {
        Some(0) => true,
        Some(1) => false,
        _ => panic!("verify.py failed: {}", String::from_utf8_lossy(&out.stderr)),
    }
}

/// Webhook endpoints end to end: registered with a secret shown once, a test message, SCIM
/// writes delivered signed (checked by two implementations), failures retried with the same id,
/// the delivery log, redelivery, rotation, and deletion.
async fn webhook_endpoints_deliver_signed_events_end_to_end(backend: Backend) {
    let env = feed_env(backend).await;
    let acme = env.target.scim_org("Acme");
    let receiver = WebhookReceiver::start().await;
    let created = env
        .post(
            "/webhook-endpoints",
            &json!({"url": receiver.url("/scim-events"), "description": "provisioning",
                "event_types": ["membership.invited", "directory.user.created"],
                "organizations": [acme.org]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(created.body["organizations"], json!([acme.org]));
    let read = env.get(&format!("/webhook-endpoints/{id}")).await;
    assert_eq!(read.status, StatusCode::OK);
    assert!(
        read.body.get("secret").is_none(),
        "the secret is shown once: {}",
        read.body
    );
    let listed = env.get("/webhook-endpoints").await;
    assert_eq!(listed.body["data"][0]["id"], id.as_str());

    // The test button.
    let test = env
        .post(&format!("/webhook-endpoints/{id}/test"), &json!({}))
        .await;
    assert_eq!(test.status, StatusCode::OK, "{}", test.body);
    assert_eq!(test.body["delivered"], true, "{}", test.body);
    let ping = &receiver.wait_for_accepted(1, Duration::from_secs(10)).await[0];
    assert_eq!(verify(ping, &secret)["type"], "webhook.test");

    // A provisioning write, with the first attempt refused.
    receiver.fail_next(1, 503);
    env.scim_user(&acme, "bjensen").await;
    let accepted = receiver.wait_for_accepted(3, Duration::from_secs(30)).await;
    let messages: Vec<&Received> = accepted.iter().skip(1).collect();
    let mut kinds: Vec<String> = messages
        .iter()
        .map(|m| verify(m, &secret)["type"].as_str().unwrap().to_owned())
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["directory.user.created", "membership.invited"]);
    for message in &messages {
        assert!(
            python_verifies(message, &secret),
            "standardwebhooks (PyPI) accepts {message:?}"
        );
        assert_eq!(message.path, "/scim-events");
        assert_eq!(message.header("content-type"), Some("application/json"));
        let body = message.json();
        assert_eq!(message.header("webhook-id"), body["id"].as_str());
    }
    // The refused attempt was retried with the same id.
    let received = receiver.received();
    let refused: Vec<&Received> = received.iter().filter(|r| r.answered == 503).collect();
    assert_eq!(refused.len(), 1);
    let retried_id = refused[0].header("webhook-id").unwrap();
    assert!(
        messages
            .iter()
            .any(|m| m.header("webhook-id") == Some(retried_id))
    );

    // The delivery log.
    let log = env
        .get(&format!("/webhook-endpoints/{id}/deliveries"))
        .await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.body);
    let entries = log.body["data"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{}", log.body);
    assert!(entries.iter().all(|d| d["status"] == "delivered"));
    let retried = entries
        .iter()
        .find(|d| d["event_id"] == retried_id)
        .unwrap();
    assert_eq!(retried["attempts"], 2);
    assert_eq!(retried["last_attempt"]["status"], 200);

    // Redeliver: the same id again.
    let again = env
        .post(&format!("/events/{retried_id}/redeliver"), &json!({}))
        .await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.body);
    assert_eq!(again.body["deliveries"], 1);
    let accepted = receiver.wait_for_accepted(4, Duration::from_secs(10)).await;
    assert_eq!(accepted[3].header("webhook-id"), Some(retried_id));
    env.post("/events/evt_nope/redeliver", &json!({}))
        .await
        .assert_problem(404, "not-found");

    // Rotation: both secrets sign for a day.
    let rotated = env
        .post(
            &format!("/webhook-endpoints/{id}/rotate-secret"),
            &json!({}),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let new_secret = rotated.body["secret"].as_str().unwrap().to_owned();
    assert!(rotated.body["previous_secret_expires_at"].is_string());
    env.post(&format!("/webhook-endpoints/{id}/test"), &json!({}))
        .await;
    let accepted = receiver.wait_for_accepted(5, Duration::from_secs(10)).await;
    verify(&accepted[4], &secret);
    verify(&accepted[4], &new_secret);
    assert!(python_verifies(&accepted[4], &new_secret));

    // Changing and disabling.
    let patched = env
        .call(
            Method::PATCH,
            &format!("/webhook-endpoints/{id}"),
            Some(&json!({"enabled": false, "ordered": true})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["enabled"], false);
    assert_eq!(patched.body["ordered"], true);
    env.scim_user(&acme, "unseen").await;
    wait_for_events(
        &env,
        &format!("&organization={}&types=membership.invited", acme.org),
        2,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        receiver.received().len(),
        6,
        "a disabled endpoint receives nothing"
    );

    let deleted = env
        .call(Method::DELETE, &format!("/webhook-endpoints/{id}"), None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    env.get(&format!("/webhook-endpoints/{id}"))
        .await
        .assert_problem(404, "not-found");
}

/// What an endpoint may be: a URL of http(s) to an allowed destination, known event types and
/// organizations; everything else is a 400 that changes nothing.
async fn webhook_endpoints_refuse_bad_input(backend: Backend) {
    // The operator allows nothing internal here.
    let env = ApiEnv::start(backend).await;
    for (body, why) in [
        (json!({"url": "ftp://example.com/x"}), "https://"),
        (json!({"url": "http://127.0.0.1:9/x"}), "loopback"),
        (json!({"url": "http://169.254.169.254/latest"}), "link"),
        (json!({"url": "http://10.1.2.3/x"}), "private"),
        (json!({"url": "http://[::1]/x"}), "loopback"),
        (json!({"url": "https://user:pw@example.com/"}), "user"),
        (
            json!({"url": "https://example.com/", "event_types": ["nope.never"]}),
            "event type",
        ),
        (
            json!({"url": "https://example.com/", "organizations": ["org_nope"]}),
            "org_nope",
        ),
        (
            json!({"url": "https://example.com/", "color": "red"}),
            "color",
        ),
        (
            json!({"url": format!("https://example.com/{}", "a".repeat(3000))}),
            "long",
        ),
        (json!({"url": "https://exa\u{0}mple.com/"}), ""),
    ] {
        let reply = env.post("/webhook-endpoints", &body).await;
        reply.assert_problem(400, "invalid-request");
        assert!(
            reply.body["detail"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains(why),
            "{body} → {}",
            reply.body
        );
    }
    let listed = env.get("/webhook-endpoints").await;
    assert_eq!(listed.body["data"], json!([]), "nothing was created");

    // A name is checked on the address it resolves to, when connecting: localhost is refused.
    let receiver = WebhookReceiver::start().await;
    let port = receiver.url("").rsplit(':').next().unwrap().to_owned();
    let by_name = env
        .post(
            "/webhook-endpoints",
            &json!({"url": format!("http://localhost:{port}/x")}),
        )
        .await;
    assert_eq!(by_name.status, StatusCode::CREATED, "{}", by_name.body);
    let id = by_name.body["id"].as_str().unwrap();
    let test = env
        .post(&format!("/webhook-endpoints/{id}/test"), &json!({}))
        .await;
    assert_eq!(test.body["delivered"], false, "{}", test.body);
    assert!(
        test.body["attempt"]["error"]
            .as_str()
            .unwrap()
            .contains("refused"),
        "{}",
        test.body
    );
    assert!(
        receiver.received().is_empty(),
        "nothing reached the loopback receiver"
    );
    let patched = env
        .call(
            Method::PATCH,
            &format!("/webhook-endpoints/{id}"),
            Some(&json!({"url": "http://192.168.1.1/"})),
        )
        .await;
    patched.assert_problem(400, "invalid-request");
    let narrow = env.access_token(Some("events:read")).await;
    env.send(Method::GET, "/webhook-endpoints", None, Some(&narrow), &[])
        .await
        .assert_problem(403, "insufficient-scope");
}

/// A redirect is a failed attempt, never followed.
async fn redirects_are_not_followed(backend: Backend) {
    let env = feed_env(backend).await;
    let receiver = WebhookReceiver::start().await;
    let created = env
        .post("/webhook-endpoints", &json!({"url": receiver.url("/")}))
        .await;
    let id = created.body["id"].as_str().unwrap();
    receiver.fail_next(1, 307);
    let test = env
        .post(&format!("/webhook-endpoints/{id}/test"), &json!({}))
        .await;
    assert_eq!(test.body["delivered"], false, "{}", test.body);
    assert_eq!(test.body["attempt"]["status"], 307);
    assert_eq!(receiver.received().len(), 1);
}

backend_tests!(
    the_events_api_pages_filters_and_long_polls,
    a_listing_and_the_feed_after_it_meet_exactly,
    webhook_endpoints_deliver_signed_events_end_to_end,
    webhook_endpoints_refuse_bad_input,
    redirects_are_not_followed,
);
