//! The IdP's side of the OAuth flow in tests: an organization with an Owner, SCIM enabled, a
//! confidential and a public client registered, a running server — plus a browser (reqwest with a
//! cookie jar, redirects never followed) and the `oauth2` crate as the IdP's client, over our
//! reqwest through its async HTTP client trait.
#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth2::basic::{BasicClient, BasicErrorResponseType, BasicTokenResponse};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError,
    Scope, TokenResponse, TokenUrl,
};
use reqwest::StatusCode;
use serde_json::Value;
use testkit::Backend;

use super::{Server, Target};

pub const REDIRECT: &str = "https://idp.example/admin/app/cpc/acme/oauth/callback";
pub const PASSWORD: &str = "correct horse battery staple";

/// The IdP's client type: authorization and token endpoints set.
pub type Idp =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// A deployment with one SCIM-enabled organization and two registered IdP clients.
pub struct OAuthEnv {
    pub target: Target,
    pub server: Server,
    pub org: String,
    pub email: String,
    pub client_id: String,
    pub client_secret: String,
    pub public_client_id: String,
    pub http: reqwest::Client,
}

/// What a completed browser flow hands back to the IdP.
#[derive(Debug, Clone)]
pub struct Callback {
    pub code: String,
    pub state: String,
    pub iss: String,
}

