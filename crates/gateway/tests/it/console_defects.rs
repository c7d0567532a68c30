//! Issue 15's defects, each pinned by a test that failed before its fix, over HTTP against the
//! real app on SQLite + in-process store and on PostgreSQL + Redis: the consent page offers the
//! organization its authorization URL names; an IdP cannot suspend or remove the Owner (and the
//! console says what was asked and what was done); connected IdPs show their last token use and
//! a revoked token family; a new token survives a reload without a second one; the SCIM
//! documentation link works; unknown pages answer a page; refused requests are not a token's use;
//! `active` is always answered.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::panic)]

use crate::common;

use common::oauth::{self, Browser, OAuthEnv, PASSWORD, Page, field};
use oauth2::AuthType;
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::{Backend, backend_tests};

/// The OAuth-ready deployment of `oauth.rs` with its Owner signed in.
struct Console {
    env: OAuthEnv,
    browser: Browser,
}

impl Console {
    async fn start(backend: Backend) -> Self {
        Self::start_with(backend, &[]).await
    }

    async fn start_with(backend: Backend, settings: &[(&str, &str)]) -> Self {
        let env = OAuthEnv::start_with(backend, settings).await;
        let browser = env.browser();
        browser.login(&env.email, PASSWORD).await;
        Self { env, browser }
    }

    fn path(&self, rest: &str) -> String {
        format!("/orgs/{}/settings/scim{rest}", self.env.org)
    }

    async fn submit(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let page = self.browser.get(&self.path("")).await;
        let csrf = field(&page.body, "csrf").unwrap();
        let mut fields = vec![("csrf", csrf.as_str())];
        fields.extend_from_slice(form);
        self.browser.post(path, &fields).await
    }

    async fn scim(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let url = self
            .env
            .url(&format!("/scim/v2.0/organizations/{}{path}", self.env.org));
        let mut req = self.env.http.request(method, url).bearer_auth(token);
        if let Some(body) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(body.to_string());
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// A bearer token made with the CLI.
    fn cli_token(&self, name: &str) -> (String, String) {
        let issued =
            self.env
                .target
                .admin(&["create-token", "--org", &self.env.org, "--name", name]);
        (
            issued["token"].as_str().unwrap().to_owned(),
            issued["token_id"].as_str().unwrap().to_owned(),
        )
    }

    /// The text of the table row carrying `data-{attr}="{id}"`.
    async fn row(&self, page: &str, attr: &str, id: &str) -> String {
        let body = self.browser.get(&self.path(page)).await.body;
        row_of(&body, attr, id)
    }
}

/// The text of the cell of class `class` in a row's markup.
fn cell(row: &str, class: &str) -> String {
    let marker = format!("class=\"{class}\">");
    let at = row
        .find(&marker)
        .unwrap_or_else(|| panic!("no cell {class}: {row}"))
        + marker.len();
    row[at..]
        .split('<')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// The markup of the `<tr>` whose `data-{attr}` is `id`.
fn row_of(html: &str, attr: &str, id: &str) -> String {
    let marker = format!("data-{attr}=\"{id}\"");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no row {marker}: {html}"));
    let end = html[at..].find("</tr>").map_or(html.len(), |e| at + e);
    html[at..end].to_owned()
}

fn user(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name,
        "emails": [{"value": name, "type": "work", "primary": true}]})
}

/// Defect 1: the organization named by the authorization URL is the one offered; an unknown or
/// foreign one gets a page that says why, never another organization.
async fn consent_offers_the_organization_the_url_names(backend: Backend) {
    let console = Console::start(backend).await;
    let env = &console.env;
    // A second SCIM-enabled organization of the same Owner, created after the first.
    let beta = env.target.admin(&[
        "create-org",
        "--name",
        "Beta Corp",
        "--owner-email",
        &env.email,
    ])["org_uid"]
        .as_str()
        .unwrap()
        .to_owned();
    env.target.admin(&["enable-scim", "--org", &beta]);
    let idp = env.idp(AuthType::BasicAuth);
    let (url, _) = oauth::authorize_url(&idp, true);

    // Without `org` both are offered.
    let both = console.browser.consent(&url).await;
    assert!(
        both.body.contains("Acme") && both.body.contains("Beta Corp"),
        "{}",
        both.body
    );

    // Named: that one only, as the form's value.
    let named = console.browser.consent(&format!("{url}&org={beta}")).await;
    assert_eq!(field(&named.body, "org").as_deref(), Some(beta.as_str()));
    assert!(named.body.contains("Beta Corp"), "{}", named.body);
    assert!(
        !named.body.contains(">Acme"),
        "the other organization is not offered: {}",
        named.body
    );
    // The decision cannot swap it for another organization.
    let swapped = console
        .browser
        .decide(&named, &env.org, "approve", true)
        .await;
    assert_eq!(swapped.status, StatusCode::BAD_REQUEST, "{}", swapped.body);
    assert!(swapped.body.contains("Beta Corp"), "{}", swapped.body);
    let approved = console.browser.decide(&named, &beta, "approve", true).await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER, "{}", approved.body);

    // An organization that does not exist, and one the account is not an admin of.
    let unknown = console
        .browser
        .get(&format!("{url}&org=org_doesnotexist"))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
    assert!(
        unknown.body.contains("org_doesnotexist") && !unknown.body.contains("Authorize &amp;"),
        "{}",
        unknown.body
    );
    let foreign = env.target.admin(&[
        "create-org",
        "--name",
        "Globex",
        "--owner-email",
        "someone@globex.test",
    ])["org_uid"]
        .as_str()
        .unwrap()
        .to_owned();
    env.target.admin(&["enable-scim", "--org", &foreign]);
    let refused = console.browser.get(&format!("{url}&org={foreign}")).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.body);
    assert!(
        !refused.body.contains("Globex") && !refused.body.contains("Authorize &amp;"),
        "a foreign organization is not even named: {}",
        refused.body
    );

    // Named but SCIM disabled: the page says so.
    env.target.admin(&["disable-scim", "--org", &beta]);
    let disabled = console.browser.get(&format!("{url}&org={beta}")).await;
    assert_eq!(disabled.status, StatusCode::FORBIDDEN, "{}", disabled.body);
    assert!(
        disabled.body.contains("SCIM is not enabled for Beta Corp"),
        "{}",
        disabled.body
    );
}

