//! The SCIM request log (docs/console.md, "Request log") on SQLite and PostgreSQL: successes, a
//! 409, a 401 with a bad token, a 403 and a 404 are all logged with their status and credential;
//! passwords and tokens are never stored; the search filters narrow; bad searches are 400s; the
//! janitor's pruning removes old rows; another organization's admin sees none of it. The console
//! page in Chromium is at the end.
#![allow(
    clippy::disallowed_methods,
    clippy::unwrap_used,
    clippy::panic,
    clippy::expect_used
)]

use std::time::{Duration, Instant};

use crate::common;

use common::api::{ALL_SCOPES, reply};
use common::browser::Chrome;
use common::oauth::{Browser, PASSWORD};
use common::scim::Reply;
use common::{Server, Target};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{Backend, backend_tests};

const PASSWORD_SENT: &str = "Hunter2-never-stored";
const PATCH_PASSWORD: &str = "PatchPw-never-stored";
const BAD_TOKEN: &str = "sgt_this-bearer-token-is-wrong-and-never-stored";

/// Two organizations (Acme, Beta) with an Owner, SCIM on and a bearer token each; a backend
/// client with every scope; the server in-process.
struct LogEnv {
    target: Target,
    server: Server,
    http: reqwest::Client,
    api_token: String,
    acme: Org,
    beta: Org,
}

struct Org {
    uid: String,
    owner: String,
    token: String,
    token_id: String,
}

fn org(target: &Target, name: &str) -> Org {
    let owner = format!("owner@{}.test", name.to_lowercase());
    let uid = target.admin(&[
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
    target.admin(&["enable-scim", "--org", &uid]);
    let issued = target.admin(&["create-token", "--org", &uid, "--name", "Okta provisioning"]);
    Org {
        uid,
        owner,
        token: issued["token"].as_str().unwrap().to_owned(),
        token_id: issued["token_id"].as_str().unwrap().to_owned(),
    }
}

impl LogEnv {
    async fn start(backend: Backend, settings: &[(&str, &str)]) -> Self {
        let target = Target::new(backend).await;
        let acme = org(&target, "Acme");
        let beta = org(&target, "Beta");
        let client = target.admin(&[
            "register-backend-client",
            "--name",
            "SaaS backend",
            "--scopes",
            ALL_SCOPES,
        ]);
        let server = Server::in_process(&target, settings).await;
        let http = common::http();
        let res = http
            .post(server.url("/oauth/token"))
            .basic_auth(
                client["client_id"].as_str().unwrap(),
                client["client_secret"].as_str(),
            )
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        let token = reply(res).await;
        assert_eq!(token.status, StatusCode::OK, "{}", token.body);
        Self {
            api_token: token.body["access_token"].as_str().unwrap().to_owned(),
            target,
            server,
            http,
            acme,
            beta,
        }
    }

    /// A SCIM request to `org` with `token`.
    async fn scim(
        &self,
        org: &str,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self
            .http
            .request(
                method,
                self.server
                    .url(&format!("/scim/v2.0/organizations/{org}{path}")),
            )
            .bearer_auth(token);
        if let Some(body) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(body.to_string());
        }
        reply(req.send().await.unwrap()).await
    }

    /// `GET /api/v1/organizations/{org}/scim-requests?{query}`.
    async fn log(&self, org: &str, query: &str) -> Reply {
        let res = self
            .http
            .get(self.server.url(&format!(
                "/api/v1/organizations/{org}/scim-requests?{query}"
            )))
            .bearer_auth(&self.api_token)
            .send()
            .await
            .unwrap();
        reply(res).await
    }

    /// The organization's whole log once it holds at least `count` rows (the writer is
    /// asynchronous: polled, never slept on blindly).
    async fn wait_for(&self, org: &str, count: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let page = self.log(org, "limit=200").await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.body);
            let rows = page.body["data"].as_array().unwrap().clone();
            if rows.len() >= count {
                return rows;
            }
            assert!(
                Instant::now() < deadline,
                "the log of {org} holds {} rows, expected {count}: {}",
                rows.len(),
                page.body
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The statuses of a search, newest first.
    async fn statuses(&self, org: &str, query: &str) -> Vec<i64> {
        let page = self.log(org, query).await;
        assert_eq!(page.status, StatusCode::OK, "{query}: {}", page.body);
        page.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["status"].as_i64().unwrap())
            .collect()
    }
}

fn user(user_name: &str, external_id: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "externalId": external_id,
        "password": PASSWORD_SENT,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": user_name, "type": "work", "primary": true}],
        "active": true
    })
}

