//! Two regions as two processes on loopback, each with its own database and key-value store: an
//! organization of EU is served by EU, and NA points IdPs there instead of answering for it.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::panic)]

use crate::common;

use std::net::TcpListener;

use common::oauth::{self, Browser, PASSWORD, REDIRECT};
use common::scim::{patch, user};
use common::{Server, Target};
use oauth2::AuthType;
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::Backend;

const FEDERATION_KEY: &str = "test-federation-key-of-at-least-32-bytes";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Region {
    target: Target,
    server: Server,
}

async fn start_regions(backend: Backend) -> (Region, Region) {
    let (na_port, eu_port) = (free_port(), free_port());
    let regions = format!(
        "[na]\nname = \"NA\"\napp_url = \"http://127.0.0.1:{na_port}\"\nauth_api_url = \"http://127.0.0.1:{na_port}\"\n\n\
         [eu]\nname = \"EU\"\napp_url = \"http://127.0.0.1:{eu_port}\"\nauth_api_url = \"http://127.0.0.1:{eu_port}\"\n"
    );
    let mut started = Vec::new();
    for (id, port) in [("na", na_port), ("eu", eu_port)] {
        let target = Target::new(backend).await;
        let regions_file = target.workdir.path().join("regions.toml");
        std::fs::write(&regions_file, &regions).unwrap();
        let mut cmd = target.command();
        cmd.env("SCIMGATE_REGIONS_PATH", &regions_file)
            .env("SCIMGATE_REGION", id)
            .env("SCIMGATE_FEDERATION__KEY", FEDERATION_KEY)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")]);
        let server = Server::start(cmd);
        started.push(Region { target, server });
    }
    let eu = started.pop().unwrap();
    let na = started.pop().unwrap();
    (na, eu)
}

/// Runs `scimgate admin <args> --json` as the region's operator.
fn admin(region: &Region, id: &str, args: &[&str]) -> Value {
    let regions_file = region.target.workdir.path().join("regions.toml");
    let mut cmd = region.target.command();
    cmd.env("SCIMGATE_REGIONS_PATH", &regions_file)
        .env("SCIMGATE_REGION", id);
    let out = cmd.arg("admin").args(args).arg("--json").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// An EU organization with SCIM on and a token, created through the EU deployment's CLI; its
/// owner's password is [`PASSWORD`].
fn eu_org(eu: &Region) -> (String, String) {
    let run = |args: &[&str]| admin(eu, "eu", args);
    let org = run(&[
        "create-org",
        "--name",
        "Europa",
        "--owner-email",
        "owner@europa.test",
        "--owner-password",
        PASSWORD,
    ]);
    assert_eq!(org["region"], "eu");
    let uid = org["org_uid"].as_str().unwrap().to_owned();
    run(&["enable-scim", "--org", &uid]);
    let token = run(&["create-token", "--org", &uid])["token"]
        .as_str()
        .unwrap()
        .to_owned();
    (uid, token)
}

async fn an_organization_is_served_by_its_home_region_only(backend: Backend) {
    let (na, eu) = start_regions(backend).await;
    let (org, token) = eu_org(&eu);
    let http = common::http();
    let path = format!("/scim/v2.0/organizations/{org}/Users");

    let served = http
        .post(eu.server.url(&path))
        .bearer_auth(&token)
        .header("content-type", "application/scim+json")
        .body(user("anna").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), StatusCode::CREATED);

    let pointed = http
        .get(na.server.url(&path))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        pointed.status().as_u16(),
        421,
        "NA does not answer for an EU organization"
    );
    let body: Value = pointed.json().await.unwrap();
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("region eu")
            && detail.contains(&eu.server.url(&format!("/scim/v2.0/organizations/{org}"))),
        "{detail}"
    );

    let write = http
        .patch(na.server.url(&format!("{path}/x")))
        .bearer_auth(&token)
        .header("content-type", "application/scim+json")
        .body(patch(json!([{"op": "replace", "path": "active", "value": false}])).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        write.status().as_u16(),
        421,
        "writes are pointed too, and change nothing in NA"
    );

    let unknown = http
        .get(na.server.url("/scim/v2.0/organizations/no-such-org/Users"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        unknown.status(),
        StatusCode::UNAUTHORIZED,
        "an organization no region has is just refused"
    );

    drop(eu);
    let eu_down = http
        .get(na.server.url(&path))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        eu_down.status().as_u16(),
        421,
        "the pointer was cached; NA still answers"
    );
    let own = na.server.url("/healthz");
    assert_eq!(
        http.get(own).send().await.unwrap().status(),
        StatusCode::OK,
        "a region that is down does not break the others"
    );
}

/// The IdP admin was given the NA authorization URL for an EU organization: NA sends the browser
/// to EU with the request intact, and the flow finishes there. The EU token works in EU only.
fn error_description(err: &oauth::TokenError) -> String {
    match err {
        oauth2::RequestTokenError::ServerResponse(r) => {
            r.error_description().cloned().unwrap_or_default()
        }
        other => panic!("not an OAuth error response: {other:?}"),
    }
}

