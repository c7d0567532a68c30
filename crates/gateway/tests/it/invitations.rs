//! Invitations against the real app on both databases and a real SMTP server (the test's sink on
//! 127.0.0.1): the email an IdP's provisioning sends, its link, acceptance by a new person and by
//! an existing account, retries on 4xx, `invitation.failed` on 5xx, expired and replaced links,
//! suspended memberships, organizations that send their own, and resends with their limit.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::smtp::{ReceivedMessage, SmtpSink, Stage};
use testkit::{Backend, backend_tests};

use crate::common::api::ApiEnv;
use crate::common::scim::{self, Reply};
use crate::common::{ScimOrg, http};

const WAIT: Duration = Duration::from_secs(20);

/// A deployment whose invitations go to `sink`, retrying after a second.
async fn env_with(backend: Backend, sink: &SmtpSink, extra: &[(&str, &str)]) -> ApiEnv {
    let url = format!("\"{}\"", sink.url());
    let mut settings = vec![
        ("SCIMGATE_EMAIL__SMTP_URL", url.as_str()),
        ("SCIMGATE_EMAIL__FROM", "\"Acme Cloud <noreply@acme.test>\""),
        ("SCIMGATE_EMAIL__RETRY_BASE_SECS", "1"),
        ("SCIMGATE_EMAIL__POLL_MS", "100"),
    ];
    settings.extend_from_slice(extra);
    ApiEnv::start_configured(backend, crate::common::api::ALL_SCOPES, &settings).await
}

/// Provisions `user_name` into `org` as an IdP does (POST /Users with its bearer token).
async fn provision(env: &ApiEnv, org: &ScimOrg, user_name: &str) -> Value {
    env.scim_user(org, user_name).await
}

/// The acceptance link of an email (the same in both parts).
fn link_of(message: &ReceivedMessage) -> String {
    let email = message.parsed();
    let html = email.html_links();
    let text = email.text_links();
    let link = text
        .iter()
        .find(|l| l.contains("/invitations/"))
        .unwrap_or_else(|| panic!("no invitation link in {text:?}"))
        .clone();
    assert!(html.contains(&link), "the HTML part links {link}: {html:?}");
    link
}

