//! The organization console (docs/console.md) and the OAuth consent page in a real headless
//! Chromium, against the real binary on SQLite + in-process store and on PostgreSQL + Redis. The
//! browser is driven as a person would drive it: it types, picks, ticks and clicks, and every
//! result is read from the page. The IdP's side (SCIM calls, the token endpoint) is reqwest and
//! the `oauth2` crate. Screenshots of every page land in
//! `$CARGO_TARGET_DIR/browser-screenshots/<test>/` (the path is printed).
#![allow(
    clippy::disallowed_methods,
    clippy::unwrap_used,
    clippy::panic,
    clippy::expect_used
)]

use crate::common;

use std::time::Instant;

use common::browser::{self, Chrome};
use common::oauth::{self, PASSWORD};
use common::{Server, Target};
use oauth2::{AuthType, RedirectUrl};
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::{Backend, backend_tests};

const OWNER: &str = "owner@acme.test";
const ORG_NAME: &str = "Acme";
const USER: &str = "alice@example.com";
const GROUP: &str = "Engineering";
const STACK: &str = "Marketing";
const TOKEN_NAME: &str = "Okta provisioning";
const CLIENT_NAME: &str = "Okta Browser";

/// A running deployment with one organization (`Acme`, owned by [`OWNER`]).
struct Deployment {
    target: Target,
    server: Server,
    org: String,
    http: reqwest::Client,
}

impl Deployment {
    async fn start(backend: Backend, scim_enabled: bool) -> Self {
        let target = Target::new(backend).await;
        let org = target.admin(&[
            "create-org",
            "--name",
            ORG_NAME,
            "--owner-email",
            OWNER,
            "--owner-password",
            PASSWORD,
        ])["org_uid"]
            .as_str()
            .unwrap()
            .to_owned();
        if scim_enabled {
            target.admin(&["enable-scim", "--org", &org]);
        }
        let server = oauth::OAuthEnv::serve(&target, &[]).await;
        Self {
            target,
            server,
            org,
            http: common::http(),
        }
    }

    fn base(&self) -> &str {
        &self.server.base_url
    }

    /// The organization's SCIM base URL as the SCIM tab must show it.
    fn scim_base(&self) -> String {
        format!("{}/scim/v2.0/organizations/{}", self.base(), self.org)
    }

    /// A console page of the organization: `/orgs/{org}/settings/scim{rest}`.
    fn settings(&self, rest: &str) -> String {
        format!("/orgs/{}/settings/scim{rest}", self.org)
    }

    /// A SCIM call with a bearer token; status and JSON body.
    async fn scim(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.scim_base()))
            .bearer_auth(token)
            .header("accept", "application/scim+json");
        if let Some(body) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(body.to_string());
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

fn test_name(test: &str, backend: Backend) -> String {
    format!("{test}-{}", format!("{backend:?}").to_lowercase())
}

fn lower(s: &str) -> String {
    s.to_lowercase()
}

