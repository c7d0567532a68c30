//! The mailer against a real SMTP server (testkit's sink): what arrives, and how each kind of
//! failure is classified for the retry policy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use chrono::{TimeZone, Utc};
use mailer::{
    Branding, EmailSettings, Invitation, Mailer, OutgoingEmail, SendError, render_invitation,
};
use secrecy::SecretString;
use testkit::smtp::{Fault, SmtpSink, Stage, unused_local_port};

const WAIT: Duration = Duration::from_secs(5);
const ACCEPT_URL: &str = "https://scimgate.example/invitations/accept?token=t0k&org=acme";

fn settings(url: &str) -> EmailSettings {
    EmailSettings {
        smtp_url: url.to_owned(),
        from: "scimgate <noreply@scimgate.example>".to_owned(),
        timeout: WAIT,
        ..EmailSettings::default()
    }
}

fn build(settings: &EmailSettings) -> Mailer {
    match Mailer::from_settings(settings) {
        Ok(Some(m)) => m,
        other => panic!("{other:?}"),
    }
}

fn invitation() -> OutgoingEmail {
    render_invitation(&Invitation {
        product: Branding {
            product_name: "scimgate".to_owned(),
            logo_url: None,
            primary_color: "#2456d6".to_owned(),
            support_email: Some("help@scimgate.example".to_owned()),
            app_url: "https://scimgate.example".to_owned(),
            terms_url: None,
        },
        organization_name: "Acme Café".to_owned(),
        invited_by: "Okta, on behalf of Acme's IT".to_owned(),
        recipient_email: "ada@acme.example".to_owned(),
        accept_url: ACCEPT_URL.to_owned(),
        expires_at: Utc.with_ymd_and_hms(2026, 12, 14, 9, 30, 0).unwrap(),
    })
    .unwrap()
}

async fn send_err(mailer: &Mailer) -> SendError {
    match mailer.send(&invitation()).await {
        Err(e) => e,
        Ok(sent) => panic!("sent: {sent:?}"),
    }
}

#[tokio::test]
async fn an_invitation_arrives_with_envelope_parts_and_link() {
    let sink = SmtpSink::start().await;
    let mailer = build(&settings(&sink.url()));
    let mut email = invitation();
    email.message_id = Some("invitation.0190d1e2".to_owned());
    let sent = mailer.send(&email).await.unwrap();
    assert_eq!(sent.code, 250);
    assert_eq!(sent.message_id, "<invitation.0190d1e2@scimgate.example>");
    assert!(sent.reply.contains("queued as 1"), "{}", sent.reply);

    let received = sink.wait_for(1, WAIT).await;
    let m = &received[0];
    assert_eq!(m.mail_from, "noreply@scimgate.example");
    assert_eq!(m.recipients, ["ada@acme.example"]);
    assert_eq!(m.login, None);
    let parsed = m.parsed();
    assert_eq!(parsed.content_type, "multipart/alternative");
    assert_eq!(
        parsed.subject.as_deref(),
        Some("You're invited to join Acme Café on scimgate")
    );
    assert_eq!(parsed.from, ["noreply@scimgate.example"]);
    assert_eq!(parsed.to, ["ada@acme.example"]);
    assert_eq!(parsed.reply_to, ["help@scimgate.example"]);
    assert_eq!(
        parsed.message_id.as_deref(),
        Some("invitation.0190d1e2@scimgate.example")
    );
    assert_eq!(parsed.header("Auto-Submitted"), Some("auto-generated"));

    let text = parsed.text.as_deref().unwrap();
    assert!(
        text.contains("Invited by Okta, on behalf of Acme's IT."),
        "{text}"
    );
    assert!(
        text.contains("Monday, 14 December 2026 at 09:30 UTC"),
        "{text}"
    );
    assert_eq!(
        parsed.text_links().first().map(String::as_str),
        Some(ACCEPT_URL)
    );

    let html = parsed.html.as_deref().unwrap();
    assert!(html.contains(">Accept invitation</a>"), "{html}");
    let links = parsed.html_links();
    assert_eq!(
        links.iter().filter(|l| *l == ACCEPT_URL).count(),
        2,
        "{links:?}"
    );
    assert!(
        links.contains(&"mailto:help@scimgate.example".to_owned()),
        "{links:?}"
    );
}

