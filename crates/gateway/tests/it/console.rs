//! The organization console over HTTP against the real binary, on SQLite + in-process store and
//! on PostgreSQL + Redis: who may open it, CSRF on every form, tenant isolation, bad input that
//! changes nothing, the switch, tokens, installations, mappings with their impact and events,
//! listings, and the security headers. (The same journey in a real browser is
//! `browser_console.rs`.)
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::panic)]

use crate::common;

use common::oauth::{self, Browser, OAuthEnv, PASSWORD, Page, field};
use oauth2::AuthType;
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::{Backend, backend_tests};

/// An OAuth-ready deployment (one SCIM-enabled org "Acme" with an Owner) and the Owner signed in.
struct Console {
    env: OAuthEnv,
    browser: Browser,
}

impl Console {
    async fn start(backend: Backend) -> Self {
        let env = OAuthEnv::start(backend).await;
        let browser = env.browser();
        browser.login(&env.email, PASSWORD).await;
        Self { env, browser }
    }

    fn path(&self, rest: &str) -> String {
        format!("/orgs/{}/settings/scim{rest}", self.env.org)
    }

    async fn csrf(&self) -> String {
        let page = self.browser.get(&self.path("")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        field(&page.body, "csrf").unwrap()
    }

    /// POSTs a console form with the session's CSRF token.
    async fn submit(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let csrf = self.csrf().await;
        let mut fields = vec![("csrf", csrf.as_str())];
        fields.extend_from_slice(form);
        self.browser.post(path, &fields).await
    }

    /// A bearer token created in the console, read from the page that shows it once.
    async fn create_token(&self, name: &str) -> String {
        let created = self.submit(&self.path("/tokens"), &[("name", name)]).await;
        assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
        let page = self.browser.get(&created.location().unwrap()).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        input_value(&page.body, "new-token").unwrap()
    }

    /// The payloads of the organization's `member.roles_changed` events, oldest first.
    async fn role_events(&self) -> Vec<String> {
        let db = store::connect(&self.env.target.db.url, &store::db::PoolSettings::default())
            .await
            .unwrap();
        let scope = store::repo::organizations::operator_scope(&db, &self.env.org)
            .await
            .unwrap();
        store::repo::events::list_after(&db, &scope, store::ids::EventId(0), 1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == "member.roles_changed")
            .map(|e| format!("{} previous={}", e.payload, e.previous.unwrap_or_default()))
            .collect()
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
        let body = res.json().await.unwrap_or(Value::Null);
        (status, body)
    }
}

/// The value of the first `data-{attr}="…"` attribute of a page.
fn first_data(html: &str, attr: &str) -> String {
    html.split(&format!("data-{attr}=\""))
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no data-{attr} on the page: {html}"))
        .to_owned()
}

/// The `value` of the input with this id.
fn input_value(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[at..];
    let start = rest.find("value=\"")? + 7;
    let end = rest[start..].find('"')?;
    Some(rest[start..start + end].to_owned())
}

fn user(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name,
        "name": {"givenName": "Given", "familyName": "Family"},
        "emails": [{"value": name, "type": "work", "primary": true}]})
}

fn group(name: &str, members: &[&str]) -> Value {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name,
        "members": members})
}

