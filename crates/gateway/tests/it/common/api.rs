//! The SaaS backend's side of the management API in tests: a backend client registered through
//! the CLI's code, its client-credentials token, and a JSON client that keeps status and headers.
#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::Backend;

use super::scim::Reply;
use super::{Server, Target};

/// Every scope.
pub const ALL_SCOPES: &str = "organizations:read organizations:write members:read members:write roles:read roles:write portal:write events:read webhooks:write";

/// A deployment with a backend client holding `scopes`.
pub struct ApiEnv {
    pub target: Target,
    pub server: Server,
    pub client_id: String,
    pub client_secret: String,
    pub token: String,
    pub http: reqwest::Client,
}

impl ApiEnv {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, ALL_SCOPES).await
    }

    pub async fn start_with(backend: Backend, scopes: &str) -> Self {
        Self::start_configured(backend, scopes, &[]).await
    }

    /// With `settings` (`SCIMGATE_*` names, TOML values) for the server.
    pub async fn start_configured(
        backend: Backend,
        scopes: &str,
        settings: &[(&str, &str)],
    ) -> Self {
        Self::start_on(Target::new(backend).await, scopes, settings).await
    }

    /// On `target` (e.g. the test's own PostgreSQL or Redis).
    pub async fn start_on(target: Target, scopes: &str, settings: &[(&str, &str)]) -> Self {
        let client = target.admin(&[
            "register-backend-client",
            "--name",
            "SaaS backend",
            "--scopes",
            scopes,
        ]);
        let server = Server::in_process(&target, settings).await;
        let mut env = Self {
            client_id: client["client_id"].as_str().unwrap().to_owned(),
            client_secret: client["client_secret"].as_str().unwrap().to_owned(),
            target,
            server,
            token: String::new(),
            http: super::http(),
        };
        env.token = env.access_token(None).await;
        env
    }

    /// A client-credentials access token (optionally for fewer scopes).
    pub async fn access_token(&self, scope: Option<&str>) -> String {
        let reply = self
            .token_request(&self.client_id, &self.client_secret, scope)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn token_request(&self, id: &str, secret: &str, scope: Option<&str>) -> Reply {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        let res = self
            .http
            .post(self.server.url("/oauth/token"))
            .basic_auth(id, Some(secret))
            .form(&form)
            .send()
            .await
            .unwrap();
        reply(res).await
    }

    /// A request to `/api/v1{path}` with the token and extra headers.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        token: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self
            .http
            .request(method, self.server.url(&format!("/api/v1{path}")));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        reply(req.send().await.unwrap()).await
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        self.send(method, path, body, Some(&self.token), &[]).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    /// Creates a SCIM user in `org` with its bearer `token`; returns the SCIM resource.
    pub async fn scim_user(&self, org: &super::ScimOrg, user_name: &str) -> Value {
        let res = self
            .http
            .post(
                self.server
                    .url(&format!("/scim/v2.0/organizations/{}/Users", org.org)),
            )
            .bearer_auth(&org.token)
            .header("content-type", "application/scim+json")
            .body(super::scim::user(user_name).to_string())
            .send()
            .await
            .unwrap();
        let reply = reply(res).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body
    }

    /// Creates an organization and returns its id.
    pub async fn create_org(&self, name: &str, owner: &str) -> String {
        let reply = self
            .post(
                "/organizations",
                &json!({"name": name, "owner_email": owner}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["id"].as_str().unwrap().to_owned()
    }
}

pub async fn reply(res: reqwest::Response) -> Reply {
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

impl Reply {
    /// Asserts an RFC 9457 problem of this status and `type` slug.
    pub fn assert_problem(&self, status: u16, slug: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{}",
            self.body
        );
        assert_eq!(
            self.body["type"],
            format!("urn:scimgate:problem:{slug}"),
            "{}",
            self.body
        );
        assert_eq!(self.body["status"], status, "{}", self.body);
        assert!(self.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
}