/// The traffic the tests look for, in order; returns the created user's id.
async fn traffic(env: &LogEnv) -> String {
    let acme = &env.acme;
    let created = env
        .scim(
            &acme.uid,
            &acme.token,
            Method::POST,
            "/Users",
            Some(user("ada@example.com", "ext-ada")),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let again = env
        .scim(
            &acme.uid,
            &acme.token,
            Method::POST,
            "/Users",
            Some(user("ADA@example.com", "ext-ada-2")),
        )
        .await;
    again.assert_error(409, Some("uniqueness"));
    let patched = env
        .scim(
            &acme.uid,
            &acme.token,
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "password", "value": PATCH_PASSWORD}]
            })),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let found = env
        .scim(
            &acme.uid,
            &acme.token,
            Method::GET,
            "/Users?filter=externalId%20eq%20%22ext-ada%22",
            None,
        )
        .await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    env.scim(
        &acme.uid,
        &acme.token,
        Method::GET,
        "/Users/no-such-user",
        None,
    )
    .await
    .assert_error(404, None);
    env.scim(&acme.uid, BAD_TOKEN, Method::GET, "/Users", None)
        .await
        .assert_error(401, None);
    // A bad token for an organization that does not exist: nobody's log.
    env.scim("no-such-org", BAD_TOKEN, Method::GET, "/Users", None)
        .await
        .assert_error(401, None);
    id
}

/// Every kind of answer is logged with its status and credential; no secret is stored.
async fn logs_every_request_without_secrets(backend: Backend) {
    let env = LogEnv::start(backend, &[]).await;
    traffic(&env).await;
    // Beta switched SCIM off: its token is accepted, the switch refuses (403).
    env.target.admin(&["disable-scim", "--org", &env.beta.uid]);
    env.scim(&env.beta.uid, &env.beta.token, Method::GET, "/Users", None)
        .await
        .assert_error(403, None);

    let rows = env.wait_for(&env.acme.uid, 6).await;
    let statuses: Vec<i64> = rows.iter().map(|r| r["status"].as_i64().unwrap()).collect();
    assert_eq!(statuses, vec![401, 404, 200, 200, 409, 201], "newest first");
    let text = serde_json::to_string(&rows).unwrap();
    for secret in [
        PASSWORD_SENT,
        PATCH_PASSWORD,
        BAD_TOKEN,
        env.acme.token.as_str(),
    ] {
        assert!(!text.contains(secret), "{secret} is stored: {text}");
    }
    let create = &rows[5];
    assert_eq!(create["method"], "POST");
    assert_eq!(
        create["path"],
        format!("/scim/v2.0/organizations/{}/Users", env.acme.uid)
    );
    assert_eq!(create["credential_kind"], "api_token");
    assert_eq!(create["credential_id"], env.acme.token_id.as_str());
    assert_eq!(create["user_name"], "ada@example.com");
    assert_eq!(create["external_id"], "ext-ada");
    assert!(create["duration_ms"].as_f64().unwrap() > 0.0);
    assert!(create["request_id"].as_str().is_some_and(|r| !r.is_empty()));
    let body: Value = serde_json::from_str(create["request_body"].as_str().unwrap()).unwrap();
    assert_eq!(body["password"], "[redacted]", "{body}");
    assert_eq!(body["userName"], "ada@example.com");
    let answer: Value = serde_json::from_str(create["response_body"].as_str().unwrap()).unwrap();
    assert_eq!(answer["userName"], "ada@example.com", "{answer}");
    let conflict = &rows[4];
    assert_eq!(conflict["user_name"], "ADA@example.com");
    assert!(
        conflict["response_body"]
            .as_str()
            .unwrap()
            .contains("uniqueness")
    );
    assert!(
        rows[3]["request_body"]
            .as_str()
            .unwrap()
            .contains("[redacted]")
    );
    let refused = &rows[0];
    assert_eq!(refused["credential_kind"], Value::Null, "{refused}");
    assert_eq!(refused["credential_id"], Value::Null);

    // The 403 is in Beta's log with the credential that was accepted, and only there.
    let beta = env.wait_for(&env.beta.uid, 1).await;
    assert_eq!(beta.len(), 1, "{beta:?}");
    assert_eq!(beta[0]["status"], 403);
    assert_eq!(beta[0]["credential_id"], env.beta.token_id.as_str());
    assert!(!serde_json::to_string(&beta).unwrap().contains("ada@"));
}