async fn only_owners_and_admins_get_in(backend: Backend) {
    let console = Console::start(backend).await;
    let env = &console.env;
    env.target.admin(&[
        "add-member",
        "--org",
        &env.org,
        "--email",
        "member@acme.test",
        "--role",
        "member",
        "--password",
        PASSWORD,
    ]);
    let member = env.browser();
    member.login("member@acme.test", PASSWORD).await;
    let list = member.get("/").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.body.contains("Only Owners and Admins manage SCIM"),
        "{}",
        list.body
    );
    let refused = member.get(&console.path("")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused.body.contains("only an active Owner or Admin"),
        "{}",
        refused.body
    );
    let refused_post = member
        .post(&console.path("/disable"), &[("csrf", "x")])
        .await;
    assert_eq!(refused_post.status, StatusCode::FORBIDDEN);

    // An Owner of another organization does not even learn that this one exists.
    let other = env.target.admin(&[
        "create-org",
        "--name",
        "Globex",
        "--owner-email",
        "owner@globex.test",
        "--owner-password",
        PASSWORD,
    ]);
    let stranger = env.browser();
    stranger.login("owner@globex.test", PASSWORD).await;
    let hidden = stranger.get(&console.path("/users")).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND, "{}", hidden.body);
    assert!(!hidden.body.contains("Acme"));
    let own = stranger
        .get(&format!(
            "/orgs/{}/settings/scim",
            other["org_uid"].as_str().unwrap()
        ))
        .await;
    assert_eq!(own.status, StatusCode::OK);

    // Signed out: the console sends the browser to sign in, then back to the page it asked for.
    let asked = console.path("/users?q=ann");
    let anonymous = env.browser();
    let sent = anonymous.get(&asked).await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER);
    let login = sent.location().unwrap();
    assert!(login.starts_with("/login?return="), "{login}");
    let back = anonymous.login_page(&login, &env.email, PASSWORD).await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.body);
    assert_eq!(back.location().as_deref(), Some(asked.as_str()));
    // The return path is only ever one of this app's console pages: no open redirect.
    for evil in [
        "https://evil.example/orgs/x",
        "//evil.example/orgs/x",
        "/orgs//evil.example",
    ] {
        let stranger = env.browser();
        let query = oauth::encode(&[("return", evil)]);
        let page = stranger.get(&format!("/login?{query}")).await;
        assert!(!page.body.contains("evil.example"), "{}", page.body);
        let csrf = field(&page.body, "csrf").unwrap();
        let res = stranger
            .post(
                "/login",
                &[
                    ("csrf", &csrf),
                    ("email", &env.email),
                    ("password", PASSWORD),
                    ("return", evil),
                ],
            )
            .await;
        assert_eq!(res.location().as_deref(), Some("/"), "{evil}");
    }
}

async fn every_form_needs_the_csrf_token(backend: Backend) {
    let console = Console::start(backend).await;
    for token in [None, Some("forged")] {
        let mut form = vec![];
        if let Some(t) = token {
            form.push(("csrf", t));
        }
        let res = console.browser.post(&console.path("/disable"), &form).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
        assert!(res.body.contains("Form expired"), "{}", res.body);
        let tokens = console
            .browser
            .post(&console.path("/tokens"), &[("name", "x")])
            .await;
        assert_eq!(tokens.status, StatusCode::FORBIDDEN);
    }
    let overview = console.browser.get(&console.path("")).await;
    assert!(overview.body.contains(">Enabled<"), "nothing changed");
    assert!(
        !console
            .browser
            .get(&console.path("/tokens"))
            .await
            .body
            .contains("data-token=")
    );
}

