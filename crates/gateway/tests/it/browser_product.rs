//! Issue 15's new console pages in a real headless Chromium (see `browser_console.rs` for the
//! driver's habits), on SQLite + in-process store and on PostgreSQL + Redis: the SCIM tab's
//! health and "Test connection", token rotation, the group picker and a refused empty mapping,
//! the user page, and Activity in sentences. Every page visited is checked with axe-core (no
//! serious or critical violation) and for tables that wrap a word per line; screenshots land in
//! `$CARGO_TARGET_DIR/browser-screenshots/<test>/`.
#![allow(
    clippy::disallowed_methods,
    clippy::unwrap_used,
    clippy::panic,
    clippy::expect_used
)]

use crate::common;

use common::browser::Chrome;
use common::oauth::{self, PASSWORD};
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::{Backend, backend_tests};

const OWNER: &str = "owner@acme.test";
const USER: &str = "alice@example.com";
const GROUP: &str = "Engineering";

/// Fails when a table squeezes a column to a word (or a letter) per line.
async fn assert_tables_readable(chrome: &Chrome, what: &str) {
    let squeezed = chrome
        .client
        .execute(
            "const out = []; \
             for (const cell of document.querySelectorAll('th, td')) { \
               const text = cell.textContent.trim(); \
               const hidden = cell.querySelector('.sr-only'); \
               if (!text || (hidden && hidden.textContent.trim() === text)) continue; \
               const words = text.split(/\\s+/).filter(Boolean).length; \
               const range = document.createRange(); \
               range.selectNodeContents(cell); \
               const tops = new Set([...range.getClientRects()] \
                 .filter(r => r.width > 0).map(r => Math.round(r.top))); \
               const w = cell.getBoundingClientRect().width; \
               if (w < 48 && text.length > 4) out.push(text + ' (' + Math.round(w) + 'px wide)'); \
               else if (tops.size > Math.max(3, words)) \
                 out.push(text.slice(0, 60) + ' (' + tops.size + ' lines)'); \
             } \
             return out;",
            vec![],
        )
        .await
        .unwrap();
    let squeezed: Vec<String> = serde_json::from_value(squeezed).unwrap_or_default();
    assert!(
        squeezed.is_empty(),
        "{what}: table cells squeezed: {squeezed:?}"
    );
}

/// The page's checks: accessible, tables readable, a screenshot.
async fn check(chrome: &Chrome, name: &str) {
    chrome.shot(name).await;
    chrome.assert_accessible(name).await;
    assert_tables_readable(chrome, name).await;
}