#[tokio::test]
async fn lines_starting_with_a_dot_survive_the_trip() {
    let sink = SmtpSink::start().await;
    let mailer = build(&settings(&sink.url()));
    let email = OutgoingEmail {
        to: "ada@acme.example".to_owned(),
        subject: "dots".to_owned(),
        text_body: "first\n.\n.hidden\nlast".to_owned(),
        html_body: "<p>dots</p>".to_owned(),
        reply_to: None,
        message_id: None,
    };
    let sent = mailer.send(&email).await.unwrap();
    assert!(
        sent.message_id.ends_with("@scimgate.example>"),
        "{}",
        sent.message_id
    );
    let parsed = sink.wait_for(1, WAIT).await[0].parsed();
    let text = parsed.text.unwrap().replace("\r\n", "\n");
    assert_eq!(text.trim_end(), "first\n.\n.hidden\nlast");
}

#[tokio::test]
async fn replies_421_and_451_are_transient_and_a_retry_goes_through() {
    let sink = SmtpSink::start().await;
    let mailer = build(&settings(&sink.url()));

    sink.fail_next(Stage::Rcpt, 1, 421, "4.3.2 service shutting down (sink)");
    let e = send_err(&mailer).await;
    assert!(e.is_transient(), "{e:?}");
    assert_eq!(e.code(), Some(421));
    assert!(e.message().contains("service shutting down (sink)"), "{e}");

    sink.fail_next(Stage::Data, 1, 451, "4.3.0 queue full, try later");
    let e = send_err(&mailer).await;
    assert_eq!(
        e,
        SendError::Transient {
            code: Some(451),
            message: "4.3.0 queue full, try later".to_owned()
        }
    );
    assert_eq!(sink.received_count(), 0);

    mailer.send(&invitation()).await.unwrap();
    assert_eq!(sink.wait_for(1, WAIT).await.len(), 1);
}

#[tokio::test]
async fn a_421_greeting_is_transient() {
    let sink = SmtpSink::start().await;
    sink.fail_next(Stage::Greeting, 1, 421, "4.3.2 not now");
    let e = send_err(&build(&settings(&sink.url()))).await;
    assert_eq!(e.code(), Some(421));
    assert!(e.is_transient() && e.message().contains("not now"), "{e:?}");
}

#[tokio::test]
async fn replies_554_and_550_are_permanent_with_the_server_text() {
    let sink = SmtpSink::start().await;
    let mailer = build(&settings(&sink.url()));

    sink.fail_next(Stage::Data, 1, 554, "5.7.1 message rejected as spam");
    let e = send_err(&mailer).await;
    assert_eq!(
        e,
        SendError::Permanent {
            code: Some(554),
            message: "5.7.1 message rejected as spam".to_owned()
        }
    );
    assert_eq!(
        e.to_string(),
        "permanent SMTP failure (554): 5.7.1 message rejected as spam"
    );

    sink.fail_next(
        Stage::Rcpt,
        1,
        550,
        "5.1.1 no such user\n5.1.1 check the address",
    );
    let e = send_err(&mailer).await;
    assert!(!e.is_transient());
    assert_eq!(e.code(), Some(550));
    assert!(
        e.message().contains("no such user") && e.message().contains("check the address"),
        "{e}"
    );
    assert_eq!(sink.received_count(), 0);
}

#[tokio::test]
async fn long_server_text_is_bounded() {
    let sink = SmtpSink::start().await;
    // lettre itself refuses reply lines over 1000 bytes; many long lines add up.
    let lines = vec!["x".repeat(200); 20].join("\n");
    sink.fail_next(Stage::Data, 1, 554, &lines);
    let e = send_err(&build(&settings(&sink.url()))).await;
    assert_eq!(
        e.message().chars().count(),
        mailer::MAX_MESSAGE_LEN + 1,
        "{e:?}"
    );
}

