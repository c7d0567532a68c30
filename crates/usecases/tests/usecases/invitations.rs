//! Invitations through the use cases on both databases, with a real SMTP server (the test's sink):
//! a queued invitation survives a restart, a link expires and a new one can be sent to the
//! address on record, two replicas never send one attempt twice, and the per-organization rate
//! holds a bulk import back.

use std::time::Duration;

use chrono::Utc;
use testkit::Backend;
use testkit::backend_tests;
use testkit::smtp::SmtpSink;
use usecases::invitations::{self, InvitationSettings, LinkState, Postman, Proof};
use usecases::{Core, Settings};

use crate::common::{self, World, idp, scim_user};

fn settings(ttl: chrono::Duration, per_org: u64) -> Settings {
    let mut settings = Settings::for_region("local");
    settings.invitations = InvitationSettings {
        email_enabled: true,
        link_ttl: ttl,
        retry_base: Duration::ZERO,
        per_organization_per_minute: per_org,
        ..InvitationSettings::default()
    };
    settings
}

fn postman(sink: &SmtpSink) -> Postman {
    let email = mailer::EmailSettings {
        smtp_url: sink.url(),
        from: "noreply@acme.test".into(),
        ..mailer::EmailSettings::default()
    };
    Postman {
        mailer: mailer::Mailer::from_settings(&email).unwrap().unwrap(),
        accept_base_url: "http://pages.test".into(),
        branding: mailer::Branding {
            product_name: "Acme Cloud".into(),
            logo_url: None,
            primary_color: "#123456".into(),
            support_email: Some("help@acme.test".into()),
            app_url: "https://acme.test".into(),
            terms_url: None,
        },
    }
}

fn token_of(sink: &SmtpSink, index: usize) -> String {
    let email = sink.messages()[index].parsed();
    let link = email
        .text_links()
        .into_iter()
        .find(|l| l.starts_with("http://pages.test/invitations/"))
        .unwrap();
    link.rsplit('/').next().unwrap().to_owned()
}

/// The same database and key-value store, in a new process's use cases: a restart.
async fn restarted(world: &World, settings: Settings) -> Core {
    Core::new(world.core.db().clone(), world.core.kv().clone(), settings)
}

/// Queued while no sender runs (or the process dies before sending): the next process sends it;
/// nothing is sent twice.
async fn a_queued_invitation_survives_a_restart(backend: Backend) {
    let sink = SmtpSink::start().await;
    let world = common::world_with(backend, settings(chrono::Duration::days(7), 0)).await;
    scim_user(&world, &idp(), "ada", "ada@example.com").await;
    assert_eq!(sink.received_count(), 0);

    let core = restarted(&world, settings(chrono::Duration::days(7), 0)).await;
    let pass = invitations::send_due(&core, &postman(&sink), "replica-b", 10, Utc::now())
        .await
        .unwrap();
    assert_eq!(pass.sent, 1, "{pass:?}");
    let messages = sink.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(messages[0].recipients, ["ada@example.com"]);
    let email = messages[0].parsed();
    assert_eq!(email.reply_to, ["help@acme.test"]);
    assert!(email.subject.unwrap().contains("Acme Cloud"));
    // A second pass (this or another replica) finds nothing to send.
    let again = invitations::send_due(&world.core, &postman(&sink), "replica-a", 10, Utc::now())
        .await
        .unwrap();
    assert_eq!(again.attempted(), 0);
    assert_eq!(sink.received_count(), 1);
}

/// Two replicas sending at once: each invitation is sent exactly once.
async fn two_senders_never_send_one_attempt_twice(backend: Backend) {
    let sink = SmtpSink::start().await;
    let world = common::world_with(backend, settings(chrono::Duration::days(7), 0)).await;
    for n in 0..12 {
        scim_user(
            &world,
            &idp(),
            &format!("u{n}"),
            &format!("u{n}@example.com"),
        )
        .await;
    }
    let other = restarted(&world, settings(chrono::Duration::days(7), 0)).await;
    let (first, second) = (postman(&sink), postman(&sink));
    let (a, b) = tokio::join!(
        invitations::send_due(&world.core, &first, "replica-a", 50, Utc::now()),
        invitations::send_due(&other, &second, "replica-b", 50, Utc::now()),
    );
    assert_eq!(a.unwrap().sent + b.unwrap().sent, 12);
    let messages = sink.wait_for(12, Duration::from_secs(5)).await;
    let mut to: Vec<String> = messages.iter().map(|m| m.recipients[0].clone()).collect();
    to.sort();
    to.dedup();
    assert_eq!(to.len(), 12, "twelve different people, once each");
}