/// Every filter narrows; bad searches are clear 400s (never 500s), NUL bytes included.
async fn search_filters(backend: Backend) {
    let env = LogEnv::start(backend, &[]).await;
    traffic(&env).await;
    let org = env.acme.uid.clone();
    env.wait_for(&org, 6).await;

    assert_eq!(env.statuses(&org, "status=2xx").await, vec![200, 200, 201]);
    assert_eq!(env.statuses(&org, "status=4xx").await, vec![401, 404, 409]);
    assert_eq!(env.statuses(&org, "status=refused").await, vec![401]);
    assert_eq!(env.statuses(&org, "status=5xx").await, Vec::<i64>::new());
    assert_eq!(env.statuses(&org, "method=post").await, vec![409, 201]);
    assert_eq!(env.statuses(&org, "method=PATCH").await, vec![200]);
    assert_eq!(env.statuses(&org, "q=no-such-user").await, vec![404]);
    // Text in a body, whatever its case.
    assert_eq!(
        env.statuses(&org, "q=LOVELACE").await,
        vec![200, 200, 409, 201]
    );
    assert_eq!(env.statuses(&org, "q=100%25").await, Vec::<i64>::new());
    // userName case-insensitively, externalId exactly (from the body or the filter).
    assert_eq!(
        env.statuses(&org, "user=ADA%40EXAMPLE.COM").await,
        vec![200, 409, 201]
    );
    assert_eq!(
        env.statuses(&org, "user=ext-ada").await,
        vec![200, 200, 201]
    );
    let future = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let past = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let encode = |t: &str| t.replace('+', "%2B");
    assert_eq!(
        env.statuses(&org, &format!("since={}", encode(&future)))
            .await
            .len(),
        0
    );
    assert_eq!(
        env.statuses(
            &org,
            &format!("since={}&until={}", encode(&past), encode(&future))
        )
        .await
        .len(),
        6
    );
    // Pages, newest first, each row once.
    let first = env.log(&org, "limit=4").await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let second = env.log(&org, &format!("limit=4&cursor={cursor}")).await;
    assert_eq!(first.body["data"].as_array().unwrap().len(), 4);
    assert_eq!(second.body["data"].as_array().unwrap().len(), 2);
    assert_eq!(second.body["next_cursor"], Value::Null);
    assert!(
        first.body["data"][3]["id"].as_i64().unwrap()
            > second.body["data"][0]["id"].as_i64().unwrap()
    );

    let long = "x".repeat(201);
    for bad in [
        "q=a%00b",
        "user=%00",
        &format!("q={long}"),
        "status=3xx",
        "method=TRACE",
        "since=yesterday",
        "cursor=%00",
    ] {
        env.log(&org, bad)
            .await
            .assert_problem(400, "invalid-request");
    }

    // The console answers the same searches, and bad ones with a 400 page.
    let browser = Browser::new(&env.server.base_url);
    browser.login(&env.acme.owner, PASSWORD).await;
    let page = browser
        .get(&format!(
            "/orgs/{org}/settings/scim/requests?status=4xx&method=POST"
        ))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(
        page.body.matches("data-request").count(),
        1,
        "{}",
        page.body
    );
    assert!(page.body.contains("409"));
    for bad in [
        "q=a%00b".to_owned(),
        format!("q={long}"),
        "status=bogus".to_owned(),
        "since=not-a-time".to_owned(),
    ] {
        let page = browser
            .get(&format!("/orgs/{org}/settings/scim/requests?{bad}"))
            .await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{bad}: {}", page.body);
    }
    // A control character in a console address is refused with a page before any lookup.
    let page = browser
        .get(&format!("/orgs/{org}/settings/scim/requests/%00"))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    let page = browser
        .get(&format!("/orgs/{org}/settings/scim/requests/999999999"))
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND, "{}", page.body);

    // The SCIM tab's health counts the last day's errors from the log: the 401, and the 404
    // and the 409 as other client errors.
    let page = browser.get(&format!("/orgs/{org}/settings/scim")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body
            .contains("3 — 1 refused (401/403), 2 other client errors (4xx), 0 server errors"),
        "{}",
        page.body
    );
}

/// The janitor's pass removes what is past `scim_log.retention_days`, and nothing else.
async fn retention_prunes_old_rows(backend: Backend) {
    let env = LogEnv::start(backend, &[("SCIMGATE_SCIM_LOG__RETENTION_DAYS", "7")]).await;
    traffic(&env).await;
    env.wait_for(&env.acme.uid, 6).await;
    let core = &env.server.app().services.core;
    let now = chrono::Utc::now();
    let pruned = usecases::request_log::prune(core, now).await.unwrap();
    assert_eq!(pruned.expired, 0);
    // Eight days on, every row is past its week.
    let pruned = usecases::request_log::prune(core, now + chrono::Duration::days(8))
        .await
        .unwrap();
    assert_eq!(pruned.expired, 6);
    assert_eq!(env.statuses(&env.acme.uid, "").await, Vec::<i64>::new());
}

