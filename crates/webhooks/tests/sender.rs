//! The sender against a real receiver on 127.0.0.1: what it sends, how each kind of answer is
//! classified, and that the destination policy holds at connect time (names, IP literals,
//! redirects).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use support::{Receiver, Reply};
use webhooks::signature::DEFAULT_TOLERANCE;
use webhooks::{
    Attempt, Delivery, DestinationPolicy, Outcome, Sender, SenderSettings, WebhookSecret,
    signature_header, verify,
};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Every test talks to 127.0.0.1, which the default policy refuses; this one allows it.
fn loopback_allowed() -> DestinationPolicy {
    DestinationPolicy::new(vec!["127.0.0.0/8".parse().unwrap()])
}

fn sender(policy: DestinationPolicy) -> Sender {
    sender_with(SenderSettings {
        policy,
        ..test_settings()
    })
}

fn test_settings() -> SenderSettings {
    SenderSettings {
        timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
        user_agent: "scimgate-webhooks-test".to_owned(),
        ..SenderSettings::default()
    }
}

fn sender_with(settings: SenderSettings) -> Sender {
    Sender::new(settings).unwrap()
}

fn delivery(url: String, secret: &WebhookSecret, body: &str) -> Delivery {
    let msg_id = "msg_2bVq8hT3cQ0mR7".to_owned();
    let timestamp = now();
    Delivery {
        signature_header: signature_header(&[secret], &msg_id, timestamp, body.as_bytes()),
        url,
        msg_id,
        timestamp,
        body: Bytes::from(body.to_owned()),
        extra_headers: Vec::new(),
    }
}

async fn send_to(reply: Reply) -> (Attempt, Receiver) {
    let mut receiver = Receiver::start(reply).await;
    let secret = WebhookSecret::generate();
    let attempt = sender(loopback_allowed())
        .send(&delivery(receiver.url("/hook"), &secret, "{}"))
        .await;
    let _ = receiver.pending();
    (attempt, receiver)
}

#[tokio::test]
async fn a_2xx_is_delivered_with_standard_webhooks_headers_that_verify() {
    let mut receiver = Receiver::start(Reply::status(204, "")).await;
    let secret = WebhookSecret::generate();
    let body = r#"{"type":"user.created","data":{"displayName":"Zoë Ångström 名前 🎉"}}"#;
    let mut message = delivery(receiver.url("/hooks/scim?tenant=acme"), &secret, body);
    message.extra_headers.push((
        "authorization".to_owned(),
        "Bearer endpoint-token".to_owned(),
    ));

    let attempt = sender(loopback_allowed()).send(&message).await;

    assert_eq!(attempt.outcome, Outcome::Delivered, "{attempt:?}");
    assert_eq!(attempt.status, Some(204));
    assert_eq!(attempt.error, None);
    assert!(attempt.duration < Duration::from_secs(10));
    let request = receiver.next_request().await;
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/hooks/scim");
    assert_eq!(request.body, body.as_bytes());
    assert_eq!(request.header("content-type"), "application/json");
    assert_eq!(request.header("user-agent"), "scimgate-webhooks-test");
    assert_eq!(request.header("webhook-id"), message.msg_id);
    assert_eq!(
        request.header("webhook-timestamp"),
        message.timestamp.to_string()
    );
    assert_eq!(request.header("authorization"), "Bearer endpoint-token");

    // What arrived verifies with our verifier and with the reference crate.
    verify(
        &secret,
        request.header("webhook-id"),
        request.header("webhook-timestamp"),
        request.header("webhook-signature"),
        &request.body,
        now(),
        DEFAULT_TOLERANCE,
    )
    .unwrap();
    let reference = standardwebhooks::Webhook::new(&secret.expose()).unwrap();
    reference.verify(&request.body, &request.headers).unwrap();
    assert_eq!(receiver.pending(), 0, "exactly one request per attempt");
}

#[tokio::test]
async fn a_500_fails_and_keeps_the_response_excerpt() {
    let (attempt, _) = send_to(Reply::status(500, "database is down")).await;
    assert_eq!(attempt.outcome, Outcome::Failed);
    assert_eq!(attempt.status, Some(500));
    assert_eq!(attempt.response_excerpt, "database is down");
    assert_eq!(attempt.retry_after, None);
    assert_eq!(attempt.error, None);
}

