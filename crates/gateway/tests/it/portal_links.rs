//! Portal links in the browser, on SQLite + in-process store and on PostgreSQL + Redis: the SaaS
//! backend creates a link through `/api/v1`, a browser without an account opens it and gets a
//! session limited to that organization's SCIM settings. A link works once (also when clicked
//! many times at once), not after it expires, never when unknown; the session refuses other
//! organizations (their ids in paths and in forms) and every page outside the SCIM settings;
//! everything done in it is audited, and its events name the link. The same journey in a real
//! headless Chromium is the last test.
#![allow(
    clippy::disallowed_methods,
    clippy::unwrap_used,
    clippy::panic,
    clippy::expect_used
)]

use crate::common;

use common::api::ApiEnv;
use common::browser::Chrome;
use common::oauth::{Browser, Page, field};
use reqwest::{Method, StatusCode};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use testkit::{Backend, backend_tests};

const RETURN_URL: &str = "https://app.acme-saas.example/settings/sso";

/// A deployment with a backend client, Acme (SCIM off, the portal's organization) and Globex
/// (SCIM on, with a bearer token, a group and a stack of its own).
struct Portal {
    env: ApiEnv,
    acme: String,
    globex: String,
    globex_token: String,
    globex_token_id: String,
    globex_group: String,
    globex_stack: String,
}

impl Portal {
    async fn start(backend: Backend) -> Self {
        let env = ApiEnv::start(backend).await;
        let acme = env.create_org("Acme", "owner@acme.test").await;
        let globex = env.create_org("Globex", "owner@globex.test").await;
        env.target.admin(&["enable-scim", "--org", &globex]);
        let issued = env
            .target
            .admin(&["create-token", "--org", &globex, "--name", "globex-idp"]);
        let globex_token = issued["token"].as_str().unwrap().to_owned();
        let globex_token_id = issued["token_id"].as_str().unwrap().to_owned();
        let group = scim(
            &env,
            &globex,
            &globex_token,
            Method::POST,
            "/Groups",
            Some(group_body("Globex admins", &[])),
        )
        .await;
        assert_eq!(group.0, StatusCode::CREATED, "{}", group.1);
        let stack = env
            .post(
                &format!("/organizations/{globex}/stacks"),
                &json!({"name": "Globex stack"}),
            )
            .await;
        assert_eq!(stack.status, StatusCode::CREATED, "{}", stack.body);
        Self {
            acme,
            globex,
            globex_token,
            globex_token_id,
            globex_group: group.1["id"].as_str().unwrap().to_owned(),
            globex_stack: stack.body["id"].as_str().unwrap().to_owned(),
            env,
        }
    }

    /// A portal link for `org` through the management API: its id and URL.
    async fn link(&self, org: &str, body: Value) -> (String, String) {
        let reply = self
            .env
            .post(&format!("/organizations/{org}/portal-links"), &body)
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let url = reply.body["url"].as_str().unwrap().to_owned();
        assert!(
            url.starts_with(&format!("{}/portal/sgp_", self.env.server.base_url)),
            "{url}"
        );
        (reply.body["id"].as_str().unwrap().to_owned(), url)
    }

    fn browser(&self) -> Browser {
        Browser::new(&self.env.server.base_url)
    }

    /// A browser in a portal session of Acme (link with a return URL); the link's id.
    async fn session(&self) -> (Browser, String) {
        let (id, url) = self
            .link(&self.acme, json!({"return_url": RETURN_URL}))
            .await;
        let browser = self.browser();
        let opened = browser.get(&url).await;
        assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.body);
        (browser, id)
    }

    /// The organization's directory state through the management API.
    async fn directory(&self, org: &str) -> Value {
        let reply = self
            .env
            .get(&format!("/organizations/{org}/directory"))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body
    }

    /// Whether Globex is untouched: SCIM on, its one token active and working.
    async fn globex_untouched(&self) {
        let state = self.directory(&self.globex).await;
        assert_eq!(state["scim_enabled"], true, "{state}");
        assert_eq!(
            state["bearer_tokens"].as_array().unwrap().len(),
            1,
            "{state}"
        );
        let (status, body) = scim(
            &self.env,
            &self.globex,
            &self.globex_token,
            Method::GET,
            "/Groups",
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let mappings = self
            .env
            .get(&format!("/organizations/{}/group-mappings", self.globex))
            .await;
        assert_eq!(
            mappings.body["data"].as_array().map(Vec::len),
            Some(0),
            "{}",
            mappings.body
        );
    }

    /// The organization's events of type `kind` through the management API, once there are
    /// some (the feed publishes committed events shortly after the commit).
    async fn events_of(&self, org: &str, kind: &str) -> Vec<Value> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let reply = self
                .env
                .get(&format!(
                    "/events?organization={org}&types={kind}&limit=1000"
                ))
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            let events = reply.body["data"].as_array().unwrap().clone();
            if !events.is_empty() {
                return events;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no {kind} event was published"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

fn group_body(name: &str, members: &[&str]) -> Value {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name,
        "members": members})
}