async fn scim(
    http: &reqwest::Client,
    base: &str,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = http
        .request(method, format!("{base}{path}"))
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

async fn product_pages_in_chromium(backend: Backend) {
    let target = common::Target::new(backend).await;
    let org = target.admin(&[
        "create-org",
        "--name",
        "Acme",
        "--owner-email",
        OWNER,
        "--owner-password",
        PASSWORD,
    ])["org_uid"]
        .as_str()
        .unwrap()
        .to_owned();
    target.admin(&["enable-scim", "--org", &org]);
    let server = oauth::OAuthEnv::serve(&target, &[]).await;
    let http = common::http();
    let settings = |rest: &str| format!("/orgs/{org}/settings/scim{rest}");
    let scim_base = format!("{}/scim/v2.0/organizations/{org}", server.base_url);
    let name = format!(
        "product_pages_in_chromium-{}",
        format!("{backend:?}").to_lowercase()
    );
    let chrome = Chrome::start(&name, &server.base_url).await;

    chrome.goto("/login").await;
    chrome.fill("input[name=email]", OWNER).await;
    chrome.fill("input[name=password]", PASSWORD).await;
    chrome.submit_and_wait(r#"form[action="/login"]"#).await;
    chrome
        .wait_url("to leave the login page", |u| u.path() != "/login")
        .await;

    // The SCIM tab: no credential yet; "Test connection" says what the IdP would get.
    chrome.goto(&settings("")).await;
    chrome.click_and_wait("form#test-connection button").await;
    let result = chrome.text("#test-result").await;
    assert!(result.contains("401 Unauthorized"), "{result}");
    check(&chrome, "scim-tab-test").await;

    // A token, then rotated with a 24-hour overlap.
    chrome.goto(&settings("/tokens")).await;
    chrome
        .fill("form#create-token input[name=name]", "okta-production")
        .await;
    chrome.submit_and_wait("form#create-token").await;
    let old = chrome.value("input#new-token").await;
    check(&chrome, "token-created").await;
    let row = chrome
        .find_with_text("tr[data-token]", "okta-production")
        .await;
    let old_id = row.attr("data-token").await.unwrap().unwrap();
    chrome
        .click_and_wait(&format!(r#"tr[data-token="{old_id}"] a.rotate"#))
        .await;
    chrome.find("form#rotate").await;
    check(&chrome, "token-rotate").await;
    chrome.click_and_wait("button#rotate-button").await;
    let new = chrome.value("input#new-token").await;
    assert_ne!(new, old);
    let note = chrome.text("#rotation-note").await;
    assert!(note.contains("keeps working until"), "{note}");
    check(&chrome, "token-rotated").await;
    for token in [&old, &new] {
        let (status, body) = scim(
            &http,
            &scim_base,
            reqwest::Method::GET,
            "/Users",
            token,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    // Provision a user and a group with the new token.
    let (status, user) = scim(
        &http,
        &scim_base,
        reqwest::Method::POST,
        "/Users",
        &new,
        Some(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": USER, "name": {"givenName": "Alice", "familyName": "Liddell"},
            "emails": [{"value": USER, "type": "work", "primary": true}]}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let user_id = user["id"].as_str().unwrap().to_owned();
    let (status, group) = scim(
        &http,
        &scim_base,
        reqwest::Method::POST,
        "/Groups",
        &new,
        Some(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": GROUP, "members": [{"value": user_id}]}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let group_id = group["id"].as_str().unwrap().to_owned();

    // The SCIM tab's health now names the tokens and their last request.
    chrome.goto(&settings("")).await;
    chrome.click_and_wait("form#test-connection button").await;
    let result = chrome.text("#test-result").await;
    assert!(
        result.contains("ServiceProviderConfig answers 200"),
        "{result}"
    );
    check(&chrome, "scim-tab-health").await;

    // Group mapping: pick the group from the list, refuse a mapping to nothing, then map it.
    chrome.goto(&settings("/mappings")).await;
    let options = chrome.find_all("datalist#scim-groups option").await;
    assert_eq!(options.len(), 1, "the organization's groups are offered");
    chrome
        .fill("form#group-picker input[name=group]", GROUP)
        .await;
    check(&chrome, "mappings-picker").await;
    chrome.submit_and_wait("form#group-picker").await;
    chrome
        .wait_path(&settings(&format!("/groups/{group_id}")))
        .await;
    chrome.click_and_wait("button#preview-mapping").await;
    let error = chrome.text("#mapping-error").await;
    assert!(error.contains("must grant"), "{error}");
    check(&chrome, "mapping-refused").await;
    chrome
        .select("form#mapping select[name=org_role]", "admin")
        .await;
    chrome.click_and_wait("button#preview-mapping").await;
    chrome
        .click_and_wait("form#confirm button#confirm-button")
        .await;
    chrome
        .wait_text("#current-mapping", "the saved mapping", |t| {
            t.contains("Admin")
        })
        .await;
    // Back returns to the mappings page it came from.
    chrome.click_and_wait("a#back").await;
    chrome.wait_path(&settings("/mappings")).await;

    // The Users tab links to the user page.
    chrome.goto(&settings("/users")).await;
    check(&chrome, "users").await;
    chrome
        .click_and_wait(&format!(r#"tr[data-user="{user_id}"] .user-name a"#))
        .await;
    chrome
        .wait_path(&settings(&format!("/users/{user_id}")))
        .await;
    let roles = chrome.text("table#roles").await;
    assert!(roles.contains("Admin") && roles.contains(GROUP), "{roles}");
    check(&chrome, "user").await;
    chrome.click_and_wait("a#back").await;
    chrome.wait_path(&settings("/users")).await;

    // Activity in sentences.
    chrome.goto(&settings("/activity")).await;
    let text = chrome.page_text().await;
    for expected in [
        "Provisioned the user alice@example.com.",
        "Rotated the bearer token",
        "Mapped the group Engineering to Org role Admin",
    ] {
        assert!(text.contains(expected), "{expected}: {text}");
    }
    check(&chrome, "activity").await;

    // The other pages whose markup changed: connected IdPs, groups, stacks.
    for (path, name) in [
        (settings("/installations"), "installations"),
        (settings("/groups"), "groups"),
        (format!("/orgs/{org}/stacks"), "stacks"),
    ] {
        chrome.goto(&path).await;
        check(&chrome, name).await;
    }

    // A destructive confirmation looks destructive.
    chrome
        .goto(&settings(&format!("/tokens/{old_id}/revoke")))
        .await;
    let class = chrome
        .find("button#confirm-button")
        .await
        .attr("class")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(class.contains("danger"), "{class}");
    check(&chrome, "revoke-confirm").await;

    chrome.quit().await;
}

backend_tests!(product_pages_in_chromium);