#[tokio::test]
async fn a_429_fails_with_its_retry_after() {
    let (attempt, _) = send_to(Reply::with_header(429, "retry-after", "120")).await;
    assert_eq!(attempt.outcome, Outcome::Failed);
    assert_eq!(attempt.status, Some(429));
    assert_eq!(attempt.retry_after, Some(Duration::from_secs(120)));

    let in_an_hour = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3600));
    let (attempt, _) = send_to(Reply::with_header(503, "retry-after", &in_an_hour)).await;
    assert_eq!(attempt.status, Some(503));
    let retry_after = attempt.retry_after.unwrap();
    assert!(
        (Duration::from_secs(3590)..=Duration::from_secs(3600)).contains(&retry_after),
        "{retry_after:?}"
    );
}

#[tokio::test]
async fn a_410_is_gone() {
    let (attempt, _) = send_to(Reply::status(410, "unsubscribed")).await;
    assert_eq!(attempt.outcome, Outcome::Gone);
    assert_eq!(attempt.status, Some(410));
}

#[tokio::test]
async fn other_statuses_fail() {
    for status in [400, 401, 404, 502] {
        let (attempt, _) = send_to(Reply::status(status, "")).await;
        assert_eq!(attempt.outcome, Outcome::Failed, "{status}");
        assert_eq!(attempt.status, Some(status));
    }
}

#[tokio::test]
async fn a_redirect_fails_and_is_not_followed() {
    let mut target = Receiver::start(Reply::status(200, "")).await;
    let mut redirecting = Receiver::start(Reply::with_header(
        302,
        "location",
        &target.url("/elsewhere"),
    ))
    .await;
    let secret = WebhookSecret::generate();

    let attempt = sender(loopback_allowed())
        .send(&delivery(redirecting.url("/hook"), &secret, "{}"))
        .await;

    assert_eq!(attempt.outcome, Outcome::Failed);
    assert_eq!(attempt.status, Some(302));
    let error = attempt.error.unwrap();
    assert!(error.contains("not followed"), "{error}");
    assert!(error.contains("/elsewhere"), "{error}");
    assert_eq!(redirecting.pending(), 1);
    assert_eq!(
        target.pending(),
        0,
        "the redirect target must receive nothing"
    );
}

#[tokio::test]
async fn a_receiver_slower_than_the_timeout_fails() {
    let mut receiver = Receiver::start(Reply::After(Duration::from_secs(60))).await;
    let sender = sender_with(SenderSettings {
        timeout: Duration::from_millis(500),
        policy: loopback_allowed(),
        ..test_settings()
    });
    let secret = WebhookSecret::generate();

    let attempt = sender
        .send(&delivery(receiver.url("/"), &secret, "{}"))
        .await;

    assert_eq!(attempt.outcome, Outcome::Failed);
    assert_eq!(attempt.status, None);
    let error = attempt.error.unwrap();
    assert!(error.starts_with("timed out after 500ms"), "{error}");
    assert!(attempt.duration >= Duration::from_millis(500));
    assert!(
        attempt.duration < Duration::from_secs(10),
        "{:?}",
        attempt.duration
    );
    assert_eq!(receiver.pending(), 1);
}

#[tokio::test]
async fn a_reset_connection_fails() {
    let (attempt, _) = send_to(Reply::Reset).await;
    assert_eq!(attempt.outcome, Outcome::Failed);
    assert_eq!(attempt.status, None);
    let error = attempt.error.unwrap();
    assert!(!error.contains("timed out"), "{error}");
    assert!(
        error.contains("reset") || error.contains("closed"),
        "unexpected error: {error}"
    );
}

#[tokio::test]
async fn a_closed_port_fails() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let secret = WebhookSecret::generate();
    let attempt = sender(loopback_allowed())
        .send(&delivery(
            format!("http://127.0.0.1:{port}/"),
            &secret,
            "{}",
        ))
        .await;
    assert_eq!(attempt.outcome, Outcome::Failed);
    assert_eq!(attempt.status, None);
    let error = attempt.error.unwrap();
    assert!(error.contains("refused"), "{error}");
}

#[tokio::test]
async fn loopback_is_refused_by_default_and_allowed_when_configured() {
    let mut receiver = Receiver::start(Reply::status(200, "")).await;
    let secret = WebhookSecret::generate();
    let message = delivery(receiver.url("/"), &secret, "{}");

    let refused = sender(DestinationPolicy::default()).send(&message).await;
    assert_eq!(refused.outcome, Outcome::Failed);
    assert_eq!(refused.status, None);
    assert_eq!(
        refused.error.as_deref(),
        Some("destination refused: 127.0.0.1 is a loopback address")
    );
    assert_eq!(receiver.pending(), 0);

    let allowed = sender(loopback_allowed()).send(&message).await;
    assert_eq!(allowed.outcome, Outcome::Delivered, "{allowed:?}");
    assert_eq!(receiver.pending(), 1);
}