/// A SCIM call to `org` with `token`.
async fn scim(
    env: &ApiEnv,
    org: &str,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = env
        .http
        .request(
            method,
            env.server
                .url(&format!("/scim/v2.0/organizations/{org}{path}")),
        )
        .bearer_auth(token);
    if let Some(body) = body {
        req = req
            .header("content-type", "application/scim+json")
            .body(body.to_string());
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// The `value` of the input with this id.
fn input_value(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[at..];
    let start = rest.find("value=\"")? + 7;
    let end = rest[start..].find('"')?;
    Some(rest[start..start + end].to_owned())
}

/// A page that refuses a link: HTML with `status` and `text`, and no session cookie.
fn assert_refused_link(page: &Page, status: StatusCode, text: &str) {
    assert_eq!(page.status, status, "{}", page.body);
    assert!(
        page.header("content-type")
            .is_some_and(|c| c.starts_with("text/html")),
        "a page, not JSON"
    );
    assert!(page.body.contains(text), "{}", page.body);
    assert!(page.header("set-cookie").is_none(), "no session");
}

async fn a_link_opens_one_session_once(backend: Backend) {
    let portal = Portal::start(backend).await;
    let (_, url) = portal
        .link(&portal.acme, json!({"return_url": RETURN_URL}))
        .await;

    // Opened: a fresh session and, at once, the SCIM tab (the token leaves the address bar).
    let browser = portal.browser();
    let opened = browser.get(&url).await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.body);
    let scim_tab = format!("/orgs/{}/settings/scim", portal.acme);
    assert_eq!(opened.location().as_deref(), Some(scim_tab.as_str()));
    assert_eq!(
        opened.header("referrer-policy").as_deref(),
        Some("no-referrer")
    );
    assert_eq!(opened.header("cache-control").as_deref(), Some("no-store"));
    let cookie = opened.header("set-cookie").unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    let max_age: u64 = cookie
        .split("Max-Age=")
        .nth(1)
        .and_then(|s| s.split(';').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(max_age <= 3600, "a portal session is bounded: {cookie}");
    let page = browser.get(&scim_tab).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("id=\"portal-session\""), "{}", page.body);
    assert!(
        page.body.contains(&format!(
            "id=\"portal-done\" class=\"button primary\" href=\"{RETURN_URL}\""
        )),
        "Done goes back to the SaaS: {}",
        page.body
    );
    assert!(!page.body.contains("id=\"logout\""), "no account menu");
    assert!(!page.body.contains("/stacks\""), "no Stacks tab");
    assert!(page.body.contains(">Disabled<"), "{}", page.body);

    // The second click (another browser, or the same) gets a page that says so, and no session.
    let again = portal.browser();
    let used = again.get(&url).await;
    assert_refused_link(&used, StatusCode::GONE, "This link has been used");
    let no_session = again.get(&scim_tab).await;
    assert_eq!(no_session.status, StatusCode::SEE_OTHER);
    assert!(no_session.location().unwrap().starts_with("/login"));
    let same = browser.get(&url).await;
    assert_refused_link(&same, StatusCode::GONE, "This link has been used");
    assert_eq!(
        browser.get(&scim_tab).await.status,
        StatusCode::OK,
        "a refused click leaves the session it had alone"
    );

    // Clicked by many at once: exactly one session.
    let (_, url) = portal.link(&portal.acme, json!({})).await;
    let browsers: Vec<Browser> = (0..6).map(|_| portal.browser()).collect();
    let pages = futures_util::future::join_all(browsers.iter().map(|b| b.get(&url))).await;
    let granted = pages
        .iter()
        .filter(|p| p.status == StatusCode::SEE_OTHER)
        .count();
    assert_eq!(granted, 1, "one session of six concurrent clicks");
    for page in pages.iter().filter(|p| p.status != StatusCode::SEE_OTHER) {
        assert_refused_link(page, StatusCode::GONE, "This link has been used");
    }
    let mut sessions = 0;
    for b in &browsers {
        if b.get(&scim_tab).await.status == StatusCode::OK {
            sessions += 1;
        }
    }
    assert_eq!(sessions, 1);

    // Expired before anyone opened it.
    let (expired_id, url) = portal
        .link(&portal.acme, json!({"expires_in_minutes": 1}))
        .await;
    let db = sea_orm::Database::connect(&portal.env.target.db.url)
        .await
        .unwrap();
    db.execute_unprepared(&format!(
        "UPDATE portal_links SET expires_at = created_at WHERE uid = '{expired_id}'"
    ))
    .await
    .unwrap();
    let late = portal.browser();
    let expired = late.get(&url).await;
    assert_refused_link(&expired, StatusCode::GONE, "This link has expired");
    assert_eq!(late.get(&scim_tab).await.status, StatusCode::SEE_OTHER);

    // Never issued, or not even shaped like a link.
    let stranger = portal.browser();
    let forged = format!("/portal/sgp_{}", "A".repeat(43));
    for path in [
        forged.as_str(),
        "/portal/nonsense",
        "/portal/sgt_abcdefghijklmnopqrstuvwxyz",
    ] {
        let page = stranger.get(path).await;
        assert_refused_link(&page, StatusCode::NOT_FOUND, "This link is not valid");
    }
    assert_eq!(stranger.get(&scim_tab).await.status, StatusCode::SEE_OTHER);

    // The backend asks for a link to an organization it does not have: nothing is issued.
    let missing = portal
        .env
        .post("/organizations/org_missing/portal-links", &json!({}))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.body);
}