/// Fills and submits the login form the browser is on.
async fn sign_in(chrome: &Chrome, email: &str, password: &str) {
    chrome.fill("input[name=email]", email).await;
    chrome.fill("input[name=password]", password).await;
    chrome.shot("login").await;
    chrome.submit_and_wait(r#"form[action="/login"]"#).await;
    chrome
        .wait_url("to leave the login page", |u| u.path() != "/login")
        .await;
}

/// Step 7: an IdP client registered with a loopback redirect URI nobody listens on; the browser
/// opens its authorization URL (PKCE), signs in if asked, ticks the terms and clicks
/// **Authorize & Install**; the code is read from the URL the browser lands on and redeemed with
/// `oauth2`, and the access token reaches SCIM.
async fn authorize_in_browser(chrome: &Chrome, d: &Deployment, signed_in: bool) {
    let redirect = format!("http://127.0.0.1:{}/callback", browser::unused_port());
    let client = d.target.admin(&[
        "register-client",
        "--name",
        CLIENT_NAME,
        "--redirect-uri",
        &redirect,
    ]);
    let idp = oauth::idp_at(
        d.base(),
        client["client_id"].as_str().unwrap(),
        client["client_secret"].as_str(),
        AuthType::BasicAuth,
    )
    .set_redirect_uri(RedirectUrl::new(redirect.clone()).unwrap());
    let (url, verifier) = oauth::authorize_url(&idp, true);
    let sent_state = oauth::param(&url, "state").unwrap();

    chrome.goto(&url).await;
    if !signed_in {
        chrome.wait_path("/login").await;
        assert!(
            chrome.page_text().await.contains(CLIENT_NAME),
            "the login page names the client being authorized"
        );
        sign_in(chrome, OWNER, PASSWORD).await;
    }
    let approve = "button[name=decision][value=approve]";
    let button = chrome.find(approve).await;
    assert_eq!(
        button.text().await.unwrap().trim(),
        "Authorize & Install",
        "the approve button's label"
    );
    let text = chrome.page_text().await;
    for expected in [CLIENT_NAME, ORG_NAME, d.org.as_str(), "scim"] {
        assert!(text.contains(expected), "consent names {expected}: {text}");
    }
    chrome.check("input[name=accept_terms]").await;
    chrome.shot("consent").await;
    chrome.click(approve).await;

    // Nothing listens at the redirect URI: the browser shows an error page, but its URL is the
    // callback the IdP would have received.
    let landed = chrome
        .wait_url("the redirect to the IdP's callback", |u| {
            u.as_str().starts_with(&redirect)
        })
        .await;
    chrome.shot("callback").await;
    let landed = landed.to_string();
    assert_eq!(
        oauth::param(&landed, "state").as_deref(),
        Some(sent_state.as_str()),
        "{landed}"
    );
    assert_eq!(
        oauth::param(&landed, "iss").as_deref(),
        Some(d.base()),
        "{landed}"
    );
    let code = oauth::param(&landed, "code").unwrap_or_else(|| panic!("no code in {landed}"));

    let tokens = oauth::exchange(&idp, &code, verifier).await.unwrap();
    let (status, body) = d
        .scim(
            reqwest::Method::GET,
            "/Users",
            &oauth::access(&tokens),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// The consent flow alone, from a browser that is not signed in: authorize → login → consent →
/// callback → token → SCIM.
async fn consent_in_chromium(backend: Backend) {
    let started = Instant::now();
    let d = Deployment::start(backend, true).await;
    let chrome = Chrome::start(&test_name("consent_in_chromium", backend), d.base()).await;
    authorize_in_browser(&chrome, &d, false).await;
    chrome.quit().await;
    println!(
        "consent_in_chromium on {backend:?}: {:?}",
        started.elapsed()
    );
}

/// The whole console, steps 1–8 of docs/console.md's flows.
async fn console_end_to_end(backend: Backend) {
    let started = Instant::now();
    let d = Deployment::start(backend, false).await;
    let chrome = Chrome::start(&test_name("console_end_to_end", backend), d.base()).await;
    let org = d.org.clone();

    // 1. Sign in, find the organization, enable SCIM, read the connection details.
    chrome.goto("/login").await;
    sign_in(&chrome, OWNER, PASSWORD).await;
    let org_link = format!(r#"a[data-org="{org}"]"#);
    chrome.find(&org_link).await;
    assert!(chrome.page_text().await.contains(ORG_NAME));
    chrome.shot("orgs").await;
    chrome.click_and_wait(&org_link).await;
    chrome.wait_path(&d.settings("")).await;
    assert_eq!(chrome.text("#scim-status").await, "Disabled");
    chrome.shot("scim-tab-disabled").await;
    chrome.click_and_wait("a#enable-scim").await;
    chrome.wait_path(&d.settings("/enable")).await;
    chrome.find("form#confirm button#confirm-button").await;
    chrome.shot("enable-confirm").await;
    chrome
        .click_and_wait("form#confirm button#confirm-button")
        .await;
    chrome.open(&d.settings("")).await;
    chrome
        .wait_text("#scim-status", "Enabled", |t| t == "Enabled")
        .await;
    assert!(chrome.exists("a#disable-scim").await);
    assert_eq!(chrome.value("input#scim-base-url").await, d.scim_base());
    assert_eq!(chrome.value("input#org-uid").await, org);
    let site = chrome.value("input#site-url").await;
    assert!(site.starts_with("http"), "site URL: {site:?}");
    let authorization = chrome.value("input#authorization-url").await;
    // The Authorization URL may carry the organization as a query parameter.
    let authorization = url::Url::parse(&authorization).unwrap();
    assert_eq!(
        authorization.path(),
        "/oauth/authorize",
        "authorization URL: {authorization}"
    );
    for input in ["site-url", "authorization-url", "scim-base-url", "org-uid"] {
        assert!(
            chrome.exists(&format!("input#{input} + button.copy")).await,
            "a copy button follows #{input}"
        );
    }
    chrome.shot("scim-tab-enabled").await;

    // 2. A bearer token from the tokens page, used over SCIM by the "IdP".
    let tokens_page = d.settings("/tokens");
    chrome.open(&tokens_page).await;
    chrome
        .fill("form#create-token input[name=name]", TOKEN_NAME)
        .await;
    chrome.submit_and_wait("form#create-token").await;
    let token = chrome
        .poll("input#new-token to hold the token", || async {
            let el = chrome
                .client
                .find(fantoccini::Locator::Css("input#new-token"))
                .await
                .ok()?;
            el.prop("value")
                .await
                .ok()
                .flatten()
                .filter(|v| !v.is_empty())
        })
        .await;
    // Reloading the page that shows it makes no second token and no longer shows this one.
    chrome
        .navigates("reloading the new token's page", async {
            chrome.client.refresh().await.unwrap();
        })
        .await;
    assert!(!chrome.exists("input#new-token").await, "shown once");
    assert_eq!(chrome.find_all("tr[data-token]").await.len(), 1);
    let row = chrome.find_with_text("tr[data-token]", TOKEN_NAME).await;
    let token_id = row.attr("data-token").await.unwrap().unwrap();
    let token_row = format!(r#"tr[data-token="{token_id}"]"#);
    assert_eq!(
        chrome.text(&format!("{token_row} .token-name")).await,
        TOKEN_NAME
    );
    assert_eq!(
        chrome.text(&format!("{token_row} .token-state")).await,
        "active"
    );
    chrome.shot("tokens-new").await;

    let (status, user) = d
        .scim(
            reqwest::Method::POST,
            "/Users",
            &token,
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": USER,
                "externalId": "00u-alice",
                "name": {"givenName": "Alice", "familyName": "Liddell"},
                "emails": [{"value": USER, "type": "work", "primary": true}],
                "active": true,
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let user_id = user["id"].as_str().unwrap().to_owned();
    let (status, group) = d
        .scim(
            reqwest::Method::POST,
            "/Groups",
            &token,
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": GROUP,
                "members": [{"value": user_id}],
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let group_id = group["id"].as_str().unwrap().to_owned();

    // 3. A stack, created on the stacks page.
    let stacks_page = format!("/orgs/{org}/stacks");
    chrome.open(&stacks_page).await;
    chrome
        .fill("form#create-stack input[name=name]", STACK)
        .await;
    chrome.submit_and_wait("form#create-stack").await;
    let row = chrome.find_with_text("tr[data-stack]", STACK).await;
    let stack_uid = row.attr("data-stack").await.unwrap().unwrap();
    chrome.shot("stacks").await;

    // 4. Map the group: org role admin, developer on Marketing; preview the impact, confirm.
    chrome.open(&d.settings("/groups")).await;
    let group_row = format!(r#"tr[data-group="{group_id}"]"#);
    assert_eq!(
        chrome.text(&format!("{group_row} .group-name")).await,
        GROUP
    );
    assert_eq!(
        chrome.text(&format!("{group_row} .member-count")).await,
        "1"
    );
    chrome.shot("groups").await;
    let group_page = d.settings(&format!("/groups/{group_id}"));
    chrome
        .click(&format!(r#"{group_row} a[href*="/groups/{group_id}"]"#))
        .await;
    chrome.wait_path(&group_page).await;
    assert!(
        chrome.page_text().await.contains(USER),
        "the group page lists its member"
    );
    chrome
        .select("form#mapping select[name=org_role]", "admin")
        .await;
    let mut stack_selects = Vec::new();
    for select in chrome
        .find_all(r#"form#mapping select[name^="stack:"]"#)
        .await
    {
        stack_selects.push(select.attr("name").await.unwrap().unwrap());
    }
    assert_eq!(stack_selects, vec![format!("stack:{stack_uid}")]);
    chrome
        .select(
            &format!(r#"form#mapping select[name="stack:{stack_uid}"]"#),
            "developer",
        )
        .await;
    chrome.shot("group").await;
    chrome
        .click_and_wait("form#mapping button#preview-mapping")
        .await;
    chrome.find("ul#impact > li").await;
    let impact = chrome.texts("ul#impact > li").await;
    let impact_lower: Vec<String> = impact.iter().map(|l| lower(l)).collect();
    assert!(
        impact_lower
            .iter()
            .any(|l| l.contains("alice") && l.contains("admin")),
        "the impact names Alice becoming Admin: {impact:?}"
    );
    assert!(
        impact_lower
            .iter()
            .any(|l| l.contains("developer") && l.contains("marketing")),
        "the impact names Developer on Marketing: {impact:?}"
    );
    chrome.shot("impact").await;
    chrome
        .click_and_wait("form#confirm button#confirm-button")
        .await;
    // Where a saved mapping lands is not part of the contract: go to the group page.
    chrome.open(&group_page).await;
    chrome
        .wait_text("#current-mapping", "the saved mapping", |t| {
            let t = lower(t);
            t.contains("admin") && t.contains("marketing") && t.contains("developer")
        })
        .await;
    chrome.shot("group-mapped").await;

    // 5. The Users tab shows what the mapping gives Alice.
    let users_page = d.settings("/users");
    chrome.open(&users_page).await;
    let user_row = format!(r#"tr[data-user="{user_id}"]"#);
    assert!(
        chrome
            .text(&format!("{user_row} .user-name"))
            .await
            .contains(USER)
    );
    assert_eq!(chrome.text(&format!("{user_row} .status")).await, "invited");
    let role = chrome.text(&format!("{user_row} .effective-role")).await;
    assert!(
        role.eq_ignore_ascii_case("admin"),
        "effective role: {role:?}"
    );
    let stack_roles = chrome.text(&format!("{user_row} .stack-roles")).await;
    assert!(
        stack_roles.contains(STACK) && lower(&stack_roles).contains("developer"),
        "stack roles: {stack_roles:?}"
    );
    assert!(
        chrome
            .text(&format!("{user_row} .groups"))
            .await
            .contains(GROUP)
    );
    chrome.fill("form#user-search input[name=q]", "ali").await;
    chrome.submit_and_wait("form#user-search").await;
    chrome.find(&user_row).await;
    chrome.shot("users").await;

    // 6. Revoke the token; SCIM refuses it at once.
    chrome.open(&tokens_page).await;
    chrome
        .click_and_wait(&format!("{token_row} a.revoke"))
        .await;
    chrome
        .wait_path(&d.settings(&format!("/tokens/{token_id}/revoke")))
        .await;
    chrome.shot("revoke-confirm").await;
    chrome
        .click_and_wait("form#confirm button#confirm-button")
        .await;
    chrome.open(&tokens_page).await;
    chrome
        .wait_text(&format!("{token_row} .token-state"), "revoked", |t| {
            t == "revoked"
        })
        .await;
    chrome.shot("token-revoked").await;
    let (status, body) = d.scim(reqwest::Method::GET, "/Users", &token, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    // 7. Authorize & Install in the browser (already signed in); the installation is listed.
    authorize_in_browser(&chrome, &d, true).await;
    chrome.goto(&d.settings("/installations")).await;
    let row = chrome
        .find_with_text("tr[data-installation]", CLIENT_NAME)
        .await;
    let installation = row.attr("data-installation").await.unwrap().unwrap();
    assert_eq!(
        chrome
            .text(&format!(
                r#"tr[data-installation="{installation}"] .installation-state"#
            ))
            .await,
        "active"
    );
    chrome.shot("installations").await;

    // 8. The Activity page has recorded it all.
    chrome.open(&d.settings("/activity")).await;
    chrome.find("tr[data-audit] .action").await;
    let actions = chrome.texts("tr[data-audit] .action").await;
    for expected in [
        "scim.enabled",
        "api_token.created",
        "api_token.revoked",
        "installation.created",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "activity has {expected}: {actions:?}"
        );
    }
    assert!(
        actions.iter().any(|a| a.contains("mapping")),
        "activity has a group mapping action: {actions:?}"
    );
    chrome.shot("activity").await;

    chrome.quit().await;
    println!("console_end_to_end on {backend:?}: {:?}", started.elapsed());
}

backend_tests!(consent_in_chromium, console_end_to_end);
