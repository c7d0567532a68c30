//! The console's Webhooks tab against the real app on both databases: an organization's Owner
//! sees the endpoints that receive its events and their deliveries — never another
//! organization's endpoint or event — resends one of its deliveries, and recovers what was missed
//! since a time; bad input gets a page that says why. The same in Chromium is in
//! `browser_console.rs`.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use testkit::receiver::WebhookReceiver;
use testkit::{Backend, backend_tests};

use crate::common::api::{ALL_SCOPES, ApiEnv};
use crate::common::oauth::{Browser, PASSWORD, field};
use crate::common::{ScimOrg, Target};

/// Loopback receivers allowed, quick retries.
pub const FAST_WEBHOOKS: &[(&str, &str)] = &[
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

/// An organization with an Owner who can sign in, SCIM on, and a bearer token.
pub fn org_with_owner(target: &Target, name: &str) -> (ScimOrg, String) {
    let owner = format!("owner@{}.test", name.to_lowercase());
    let org = target.admin(&[
        "create-org",
        "--name",
        name,
        "--owner-email",
        &owner,
        "--owner-password",
        PASSWORD,
    ])["org_uid"]
        .as_str()
        .unwrap()
        .to_owned();
    target.admin(&["enable-scim", "--org", &org]);
    let issued = target.admin(&["create-token", "--org", &org, "--name", "idp"]);
    (
        ScimOrg {
            org,
            token: issued["token"].as_str().unwrap().to_owned(),
            token_id: issued["token_id"].as_str().unwrap().to_owned(),
        },
        owner,
    )
}

/// Registers an endpoint for `orgs` (empty: every organization) through the management API.
pub async fn endpoint(env: &ApiEnv, url: &str, orgs: &[&str]) -> String {
    let created = env
        .post(
            "/webhook-endpoints",
            &json!({"url": url, "description": "SaaS provisioning sync", "organizations": orgs}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    created.body["id"].as_str().unwrap().to_owned()
}

/// The `data-{attr}` values of a page, in order.
fn data_values(html: &str, attr: &str) -> Vec<String> {
    html.split(&format!("data-{attr}=\""))
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(str::to_owned)
        .collect()
}

async fn an_owner_sees_and_resends_only_its_organizations_deliveries(backend: Backend) {
    let env = ApiEnv::start_configured(backend, ALL_SCOPES, FAST_WEBHOOKS).await;
    let (acme, owner) = org_with_owner(&env.target, "Acme");
    let (globex, _) = org_with_owner(&env.target, "Globex");
    let receiver = WebhookReceiver::start().await;
    let acme_hook = endpoint(&env, &receiver.url("/hooks/acme?key=s3cret"), &[&acme.org]).await;
    let globex_hook = endpoint(&env, &receiver.url("/hooks/globex"), &[&globex.org]).await;
    let everyone = endpoint(&env, &receiver.url("/hooks/all"), &[]).await;

    env.scim_user(&acme, "ada@acme.test").await;
    env.scim_user(&globex, "grace@globex.test").await;
    // Two events each (user created, membership invited), to the org's endpoint and to the
    // endpoint of every organization.
    receiver.wait_for_accepted(8, Duration::from_secs(30)).await;

    let browser = Browser::new(&env.server.base_url);
    browser.login(&owner, PASSWORD).await;
    let path = format!("/orgs/{}/settings/webhooks", acme.org);
    let page = browser.get(&path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let endpoints = data_values(&page.body, "endpoint");
    assert_eq!(endpoints.len(), 2, "{endpoints:?}");
    assert!(endpoints.contains(&acme_hook) && endpoints.contains(&everyone));
    assert!(
        !endpoints.contains(&globex_hook),
        "another organization's endpoint"
    );
    assert!(
        !page.body.contains("s3cret") && !page.body.contains("/hooks/"),
        "only the destination's origin is shown: {}",
        page.body
    );
    assert!(page.body.contains(&receiver.url("")), "{}", page.body);
    let events = data_values(&page.body, "delivery");
    // At least the two SCIM events on each endpoint; the setup's own events (the organization's
    // creation) may be published after the endpoints were registered and reach them too.
    assert!(
        events.len() >= 4,
        "two events on each endpoint: {}",
        page.body
    );
    assert!(page.body.contains("delivered") && page.body.contains("HTTP 200"));
    assert!(
        page.body.contains("directory user created"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains(">Test<"),
        "no region-level test button for an organization"
    );

    // Globex's events are not Acme's to see or resend.
    let globex_page = browser
        .get(&format!("/orgs/{}/settings/webhooks", globex.org))
        .await;
    assert_eq!(globex_page.status, StatusCode::NOT_FOUND);
    let csrf = field(&page.body, "csrf").unwrap();
    let foreign_event = {
        let other = Browser::new(&env.server.base_url);
        other.login("owner@globex.test", PASSWORD).await;
        let body = other
            .get(&format!("/orgs/{}/settings/webhooks", globex.org))
            .await
            .body;
        data_values(&body, "delivery")[0].clone()
    };
    assert!(
        !events.contains(&foreign_event),
        "Globex's event on Acme's page"
    );
    let refused = browser
        .post(
            &format!("{path}/{acme_hook}/events/{foreign_event}/resend"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.body);
    let refused = browser
        .post(
            &format!("{path}/{globex_hook}/recover"),
            &[("csrf", &csrf), ("since", "2020-01-01T00:00")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.body);

    // Resend one of Acme's deliveries: the same message again, and a success message once.
    let before = receiver.accepted().len();
    let event = &events[0];
    let resent = browser
        .post(
            &format!("{path}/{acme_hook}/events/{event}/resend"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(resent.status, StatusCode::SEE_OTHER, "{}", resent.body);
    let shown = browser.get(&resent.location().unwrap()).await;
    assert!(
        shown.body.contains("scheduled to be sent again"),
        "{}",
        shown.body
    );
    let again = browser.get(&resent.location().unwrap()).await;
    assert!(!again.body.contains("scheduled to be sent again"), "once");
    let accepted = receiver
        .wait_for_accepted(before + 1, Duration::from_secs(30))
        .await;
    assert_eq!(
        accepted.last().unwrap().header("webhook-id"),
        Some(event.as_str())
    );

    // Recover: nothing was missed; a bad time is a page that says so.
    let recovered = browser
        .post(
            &format!("{path}/{acme_hook}/recover"),
            &[("csrf", &csrf), ("since", "2020-01-01T00:00")],
        )
        .await;
    assert_eq!(
        recovered.status,
        StatusCode::SEE_OTHER,
        "{}",
        recovered.body
    );
    let shown = browser.get(&recovered.location().unwrap()).await;
    assert!(
        shown.body.contains("since 2020-01-01 00:00 UTC"),
        "{}",
        shown.body
    );
    for bad in ["yesterday", "2999-01-01T00:00"] {
        let refused = browser
            .post(
                &format!("{path}/{acme_hook}/recover"),
                &[("csrf", &csrf), ("since", bad)],
            )
            .await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            refused.body
        );
        assert!(refused.body.contains("role=\"alert\""), "{}", refused.body);
    }
    // Without the form's token nothing happens.
    let forged = browser
        .post(&format!("{path}/{acme_hook}/events/{event}/resend"), &[])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
}

async fn an_organization_without_endpoints_is_told_so(backend: Backend) {
    let env = ApiEnv::start_configured(backend, ALL_SCOPES, FAST_WEBHOOKS).await;
    let (acme, owner) = org_with_owner(&env.target, "Acme");
    let browser = Browser::new(&env.server.base_url);
    browser.login(&owner, PASSWORD).await;
    let page = browser
        .get(&format!("/orgs/{}/settings/webhooks", acme.org))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"no-endpoints\""), "{}", page.body);
    // A member who is not an admin does not get in.
    env.target.admin(&[
        "add-member",
        "--org",
        &acme.org,
        "--email",
        "member@acme.test",
        "--role",
        "member",
        "--password",
        PASSWORD,
    ]);
    let member = Browser::new(&env.server.base_url);
    member.login("member@acme.test", PASSWORD).await;
    let refused = member
        .get(&format!("/orgs/{}/settings/webhooks", acme.org))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

backend_tests!(
    an_owner_sees_and_resends_only_its_organizations_deliveries,
    an_organization_without_endpoints_is_told_so,
);