/// Defect 2: an IdP cannot suspend or remove the Owner; the console's Activity says what was
/// asked and what was done instead; no mapping grants Owner.
async fn the_idp_cannot_lock_out_the_owner(backend: Backend) {
    let console = Console::start(backend).await;
    let (token, _) = console.cli_token("idp");
    let (status, created) = console
        .scim(
            &token,
            reqwest::Method::POST,
            "/Users",
            Some(user("owner@acme.test")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, body) = console
        .scim(
            &token,
            reqwest::Method::PATCH,
            &format!("/Users/{id}"),
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "value": {"active": false}}]}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Still the Owner, still let in.
    let page = console.browser.get(&console.path("")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let (status, _) = console
        .scim(
            &token,
            reqwest::Method::DELETE,
            &format!("/Users/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let page = console.browser.get(&console.path("")).await;
    assert_eq!(
        page.status,
        StatusCode::OK,
        "the Owner keeps the organization"
    );

    let activity = console.browser.get(&console.path("/activity")).await.body;
    for expected in [
        "asked to suspend the Owner owner@acme.test",
        "asked to remove the Owner owner@acme.test",
        "kept: Owners are managed by hand",
    ] {
        assert!(activity.contains(expected), "{expected}: {activity}");
    }

    // The mapping form does not offer Owner, and a forged one is refused with a page.
    let (status, group) = console
        .scim(
            &token,
            reqwest::Method::POST,
            "/Groups",
            Some(
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Admins"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let gid = group["id"].as_str().unwrap();
    let form = console
        .browser
        .get(&console.path(&format!("/groups/{gid}")))
        .await;
    assert!(
        !form.body.contains("value=\"owner\""),
        "Owner is not a choice: {}",
        form.body
    );
    for step in ["preview", "save"] {
        let forged = console
            .submit(
                &console.path(&format!("/groups/{gid}/mapping")),
                &[("org_role", "owner"), ("step", step)],
            )
            .await;
        assert_eq!(forged.status, StatusCode::BAD_REQUEST, "{}", forged.body);
        assert!(
            forged.body.contains("cannot grant Owner"),
            "{}",
            forged.body
        );
    }
}

/// Defect 3: a connected IdP's last token use is shown, and an installation whose refresh-token
/// family was revoked (reuse) no longer shows as active.
async fn installations_show_use_and_dead_token_families(backend: Backend) {
    let console =
        Console::start_with(backend, &[("SCIMGATE_OAUTH__REFRESH_GRACE_SECS", "0")]).await;
    let env = &console.env;
    let idp = env.idp(AuthType::BasicAuth);
    let (callback, verifier) = env.authorize(&idp, true).await;
    let tokens = oauth::exchange(&idp, &callback.code, verifier)
        .await
        .unwrap();
    let page = console.browser.get(&console.path("/installations")).await;
    let id = page
        .body
        .split("data-installation=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    let row = row_of(&page.body, "installation", &id);
    assert_eq!(cell(&row, "last-used"), "never", "not used yet: {row}");
    assert_eq!(
        env.scim_status(&oauth::access(&tokens), &env.org).await,
        StatusCode::OK
    );
    let row = console.row("/installations", "installation", &id).await;
    assert_ne!(cell(&row, "last-used"), "never", "the use is shown: {row}");
    assert!(row.contains(">active<"), "{row}");

    // Rotate, then present the old refresh token again: the family dies.
    let first = oauth::refresh_of(&tokens);
    oauth::refresh(&idp, &first).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(oauth::refresh(&idp, &first).await.is_err(), "reuse refused");
    let row = console.row("/installations", "installation", &id).await;
    assert!(!row.contains(">active<"), "{row}");
    assert!(row.contains("authorize again"), "{row}");
}

/// Defect 4: the page that shows a new token can be reloaded without making another; names are
/// unique among live tokens.
async fn a_new_token_survives_a_reload(backend: Backend) {
    let console = Console::start(backend).await;
    let created = console
        .submit(&console.path("/tokens"), &[("name", "okta")])
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let shown_at = created.location().unwrap();
    let shown = console.browser.get(&shown_at).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown.body.contains("id=\"new-token\""), "{}", shown.body);
    // A reload shows the list, not the token, and creates nothing.
    let again = console.browser.get(&shown_at).await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(!again.body.contains("id=\"new-token\""), "{}", again.body);
    assert_eq!(
        again.body.matches("data-token=").count(),
        1,
        "{}",
        again.body
    );
    // Another browser cannot read it either.
    let other = console.env.browser();
    other.login(&console.env.email, PASSWORD).await;
    let page = other.get(&shown_at).await;
    assert!(!page.body.contains("id=\"new-token\""));

    let twice = console
        .submit(&console.path("/tokens"), &[("name", " OKTA ")])
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT, "{}", twice.body);
    assert!(twice.body.contains("already"), "{}", twice.body);
}

/// Defect 5: `documentationUri` answers a page.
async fn the_documentation_uri_exists(backend: Backend) {
    let console = Console::start(backend).await;
    let (token, _) = console.cli_token("idp");
    let (status, config) = console
        .scim(&token, reqwest::Method::GET, "/ServiceProviderConfig", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let uri = config["documentationUri"].as_str().unwrap();
    let res = console.env.http.get(uri).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{uri}");
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let body = res.text().await.unwrap();
    assert!(
        body.contains("/scim/v2.0/organizations/") && body.contains("Bearer"),
        "{body}"
    );
}

/// Defect 6: an unknown browser path answers an HTML page; API paths keep their JSON.
async fn unknown_pages_answer_a_page(backend: Backend) {
    let console = Console::start(backend).await;
    for path in [
        console.path("/nonsense"),
        format!("/orgs/{}/nothing", console.env.org),
        "/no/such/page".to_owned(),
    ] {
        let page = console.browser.get(&path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(
            page.header("content-type")
                .unwrap()
                .starts_with("text/html"),
            "{path}: {}",
            page.body
        );
        assert!(page.body.contains("<h1>"), "{path}: {}", page.body);
    }
    let api = console
        .env
        .http
        .get(console.env.url("/scim/v2.0/nothing"))
        .send()
        .await
        .unwrap();
    assert_ne!(
        api.headers()["content-type"].to_str().unwrap(),
        "text/html; charset=utf-8"
    );
}

/// Defect 7: a refused request is not a token's use; `active` is always answered.
async fn refusals_are_not_uses_and_active_is_answered(backend: Backend) {
    let console = Console::start(backend).await;
    let env = &console.env;
    let (token, token_id) = console.cli_token("idp");
    env.target.admin(&["disable-scim", "--org", &env.org]);
    let (status, _) = console
        .scim(&token, reqwest::Method::GET, "/Users", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let row = console.row("/tokens", "token", &token_id).await;
    assert_eq!(
        cell(&row, "last-used"),
        "never",
        "a refused request is no use: {row}"
    );
    // The same for an IdP's access token.
    env.target.admin(&["enable-scim", "--org", &env.org]);
    let idp = env.idp(AuthType::BasicAuth);
    let (callback, verifier) = env.authorize(&idp, true).await;
    let tokens = oauth::exchange(&idp, &callback.code, verifier)
        .await
        .unwrap();
    env.target.admin(&["disable-scim", "--org", &env.org]);
    assert_eq!(
        env.scim_status(&oauth::access(&tokens), &env.org).await,
        StatusCode::FORBIDDEN
    );
    let page = console.browser.get(&console.path("/installations")).await;
    let installation = page
        .body
        .split("data-installation=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    let row = row_of(&page.body, "installation", &installation);
    assert_eq!(cell(&row, "last-used"), "never", "{row}");
    env.target.admin(&["enable-scim", "--org", &env.org]);
    let (status, _) = console
        .scim(&token, reqwest::Method::GET, "/Users", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let row = console.row("/tokens", "token", &token_id).await;
    assert_ne!(
        cell(&row, "last-used"),
        "never",
        "an accepted request is: {row}"
    );

    let (status, created) = console
        .scim(
            &token,
            reqwest::Method::POST,
            "/Users",
            Some(user("noactive@example.com")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["active"], json!(true), "{created}");
    let id = created["id"].as_str().unwrap();
    let (_, fetched) = console
        .scim(&token, reqwest::Method::GET, &format!("/Users/{id}"), None)
        .await;
    assert_eq!(fetched["active"], json!(true), "{fetched}");
}

backend_tests!(
    consent_offers_the_organization_the_url_names,
    the_idp_cannot_lock_out_the_owner,
    installations_show_use_and_dead_token_families,
    a_new_token_survives_a_reload,
    the_documentation_uri_exists,
    unknown_pages_answer_a_page,
    refusals_are_not_uses_and_active_is_answered,
);
