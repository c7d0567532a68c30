//! Issue 15's "a product, not a tool" over HTTP against the real app, on SQLite + in-process store
//! and on PostgreSQL + Redis: the user page (attributes, groups, roles and what grants each,
//! membership and invitation state, history; suspended people without roles), the group mapping's
//! group picker, back links and refusals, token rotation with overlap, health at a glance with
//! "Test connection", and an Activity log in sentences. Bad input answers a page, never a 500.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::panic)]

use crate::common;

use common::oauth::{Browser, OAuthEnv, PASSWORD, Page, field};
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

    async fn get(&self, rest: &str) -> Page {
        self.browser.get(&self.path(rest)).await
    }

    /// POSTs a console form with the session's CSRF token.
    async fn submit(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let page = self.browser.get(&self.path("")).await;
        let csrf = field(&page.body, "csrf").unwrap();
        let mut fields = vec![("csrf", csrf.as_str())];
        fields.extend_from_slice(form);
        self.browser.post(path, &fields).await
    }

    /// A bearer token created in the console: (token, its id).
    async fn create_token(&self, name: &str) -> (String, String) {
        let created = self.submit(&self.path("/tokens"), &[("name", name)]).await;
        assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
        let page = self.browser.get(&created.location().unwrap()).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let token = input_value(&page.body, "new-token").unwrap();
        let id = data_of_row(&page.body, "token", name);
        (token, id)
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

    async fn create_user(&self, token: &str, name: &str) -> String {
        let (status, body) = self
            .scim(token, reqwest::Method::POST, "/Users", Some(user(name)))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    async fn create_group(&self, token: &str, name: &str, members: &[&str]) -> String {
        let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
        let (status, body) = self
            .scim(
                token,
                reqwest::Method::POST,
                "/Groups",
                Some(
                    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": name, "members": members}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    async fn set_active(&self, token: &str, id: &str, active: bool) {
        let (status, body) = self
            .scim(
                token,
                reqwest::Method::PATCH,
                &format!("/Users/{id}"),
                Some(
                    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "value": {"active": active}}]}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// Creates a stack; its uid.
    async fn create_stack(&self, name: &str) -> String {
        let stacks = format!("/orgs/{}/stacks", self.env.org);
        let page = self.submit(&stacks, &[("name", name)]).await;
        assert!(page.status.is_redirection(), "{}", page.body);
        let body = self.browser.get(&stacks).await.body;
        data_of_row(&body, "stack", name)
    }

    /// Saves a mapping through the form's save step.
    async fn map(&self, group: &str, fields: &[(&str, &str)]) -> Page {
        let mut form = vec![("step", "save")];
        form.extend_from_slice(fields);
        self.submit(&self.path(&format!("/groups/{group}/mapping")), &form)
            .await
    }
}

fn user(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name,
        "externalId": format!("ext-{name}"),
        "name": {"givenName": "Ann", "familyName": "Lee"}, "title": "Engineer",
        "emails": [{"value": name, "type": "work", "primary": true}]})
}

/// The `value` of the input with this id.
fn input_value(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[at..];
    let start = rest.find("value=\"")? + 7;
    let end = rest[start..].find('"')?;
    Some(rest[start..start + end].to_owned())
}

/// The `data-{attr}` value of the first row whose markup contains `text`.
fn data_of_row(html: &str, attr: &str, text: &str) -> String {
    let marker = format!("data-{attr}=\"");
    html.split(&marker)
        .skip(1)
        .find(|chunk| {
            chunk
                .split("</tr>")
                .next()
                .unwrap_or_default()
                .contains(text)
        })
        .and_then(|chunk| chunk.split('"').next())
        .unwrap_or_else(|| panic!("no row data-{attr} with {text}: {html}"))
        .to_owned()
}

/// The markup from `start` to the next `end`.
fn section<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let at = html
        .find(start)
        .unwrap_or_else(|| panic!("no {start}: {html}"));
    let rest = &html[at..];
    &rest[..rest.find(end).unwrap_or(rest.len())]
}