/// An expired link opens nothing but the offer of a new one; the new one goes to the address on
/// record, and the old link stays dead.
async fn an_expired_link_can_be_renewed(backend: Backend) {
    let sink = SmtpSink::start().await;
    let world = common::world_with(backend, settings(chrono::Duration::seconds(1), 0)).await;
    scim_user(&world, &idp(), "late", "late@example.com").await;
    let postman = postman(&sink);
    invitations::send_due(&world.core, &postman, "r", 10, Utc::now())
        .await
        .unwrap();
    let old = token_of(&sink, 0);
    assert!(matches!(
        invitations::open(&world.core, &old).await.unwrap(),
        LinkState::Valid(_)
    ));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(matches!(
        invitations::open(&world.core, &old).await.unwrap(),
        LinkState::Expired(_)
    ));
    let refused = invitations::accept(
        &world.core,
        &old,
        Proof::NewPassword("a long enough password".into()),
        None,
        None,
    )
    .await;
    assert!(refused.is_err(), "an expired link accepts nothing");

    let renewed = invitations::renew(&world.core, &old, None).await.unwrap();
    assert_eq!(renewed.email, "late@example.com");
    invitations::send_due(&world.core, &postman, "r", 10, Utc::now())
        .await
        .unwrap();
    let new = token_of(&sink, 1);
    assert_eq!(sink.messages()[1].recipients, ["late@example.com"]);
    assert!(matches!(
        invitations::open(&world.core, &old).await.unwrap(),
        LinkState::Invalid
    ));
    let accepted = invitations::accept(
        &world.core,
        &new,
        Proof::NewPassword("a long enough password".into()),
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(accepted.account.email, "late@example.com");
    let events = common::all_events(world.core.db(), &world.scope).await;
    let kinds = common::kinds(&events);
    assert_eq!(
        kinds.iter().filter(|k| **k == "invitation.sent").count(),
        2,
        "{kinds:?}"
    );
    assert!(kinds.contains(&"membership.activated"));
}

/// A bulk import meets the per-organization rate: the rest wait (deferred, not dropped).
async fn the_organization_rate_holds_a_bulk_import_back(backend: Backend) {
    let sink = SmtpSink::start().await;
    let world = common::world_with(backend, settings(chrono::Duration::days(7), 3)).await;
    for n in 0..8 {
        scim_user(
            &world,
            &idp(),
            &format!("b{n}"),
            &format!("b{n}@example.com"),
        )
        .await;
    }
    let pass = invitations::send_due(&world.core, &postman(&sink), "r", 50, Utc::now())
        .await
        .unwrap();
    assert_eq!(pass.sent, 3, "{pass:?}");
    let again = invitations::send_due(&world.core, &postman(&sink), "r", 50, Utc::now())
        .await
        .unwrap();
    assert_eq!(again.attempted(), 0, "the others wait for the next minute");
    let waiting = invitations::list(
        &world.core,
        &world.scope,
        Some(store::repo::invitations::InvitationStatus::Queued),
        None,
        50,
    )
    .await
    .unwrap();
    assert_eq!(waiting.len(), 5);
    assert!(
        waiting
            .iter()
            .all(|(i, _)| i.next_attempt_at > Utc::now() + chrono::Duration::seconds(1)),
        "deferred to the next window"
    );
}

backend_tests!(
    a_queued_invitation_survives_a_restart,
    two_senders_never_send_one_attempt_twice,
    an_expired_link_can_be_renewed,
    the_organization_rate_holds_a_bulk_import_back,
);