impl OAuthEnv {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, &[]).await
    }

    /// Starts with extra environment for `serve` (e.g. a short code lifetime).
    pub async fn start_with(backend: Backend, env: &[(&str, &str)]) -> Self {
        Self::start_on(Target::new(backend).await, env).await
    }

    /// Starts on a given target (the test's own database or key-value store).
    pub async fn start_on(target: Target, env: &[(&str, &str)]) -> Self {
        let email = "owner@acme.test".to_owned();
        let org = target.admin(&[
            "create-org",
            "--name",
            "Acme",
            "--owner-email",
            &email,
            "--owner-password",
            PASSWORD,
        ])["org_uid"]
            .as_str()
            .unwrap()
            .to_owned();
        target.admin(&["enable-scim", "--org", &org]);
        let client = target.admin(&[
            "register-client",
            "--name",
            "Okta",
            "--redirect-uri",
            REDIRECT,
        ]);
        let public = target.admin(&[
            "register-client",
            "--name",
            "Public IdP",
            "--public",
            "--redirect-uri",
            REDIRECT,
        ]);
        let server = Self::serve(&target, env).await;
        Self {
            org,
            email,
            client_id: client["client_id"].as_str().unwrap().to_owned(),
            client_secret: client["client_secret"].as_str().unwrap().to_owned(),
            public_client_id: public["client_id"].as_str().unwrap().to_owned(),
            target,
            server,
            http: super::http(),
        }
    }

    pub async fn serve(target: &Target, env: &[(&str, &str)]) -> Server {
        Server::in_process(target, env).await
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// The confidential client, authenticating with `auth`.
    pub fn idp(&self, auth: AuthType) -> Idp {
        idp_for(
            &self.server,
            &self.client_id,
            Some(&self.client_secret),
            auth,
        )
    }

    /// The public client (no secret).
    pub fn public_idp(&self) -> Idp {
        idp_for(
            &self.server,
            &self.public_client_id,
            None,
            AuthType::RequestBody,
        )
    }

    pub fn browser(&self) -> Browser {
        Browser::new(&self.server.base_url)
    }

    /// The whole browser side for `idp`: authorize, log in, approve. Returns the callback and the
    /// PKCE verifier (when `pkce`).
    pub async fn authorize(&self, idp: &Idp, pkce: bool) -> (Callback, Option<PkceCodeVerifier>) {
        let browser = self.browser();
        browser.login(&self.email, PASSWORD).await;
        let (url, verifier) = authorize_url(idp, pkce);
        let callback = browser.approve(&url, &self.org).await;
        (callback, verifier)
    }

    /// A fresh token pair through the confidential client (Basic auth, PKCE).
    pub async fn tokens(&self) -> BasicTokenResponse {
        let idp = self.idp(AuthType::BasicAuth);
        let (callback, verifier) = self.authorize(&idp, true).await;
        exchange(&idp, &callback.code, verifier).await.unwrap()
    }

    /// `GET /scim/v2.0/organizations/{org}/Users` with a bearer token; the status.
    pub async fn scim_status(&self, token: &str, org: &str) -> StatusCode {
        self.http
            .get(self.url(&format!("/scim/v2.0/organizations/{org}/Users")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
    }

    /// A raw form POST to an OAuth endpoint, optionally with Basic credentials.
    pub async fn post_form(
        &self,
        path: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        post_form(&self.http, &self.url(path), form, basic).await
    }

    /// Introspects a token as the confidential client.
    pub async fn introspect(&self, token: &str) -> Value {
        let (status, _, body) = self
            .post_form(
                "/oauth/introspect",
                &[("token", token)],
                Some((&self.client_id, &self.client_secret)),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }
}

pub async fn post_form(
    http: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut req = http
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode(form));
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

pub fn encode(form: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish()
}

pub fn idp_for(server: &Server, client_id: &str, secret: Option<&str>, auth: AuthType) -> Idp {
    idp_at(&server.base_url, client_id, secret, auth)
}

/// The IdP's client for the deployment (or load balancer) at `base_url`.
pub fn idp_at(base_url: &str, client_id: &str, secret: Option<&str>, auth: AuthType) -> Idp {
    let mut client = BasicClient::new(ClientId::new(client_id.to_owned()))
        .set_auth_uri(AuthUrl::new(format!("{base_url}/oauth/authorize")).unwrap())
        .set_token_uri(TokenUrl::new(format!("{base_url}/oauth/token")).unwrap())
        .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap())
        .set_auth_type(auth);
    if let Some(secret) = secret {
        client = client.set_client_secret(ClientSecret::new(secret.to_owned()));
    }
    client
}

/// The authorization URL the IdP sends the admin's browser to.
pub fn authorize_url(idp: &Idp, pkce: bool) -> (String, Option<PkceCodeVerifier>) {
    let mut req = idp
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("scim".into()))
        .add_scope(Scope::new("offline_access".into()));
    let mut verifier = None;
    if pkce {
        let (challenge, v) = PkceCodeChallenge::new_random_sha256();
        req = req.set_pkce_challenge(challenge);
        verifier = Some(v);
    }
    let (url, _state) = req.url();
    (url.to_string(), verifier)
}

/// oauth2's async HTTP client over our reqwest: never follows redirects.
async fn send(
    http: reqwest::Client,
    req: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, std::io::Error> {
    let req = reqwest::Request::try_from(req).map_err(std::io::Error::other)?;
    let res = http.execute(req).await.map_err(std::io::Error::other)?;
    let mut builder = oauth2::http::Response::builder().status(res.status());
    for (name, value) in res.headers() {
        builder = builder.header(name, value);
    }
    let body = res.bytes().await.map_err(std::io::Error::other)?;
    builder.body(body.to_vec()).map_err(std::io::Error::other)
}

pub type TokenError = RequestTokenError<std::io::Error, oauth2::basic::BasicErrorResponse>;

pub async fn exchange(
    idp: &Idp,
    code: &str,
    verifier: Option<PkceCodeVerifier>,
) -> Result<BasicTokenResponse, TokenError> {
    let http = super::http();
    let client = move |req| send(http.clone(), req);
    let mut request = idp.exchange_code(AuthorizationCode::new(code.to_owned()));
    if let Some(v) = verifier {
        request = request.set_pkce_verifier(v);
    }
    request.request_async(&client).await
}

pub async fn refresh(idp: &Idp, refresh_token: &str) -> Result<BasicTokenResponse, TokenError> {
    let http = super::http();
    let client = move |req| send(http.clone(), req);
    let token = RefreshToken::new(refresh_token.to_owned());
    idp.exchange_refresh_token(&token)
        .request_async(&client)
        .await
}

/// The RFC 6749 error code of a failed token request.
pub fn error_code(err: &TokenError) -> Option<BasicErrorResponseType> {
    match err {
        RequestTokenError::ServerResponse(r) => Some(r.error().clone()),
        _ => None,
    }
}

pub fn access(t: &BasicTokenResponse) -> String {
    t.access_token().secret().clone()
}

pub fn refresh_of(t: &BasicTokenResponse) -> String {
    t.refresh_token().unwrap().secret().clone()
}

/// Header and claims of a JWT, decoded without verification.
pub fn jwt_parts(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let decode =
        |p: &str| -> Value { serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap() };
    let header = decode(parts.next().unwrap());
    let claims = decode(parts.next().unwrap());
    (header, claims)
}

/// The value of the form field `name` (hidden input or first select option) in a page.
pub fn field(html: &str, name: &str) -> Option<String> {
    let needle = format!("name=\"{name}\" value=\"");
    if let Some(at) = html.find(&needle) {
        let rest = &html[at + needle.len()..];
        return rest.split('"').next().map(str::to_owned);
    }
    let select = html.find(&format!("<select name=\"{name}\""))?;
    let rest = &html[select..];
    let at = rest.find("<option value=\"")? + "<option value=\"".len();
    rest[at..].split('"').next().map(str::to_owned)
}

/// Query parameters of a URL.
pub fn query(url: &str) -> Vec<(String, String)> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

pub fn param(url: &str, name: &str) -> Option<String> {
    query(url)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// A browser: cookies kept, redirects never followed.
pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
}

pub struct Page {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> Option<String> {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

impl Browser {
    pub fn new(base: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .cookie_store(true)
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            base: base.to_owned(),
        }
    }

    fn abs(&self, url: &str) -> String {
        if url.starts_with('/') {
            format!("{}{url}", self.base)
        } else {
            url.to_owned()
        }
    }

    pub async fn get(&self, url: &str) -> Page {
        let res = self.http.get(self.abs(url)).send().await.unwrap();
        Page {
            status: res.status(),
            headers: res.headers().clone(),
            body: res.text().await.unwrap(),
        }
    }

    pub async fn post(&self, url: &str, form: &[(&str, &str)]) -> Page {
        let res = self
            .http
            .post(self.abs(url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encode(form))
            .send()
            .await
            .unwrap();
        Page {
            status: res.status(),
            headers: res.headers().clone(),
            body: res.text().await.unwrap(),
        }
    }

    /// Logs in from the login page; returns the POST's answer.
    pub async fn login_page(&self, path: &str, email: &str, password: &str) -> Page {
        let page = self.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let csrf = field(&page.body, "csrf").unwrap();
        let mut form = vec![
            ("csrf", csrf.as_str()),
            ("email", email),
            ("password", password),
        ];
        // The form's hidden fields go back as a browser would send them.
        let request = field(&page.body, "request");
        if let Some(r) = request.as_deref() {
            form.push(("request", r));
        }
        let return_to = field(&page.body, "return");
        if let Some(r) = return_to.as_deref() {
            form.push(("return", r));
        }
        self.post("/login", &form).await
    }

    pub async fn login(&self, email: &str, password: &str) {
        let res = self.login_page("/login", email, password).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    }

    /// Opens an authorization URL (logged in) and returns the consent page.
    pub async fn consent(&self, url: &str) -> Page {
        let page = self.get(url).await;
        assert_eq!(page.status, StatusCode::OK, "consent page: {}", page.body);
        assert!(
            page.body.contains("Authorize &amp; Install"),
            "{}",
            page.body
        );
        page
    }

    /// Submits the consent form with `decision`.
    pub async fn decide(&self, consent: &Page, org: &str, decision: &str, terms: bool) -> Page {
        let csrf = field(&consent.body, "csrf").unwrap();
        let request = field(&consent.body, "request").unwrap();
        let mut form = vec![
            ("csrf", csrf.as_str()),
            ("request", request.as_str()),
            ("org", org),
            ("decision", decision),
        ];
        if terms {
            form.push(("accept_terms", "yes"));
        }
        self.post("/oauth/authorize", &form).await
    }

    /// Consent and approve; returns the callback parameters.
    pub async fn approve(&self, url: &str, org: &str) -> Callback {
        let consent = self.consent(url).await;
        let res = self.decide(&consent, org, "approve", true).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        let location = res.location().unwrap();
        assert!(location.starts_with(REDIRECT), "{location}");
        Callback {
            code: param(&location, "code").unwrap(),
            state: param(&location, "state").unwrap(),
            iss: param(&location, "iss").unwrap(),
        }
    }
}