async fn switch_tokens_and_installations(backend: Backend) {
    let console = Console::start(backend).await;
    let token = console.create_token("okta").await;
    assert!(token.starts_with("sgt_"), "{token}");
    assert_eq!(
        console
            .scim(&token, reqwest::Method::GET, "/Users", None)
            .await
            .0,
        StatusCode::OK
    );
    // Shown once: the list never holds it again.
    let list = console.browser.get(&console.path("/tokens")).await;
    assert!(!list.body.contains(&token));
    assert!(list.body.contains(&token[..12]), "the prefix is listed");

    // Disabling keeps the data and refuses SCIM; enabling restores it.
    let (status, _) = console
        .scim(
            &token,
            reqwest::Method::POST,
            "/Users",
            Some(user("kept@example.com")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let confirm = console.browser.get(&console.path("/disable")).await;
    assert!(
        confirm.body.contains("Nothing is deleted"),
        "{}",
        confirm.body
    );
    let off = console.submit(&console.path("/disable"), &[]).await;
    assert_eq!(off.status, StatusCode::SEE_OTHER);
    let (status, body) = console
        .scim(&token, reqwest::Method::GET, "/Users", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        console
            .browser
            .get(&console.path("/users"))
            .await
            .body
            .contains("kept@example.com")
    );
    console.submit(&console.path("/enable"), &[]).await;
    assert_eq!(
        console
            .scim(&token, reqwest::Method::GET, "/Users", None)
            .await
            .0,
        StatusCode::OK
    );

    // Revoke the token through its confirmation page.
    let token_id = first_data(&list.body, "token");
    let ask = console
        .browser
        .get(&console.path(&format!("/tokens/{token_id}/revoke")))
        .await;
    assert!(ask.body.contains("id=\"confirm-button\""), "{}", ask.body);
    let done = console
        .submit(&console.path(&format!("/tokens/{token_id}/revoke")), &[])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(
        console
            .scim(&token, reqwest::Method::GET, "/Users", None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );

    // An installation made through "Authorize & Install", revoked in the console: its access
    // token stops at once.
    let idp = console.env.idp(AuthType::BasicAuth);
    let (callback, verifier) = console.env.authorize(&idp, true).await;
    let tokens = oauth::exchange(&idp, &callback.code, verifier)
        .await
        .unwrap();
    let access = oauth::access(&tokens);
    assert_eq!(
        console.env.scim_status(&access, &console.env.org).await,
        StatusCode::OK
    );
    let installations = console.browser.get(&console.path("/installations")).await;
    assert!(installations.body.contains("Okta") && installations.body.contains("owner@acme.test"));
    let id = first_data(&installations.body, "installation");
    let revoked = console
        .submit(&console.path(&format!("/installations/{id}/revoke")), &[])
        .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.body);
    assert_eq!(
        console.env.scim_status(&access, &console.env.org).await,
        StatusCode::UNAUTHORIZED
    );
    let refreshed = oauth::refresh(&idp, &oauth::refresh_of(&tokens)).await;
    assert!(refreshed.is_err(), "the refresh token died with it");

    let activity = console.browser.get(&console.path("/activity")).await.body;
    for action in [
        "scim.disabled",
        "scim.enabled",
        "api_token.created",
        "api_token.revoked",
        "installation.revoked",
    ] {
        assert!(activity.contains(action), "{action} in Activity");
    }
    let filtered = console
        .browser
        .get(&console.path("/activity?action=api_token.&actor=account"))
        .await
        .body;
    assert!(filtered.contains("api_token.revoked") && !filtered.contains("scim.enabled"));
}

async fn bad_input_changes_nothing(backend: Backend) {
    let console = Console::start(backend).await;
    for form in [
        vec![("name", "  ")],
        vec![("name", "ok"), ("expires_in_days", "7")],
    ] {
        let page = console.submit(&console.path("/tokens"), &form).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
        assert!(page.body.contains("role=\"alert\""));
        assert!(!page.body.contains("id=\"new-token\""));
    }
    let stacks = format!("/orgs/{}/stacks", console.env.org);
    assert_eq!(
        console
            .submit(&stacks, &[("name", "Marketing")])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let taken = console.submit(&stacks, &[("name", "marketing")]).await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert!(taken.body.contains("already exists"));
    assert_eq!(taken.body.matches("data-stack=").count(), 1);

    let token = console.create_token("idp").await;
    let (_, group) = console
        .scim(
            &token,
            reqwest::Method::POST,
            "/Groups",
            Some(group("Eng", &[])),
        )
        .await;
    let gid = group["id"].as_str().unwrap();
    let mapping = console.path(&format!("/groups/{gid}/mapping"));
    for form in [
        vec![("step", "save"), ("org_role", "root")],
        vec![("step", "save"), ("stack:nope", "admin")],
        vec![("step", "launch")],
    ] {
        let page = console.submit(&mapping, &form).await;
        assert_eq!(
            page.status,
            StatusCode::BAD_REQUEST,
            "{form:?}: {}",
            page.body
        );
    }
    let group_page = console
        .browser
        .get(&console.path(&format!("/groups/{gid}")))
        .await;
    assert!(
        group_page.body.contains("Not mapped"),
        "{}",
        group_page.body
    );
    assert_eq!(
        console
            .browser
            .get(&console.path("/groups/not-a-group"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let bad_actor = console
        .browser
        .get(&console.path("/activity?actor=root"))
        .await;
    assert_eq!(bad_actor.status, StatusCode::BAD_REQUEST);
}

async fn tenants_never_meet_in_the_console(backend: Backend) {
    let console = Console::start(backend).await;
    let env = &console.env;
    // Globex, owned by someone else, with a token and a group of its own.
    let globex = env.target.admin(&[
        "create-org",
        "--name",
        "Globex",
        "--owner-email",
        "owner@globex.test",
    ])["org_uid"]
        .as_str()
        .unwrap()
        .to_owned();
    env.target.admin(&["enable-scim", "--org", &globex]);
    let globex_token = env.target.admin(&["create-token", "--org", &globex])["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = env
        .http
        .post(env.url(&format!("/scim/v2.0/organizations/{globex}/Groups")))
        .bearer_auth(&globex_token)
        .header("content-type", "application/scim+json")
        .body(group("Globex admins", &[]).to_string())
        .send()
        .await
        .unwrap();
    let globex_group: Value = res.json().await.unwrap();
    let gid = globex_group["id"].as_str().unwrap();
    let token_id = env
        .target
        .admin(&["create-token", "--org", &globex, "--name", "second"])["token_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Acme's Owner names Globex's ids under Acme's URL: nothing is found, nothing changes.
    let revoke = console
        .submit(&console.path(&format!("/tokens/{token_id}/revoke")), &[])
        .await;
    assert_eq!(revoke.status, StatusCode::NOT_FOUND, "{}", revoke.body);
    assert_eq!(
        console
            .browser
            .get(&console.path(&format!("/groups/{gid}")))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let map = console
        .submit(
            &console.path(&format!("/groups/{gid}/mapping")),
            &[("step", "save"), ("org_role", "admin")],
        )
        .await;
    assert_eq!(map.status, StatusCode::NOT_FOUND);
    // And under Globex's URL Acme's Owner is a stranger.
    let foreign = console
        .browser
        .get(&format!("/orgs/{globex}/settings/scim/tokens"))
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    let res = env
        .http
        .get(env.url(&format!("/scim/v2.0/organizations/{globex}/Groups")))
        .bearer_auth(&globex_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "Globex's token still works");
    assert!(
        !console
            .browser
            .get(&console.path("/groups"))
            .await
            .body
            .contains("Globex admins")
    );
}

async fn mappings_show_their_impact_and_record_events(backend: Backend) {
    let console = Console::start(backend).await;
    let token = console.create_token("idp").await;
    let mut ids = Vec::new();
    for name in ["ann@example.com", "bob@example.com"] {
        let (status, body) = console
            .scim(&token, reqwest::Method::POST, "/Users", Some(user(name)))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    let members: Vec<&str> = ids.iter().map(String::as_str).collect();
    let (_, group) = console
        .scim(
            &token,
            reqwest::Method::POST,
            "/Groups",
            Some(group("Admins", &members)),
        )
        .await;
    let gid = group["id"].as_str().unwrap();
    let stacks = format!("/orgs/{}/stacks", console.env.org);
    console.submit(&stacks, &[("name", "Marketing")]).await;
    let stack_uid = first_data(&console.browser.get(&stacks).await.body, "stack");
    let stack_field = format!("stack:{stack_uid}");
    let mapping = console.path(&format!("/groups/{gid}/mapping"));
    let preview = console
        .submit(
            &mapping,
            &[
                ("step", "preview"),
                ("org_role", "admin"),
                (&stack_field, "developer"),
            ],
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert!(
        preview
            .body
            .contains("2 users gain Admin (ann@example.com, bob@example.com)"),
        "{}",
        preview.body
    );
    assert!(
        preview.body.contains("2 users gain Developer on Marketing"),
        "{}",
        preview.body
    );
    // The preview changed nothing.
    let users = console.browser.get(&console.path("/users")).await.body;
    assert!(!users.contains("Marketing: developer"), "{users}");

    let save = console
        .submit(
            &mapping,
            &[
                ("step", "save"),
                ("org_role", "admin"),
                (&stack_field, "developer"),
            ],
        )
        .await;
    assert_eq!(save.status, StatusCode::SEE_OTHER);
    let users = console.browser.get(&console.path("/users")).await.body;
    assert_eq!(users.matches("Marketing: developer").count(), 2, "{users}");
    assert_eq!(
        users
            .matches("<td class=\"effective-role\">admin</td>")
            .count(),
        2
    );
    let groups = console.browser.get(&console.path("/groups")).await.body;
    assert!(
        groups.contains("Org role Admin; Marketing: Developer"),
        "{groups}"
    );
    assert!(groups.contains("<td class=\"member-count\">2</td>"));
    let mappings = console.browser.get(&console.path("/mappings")).await.body;
    assert!(mappings.contains("data-mapping=") && mappings.contains("Admins"));
    let search = console
        .browser
        .get(&console.path("/mappings?q=adm"))
        .await
        .body;
    assert!(
        search.contains(&format!("data-group=\"{gid}\"")),
        "{search}"
    );

    let removal = console.submit(&mapping, &[("step", "remove")]).await;
    assert!(
        removal.body.contains("2 users lose Admin"),
        "{}",
        removal.body
    );
    console
        .submit(&mapping, &[("step", "confirm-remove")])
        .await;
    let users = console.browser.get(&console.path("/users")).await.body;
    assert_eq!(
        users
            .matches("<td class=\"effective-role\">member</td>")
            .count(),
        2,
        "{users}"
    );

    assert_eq!(
        console.role_events().await.len(),
        4,
        "two accounts gained, then lost"
    );
    let activity = console.browser.get(&console.path("/activity")).await.body;
    assert!(activity.contains("group_mapping.saved") && activity.contains("group_mapping.removed"));
}

async fn deleting_a_stack_withdraws_its_roles_with_events(backend: Backend) {
    let console = Console::start(backend).await;
    let token = console.create_token("idp").await;
    let (_, user) = console
        .scim(
            &token,
            reqwest::Method::POST,
            "/Users",
            Some(user("cat@example.com")),
        )
        .await;
    let uid = user["id"].as_str().unwrap();
    let (_, group) = console
        .scim(
            &token,
            reqwest::Method::POST,
            "/Groups",
            Some(group("Designers", &[uid])),
        )
        .await;
    let gid = group["id"].as_str().unwrap();
    let stacks = format!("/orgs/{}/stacks", console.env.org);
    console.submit(&stacks, &[("name", "Marketing")]).await;
    let stack_uid = first_data(&console.browser.get(&stacks).await.body, "stack");
    let stack_field = format!("stack:{stack_uid}");
    let mapping = console.path(&format!("/groups/{gid}/mapping"));
    console
        .submit(&mapping, &[("step", "save"), (&stack_field, "developer")])
        .await;
    let users = console.browser.get(&console.path("/users")).await.body;
    assert!(users.contains("Marketing: developer"), "{users}");

    let ask = console
        .browser
        .get(&format!("{stacks}/{stack_uid}/delete"))
        .await;
    assert!(ask.body.contains("cannot be undone"), "{}", ask.body);
    let deleted = console
        .submit(&format!("{stacks}/{stack_uid}/delete"), &[])
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER, "{}", deleted.body);
    let users = console.browser.get(&console.path("/users")).await.body;
    assert!(!users.contains("Marketing"), "{users}");
    assert!(
        !console
            .browser
            .get(&stacks)
            .await
            .body
            .contains("data-stack=")
    );

    let changes = console.role_events().await;
    assert_eq!(
        changes.len(),
        2,
        "gained with the mapping, lost with the stack"
    );
    assert!(
        changes[1].contains(&format!(
            "previous={{\"role\":\"member\",\"stack_roles\":{{\"{stack_uid}\""
        )),
        "the loss names the deleted stack: {}",
        changes[1]
    );
}

async fn users_page_and_search(backend: Backend) {
    let console = Console::start(backend).await;
    let token = console.create_token("idp").await;
    for i in 0..55 {
        let name = format!("user{i:02}@example.com");
        let (status, _) = console
            .scim(&token, reqwest::Method::POST, "/Users", Some(user(&name)))
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let first = console.browser.get(&console.path("/users")).await.body;
    assert_eq!(first.matches("data-user=").count(), 50);
    assert!(first.contains("<td class=\"status status-invited\">invited</td>"));
    let next = first
        .split("id=\"next-page\" href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    let second = console.browser.get(&next).await.body;
    assert_eq!(second.matches("data-user=").count(), 5, "{second}");
    assert!(!second.contains("id=\"next-page\""));
    let found = console
        .browser
        .get(&console.path("/users?q=USER5"))
        .await
        .body;
    assert_eq!(
        found.matches("data-user=").count(),
        5,
        "user50..user54, ignoring case"
    );
}

async fn console_pages_send_security_headers(backend: Backend) {
    let console = Console::start(backend).await;
    for path in [
        "/".to_owned(),
        console.path(""),
        console.path("/tokens"),
        console.path("/activity"),
    ] {
        let page = console.browser.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        let csp = page.header("content-security-policy").unwrap();
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
            "{csp}"
        );
        assert_eq!(page.header("x-frame-options").as_deref(), Some("DENY"));
        assert_eq!(page.header("cache-control").as_deref(), Some("no-store"));
        assert_eq!(
            page.header("referrer-policy").as_deref(),
            Some("no-referrer")
        );
        assert!(
            !page.body.contains("https://"),
            "no third-party assets on {path}"
        );
    }
    let script = console.browser.get("/static/console.js").await;
    assert_eq!(script.status, StatusCode::OK);
    assert!(
        script
            .header("content-type")
            .unwrap()
            .starts_with("text/javascript")
    );
    let overview = console.browser.get(&console.path("")).await.body;
    let base = format!(
        "{}/scim/v2.0/organizations/{}",
        console.env.server.base_url, console.env.org
    );
    assert_eq!(
        input_value(&overview, "scim-base-url").as_deref(),
        Some(base.as_str())
    );
    assert_eq!(
        input_value(&overview, "org-uid").as_deref(),
        Some(console.env.org.as_str())
    );
    assert!(
        overview.contains("Okta")
            && overview.contains("Microsoft Entra ID")
            && overview.contains("OneLogin")
    );
}

backend_tests!(
    only_owners_and_admins_get_in,
    every_form_needs_the_csrf_token,
    switch_tokens_and_installations,
    bad_input_changes_nothing,
    tenants_never_meet_in_the_console,
    mappings_show_their_impact_and_record_events,
    deleting_a_stack_withdraws_its_roles_with_events,
    users_page_and_search,
    console_pages_send_security_headers,
);