async fn a_portal_session_sees_only_its_organizations_scim_settings(backend: Backend) {
    let portal = Portal::start(backend).await;
    let (browser, _) = portal.session().await;
    let acme = |rest: &str| format!("/orgs/{}/settings/scim{rest}", portal.acme);
    let globex = |rest: &str| format!("/orgs/{}/settings/scim{rest}", portal.globex);

    // Every SCIM settings page of its organization opens.
    for rest in [
        "",
        "/enable",
        "/tokens",
        "/installations",
        "/mappings",
        "/users",
        "/groups",
        "/activity",
    ] {
        let page = browser.get(&acme(rest)).await;
        assert_eq!(page.status, StatusCode::OK, "{rest}: {}", page.body);
    }
    let root = browser.get(&format!("/orgs/{}", portal.acme)).await;
    assert_eq!(root.location().as_deref(), Some(acme("").as_str()));
    let csrf = field(&browser.get(&acme("")).await.body, "csrf").unwrap();

    // Outside the SCIM settings: refused with a page, even in its own organization.
    let stacks = format!("/orgs/{}/stacks", portal.acme);
    for path in ["/", stacks.as_str()] {
        let page = browser.get(path).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}: {}", page.body);
        assert!(page.body.contains("portal session"), "{}", page.body);
    }
    let created = browser
        .post(&stacks, &[("csrf", &csrf), ("name", "Portal stack")])
        .await;
    assert_eq!(created.status, StatusCode::FORBIDDEN, "{}", created.body);
    let acme_stacks = portal
        .env
        .get(&format!("/organizations/{}/stacks", portal.acme))
        .await;
    assert_eq!(
        acme_stacks.body["data"].as_array().map(Vec::len),
        Some(0),
        "{}",
        acme_stacks.body
    );
    // Consent needs an account: the portal session is not one.
    let consent = browser.get("/oauth/consent?request=x").await;
    assert_ne!(consent.status, StatusCode::OK, "{}", consent.body);

    // Another organization's URLs: not found, whatever the page, and nothing changes.
    for rest in ["", "/tokens", "/users", "/activity", "/disable"] {
        let page = browser.get(&globex(rest)).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{rest}: {}", page.body);
        assert!(!page.body.contains("Globex"), "{}", page.body);
    }
    assert_eq!(
        browser
            .get(&format!("/orgs/{}/stacks", portal.globex))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let token_id = portal.globex_token_id.as_str();
    let gid = portal.globex_group.as_str();
    let revoke_path = globex(&format!("/tokens/{token_id}/revoke"));
    let mapping_path = globex(&format!("/groups/{gid}/mapping"));
    for (path, form) in [
        (globex("/disable"), vec![]),
        (globex("/tokens"), vec![("name", "stolen")]),
        (revoke_path, vec![]),
        (mapping_path, vec![("step", "save"), ("org_role", "admin")]),
    ] {
        let mut fields = vec![("csrf", csrf.as_str())];
        fields.extend(form);
        let page = browser.post(&path, &fields).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}: {}", page.body);
    }
    portal.globex_untouched().await;

    // Another organization's ids under its own organization's URLs: not found, nothing changes.
    assert_eq!(
        browser
            .post(&acme("/enable"), &[("csrf", &csrf)])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let page = browser
        .post(
            &acme(&format!("/tokens/{token_id}/revoke")),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND, "{}", page.body);
    assert_eq!(
        browser.get(&acme(&format!("/groups/{gid}"))).await.status,
        StatusCode::NOT_FOUND
    );
    let page = browser
        .post(
            &acme(&format!("/groups/{gid}/mapping")),
            &[("csrf", &csrf), ("step", "save"), ("org_role", "admin")],
        )
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND, "{}", page.body);
    // A form naming another organization's stack for one of its own groups.
    let created = browser
        .post(&acme("/tokens"), &[("csrf", &csrf), ("name", "acme-idp")])
        .await;
    // A new token is shown once, on the page the creation redirects to.
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let shown = browser.get(&created.location().unwrap()).await;
    let acme_token = input_value(&shown.body, "new-token").unwrap();
    let (_, own_group) = scim(
        &portal.env,
        &portal.acme,
        &acme_token,
        Method::POST,
        "/Groups",
        Some(group_body("Acme admins", &[])),
    )
    .await;
    let own_gid = own_group["id"].as_str().unwrap();
    let stack_field = format!("stack:{}", portal.globex_stack);
    let page = browser
        .post(
            &acme(&format!("/groups/{own_gid}/mapping")),
            &[
                ("csrf", &csrf),
                ("step", "save"),
                (stack_field.as_str(), "admin"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    let acme_mappings = portal
        .env
        .get(&format!("/organizations/{}/group-mappings", portal.acme))
        .await;
    assert_eq!(
        acme_mappings.body["data"].as_array().map(Vec::len),
        Some(0),
        "{}",
        acme_mappings.body
    );
    portal.globex_untouched().await;

    // A forged CSRF token is refused in a portal session too.
    let forged = browser.post(&acme("/disable"), &[("csrf", "forged")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(portal.directory(&portal.acme).await["scim_enabled"], true);

    // Ending the session: a page that says so, with the way back; the session is gone.
    let ended = browser.post("/portal/end", &[("csrf", &csrf)]).await;
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.body);
    assert!(ended.body.contains("Session ended"), "{}", ended.body);
    assert!(ended.body.contains(RETURN_URL), "{}", ended.body);
    let after = browser.get(&acme("")).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert!(after.location().unwrap().starts_with("/login"));
}

async fn everything_done_in_a_portal_session_names_the_link(backend: Backend) {
    let portal = Portal::start(backend).await;
    let (browser, link_id) = portal.session().await;
    let acme = |rest: &str| format!("/orgs/{}/settings/scim{rest}", portal.acme);
    let csrf = field(&browser.get(&acme("")).await.body, "csrf").unwrap();

    // Enable SCIM, create a bearer token, and the IdP provisions with it.
    let on = browser.post(&acme("/enable"), &[("csrf", &csrf)]).await;
    assert_eq!(on.status, StatusCode::SEE_OTHER, "{}", on.body);
    assert_eq!(portal.directory(&portal.acme).await["scim_enabled"], true);
    let created = browser
        .post(&acme("/tokens"), &[("csrf", &csrf), ("name", "okta")])
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let shown = browser.get(&created.location().unwrap()).await;
    let token = input_value(&shown.body, "new-token").unwrap();
    let (status, user) = scim(
        &portal.env,
        &portal.acme,
        &token,
        Method::POST,
        "/Users",
        Some(common::scim::user("ann")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let uid = user["id"].as_str().unwrap();
    let (status, group) = scim(
        &portal.env,
        &portal.acme,
        &token,
        Method::POST,
        "/Groups",
        Some(group_body("Admins", &[uid])),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let gid = group["id"].as_str().unwrap();

    // Map the group: its member's roles change, and the event names the link.
    let mapped = browser
        .post(
            &acme(&format!("/groups/{gid}/mapping")),
            &[("csrf", &csrf), ("step", "save"), ("org_role", "admin")],
        )
        .await;
    assert_eq!(mapped.status, StatusCode::SEE_OTHER, "{}", mapped.body);
    let changed = portal.events_of(&portal.acme, "member.roles_changed").await;
    for event in &changed {
        assert_eq!(event["type"], "member.roles_changed", "{event}");
        assert_eq!(
            event["actor"],
            json!({"type": "portal_link", "id": link_id}),
            "{event}"
        );
    }

    // Revoke the token: SCIM refuses it.
    let tokens = browser.get(&acme("/tokens")).await.body;
    let token_id = tokens
        .split("data-token=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    let revoked = browser
        .post(
            &acme(&format!("/tokens/{token_id}/revoke")),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.body);
    let (status, _) = scim(
        &portal.env,
        &portal.acme,
        &token,
        Method::GET,
        "/Users",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The Activity log: the redemption and every change, each by the link, none by anyone else.
    let activity = browser.get(&acme("/activity?actor=portal_link")).await;
    assert_eq!(activity.status, StatusCode::OK, "{}", activity.body);
    let rows: Vec<&str> = activity.body.split("data-audit").skip(1).collect();
    for action in [
        "portal_link.redeemed",
        "scim.enabled",
        "api_token.created",
        "group_mapping.saved",
        "api_token.revoked",
    ] {
        let row = rows
            .iter()
            .find(|r| r.contains(&format!(">{action}<")))
            .unwrap_or_else(|| panic!("{action} in Activity: {}", activity.body));
        assert!(
            row.contains(&format!("the portal link {link_id}")),
            "{action} by the link: {row}"
        );
    }
    let by_accounts = browser.get(&acme("/activity?actor=account")).await;
    assert!(
        !by_accounts.body.contains("scim.enabled"),
        "{}",
        by_accounts.body
    );
}

/// The journey in a real browser: the SaaS gets a link through the management API, the IT admin
/// opens it, enables SCIM and creates a bearer token that the IdP then uses.
async fn chromium_opens_a_portal_link_and_configures_scim(backend: Backend) {
    let portal = Portal::start(backend).await;
    let (link_id, url) = portal
        .link(&portal.acme, json!({"return_url": RETURN_URL}))
        .await;
    let name = format!("portal-link-{}", format!("{backend:?}").to_lowercase());
    let chrome = Chrome::start(&name, &portal.env.server.base_url).await;
    chrome.goto(&url).await;
    let scim_tab = format!("/orgs/{}/settings/scim", portal.acme);
    chrome.wait_path(&scim_tab).await;
    assert!(
        !chrome.url().await.as_str().contains("sgp_"),
        "the token left the address bar"
    );
    chrome.find("#portal-session").await;
    assert!(!chrome.exists("form#logout").await, "no account menu");
    let done = chrome.find("a#portal-done").await;
    assert_eq!(
        done.attr("href").await.unwrap().as_deref(),
        Some(RETURN_URL)
    );
    assert_eq!(chrome.text("#scim-status").await, "Disabled");
    chrome.shot("portal-scim-tab").await;

    // Enable SCIM through its confirmation page.
    chrome.click_and_wait("a#enable-scim").await;
    chrome.shot("confirm-enable").await;
    chrome.click_and_wait("#confirm-button").await;
    chrome.wait_path(&scim_tab).await;
    assert_eq!(chrome.text("#scim-status").await, "Enabled");
    assert_eq!(
        chrome.value("input#org-uid").await,
        portal.acme,
        "connection details shown"
    );

    // Create a bearer token; it is shown once, and the IdP can use it.
    chrome
        .open(&format!("/orgs/{}/settings/scim/tokens", portal.acme))
        .await;
    chrome
        .fill("form#create-token input[name=name]", "Okta")
        .await;
    chrome.submit_and_wait("form#create-token").await;
    let token = chrome.value("input#new-token").await;
    assert!(token.starts_with("sgt_"), "{token}");
    chrome.shot("token-created").await;
    let (status, body) = scim(
        &portal.env,
        &portal.acme,
        &token,
        Method::GET,
        "/Users",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The Activity tab shows the link as the actor.
    chrome
        .open(&format!("/orgs/{}/settings/scim/activity", portal.acme))
        .await;
    let actors = chrome.texts("tr[data-audit] .actor").await;
    assert!(
        actors
            .iter()
            .any(|a| a.starts_with(&format!("the portal link {link_id}"))),
        "{actors:?}"
    );

    // Opening the same link again in the browser: the page says it was used.
    chrome.goto(&url).await;
    assert_eq!(
        chrome.text("#portal-title").await,
        "This link has been used"
    );
    chrome.shot("link-used").await;
    chrome.quit().await;
}

backend_tests!(
    a_link_opens_one_session_once,
    a_portal_session_sees_only_its_organizations_scim_settings,
    everything_done_in_a_portal_session_names_the_link,
    chromium_opens_a_portal_link_and_configures_scim,
);