#[tokio::test]
async fn ipv6_literals_are_checked_as_the_address_they_reach() {
    let mut receiver = Receiver::start(Reply::status(200, "")).await;
    let secret = WebhookSecret::generate();
    for host in ["[::1]", "[::ffff:127.0.0.1]", "[64:ff9b::7f00:1]"] {
        let attempt = sender(DestinationPolicy::default())
            .send(&delivery(receiver.url_via(host, "/"), &secret, "{}"))
            .await;
        let error = attempt.error.unwrap();
        assert!(
            error.starts_with("destination refused: "),
            "{host}: {error}"
        );
        assert!(error.ends_with("is a loopback address"), "{host}: {error}");
    }
    assert_eq!(receiver.pending(), 0);
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_at_connect_time() {
    let mut receiver = Receiver::start(Reply::status(200, "")).await;
    let secret = WebhookSecret::generate();
    let message = delivery(receiver.url_via("localhost", "/"), &secret, "{}");

    let attempt = sender(DestinationPolicy::default()).send(&message).await;

    assert_eq!(attempt.outcome, Outcome::Failed);
    assert_eq!(attempt.status, None);
    let error = attempt.error.unwrap();
    assert!(
        error.starts_with("destination refused: localhost ("),
        "{error}"
    );
    assert!(error.ends_with("is a loopback address"), "{error}");
    assert_eq!(receiver.pending(), 0);

    // Allowing 127.0.0.0/8 (and not ::1) makes the resolver keep only 127.0.0.1, where the
    // receiver listens.
    let attempt = sender(loopback_allowed()).send(&message).await;
    assert_eq!(attempt.outcome, Outcome::Delivered, "{attempt:?}");
    assert_eq!(receiver.pending(), 1);
}

#[tokio::test]
async fn the_excerpt_is_bounded_and_an_endless_body_is_not_read_to_the_end() {
    // 1,000,000 bytes of two-byte characters, then a body that never ends: reading it all would
    // hit the timeout, so a Delivered attempt without error proves only the excerpt was read.
    let reply = Reply::Stalling {
        chunk: "éééééééééé",
        chunks: 50_000,
    };
    let mut receiver = Receiver::start(reply).await;
    let sender = sender_with(SenderSettings {
        timeout: Duration::from_secs(5),
        max_response_excerpt: 1001,
        policy: loopback_allowed(),
        ..test_settings()
    });
    let secret = WebhookSecret::generate();

    let attempt = sender
        .send(&delivery(receiver.url("/"), &secret, "{}"))
        .await;

    assert_eq!(attempt.outcome, Outcome::Delivered);
    assert_eq!(attempt.error, None);
    assert!(
        attempt.duration < Duration::from_secs(5),
        "{:?}",
        attempt.duration
    );
    // 1001 bytes cut the 501st character in half: it is dropped, not replaced by U+FFFD.
    assert_eq!(attempt.response_excerpt, "é".repeat(500));
    assert_eq!(receiver.pending(), 1);
}

#[tokio::test]
async fn invalid_deliveries_fail_without_a_request() {
    let mut receiver = Receiver::start(Reply::status(200, "")).await;
    let secret = WebhookSecret::generate();
    let sender = sender(loopback_allowed());

    let mut message = delivery("ftp://127.0.0.1/".to_owned(), &secret, "{}");
    let attempt = sender.send(&message).await;
    assert_eq!(
        attempt.error.as_deref(),
        Some("the URL must start with http:// or https://, not ftp:")
    );

    message.url = receiver.url("/");
    message.extra_headers = vec![("Webhook-Signature".to_owned(), "v1,forged".to_owned())];
    let attempt = sender.send(&message).await;
    assert_eq!(attempt.outcome, Outcome::Failed);
    assert_eq!(
        attempt.error.as_deref(),
        Some("the webhook-signature header is set by the gateway and cannot be overridden")
    );

    message.extra_headers = vec![("x-note".to_owned(), "line\nbreak".to_owned())];
    let attempt = sender.send(&message).await;
    assert_eq!(
        attempt.error.as_deref(),
        Some("the x-note header value is not valid")
    );
    assert_eq!(receiver.pending(), 0);
}