async fn consent_started_in_the_wrong_region_finishes_at_home(backend: Backend) {
    let (na, eu) = start_regions(backend).await;
    let (org, _) = eu_org(&eu);
    let secret = "0123456789abcdef0123456789abcdef-okta";
    for (region, id) in [(&na, "na"), (&eu, "eu")] {
        admin(
            region,
            id,
            &[
                "register-client",
                "--name",
                "Okta",
                "--redirect-uri",
                REDIRECT,
                "--client-id",
                "okta-global",
                "--client-secret",
                secret,
            ],
        );
    }
    let wrong_idp = oauth::idp_for(&na.server, "okta-global", Some(secret), AuthType::BasicAuth);
    let (url, verifier) = oauth::authorize_url(&wrong_idp, true);
    let url = format!("{url}&org={org}");

    let browser = Browser::new(&eu.server.base_url);
    let first = browser.get(&url).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    let home = first.location().unwrap();
    let expected = url.replacen(&na.server.base_url, &eu.server.base_url, 1);
    assert_eq!(home, expected, "redirected to EU with the request intact");

    let login = browser.get(&home).await;
    let login_path = login.location().unwrap();
    let consent_path = browser
        .login_page(&login_path, "owner@europa.test", PASSWORD)
        .await
        .location()
        .unwrap();
    let consent = browser.consent(&consent_path).await;
    let approved = browser.decide(&consent, &org, "approve", true).await;
    let code = oauth::param(&approved.location().unwrap(), "code").unwrap();

    // Codes are regional: NA does not redeem EU's code, and says where it belongs.
    let wrong_region = oauth::exchange(&wrong_idp, &code, None).await.unwrap_err();
    assert_eq!(
        oauth::error_code(&wrong_region),
        Some(oauth2::basic::BasicErrorResponseType::InvalidGrant)
    );
    let eu_token_url = format!("{}/oauth/token", eu.server.base_url);
    let described = error_description(&wrong_region);
    assert!(
        described.contains("region eu") && described.contains(&eu_token_url),
        "{described}"
    );

    let home_idp = oauth::idp_for(&eu.server, "okta-global", Some(secret), AuthType::BasicAuth);
    let tokens = oauth::exchange(&home_idp, &code, verifier).await.unwrap();
    let refused = oauth::refresh(&wrong_idp, &oauth::refresh_of(&tokens))
        .await
        .unwrap_err();
    let described = error_description(&refused);
    assert!(
        described.contains("refresh token") && described.contains(&eu_token_url),
        "{described}"
    );
    let access = oauth::access(&tokens);
    let http = common::http();
    let path = format!("/scim/v2.0/organizations/{org}/Users");
    assert_eq!(
        http.get(eu.server.url(&path))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let at_na = http
        .get(na.server.url(&path))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(
        at_na.status().as_u16(),
        421,
        "NA refuses the EU token and points to EU"
    );
    let body: Value = at_na.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("region eu"),
        "{body}"
    );
    let na_org = admin(
        &na,
        "na",
        &[
            "create-org",
            "--name",
            "Nord",
            "--owner-email",
            "o@nord.test",
        ],
    )["org_uid"]
        .as_str()
        .unwrap()
        .to_owned();
    admin(&na, "na", &["enable-scim", "--org", &na_org]);
    let wrong = http
        .get(
            na.server
                .url(&format!("/scim/v2.0/organizations/{na_org}/Users")),
        )
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(
        wrong.status(),
        StatusCode::UNAUTHORIZED,
        "an EU token never opens an NA organization"
    );
    let detail: Value = wrong.json().await.unwrap();
    assert!(
        detail["detail"].as_str().unwrap().contains("region"),
        "the refusal says why: {detail}"
    );
}

async fn console_of_another_regions_org_redirects_there(backend: Backend) {
    let (na, eu) = start_regions(backend).await;
    let (org, _) = eu_org(&eu);
    let path = format!("/orgs/{org}/settings/scim/users?q=ann");
    let browser = Browser::new(&na.server.base_url);
    let sent = browser.get(&path).await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    assert_eq!(
        sent.location().unwrap(),
        format!("{}{path}", eu.server.base_url),
        "the same page, query intact, in EU"
    );
    // At home the page asks for EU's sign-in, then serves it.
    let home = Browser::new(&eu.server.base_url);
    let sign_in = home.get(&path).await.location().unwrap();
    assert!(sign_in.starts_with("/login?return="), "{sign_in}");
    home.login("owner@europa.test", PASSWORD).await;
    assert_eq!(home.get(&path).await.status, StatusCode::OK);
    // An organization no region knows is simply not found (after sign-in at NA).
    let unknown = browser.get("/orgs/no-such-org/settings/scim").await;
    assert!(
        unknown.location().unwrap().starts_with("/login?return="),
        "{:?}",
        unknown.location()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_region_console_on_sqlite() {
    console_of_another_regions_org_redirects_there(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_region_console_on_postgres() {
    console_of_another_regions_org_redirects_there(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_region_consent_on_sqlite() {
    consent_started_in_the_wrong_region_finishes_at_home(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_region_consent_on_postgres() {
    consent_started_in_the_wrong_region_finishes_at_home(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regions_on_sqlite() {
    an_organization_is_served_by_its_home_region_only(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regions_on_postgres() {
    an_organization_is_served_by_its_home_region_only(Backend::Postgres).await;
}