/// The events of `org` of `kind`, from the events API.
async fn events_of(env: &ApiEnv, org: &str, kind: &str) -> Vec<Value> {
    let mut found = Vec::new();
    for _ in 0..100 {
        let reply = env
            .get(&format!(
                "/events?organization={org}&types={kind}&limit=200"
            ))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        found = reply.body["data"].as_array().cloned().unwrap_or_default();
        if !found.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    found
}

/// The organization's invitations, newest first.
async fn invitations(env: &ApiEnv, org: &str) -> Vec<Value> {
    let reply = env.get(&format!("/organizations/{org}/invitations")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["data"].as_array().cloned().unwrap()
}

/// Waits until the newest invitation of `org` has `status`.
async fn wait_status(env: &ApiEnv, org: &str, status: &str) -> Value {
    for _ in 0..200 {
        let list = invitations(env, org).await;
        if let Some(first) = list.first()
            && first["status"] == status
        {
            return first.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "no invitation became {status}: {:?}",
        invitations(env, org).await
    );
}

/// A browser-like client with its own cookies.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn page(client: &reqwest::Client, url: &str) -> (StatusCode, String) {
    let res = client.get(url).send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

fn csrf_of(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

async fn post_form(
    client: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    let res = client.post(url).form(form).send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

async fn member(env: &ApiEnv, org: &str, email: &str) -> Value {
    let reply = env
        .get(&format!("/organizations/{org}/members/{email}"))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

/// An IdP provisions a new person: one email, both parts, the envelope, the organization and the
/// IdP named, a link that sets a password and activates the membership, `invitation.sent` and
/// `membership.activated` recorded; the link then works no more.
async fn a_provisioned_person_is_invited_and_accepts(backend: Backend) {
    let sink = SmtpSink::start().await;
    let env = env_with(backend, &sink, &[]).await;
    let org = env.target.scim_org("Globex");
    provision(&env, &org, "Ada.Lovelace").await;

    let messages = sink.wait_for(1, WAIT).await;
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message.recipients, ["ada.lovelace@example.com"]);
    assert_eq!(message.mail_from, "noreply@acme.test");
    let email = message.parsed();
    assert_eq!(
        email.subject.as_deref(),
        Some("You're invited to join Globex on scimgate")
    );
    let text = email.text.clone().unwrap();
    assert!(text.contains("Globex"), "{text}");
    assert!(
        text.contains("Globex's IT (identity provider “idp”)"),
        "names who invited: {text}"
    );
    assert!(email.html.as_deref().unwrap().contains("Globex"));
    let link = link_of(message);
    assert!(
        link.starts_with(&env.server.url("/invitations/sgi_")),
        "{link}"
    );

    let sent = wait_status(&env, &org.org, "sent").await;
    assert_eq!(sent["email"], "ada.lovelace@example.com");
    assert_eq!(sent["attempts"], 1);
    let events = events_of(&env, &org.org, "invitation.sent").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["data"]["invitation_id"], sent["id"]);
    assert_eq!(events[0]["data"]["attempt"], 1);
    assert!(
        !events[0].to_string().contains("sgi_"),
        "no token in events"
    );
    assert_eq!(
        member(&env, &org.org, "ada.lovelace@example.com").await["status"],
        "invited"
    );

    // The page: a new person chooses a password.
    let client = browser();
    let (status, html) = page(&client, &link).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Join Globex"), "{html}");
    assert!(html.contains("ada.lovelace@example.com"));
    assert!(html.contains("name=\"password_confirm\""));
    let csrf = csrf_of(&html);
    let accept = format!("{link}/accept");
    // Passwords that differ or are too short change nothing.
    let (status, html) = post_form(
        &client,
        &accept,
        &[
            ("csrf", &csrf),
            ("password", "correct horse battery"),
            ("password_confirm", "other"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("do not match"), "{html}");
    let (status, html) = post_form(
        &client,
        &accept,
        &[
            ("csrf", &csrf),
            ("password", "short"),
            ("password_confirm", "short"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("at least"), "{html}");
    assert_eq!(
        member(&env, &org.org, "ada.lovelace@example.com").await["status"],
        "invited"
    );
    let (status, html) = post_form(
        &client,
        &accept,
        &[
            ("csrf", &csrf),
            ("password", "correct horse battery"),
            ("password_confirm", "correct horse battery"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("You've joined Globex"), "{html}");
    assert_eq!(
        member(&env, &org.org, "ada.lovelace@example.com").await["status"],
        "active"
    );
    let mut activated = Vec::new();
    for _ in 0..100 {
        activated = events_of(&env, &org.org, "membership.activated")
            .await
            .into_iter()
            .filter(|e| e["data"]["email"] == "ada.lovelace@example.com")
            .collect();
        if !activated.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(activated.len(), 1, "{activated:?}");
    assert_eq!(activated[0]["actor"]["type"], "account");
    assert_eq!(activated[0]["data"]["invitation_id"], sent["id"]);
    assert_eq!(invitations(&env, &org.org).await[0]["status"], "accepted");

    // The password works at the login form; the used link grants nothing more.
    let login = browser();
    let (_, html) = page(&login, &env.server.url("/login")).await;
    let res = login
        .post(env.server.url("/login"))
        .form(&[
            ("csrf", csrf_of(&html).as_str()),
            ("email", "ada.lovelace@example.com"),
            ("password", "correct horse battery"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (status, html) = page(&browser(), &link).await;
    assert_eq!(status, StatusCode::GONE, "{html}");
    assert!(html.contains("already accepted"), "{html}");
    assert_eq!(sink.received_count(), 1, "one email for one invitation");
}

/// A person who already has an account signs in on the page to accept; a wrong password changes
/// nothing; signed in as the invited account, one click accepts.
async fn an_existing_account_signs_in_to_accept(backend: Backend) {
    let sink = SmtpSink::start().await;
    let env = env_with(backend, &sink, &[]).await;
    let first = env.target.scim_org("Initech");
    let second = env.target.scim_org("Hooli");
    // Accept into the first organization: the account now has a password.
    provision(&env, &first, "Grace").await;
    let link = link_of(&sink.wait_for(1, WAIT).await[0]);
    let client = browser();
    let (_, html) = page(&client, &link).await;
    let (status, _) = post_form(
        &client,
        &format!("{link}/accept"),
        &[
            ("csrf", &csrf_of(&html)),
            ("password", "a long enough secret"),
            ("password_confirm", "a long enough secret"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // The second organization's invitation asks for that password.
    provision(&env, &second, "Grace").await;
    let link = link_of(&sink.wait_for(2, WAIT).await[1]);
    let stranger = browser();
    let (status, html) = page(&stranger, &link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Sign in and join"), "{html}");
    assert!(!html.contains("password_confirm"));
    let (status, html) = post_form(
        &stranger,
        &format!("{link}/accept"),
        &[("csrf", &csrf_of(&html)), ("password", "not the password")],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains("Incorrect password"), "{html}");
    assert_eq!(
        member(&env, &second.org, "grace@example.com").await["status"],
        "invited"
    );
    // The browser that accepted the first invitation is signed in as Grace: one click.
    let (status, html) = page(&client, &link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Accept and join Hooli"), "{html}");
    let (status, html) = post_form(
        &client,
        &format!("{link}/accept"),
        &[("csrf", &csrf_of(&html)), ("action", "confirm")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert_eq!(
        member(&env, &second.org, "grace@example.com").await["status"],
        "active"
    );
    // A forged confirm from a browser not signed in as Grace would need her password.
    assert_eq!(sink.received_count(), 2);
}

/// 4xx answers are retried with the same invitation (one email accepted in the end, attempt 3);
/// a 5xx is final: `invitation.failed` with the server's answer, shown in the API's list.
async fn retries_on_4xx_and_fails_on_5xx(backend: Backend) {
    let sink = SmtpSink::start().await;
    let env = env_with(backend, &sink, &[]).await;
    let org = env.target.scim_org("Umbrella");
    sink.fail_next(Stage::Rcpt, 1, 451, "4.3.0 try again later");
    sink.fail_next(Stage::Greeting, 1, 421, "4.7.0 too busy");
    provision(&env, &org, "Retry.Me").await;
    let messages = sink.wait_for(1, WAIT).await;
    assert_eq!(messages.len(), 1);
    let sent = wait_status(&env, &org.org, "sent").await;
    assert_eq!(sent["attempts"], 3, "{sent}");
    let events = events_of(&env, &org.org, "invitation.sent").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["data"]["attempt"], 3);
    // The link of the accepted attempt works.
    let (status, _) = page(&browser(), &link_of(&messages[0])).await;
    assert_eq!(status, StatusCode::OK);

    sink.fail_next(Stage::Rcpt, 1, 554, "5.7.1 recipient refused by policy");
    provision(&env, &org, "Refused").await;
    let failed = wait_status(&env, &org.org, "failed").await;
    assert_eq!(failed["attempts"], 1);
    let error = failed["last_error"].as_str().unwrap();
    assert!(
        error.contains("554") && error.contains("refused by policy"),
        "{error}"
    );
    let events = events_of(&env, &org.org, "invitation.failed").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["data"]["email"], "refused@example.com");
    assert!(events[0]["data"]["error"].as_str().unwrap().contains("554"));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        sink.received_count(),
        1,
        "a refused invitation is not retried"
    );
}

/// Resend replaces the link (the old one stops working), is limited per person, and is refused
/// for members who are not invited; suspending a member makes their link grant nothing; an
/// organization that sends its own invitations gets events and no email.
async fn resend_suspension_and_organizations_that_send_their_own(backend: Backend) {
    let sink = SmtpSink::start().await;
    let env = env_with(backend, &sink, &[("SCIMGATE_EMAIL__RESENDS_PER_HOUR", "2")]).await;
    let org = env.target.scim_org("Stark");
    let user = provision(&env, &org, "Tony").await;
    let first = link_of(&sink.wait_for(1, WAIT).await[0]);
    wait_status(&env, &org.org, "sent").await;

    let resend = format!(
        "/organizations/{}/members/tony@example.com/invitation",
        org.org
    );
    let reply = env.post(&resend, &json!({})).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    assert_eq!(reply.body["status"], "queued");
    let second = link_of(&sink.wait_for(2, WAIT).await[1]);
    assert_ne!(first, second);
    let (status, html) = page(&browser(), &first).await;
    assert_eq!(status, StatusCode::GONE, "the replaced link: {html}");
    assert!(html.contains("not valid"), "{html}");
    let statuses: Vec<Value> = invitations(&env, &org.org)
        .await
        .iter()
        .map(|i| i["status"].clone())
        .collect();
    assert_eq!(statuses[1], "revoked", "{statuses:?}");
    env.post(&resend, &json!({})).await;
    let limited = env.post(&resend, &json!({})).await;
    limited.assert_problem(429, "rate-limited");

    // Suspended by the IdP: the latest link grants nothing.
    let third = link_of(&sink.wait_for(3, WAIT).await[2]);
    let patch = scim::patch(json!([{"op": "replace", "path": "active", "value": false}]));
    let res = http()
        .patch(env.server.url(&format!(
            "/scim/v2.0/organizations/{}/Users/{}",
            org.org,
            user["id"].as_str().unwrap()
        )))
        .bearer_auth(&org.token)
        .header("content-type", "application/scim+json")
        .body(patch.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (status, _) = page(&browser(), &third).await;
    assert_eq!(status, StatusCode::GONE);
    let refused = env.post(&resend, &json!({})).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);

    // An organization that sends its own: the event, no email.
    let own = env.target.scim_org("Wayne");
    let reply = env
        .call(
            reqwest::Method::PATCH,
            &format!("/organizations/{}", own.org),
            Some(&json!({"settings": {"invitations_enabled": false}})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let before = sink.received_count();
    provision(&env, &own, "Bruce").await;
    assert_eq!(
        events_of(&env, &own.org, "membership.invited").await.len(),
        1
    );
    let list = invitations(&env, &own.org).await;
    assert_eq!(list[0]["status"], "not_sent", "{list:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.received_count(), before, "no email for Wayne");
}

/// Unknown and malformed links get a page, never a 500 or a session.
async fn bad_links_get_a_page(backend: Backend) {
    let sink = SmtpSink::start().await;
    let env = env_with(backend, &sink, &[]).await;
    for token in ["sgi_unknown", "x", &"a".repeat(300), "sgi_%00"] {
        let (status, html) = page(
            &browser(),
            &env.server.url(&format!("/invitations/{token}")),
        )
        .await;
        assert!(
            status == StatusCode::GONE || status == StatusCode::NOT_FOUND,
            "{token}: {status}"
        );
        assert!(html.contains("<html"), "a page: {html}");
    }
    // A POST without the page's session is refused.
    let reply: Reply = {
        let res = browser()
            .post(env.server.url("/invitations/sgi_unknown/accept"))
            .form(&[("password", "whatever long enough")])
            .send()
            .await
            .unwrap();
        crate::common::api::reply(res).await
    };
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}

/// In a real Chromium: a new person follows the emailed link and sets a password; later the same
/// person, now with an account, is invited into a second organization and signs in to accept.
async fn invitations_in_chromium(backend: Backend) {
    use crate::common::browser::Chrome;
    let sink = SmtpSink::start().await;
    let env = env_with(backend, &sink, &[]).await;
    let first = env.target.scim_org("Globex");
    let second = env.target.scim_org("Hooli");
    let name = format!("invitations-{}", format!("{backend:?}").to_lowercase());
    let password = "a long enough secret";

    provision(&env, &first, "Nina").await;
    let link = link_of(&sink.wait_for(1, WAIT).await[0]);
    let chrome = Chrome::start(&format!("{name}-new"), &env.server.base_url).await;
    chrome.goto(&link).await;
    chrome
        .wait_text("h1", "the invitation", |t| t == "Join Globex")
        .await;
    chrome.fill("input[name=password]", password).await;
    chrome.fill("input[name=password_confirm]", password).await;
    chrome.shot("invitation-new-person").await;
    chrome.assert_accessible("the invitation page").await;
    chrome.submit_and_wait(r#"form[action$="/accept"]"#).await;
    chrome
        .wait_text("h1", "joined", |t| t == "You've joined Globex")
        .await;
    chrome.shot("invitation-joined").await;
    chrome.assert_accessible("the joined page").await;
    chrome.quit().await;
    assert_eq!(
        member(&env, &first.org, "nina@example.com").await["status"],
        "active"
    );

    provision(&env, &second, "Nina").await;
    let link = link_of(&sink.wait_for(2, WAIT).await[1]);
    let chrome = Chrome::start(&format!("{name}-existing"), &env.server.base_url).await;
    chrome.goto(&link).await;
    chrome
        .wait_text("h1", "the invitation", |t| t == "Join Hooli")
        .await;
    assert!(!chrome.exists("input[name=password_confirm]").await);
    chrome
        .fill("input[name=password]", "a wrong password!")
        .await;
    chrome.submit_and_wait(r#"form[action$="/accept"]"#).await;
    chrome
        .wait_text(".error", "the refusal", |t| {
            t.contains("Incorrect password")
        })
        .await;
    chrome.fill("input[name=password]", password).await;
    chrome.shot("invitation-sign-in").await;
    chrome.submit_and_wait(r#"form[action$="/accept"]"#).await;
    chrome
        .wait_text("h1", "joined", |t| t == "You've joined Hooli")
        .await;
    chrome.quit().await;
    assert_eq!(
        member(&env, &second.org, "nina@example.com").await["status"],
        "active"
    );
}

backend_tests!(
    invitations_in_chromium,
    a_provisioned_person_is_invited_and_accepts,
    an_existing_account_signs_in_to_accept,
    retries_on_4xx_and_fails_on_5xx,
    resend_suspension_and_organizations_that_send_their_own,
    bad_links_get_a_page,
);
