//! The generator's rows are the application's own: a small data set is generated (by the
//! `loadtest generate` binary) into the fresh PostgreSQL database of a running app, which then
//! answers SCIM requests about generated users, groups and organizations exactly as about ones
//! it created itself.
#![allow(clippy::unwrap_used, clippy::panic, clippy::disallowed_methods)]

use std::collections::BTreeSet;
use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::Backend;
use testkit::app::TestApp;

/// An organization with a bearer token, and a client for its SCIM API.
struct ScimOrg<'a> {
    app: &'a TestApp,
    uid: String,
    token: String,
    http: reqwest::Client,
}

impl<'a> ScimOrg<'a> {
    async fn with_token(app: &'a TestApp, uid: &str) -> Self {
        app.admin(&["enable-scim", "--org", uid]).await;
        let token = app
            .admin(&["create-token", "--org", uid, "--name", "idp"])
            .await["token"]
            .as_str()
            .unwrap()
            .to_owned();
        Self {
            app,
            uid: uid.to_owned(),
            token,
            http: reqwest::Client::new(),
        }
    }

    async fn create(app: &'a TestApp, name: &str) -> Self {
        let created = app
            .admin(&[
                "create-org",
                "--name",
                name,
                "--owner-email",
                &format!("owner@{name}.test"),
            ])
            .await;
        Self::with_token(app, created["org_uid"].as_str().unwrap()).await
    }

    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> (StatusCode, Value) {
        let url = self
            .app
            .url(&format!("/scim/v2.0/organizations/{}{path}", self.uid));
        let mut request = self
            .http
            .request(method, url)
            .bearer_auth(&self.token)
            .header("content-type", "application/scim+json");
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        let reply = request.send().await.unwrap();
        let status = reply.status();
        let text = reply.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    /// The one user a filter finds.
    async fn find(&self, filter: &str) -> Value {
        let path = format!("/Users?filter={}", encode(filter));
        let found = self.get(&path).await;
        assert_eq!(found["totalResults"], 1, "{filter}: {found}");
        found["Resources"][0].clone()
    }

    async fn total_users(&self) -> u64 {
        self.get("/Users?count=1").await["totalResults"]
            .as_u64()
            .unwrap()
    }

    /// The membership of `email`'s account: (status, effective role).
    async fn membership(&self, email: &str) -> (String, String) {
        let db = self.app.store();
        let email = store::types::Email::parse(email).unwrap();
        let account = store::repo::accounts::find_by_email(db, &email)
            .await
            .unwrap()
            .unwrap();
        assert!(account.password_hash.is_none(), "provisioned: no password");
        assert_eq!(account.name, email.as_str());
        let scope = store::repo::organizations::operator_scope(db, &self.uid)
            .await
            .unwrap();
        let m = store::repo::memberships::get(db, &scope, account.id)
            .await
            .unwrap()
            .unwrap();
        (m.status, m.effective_role)
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A user as answered, without what differs between any two users (id, times, location).
fn shape(user: &Value) -> Value {
    let mut user = user.clone();
    let object = user.as_object_mut().unwrap();
    object.remove("id");
    object.remove("groups");
    let meta = object["meta"].as_object_mut().unwrap();
    for key in ["created", "lastModified", "location"] {
        assert!(meta.remove(key).unwrap().is_string());
    }
    user
}

fn user_names(page: &Value) -> Vec<String> {
    page["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap().to_owned())
        .collect()
}

fn generate(app: &TestApp, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_loadtest"))
        .args(["generate", "--database-url", &app.db.url, "--jobs", "2"])
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "generate failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_organizations_answer_like_provisioned_ones() {
    let app = TestApp::start(Backend::Postgres).await;
    let small = ScimOrg::create(&app, "small").await;
    let big = ScimOrg::create(&app, "big").await;
    // 5 organizations, 200 users: big 100, small 30, and 70 shared by 3 created organizations;
    // 3 groups of 10 in each.
    let report = generate(
        &app,
        &[
            "--orgs",
            "5",
            "--users",
            "200",
            "--measured-org",
            &format!("{}:big:100", big.uid),
            "--measured-org",
            &format!("{}:load:30", small.uid),
            "--groups-per-org",
            "3",
            "--members-per-group",
            "10",
        ],
    );
    assert!(report.contains("scim_users"), "{report}");

    // A generated user is found by every filter an IdP matches with, in any letter case, and
    // looks exactly like a user created by POST /Users with the same body.
    let generated = small.find(r#"userName eq "load7""#).await;
    let id = generated["id"].as_str().unwrap();
    for filter in [
        r#"userName eq "LOAD7""#,
        r#"externalId eq "ext-load7""#,
        r#"emails.value eq "Load7@load.example""#,
        // Served by the search document.
        r#"name.givenName eq "LOAD" and userName eq "load7""#,
    ] {
        assert_eq!(small.find(filter).await["id"], id, "{filter}");
    }
    let (status, created) = small
        .call(Method::POST, "/Users", Some(&loadtest::user("load30")))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let created = small.find(r#"userName eq "load30""#).await;
    let renamed: Value =
        serde_json::from_str(&created.to_string().replace("load30", "load7")).unwrap();
    assert_eq!(shape(&generated), shape(&renamed));
    assert_eq!(
        generated["groups"],
        json!([{"value": generated["groups"][0]["value"], "display": "Generated group 0",
            "$ref": generated["groups"][0]["$ref"], "type": "direct"}]),
        "users 0-9 of 30 are group 0's 10 members"
    );
    assert_eq!(
        small.membership("load7@load.example").await,
        small.membership("load30@load.example").await
    );
    assert_eq!(
        small.membership("load7@load.example").await,
        ("invited".to_owned(), "member".to_owned())
    );

    // The generated userName is taken.
    let (status, body) = small
        .call(Method::POST, "/Users", Some(&loadtest::user("LOAD7")))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["scimType"], "uniqueness");

    // A generated group's PATCH: the created user in, the generated one out.
    let groups = small
        .get(&format!(
            "/Groups?filter={}",
            encode(r#"displayName eq "generated group 0""#)
        ))
        .await;
    let gid = groups["Resources"][0]["id"].as_str().unwrap().to_owned();
    let patch = json!({"schemas": [loadtest::PATCH_SCHEMA], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": created["id"]}]},
        {"op": "remove", "path": format!("members[value eq \"{id}\"]")}]});
    let (status, body) = small
        .call(Method::PATCH, &format!("/Groups/{gid}"), Some(&patch))
        .await;
    assert!(
        status == StatusCode::OK || status == StatusCode::NO_CONTENT,
        "{body}"
    );
    let members: BTreeSet<String> = small.get(&format!("/Groups/{gid}")).await["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["display"].as_str().unwrap().to_owned())
        .collect();
    let mut want: BTreeSet<String> = (0..10).map(|i| format!("load{i}")).collect();
    want.remove("load7");
    want.insert("load30".to_owned());
    assert_eq!(members, want);
    assert_eq!(small.get("/Groups").await["totalResults"], 3);

    // Listings: the totals are the generated counts (plus the one created); the big
    // organization pages by cursor through exactly its users, and by startIndex in id order.
    assert_eq!(small.total_users().await, 31);
    assert_eq!(big.total_users().await, 100);
    let mut walked = Vec::new();
    let mut cursor = String::new();
    for _ in 0..10 {
        let page = big
            .get(&format!("/Users?count=30&cursor={}", encode(&cursor)))
            .await;
        walked.extend(user_names(&page));
        match page["nextCursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    let want: Vec<String> = (0..100).map(|i| format!("big{i}")).collect();
    let mut sorted = walked.clone();
    sorted.sort_by_key(|name| name[3..].parse::<u32>().unwrap());
    assert_eq!(sorted, want, "every user once");
    let deep = big.get("/Users?startIndex=51&count=10").await;
    assert_eq!(user_names(&deep), want[50..60]);
    assert_eq!(deep["totalResults"], 100);

    // A created organization: 70 users over 3 organizations, the first gets 24.
    let first_created = report
        .lines()
        .find_map(|line| line.strip_prefix("created organizations"))
        .and_then(|rest| rest.split_whitespace().nth(2))
        .unwrap()
        .trim_end_matches(',');
    let created_org = ScimOrg::with_token(&app, first_created).await;
    assert_eq!(created_org.total_users().await, 24);
    let user = created_org
        .find(r#"emails.value eq "gen0-23@load.example""#)
        .await;
    assert_eq!(user["userName"], "gen0-23");
    assert_eq!(created_org.get("/Groups").await["totalResults"], 3);
    app.stop().await;
}