#[tokio::test]
async fn a_closed_port_is_transient() {
    let url = format!("smtp://127.0.0.1:{}", unused_local_port());
    let e = send_err(&build(&settings(&url))).await;
    assert!(e.is_transient(), "{e:?}");
    assert_eq!(e.code(), None);
    assert!(e.message().to_lowercase().contains("refused"), "{e}");
}

#[tokio::test]
async fn a_dropped_connection_and_a_stalled_server_are_transient() {
    let sink = SmtpSink::start().await;
    let mut s = settings(&sink.url());
    s.timeout = Duration::from_millis(300);
    let mailer = build(&s);

    // Closed right after the message: the caller cannot know whether it was delivered, which
    // is why a retry should reuse the Message-ID.
    sink.fault_next(Stage::Data, 1, Fault::Disconnect);
    let e = send_err(&mailer).await;
    assert!(e.is_transient() && e.code().is_none(), "{e:?}");

    sink.fault_next(Stage::Greeting, 1, Fault::Stall);
    let e = send_err(&mailer).await;
    assert!(e.is_transient() && e.code().is_none(), "{e:?}");
    assert!(e.message().to_lowercase().contains("timed out"), "{e}");
}

#[tokio::test]
async fn logs_in_when_a_username_is_set_and_never_shows_the_password() {
    let sink = SmtpSink::start().await;
    let mut s = settings(&sink.url());
    s.username = Some("mailer".to_owned());
    s.password = Some(SecretString::from("hunter2-secret".to_owned()));
    let mailer = build(&s);
    assert!(!format!("{mailer:?}").contains("hunter2"));

    mailer.send(&invitation()).await.unwrap();
    let m = &sink.wait_for(1, WAIT).await[0];
    let login = m.login.as_ref().unwrap();
    assert_eq!(
        (login.username.as_str(), login.password.as_str()),
        ("mailer", "hunter2-secret")
    );

    // A server that echoes what it got must not put the password into our error.
    let sink = SmtpSink::start().await;
    s.smtp_url = sink.url();
    sink.fail_next(
        Stage::Auth,
        1,
        535,
        "5.7.8 bad credentials for mailer:hunter2-secret",
    );
    let e = send_err(&build(&s)).await;
    assert_eq!(e.code(), Some(535));
    assert!(!e.is_transient());
    assert!(!e.to_string().contains("hunter2"), "{e}");
    assert!(e.message().contains("bad credentials"), "{e}");
}

#[tokio::test]
async fn an_invalid_recipient_is_permanent_and_nothing_is_sent() {
    let sink = SmtpSink::start().await;
    let mut email = invitation();
    email.to = "not an address".to_owned();
    let e = match build(&settings(&sink.url())).send(&email).await {
        Err(e) => e,
        Ok(sent) => panic!("{sent:?}"),
    };
    assert!(!e.is_transient() && e.code().is_none(), "{e:?}");
    assert!(e.message().contains("recipient"), "{e}");
    assert_eq!(sink.connection_count(), 0);
}

/// lettre hands a used connection back to its pool from a task of its own: let it run, so the
/// next send finds the connection parked there (the test runtime has a single thread).
async fn let_the_pool_settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn after_a_timeout_mid_message_the_next_send_uses_a_fresh_connection() {
    let sink = SmtpSink::start().await;
    let mut s = settings(&sink.url());
    s.timeout = Duration::from_millis(300);
    let mailer = build(&s);
    mailer.send(&invitation()).await.unwrap();
    let_the_pool_settle().await;

    // The server goes quiet after the message body, on the pooled connection.
    sink.fault_next(Stage::Data, 1, Fault::Stall);
    let e = send_err(&mailer).await;
    assert!(e.message().contains("timed out"), "{e}");
    assert_eq!(
        sink.connection_count(),
        1,
        "the pooled connection was reused"
    );
    let_the_pool_settle().await;

    // That connection is mid-conversation: reused, it would time out again (or read stale
    // replies from a slow server).
    mailer.send(&invitation()).await.unwrap();
    assert_eq!(sink.wait_for(2, WAIT).await.len(), 2);
    assert_eq!(sink.connection_count(), 2);
}