/// Item 1: the user page shows one person in full; the Users tab links to it; a suspended person
/// is shown as suspended, without roles; bad ids answer a page.
async fn a_user_page_says_who_has_what_and_why(backend: Backend) {
    let console = Console::start(backend).await;
    let (token, _) = console.create_token("idp").await;
    let ann = console.create_user(&token, "ann@example.com").await;
    let group = console.create_group(&token, "Engineering", &[&ann]).await;
    let stack = console.create_stack("Marketing").await;
    let stack_field = format!("stack:{stack}");
    let saved = console
        .map(
            &group,
            &[("org_role", "admin"), (&stack_field, "developer")],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);

    let users = console.get("/users").await.body;
    let link = console.path(&format!("/users/{ann}"));
    assert!(users.contains(&format!("href=\"{link}?back=")), "{users}");

    let page = console.get(&format!("/users/{ann}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let body = &page.body;
    for expected in [
        "Ann Lee",
        "ann@example.com",
        "ext-ann@example.com",
        "Engineer",
        "data-status=\"invited\"",
        "Engineering",
        "grants Org role Admin; Marketing: Developer",
    ] {
        assert!(body.contains(expected), "{expected}: {body}");
    }
    let invitation = section(body, "id=\"user-invitation\"", "</dd>");
    assert!(
        invitation.contains("waiting to be sent") || invitation.contains("not emailed"),
        "{invitation}"
    );
    let roles = section(body, "id=\"roles\"", "</table>");
    assert!(roles.contains("Organization"), "{roles}");
    assert!(
        roles.contains("Admin, from the group <a") && roles.contains("Member, set by hand"),
        "{roles}"
    );
    assert!(
        roles.contains("Stack Marketing") && roles.contains("Developer, from the group"),
        "{roles}"
    );
    let history = section(body, "id=\"history\"", "</table>");
    assert!(history.contains("scim_user.created"), "{history}");

    // The back link returns where the admin came from, when that is this console.
    let from_group = console.path(&format!("/groups/{group}"));
    let back = console
        .get(&format!("/users/{ann}?back={}", urlencoding(&from_group)))
        .await;
    assert!(
        back.body
            .contains(&format!("id=\"back\" href=\"{from_group}\"")),
        "{}",
        back.body
    );
    // Its group links come back to it (with its own back link kept).
    let group_link = format!(
        "/groups/{group}?back={}",
        urlencoding(&format!(
            "{}?back={}",
            console.path(&format!("/users/{ann}")),
            urlencoding(&from_group)
        ))
    );
    assert!(
        back.body.contains(&group_link),
        "{group_link}: {}",
        back.body
    );
    let group_page = console.get(&group_link).await.body;
    assert!(
        group_page.contains(&format!(
            "id=\"back\" href=\"{}?back={}\"",
            console.path(&format!("/users/{ann}")),
            urlencoding(&from_group)
        )),
        "{group_page}"
    );
    for evil in ["https://evil.example/", "//evil.example/x", "/orgs/other/x"] {
        let page = console
            .get(&format!("/users/{ann}?back={}", urlencoding(evil)))
            .await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.body
                .contains(&format!("id=\"back\" href=\"{}\"", console.path("/users"))),
            "{evil}: {}",
            page.body
        );
    }

    // Suspended: shown as suspended, with no roles (on the page and in the list).
    console.set_active(&token, &ann, false).await;
    let page = console.get(&format!("/users/{ann}")).await.body;
    assert!(page.contains("data-status=\"suspended\""), "{page}");
    assert!(
        page.contains("None while suspended") && !page.contains("id=\"roles\""),
        "{page}"
    );
    let users = console.get("/users").await.body;
    let row = section(&users, &format!("data-user=\"{ann}\""), "</tr>");
    assert!(
        row.contains("none while suspended") && !row.contains(">admin<"),
        "{row}"
    );

    // Another organization's user is not found here (nor is its name shown).
    let globex = console.env.target.scim_org("Globex");
    let url = console
        .env
        .url(&format!("/scim/v2.0/organizations/{}/Users", globex.org));
    let res = console
        .env
        .http
        .post(url)
        .bearer_auth(&globex.token)
        .header("content-type", "application/scim+json")
        .body(user("zed@globex.test").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let zed: Value = res.json().await.unwrap();
    let foreign = console
        .get(&format!("/users/{}", zed["id"].as_str().unwrap()))
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{}", foreign.body);
    assert!(
        !foreign.body.contains("zed@globex.test"),
        "{}",
        foreign.body
    );

    // Unknown, NUL and over-long ids: a page that says so, never a 500.
    let unknown = console
        .get("/users/00000000-0000-0000-0000-000000000000")
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
    assert!(
        unknown.body.contains("no such provisioned user"),
        "{}",
        unknown.body
    );
    let nul = console.get("/users/a%00b").await;
    assert_eq!(nul.status, StatusCode::BAD_REQUEST, "{}", nul.body);
    assert!(nul.body.contains("control character"), "{}", nul.body);
    let long = console.get(&format!("/users/{}", "x".repeat(5000))).await;
    assert!(long.status.is_client_error(), "{}", long.status);
    let search = console.get("/users?q=a%00").await;
    assert_eq!(search.status, StatusCode::BAD_REQUEST, "{}", search.body);
}

/// Item 2: the mappings page offers the organization's groups in a picker; back links return
/// where the admin came from (never elsewhere); a mapping to nothing, or of an unknown group, is
/// refused with a clear page and changes nothing.
async fn group_mapping_picker_back_links_and_refusals(backend: Backend) {
    let console = Console::start(backend).await;
    let (token, _) = console.create_token("idp").await;
    let ann = console.create_user(&token, "ann@example.com").await;
    let group = console.create_group(&token, "Engineering", &[&ann]).await;
    console.create_group(&token, "Sales", &[]).await;

    let mappings = console.get("/mappings").await.body;
    let datalist = section(&mappings, "<datalist id=\"scim-groups\">", "</datalist>");
    assert!(
        datalist.contains("value=\"Engineering\"") && datalist.contains("value=\"Sales\""),
        "{datalist}"
    );
    assert!(mappings.contains("list=\"scim-groups\""), "{mappings}");

    // Picking a group (any case) opens its page, whose back link returns to the mappings page.
    let picked = console.get("/mappings?group=engineering").await;
    assert_eq!(picked.status, StatusCode::SEE_OTHER, "{}", picked.body);
    let location = picked.location().unwrap();
    assert!(
        location.contains(&format!("/groups/{group}?back=")),
        "{location}"
    );
    let page = console.browser.get(&location).await.body;
    assert!(
        page.contains(&format!(
            "id=\"back\" href=\"{}\"",
            console.path("/mappings")
        )),
        "{page}"
    );
    let unknown = console.get("/mappings?group=Nope").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
    assert!(
        unknown.body.contains("no SCIM group named “Nope”"),
        "{}",
        unknown.body
    );
    // Never an open redirect: another site, another organization, a scheme fall back.
    for evil in [
        "https://evil.example/",
        "//evil.example/",
        "/orgs/someone-else/settings/scim",
        "javascript:alert(1)",
        "/login",
    ] {
        let page = console
            .get(&format!("/groups/{group}?back={}", urlencoding(evil)))
            .await
            .body;
        assert!(
            page.contains(&format!("id=\"back\" href=\"{}\"", console.path("/groups"))),
            "{evil}: {page}"
        );
    }
    // The Users tab's link carries it too.
    let users = console.get("/users?q=ann").await.body;
    assert!(
        users.contains(&format!(
            "/users/{ann}?back={}",
            urlencoding(&console.path("/users?q=ann"))
        )),
        "{users}"
    );

    // A mapping to nothing: the group page again with the reason; nothing saved.
    let mapping = console.path(&format!("/groups/{group}/mapping"));
    let back = console.path("/mappings");
    for step in ["preview", "save"] {
        let refused = console
            .submit(
                &mapping,
                &[("step", step), ("org_role", ""), ("back", &back)],
            )
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
        assert!(
            refused.body.contains("id=\"mapping-error\"")
                && refused
                    .body
                    .contains("must grant an organization role or a stack role"),
            "{}",
            refused.body
        );
        assert!(
            refused.body.contains("form id=\"mapping\""),
            "{}",
            refused.body
        );
    }
    let page = console.get(&format!("/groups/{group}")).await.body;
    assert!(page.contains("Not mapped"), "{page}");
    let activity = console.get("/activity").await.body;
    assert!(!activity.contains("group_mapping.saved"), "{activity}");
    // An unknown group, a stack that does not exist, a NUL, an over-long value.
    let missing = console
        .submit(
            &console.path("/groups/00000000-0000-0000-0000-000000000000/mapping"),
            &[("step", "save"), ("org_role", "admin")],
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.body);
    let ghost = console
        .submit(
            &mapping,
            &[("step", "preview"), ("stack:nope", "developer")],
        )
        .await;
    assert_eq!(ghost.status, StatusCode::BAD_REQUEST, "{}", ghost.body);
    let nul = console
        .submit(&mapping, &[("step", "save"), ("org_role", "ad\u{0}min")])
        .await;
    assert_eq!(nul.status, StatusCode::BAD_REQUEST, "{}", nul.body);
    assert!(nul.body.contains("control character"), "{}", nul.body);
    let long = "a".repeat(5000);
    let long = console
        .submit(&mapping, &[("step", "save"), ("org_role", &long)])
        .await;
    assert_eq!(long.status, StatusCode::BAD_REQUEST, "{}", long.body);
    let page = console.get(&format!("/groups/{group}")).await.body;
    assert!(page.contains("Not mapped"), "nothing changed: {page}");

    // Saved: back where the admin came from, with the notice, the back link kept.
    let saved = console
        .submit(
            &mapping,
            &[("step", "save"), ("org_role", "admin"), ("back", &back)],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let page = console.browser.get(&saved.location().unwrap()).await.body;
    assert!(
        page.contains("Saved: members of Engineering get Org role Admin."),
        "{page}"
    );
    assert!(
        page.contains(&format!("id=\"back\" href=\"{back}\"")),
        "{page}"
    );
}

/// Item 3: "Rotate" makes a new token (shown once, after a redirect) while the old keeps working
/// until its chosen end, after which every request with it is refused (also from the credential
/// caches); "until revoked" lasts until a revocation; each token shows its last use.
async fn rotation_overlaps_then_ends(backend: Backend) {
    let console = Console::start(backend).await;
    let (old, old_id) = console.create_token("okta-production").await;
    let ok = |token: String| {
        let console = &console;
        async move {
            console
                .scim(&token, reqwest::Method::GET, "/Users", None)
                .await
                .0
        }
    };
    assert_eq!(ok(old.clone()).await, StatusCode::OK);

    let confirm = console.get(&format!("/tokens/{old_id}/rotate")).await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.body);
    assert!(
        confirm.body.contains("form id=\"rotate\""),
        "{}",
        confirm.body
    );
    let rotate = console.path(&format!("/tokens/{old_id}/rotate"));
    let bad = console.submit(&rotate, &[("overlap", "forever")]).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    assert!(bad.body.contains("Choose how long"), "{}", bad.body);

    let done = console.submit(&rotate, &[("overlap", "1h")]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let shown = console.browser.get(&done.location().unwrap()).await;
    let new = input_value(&shown.body, "new-token").unwrap();
    assert!(shown.body.contains("keeps working until"), "{}", shown.body);
    let again = console.browser.get(&done.location().unwrap()).await;
    assert!(
        input_value(&again.body, "new-token").is_none(),
        "shown once: {}",
        again.body
    );
    // Both work during the overlap; the new one has the name, the old one says it was replaced.
    assert_eq!(ok(new.clone()).await, StatusCode::OK);
    assert_eq!(ok(old.clone()).await, StatusCode::OK);
    let tokens = console.get("/tokens").await.body;
    let old_row = section(&tokens, &format!("data-token=\"{old_id}\""), "</tr>");
    assert!(
        old_row.contains("okta-production (replaced ") && old_row.contains(">active<"),
        "{old_row}"
    );
    assert!(
        !old_row.contains("last-used\">never"),
        "last use shown: {old_row}"
    );
    let new_id = data_of_row(&tokens, "token", "okta-production<");
    assert_ne!(new_id, old_id);
    let activity = console.get("/activity").await.body;
    assert!(activity.contains("api_token.rotated"), "{activity}");

    // The chosen end arrives (the row's end moved to the past, as time would): refused by every
    // path, the credential cache included.
    let db = sea_orm::Database::connect(&console.env.target.db.url)
        .await
        .unwrap();
    use sea_orm::ConnectionTrait;
    db.execute_unprepared(&format!(
        "UPDATE api_tokens SET expires_at = created_at WHERE uid = '{old_id}'"
    ))
    .await
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let status = ok(old.clone()).await;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still {status}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(ok(new.clone()).await, StatusCode::OK);
    let tokens = console.get("/tokens").await.body;
    let old_row = section(&tokens, &format!("data-token=\"{old_id}\""), "</tr>");
    assert!(old_row.contains(">expired<"), "{old_row}");
    // An ended token cannot be rotated again.
    let late = console.submit(&rotate, &[("overlap", "1h")]).await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST, "{}", late.body);
    assert!(late.body.contains("only an active token"), "{}", late.body);

    // "Until revoked": the old works until it is revoked, then at once is refused.
    let rotate_new = console.path(&format!("/tokens/{new_id}/rotate"));
    let done = console.submit(&rotate_new, &[("overlap", "revoked")]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let shown = console.browser.get(&done.location().unwrap()).await;
    let newest = input_value(&shown.body, "new-token").unwrap();
    assert!(shown.body.contains("until you revoke it"), "{}", shown.body);
    assert_eq!(ok(new.clone()).await, StatusCode::OK);
    assert_eq!(ok(newest.clone()).await, StatusCode::OK);
    let revoked = console
        .submit(&console.path(&format!("/tokens/{new_id}/revoke")), &[])
        .await;
    assert!(revoked.status.is_redirection(), "{}", revoked.body);
    assert_eq!(ok(new).await, StatusCode::UNAUTHORIZED);
    assert_eq!(ok(newest).await, StatusCode::OK);

    // Bad names and ids: a page, never a 500.
    let long = "n".repeat(101);
    for (name, says) in [
        (long.as_str(), "1 to 100 characters"),
        ("ok\u{0}ta", "control character"),
        (&"x".repeat(2000), "longer than"),
    ] {
        let page = console
            .submit(&console.path("/tokens"), &[("name", name)])
            .await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
        assert!(page.body.contains(says), "{says}: {}", page.body);
    }
    let nul = console
        .submit(&console.path("/tokens/a%00b/rotate"), &[("overlap", "1h")])
        .await;
    assert_eq!(nul.status, StatusCode::BAD_REQUEST, "{}", nul.body);
    let unknown = console.get("/tokens/nope/rotate").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
}

/// Item 4: the SCIM tab shows each credential's last request and what the IdP gets now;
/// "Test connection" says in words what the IdP will see.
async fn health_at_a_glance_and_test_connection(backend: Backend) {
    let console = Console::start(backend).await;
    let test_result = |page: &str| section(page, "id=\"test-result\"", "</div>").to_owned();

    // Enabled, no credential: 401.
    let page = console.get("?test=1").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let result = test_result(&page.body);
    assert!(
        result.contains("data-ok=\"false\"") && result.contains("401 Unauthorized"),
        "{result}"
    );
    assert!(page.body.contains("id=\"errors-24h\""), "{}", page.body);

    // A token, used once: its last request, and the test passes.
    let (token, token_id) = console.create_token("okta").await;
    let (status, _) = console
        .scim(&token, reqwest::Method::GET, "/ServiceProviderConfig", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = console
        .scim(
            &token,
            reqwest::Method::POST,
            "/Users",
            Some(user("bo@example.com")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let page = console.get("").await.body;
    let row = section(&page, &format!("data-credential=\"{token_id}\""), "</tr>");
    assert!(
        row.contains("ago") && !row.contains("last-request nowrap\">never"),
        "{row}"
    );
    assert!(row.contains(">accepted<"), "{row}");
    let last = section(&page, "id=\"last-change\"", "</p>");
    assert!(last.contains("ago"), "{last}");
    let result = test_result(&console.get("?test=1").await.body);
    assert!(
        result.contains("data-ok=\"true\"") && result.contains("ServiceProviderConfig answers 200"),
        "{result}"
    );
    assert!(result.contains("okta"), "{result}");

    // Disabled: 403, in words.
    let off = console.submit(&console.path("/disable"), &[]).await;
    assert!(off.status.is_redirection(), "{}", off.body);
    let page = console.get("?test=1").await.body;
    let result = test_result(&page);
    assert!(
        result.contains("403 Forbidden") && result.contains("SCIM is disabled"),
        "{result}"
    );
    let row = section(&page, &format!("data-credential=\"{token_id}\""), "</tr>");
    assert!(row.contains("refused with 403"), "{row}");
    let (status, _) = console
        .scim(&token, reqwest::Method::GET, "/ServiceProviderConfig", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "what the test said");
}

/// Item 5: the Activity log names people, tokens and resources and says what happened in
/// sentences, not JSON and UUIDs.
async fn activity_reads_as_sentences(backend: Backend) {
    let console = Console::start(backend).await;
    let (token, token_id) = console.create_token("okta-production").await;
    let mut ids = Vec::new();
    for name in ["ann@example.com", "bob@example.com", "cy@example.com"] {
        ids.push(console.create_user(&token, name).await);
    }
    let group = console.create_group(&token, "Engineering", &[]).await;
    let (status, body) = console
        .scim(
            &token,
            reqwest::Method::PATCH,
            &format!("/Groups/{group}"),
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "members",
                    "value": ids.iter().map(|id| json!({"value": id})).collect::<Vec<_>>()}]}),
            ),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    let saved = console.map(&group, &[("org_role", "admin")]).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let revoke = console
        .submit(&console.path(&format!("/tokens/{token_id}/revoke")), &[])
        .await;
    assert!(revoke.status.is_redirection());

    let page = console.get("/activity").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let body = &page.body;
    for expected in [
        "Added 3 members to Engineering.",
        "Provisioned the user ann@example.com.",
        "Created the group Engineering with 0 members.",
        "Mapped the group Engineering to Org role Admin (before: nothing); 3 people",
        "Revoked the bearer token “okta-production”.",
        "Created the bearer token “okta-production”.",
        "the bearer token “okta-production”",
        &console.env.email,
        "group Engineering",
        "user ann@example.com",
    ] {
        assert!(body.contains(expected), "{expected}: {body}");
    }
    // No raw JSON in the sentences, and ids only where they belong (links, the request column).
    let sentences: Vec<&str> = body
        .split("class=\"sentence\">")
        .skip(1)
        .map(|s| s.split("<br>").next().unwrap_or_default())
        .collect();
    assert!(!sentences.is_empty());
    for s in &sentences {
        assert!(
            !s.contains('{') && !s.contains(&group) && !s.contains(&token_id),
            "{s}"
        );
    }
    let actors = body.split("class=\"actor\">").skip(1);
    for a in actors {
        let a = a.split('<').next().unwrap_or_default();
        assert!(!a.contains(&token_id) && !a.starts_with("account "), "{a}");
    }
    // The user page's history is in the same words.
    let user = console.get(&format!("/users/{}", ids[0])).await.body;
    assert!(
        user.contains("Provisioned the user ann@example.com."),
        "{user}"
    );
}

fn urlencoding(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

backend_tests!(
    a_user_page_says_who_has_what_and_why,
    group_mapping_picker_back_links_and_refusals,
    rotation_overlaps_then_ends,
    health_at_a_glance_and_test_connection,
    activity_reads_as_sentences,
);
