//! A running gateway with one SCIM-enabled organization and its bearer token, plus a SCIM client.
#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::Backend;

use super::{Server, Target};

/// An organization provisioned over SCIM in a test.
pub struct ScimEnv {
    pub target: Target,
    pub server: Server,
    pub org: String,
    pub token: String,
    pub http: reqwest::Client,
}

/// A SCIM response: status, headers and JSON body (Null when empty).
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a SCIM Error with this status (and scimType, when given).
    pub fn assert_error(&self, status: u16, scim_type: Option<&str>) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(
            self.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
            "{}",
            self.body
        );
        assert_eq!(
            self.body["status"],
            json!(status.to_string()),
            "status is a string: {}",
            self.body
        );
        if let Some(t) = scim_type {
            assert_eq!(self.body["scimType"], t, "{}", self.body);
        }
        assert!(
            self.header("content-type")
                .is_some_and(|c| c.starts_with("application/scim+json"))
        );
    }
}

pub fn user(user_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Given", "familyName": "Family"},
        "emails": [{"value": format!("{}@example.com", user_name.to_lowercase()), "type": "work", "primary": true}],
        "active": true,
    })
}

pub fn group(name: &str, members: &[&str]) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": name,
        "members": members.iter().map(|m| json!({"value": m})).collect::<Vec<_>>(),
    })
}

pub fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

impl ScimEnv {
    pub async fn start(backend: Backend) -> Self {
        let target = Target::new(backend).await;
        let super::ScimOrg { org, token, .. } = target.scim_org("Acme");
        let server = Server::in_process(&target, &[]).await;
        Self {
            target,
            server,
            org,
            token,
            http: super::http(),
        }
    }

    /// A second organization in the same deployment, with its own token.
    pub fn other_org(&self, name: &str) -> (String, String) {
        let created = self.target.scim_org(name);
        (created.org, created.token)
    }

    pub fn base(&self) -> String {
        self.server
            .url(&format!("/scim/v2.0/organizations/{}", self.org))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    pub async fn send(
        &self,
        method: Method,
        url: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let mut req = self.http.request(method, url);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(body.to_string());
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| json!({"raw": text}))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        self.send(method, &self.url(path), Some(&self.token), body)
            .await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    /// GETs `path` until it answers `status` (bounded: 10 s) and returns that reply, or the last
    /// one. For a change made by another process (the CLI), which reaches a running server through
    /// the key-value store's announcements a moment later.
    pub async fn get_until(&self, path: &str, status: u16) -> Reply {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let reply = self.get(path).await;
            if reply.status.as_u16() == status || std::time::Instant::now() >= deadline {
                return reply;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn create_user(&self, user_name: &str) -> Value {
        let reply = self.post("/Users", &user(user_name)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body
    }

    /// The store, opened on the server's own database, to check what a request left behind.
    pub async fn store(&self) -> store::Database {
        store::connect(&self.target.db.url, &Default::default())
            .await
            .unwrap()
    }

    pub async fn scope(&self) -> store::OrgScope {
        store::repo::organizations::operator_scope(&self.store().await, &self.org)
            .await
            .unwrap()
    }

    /// The membership status and effective role of the account with this email.
    pub async fn membership(&self, email: &str) -> Option<(String, String)> {
        let db = self.store().await;
        let account =
            store::repo::accounts::find_by_email(&db, &store::types::Email::parse(email).unwrap())
                .await
                .unwrap()?;
        let m = store::repo::memberships::get(&db, &self.scope().await, account.id)
            .await
            .unwrap()?;
        Some((m.status, m.effective_role))
    }

    pub async fn event_kinds(&self) -> Vec<String> {
        let db = self.store().await;
        store::repo::events::list_after(&db, &self.scope().await, store::ids::EventId(0), 10_000)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }
}

/// What a test reads of an organization's events without a SCIM environment of its own.
pub struct ScimEnvLike;

impl ScimEnvLike {
    /// The kinds of the organization's events, oldest first.
    pub async fn event_kinds(target: &super::Target, org: &str) -> Vec<String> {
        let db = store::connect(&target.db.url, &Default::default())
            .await
            .unwrap();
        let scope = store::repo::organizations::operator_scope(&db, org)
            .await
            .unwrap();
        store::repo::events::list_after(&db, &scope, store::ids::EventId(0), 10_000)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }
}