/// Another organization's Owner reaches none of the log: not the page, not a row by id; the
/// management API lists each organization's own rows only.
async fn other_organizations_see_nothing(backend: Backend) {
    let env = LogEnv::start(backend, &[]).await;
    traffic(&env).await;
    let rows = env.wait_for(&env.acme.uid, 6).await;
    let acme_row = rows[0]["id"].as_i64().unwrap();
    assert_eq!(env.statuses(&env.beta.uid, "").await, Vec::<i64>::new());

    let beta_owner = Browser::new(&env.server.base_url);
    beta_owner.login(&env.beta.owner, PASSWORD).await;
    let page = beta_owner
        .get(&format!("/orgs/{}/settings/scim/requests", env.acme.uid))
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND, "{}", page.body);
    let page = beta_owner
        .get(&format!(
            "/orgs/{}/settings/scim/requests/{acme_row}",
            env.acme.uid
        ))
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND, "{}", page.body);
    // Acme's row id under Beta's own organization: not found either.
    let page = beta_owner
        .get(&format!(
            "/orgs/{}/settings/scim/requests/{acme_row}",
            env.beta.uid
        ))
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND, "{}", page.body);
    let own = beta_owner
        .get(&format!("/orgs/{}/settings/scim/requests", env.beta.uid))
        .await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    assert!(!own.body.contains("ada@example.com"), "{}", own.body);

    // Acme's Owner sees the row and its redacted body.
    let acme_owner = Browser::new(&env.server.base_url);
    acme_owner.login(&env.acme.owner, PASSWORD).await;
    let create = rows[5]["id"].as_i64().unwrap();
    let page = acme_owner
        .get(&format!(
            "/orgs/{}/settings/scim/requests/{create}",
            env.acme.uid
        ))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("[redacted]"), "{}", page.body);
    assert!(!page.body.contains(PASSWORD_SENT));
}

/// The Request log in Chromium: reached from the SCIM tab's navigation, searched with its
/// labelled controls, a request opened with its bodies and the password redacted.
async fn request_log_in_chromium(backend: Backend) {
    let env = LogEnv::start(backend, &[]).await;
    traffic(&env).await;
    env.wait_for(&env.acme.uid, 6).await;
    let chrome = Chrome::start(
        &format!(
            "request_log_in_chromium-{}",
            format!("{backend:?}").to_lowercase()
        ),
        &env.server.base_url,
    )
    .await;
    chrome
        .goto(&format!("/orgs/{}/settings/scim", env.acme.uid))
        .await;
    chrome.wait_path("/login").await;
    chrome.fill("input[name=email]", &env.acme.owner).await;
    chrome.fill("input[name=password]", PASSWORD).await;
    chrome.submit_and_wait(r#"form[action="/login"]"#).await;
    chrome
        .wait_url("to leave the login page", |u| u.path() != "/login")
        .await;
    chrome.click_and_wait("nav.tabs a[href$='/requests']").await;
    chrome
        .wait_path(&format!("/orgs/{}/settings/scim/requests", env.acme.uid))
        .await;
    chrome.shot("request-log").await;
    assert_eq!(chrome.find_all("tr[data-request]").await.len(), 6);
    chrome.assert_accessible("the request log").await;

    // Every control of the search form has a label.
    let unlabelled: Value = chrome
        .client
        .execute(
            "return [...document.querySelectorAll('#request-filter input, #request-filter select')]
                .filter(e => !e.closest('label') && !e.getAttribute('aria-label')).length",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(unlabelled, json!(0), "unlabelled search controls");

    chrome.select("#filter-status", "4xx").await;
    chrome.select("#filter-method", "POST").await;
    chrome.submit_and_wait("#request-filter").await;
    chrome
        .wait_text("#request-log tbody", "the 409 alone", |t| {
            t.contains("409") && !t.contains("201")
        })
        .await;
    chrome.shot("request-log-4xx-post").await;
    assert_eq!(chrome.find_all("tr[data-request]").await.len(), 1);

    chrome.select("#filter-status", "").await;
    chrome.fill("#filter-user", "ext-ada").await;
    chrome.submit_and_wait("#request-filter").await;
    chrome
        .wait_text("#request-log tbody", "the create alone", |t| {
            t.contains("201") && !t.contains("409")
        })
        .await;
    assert_eq!(chrome.find_all("tr[data-request]").await.len(), 1);
    chrome.click_and_wait("#request-log td.request a").await;
    let body = chrome
        .wait_text("#request-body", "the request body", |t| {
            t.contains("ada@example.com")
        })
        .await;
    chrome.shot("request-detail").await;
    assert!(body.contains("[redacted]"), "{body}");
    chrome.assert_accessible("a logged request").await;
    let page = chrome.page_text().await;
    assert!(!page.contains(PASSWORD_SENT), "{page}");
    assert!(page.contains("bearer token “Okta provisioning”"), "{page}");
    chrome.quit().await;
}

backend_tests!(
    logs_every_request_without_secrets,
    search_filters,
    retention_prunes_old_rows,
    other_organizations_see_nothing,
    request_log_in_chromium,
);
