//! One test per RFC 9700 requirement the authorization server meets, against the real binary on
//! both backends — plus two replicas sharing PostgreSQL and Redis.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::panic)]

use crate::common;

use std::time::Duration;

use common::oauth::{
    self, Browser, OAuthEnv, PASSWORD, REDIRECT, access, error_code, exchange, idp_for, refresh,
    refresh_of,
};
use common::{Server, Target};
use oauth2::basic::BasicErrorResponseType;
use oauth2::{AuthType, PkceCodeVerifier};
use reqwest::StatusCode;
use testkit::{Backend, backend_tests};

fn authorize_path(client_id: &str, redirect_uri: &str, extra: &str) -> String {
    format!(
        "/oauth/authorize?response_type=code&client_id={}&redirect_uri={}&state=st4te{extra}",
        oauth::encode(&[("", client_id)]).trim_start_matches('='),
        oauth::encode(&[("", redirect_uri)]).trim_start_matches('='),
    )
}

async fn bad_client_or_redirect_uri_shows_a_page_and_never_redirects(backend: Backend) {
    let env = OAuthEnv::start(backend).await;
    let browser = env.browser();
    browser.login(&env.email, PASSWORD).await;
    let mut cases = vec![authorize_path("unknown-client-id", REDIRECT, "")];
    for variant in [
        format!("{REDIRECT}/"),
        format!("{REDIRECT}?extra=1"),
        REDIRECT.replace("https://", "http://"),
        REDIRECT.replace("idp.example", "IDP.example"),
        REDIRECT.replace("idp.example", "idp.example.evil.test"),
        format!("{REDIRECT}#fragment"),
        "https://evil.example/callback".to_owned(),
    ] {
        cases.push(authorize_path(&env.client_id, &variant, ""));
    }
    cases.push(format!(
        "/oauth/authorize?response_type=code&client_id={}&redirect_uri=x&redirect_uri=y",
        env.client_id
    ));
    for path in cases {
        let page = browser.get(&path).await;
        assert_eq!(
            page.status,
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            page.body
        );
        assert!(page.location().is_none(), "{path} must not redirect");
        assert!(
            page.header("content-type")
                .unwrap()
                .starts_with("text/html")
        );
        assert!(page.body.contains("<html"), "a real page");
    }
}

async fn later_request_errors_go_back_with_state_and_iss(backend: Backend) {
    let env = OAuthEnv::start(backend).await;
    let browser = env.browser();
    browser.login(&env.email, PASSWORD).await;
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let cases = [
        (
            authorize_path(&env.client_id, REDIRECT, "")
                .replace("response_type=code", "response_type=token"),
            "unsupported_response_type",
        ),
        (
            authorize_path(&env.client_id, REDIRECT, "&scope=scim%20admin"),
            "invalid_scope",
        ),
        (
            authorize_path(
                &env.client_id,
                REDIRECT,
                &format!("&code_challenge={challenge}&code_challenge_method=plain"),
            ),
            "invalid_request",
        ),
        (
            authorize_path(
                &env.client_id,
                REDIRECT,
                &format!("&code_challenge={challenge}"),
            ),
            "invalid_request",
        ),
    ];
    for (path, expected) in cases {
        let res = browser.get(&path).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{path}: {}", res.body);
        let location = res.location().unwrap();
        assert!(location.starts_with(REDIRECT), "{location}");
        assert_eq!(
            oauth::param(&location, "error").as_deref(),
            Some(expected),
            "{path}"
        );
        assert_eq!(oauth::param(&location, "state").as_deref(), Some("st4te"));
        assert_eq!(
            oauth::param(&location, "iss").as_deref(),
            Some(env.server.base_url.as_str())
        );
        assert!(oauth::param(&location, "code").is_none());
    }
}

async fn a_replayed_code_revokes_the_tokens_it_issued(backend: Backend) {
    let env = OAuthEnv::start(backend).await;
    let idp = env.idp(AuthType::BasicAuth);
    let (callback, verifier) = env.authorize(&idp, true).await;
    let secret = verifier.as_ref().map(|v| v.secret().clone()).unwrap();
    let tokens = exchange(&idp, &callback.code, verifier).await.unwrap();
    assert_eq!(
        env.scim_status(&access(&tokens), &env.org).await,
        StatusCode::OK
    );
    let err = exchange(&idp, &callback.code, Some(PkceCodeVerifier::new(secret)))
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), Some(BasicErrorResponseType::InvalidGrant));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        env.scim_status(&access(&tokens), &env.org).await,
        StatusCode::UNAUTHORIZED
    );
    let err = refresh(&idp, &refresh_of(&tokens)).await.unwrap_err();
    assert_eq!(error_code(&err), Some(BasicErrorResponseType::InvalidGrant));
}

async fn an_expired_code_is_refused(backend: Backend) {
    let env = OAuthEnv::start_with(backend, &[("SCIMGATE_OAUTH__CODE_TTL_SECS", "1")]).await;
    let idp = env.idp(AuthType::BasicAuth);
    let (callback, verifier) = env.authorize(&idp, true).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let err = exchange(&idp, &callback.code, verifier).await.unwrap_err();
    assert_eq!(error_code(&err), Some(BasicErrorResponseType::InvalidGrant));
}

async fn parallel_redemption_of_one_code_has_one_winner(backend: Backend) {
    let env = OAuthEnv::start(backend).await;
    let idp = env.idp(AuthType::BasicAuth);
    let (callback, _) = env.authorize(&idp, false).await;
    let attempts = (0..8).map(|_| {
        let idp = idp.clone();
        let code = callback.code.clone();
        tokio::spawn(async move { exchange(&idp, &code, None).await })
    });
    let results = futures_util::future::join_all(attempts).await;
    let wins = results
        .iter()
        .filter(|r| r.as_ref().unwrap().is_ok())
        .count();
    assert_eq!(wins, 1, "exactly one redemption succeeds");
    // The others were replays of a redeemed code: the winner's tokens are revoked too.
    let winner = results
        .iter()
        .find_map(|r| r.as_ref().unwrap().as_ref().ok())
        .unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        env.scim_status(&access(winner), &env.org).await,
        StatusCode::UNAUTHORIZED
    );
    let err = refresh(&idp, &refresh_of(winner)).await.unwrap_err();
    assert_eq!(error_code(&err), Some(BasicErrorResponseType::InvalidGrant));
    for r in results
        .iter()
        .map(|r| r.as_ref().unwrap())
        .filter(|r| r.is_err())
    {
        assert_eq!(
            error_code(r.as_ref().unwrap_err()),
            Some(BasicErrorResponseType::InvalidGrant)
        );
    }
}

async fn pkce_wrong_verifier_missing_verifier_and_downgrade_fail(backend: Backend) {
    let env = OAuthEnv::start(backend).await;
    let idp = env.idp(AuthType::BasicAuth);
    let wrong = || Some(PkceCodeVerifier::new("x".repeat(64)));
    let (callback, _) = env.authorize(&idp, true).await;
    let err = exchange(&idp, &callback.code, wrong()).await.unwrap_err();
    assert_eq!(
        error_code(&err),
        Some(BasicErrorResponseType::InvalidGrant),
        "wrong verifier"
    );
    let (callback, _) = env.authorize(&idp, true).await;
    let err = exchange(&idp, &callback.code, None).await.unwrap_err();
    assert_eq!(
        error_code(&err),
        Some(BasicErrorResponseType::InvalidGrant),
        "missing verifier"
    );
    let (callback, _) = env.authorize(&idp, false).await;
    let err = exchange(&idp, &callback.code, wrong()).await.unwrap_err();
    assert_eq!(
        error_code(&err),
        Some(BasicErrorResponseType::InvalidGrant),
        "verifier without challenge"
    );
}

async fn forms_require_their_csrf_token(backend: Backend) {
    let env = OAuthEnv::start(backend).await;
    let browser = env.browser();
    // Login without the token, or with another session's.
    let page = browser.get("/login").await;
    let res = browser
        .post("/login", &[("email", &env.email), ("password", PASSWORD)])
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = browser
        .post(
            "/login",
            &[
                ("email", &env.email),
                ("password", PASSWORD),
                ("csrf", "forged"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let stranger = env.browser();
    let csrf = oauth::field(&page.body, "csrf").unwrap();
    let res = stranger
        .post(
            "/login",
            &[
                ("email", &env.email),
                ("password", PASSWORD),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(
        res.status,
        StatusCode::FORBIDDEN,
        "a token is only good with its own session"
    );
    // Consent with a wrong token issues nothing.
    browser.login(&env.email, PASSWORD).await;
    let (url, _) = oauth::authorize_url(&env.idp(AuthType::BasicAuth), false);
    let consent = browser.consent(&url).await;
    let request = oauth::field(&consent.body, "request").unwrap();
    let res = browser
        .post(
            "/oauth/authorize",
            &[
                ("csrf", "forged"),
                ("request", &request),
                ("org", &env.org),
                ("accept_terms", "yes"),
                ("decision", "approve"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(res.location().is_none());
    // A browser with no session is sent to log in.
    let res = stranger
        .post(
            "/oauth/authorize",
            &[
                ("csrf", "x"),
                ("request", &request),
                ("org", &env.org),
                ("accept_terms", "yes"),
                ("decision", "approve"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location().as_deref(), Some("/login"));
    let res = browser.post("/logout", &[("csrf", "forged")]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
}

async fn pages_refuse_framing_caching_and_referrers(backend: Backend) {
    let env = OAuthEnv::start(backend).await;
    let browser = env.browser();
    let login = browser.get("/login").await;
    browser.login(&env.email, PASSWORD).await;
    let (url, _) = oauth::authorize_url(&env.idp(AuthType::BasicAuth), false);
    let consent = browser.consent(&url).await;
    let error = browser.get(&authorize_path("nope", REDIRECT, "")).await;
    for page in [&login, &consent, &error] {
        assert_eq!(page.header("x-frame-options").as_deref(), Some("DENY"));
        let csp = page.header("content-security-policy").unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert_eq!(
            page.header("referrer-policy").as_deref(),
            Some("no-referrer")
        );
        assert_eq!(page.header("cache-control").as_deref(), Some("no-store"));
        assert!(!page.body.contains("https://"), "no third-party assets");
    }
    let css = browser.get("/static/app.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
}

async fn login_never_redirects_off_site(backend: Backend) {
    let env = OAuthEnv::start(backend).await;
    for path in [
        "/login?next=https://evil.example/",
        "/login?request=https://evil.example/",
        "/login?request=%2F%2Fevil.example",
    ] {
        let browser = env.browser();
        let res = browser.login_page(path, &env.email, PASSWORD).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER);
        assert_eq!(res.location().as_deref(), Some("/"), "{path}");
    }
    // Wrong password: the form again with 401, no redirect.
    let browser = env.browser();
    let res = browser
        .login_page("/login", &env.email, "wrong password!!")
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(res.body.contains("Incorrect email or password"));
}

async fn only_an_owner_or_admin_with_scim_enabled_approves(backend: Backend) {
    let env = OAuthEnv::start(backend).await;
    let idp = env.idp(AuthType::BasicAuth);
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
    let (url, _) = oauth::authorize_url(&idp, false);
    let page = member.get(&url).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(
        page.body.contains("Only an Owner or Admin"),
        "{}",
        page.body
    );

    // The owner's form, replayed by the member with the member's own CSRF token: refused at POST.
    let owner = env.browser();
    owner.login(&env.email, PASSWORD).await;
    let consent = owner.consent(&url).await;
    let request = oauth::field(&consent.body, "request").unwrap();
    let member_csrf = oauth::field(&member.get("/").await.body, "csrf").unwrap();
    let res = member
        .post(
            "/oauth/authorize",
            &[
                ("csrf", &member_csrf),
                ("request", &request),
                ("org", &env.org),
                ("accept_terms", "yes"),
                ("decision", "approve"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    // Terms are enforced server-side; deny goes back with access_denied.
    let res = owner.decide(&consent, &env.org, "approve", false).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.location().is_none());
    let res = owner.decide(&consent, &env.org, "deny", false).await;
    let location = res.location().unwrap();
    assert!(location.starts_with(REDIRECT));
    assert_eq!(
        oauth::param(&location, "error").as_deref(),
        Some("access_denied")
    );
    assert!(oauth::param(&location, "state").is_some());
    assert!(oauth::param(&location, "code").is_none());

    // SCIM disabled: nobody can approve, and the page says why.
    env.target.admin(&["disable-scim", "--org", &env.org]);
    let page = owner.get(&oauth::authorize_url(&idp, false).0).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.body.contains("SCIM is not enabled"), "{}", page.body);
}

async fn token_endpoint_client_authentication_and_errors(backend: Backend) {
    let env = OAuthEnv::start(backend).await;
    let (id, secret) = (env.client_id.as_str(), env.client_secret.as_str());
    let both = env
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", "x"),
                ("client_secret", secret),
            ],
            Some((id, secret)),
        )
        .await;
    assert_eq!(both.0, StatusCode::BAD_REQUEST);
    assert_eq!(both.2["error"], "invalid_request");
    let wrong = env
        .post_form(
            "/oauth/token",
            &[("grant_type", "authorization_code"), ("code", "x")],
            Some((id, "wrong-secret")),
        )
        .await;
    assert_eq!(wrong.0, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.2["error"], "invalid_client");
    assert!(wrong.1.get("www-authenticate").is_some());
    assert_eq!(wrong.1.get("cache-control").unwrap(), "no-store");
    let grant = env
        .post_form(
            "/oauth/token",
            &[("grant_type", "client_credentials")],
            Some((id, secret)),
        )
        .await;
    // Client credentials are the SaaS backend's grant: an IdP's client is not authorized for it.
    assert_eq!(grant.2["error"], "unauthorized_client");
    let unknown = env
        .post_form(
            "/oauth/token",
            &[("grant_type", "password")],
            Some((id, secret)),
        )
        .await;
    assert_eq!(unknown.2["error"], "unsupported_grant_type");
    let repeated = env
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", "a"),
                ("code", "b"),
            ],
            Some((id, secret)),
        )
        .await;
    assert_eq!(repeated.2["error"], "invalid_request");
    let unknown = env
        .post_form(
            "/oauth/token",
            &[("grant_type", "authorization_code"), ("code", "nope")],
            Some((id, secret)),
        )
        .await;
    assert_eq!(unknown.0, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.2["error"], "invalid_grant");
    // A public client cannot pretend to be the confidential one.
    let public = env
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", "x"),
                ("client_id", id),
            ],
            None,
        )
        .await;
    assert_eq!(public.2["error"], "invalid_client");
    // A code is bound to its client and redirect URI.
    let idp = env.idp(AuthType::BasicAuth);
    let (callback, _) = env.authorize(&idp, false).await;
    let other = env
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &callback.code),
                ("redirect_uri", "https://idp.example/other"),
            ],
            Some((id, secret)),
        )
        .await;
    assert_eq!(other.2["error"], "invalid_grant");
}

async fn login_and_token_endpoint_are_rate_limited(backend: Backend) {
    let env = OAuthEnv::start_with(
        backend,
        &[
            ("SCIMGATE_OAUTH__LOGIN_RATE_LIMIT_PER_MINUTE", "3"),
            ("SCIMGATE_OAUTH__TOKEN_RATE_LIMIT_PER_MINUTE", "4"),
        ],
    )
    .await;
    let browser = env.browser();
    for _ in 0..3 {
        let res = browser
            .login_page("/login", &env.email, "wrong password!!")
            .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    }
    let res = browser.login_page("/login", &env.email, PASSWORD).await;
    assert_eq!(
        res.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    let creds = Some((env.client_id.as_str(), env.client_secret.as_str()));
    let form = [
        ("grant_type", "authorization_code"),
        ("code", "guess"),
        ("client_id", env.client_id.as_str()),
    ];
    for _ in 0..4 {
        let (status, _, body) = env.post_form("/oauth/token", &form, creds).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    let (status, headers, body) = env.post_form("/oauth/token", &form, creds).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(headers.get("retry-after").is_some());
    // A forwarded header does not buy a fresh budget: limits key on the TCP peer.
    let res = env
        .http
        .post(env.url("/oauth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-for", "203.0.113.9")
        .header("forwarded", "for=203.0.113.9")
        .basic_auth(&env.client_id, Some(&env.client_secret))
        .body(oauth::encode(&form))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

backend_tests!(
    login_and_token_endpoint_are_rate_limited,
    bad_client_or_redirect_uri_shows_a_page_and_never_redirects,
    later_request_errors_go_back_with_state_and_iss,
    a_replayed_code_revokes_the_tokens_it_issued,
    an_expired_code_is_refused,
    parallel_redemption_of_one_code_has_one_winner,
    pkce_wrong_verifier_missing_verifier_and_downgrade_fail,
    forms_require_their_csrf_token,
    pages_refuse_framing_caching_and_referrers,
    login_never_redirects_off_site,
    only_an_owner_or_admin_with_scim_enabled_approves,
    token_endpoint_client_authentication_and_errors,
);

/// Two replicas on one PostgreSQL and one Redis: a code issued by one is redeemed at the other,
/// tokens from either work at both, and a revocation at one reaches the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_codes_tokens_and_revocations() {
    let target = Target::new(Backend::Postgres).await;
    let regions = target.workdir.path().join("regions.toml");
    std::fs::write(&regions, "[test]\nname = \"Test\"\napp_url = \"http://app.test.invalid\"\nauth_api_url = \"http://auth.test.invalid\"\n").unwrap();
    let config = target.workdir.path().join("replica.toml");
    let config_text = format!(
        "region = \"test\"\nregions_path = \"{}\"\n[secrets]\ncursor_key = \"0123456789abcdef0123456789abcdef\"\n",
        regions.display()
    );
    std::fs::write(&config, config_text).unwrap();
    let org = target.admin(&[
        "create-org",
        "--name",
        "Acme",
        "--owner-email",
        "owner@acme.test",
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
    let (id, secret) = (
        client["client_id"].as_str().unwrap(),
        client["client_secret"].as_str().unwrap(),
    );
    let start = || {
        let mut cmd = target.command();
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .env("SCIMGATE_CONFIG", &config);
        Server::start(cmd)
    };
    let (a, b) = (start(), start());
    let idp_a = idp_for(&a, id, Some(secret), AuthType::BasicAuth);
    let idp_b = idp_for(&b, id, Some(secret), AuthType::BasicAuth);
    let browser = Browser::new(&a.base_url);
    browser.login("owner@acme.test", PASSWORD).await;
    let (url, verifier) = oauth::authorize_url(&idp_a, true);
    let callback = browser.approve(&url, &org).await;
    assert_eq!(callback.iss, "http://auth.test.invalid");
    let tokens = exchange(&idp_b, &callback.code, verifier).await.unwrap();
    let http = common::http();
    let scim = |server: &Server, token: String| {
        let req = http
            .get(server.url(&format!("/scim/v2.0/organizations/{org}/Users")))
            .bearer_auth(token);
        async move { req.send().await.unwrap().status() }
    };
    assert_eq!(scim(&a, access(&tokens)).await, StatusCode::OK);
    assert_eq!(scim(&b, access(&tokens)).await, StatusCode::OK);
    let rotated = refresh(&idp_a, &refresh_of(&tokens)).await.unwrap();
    let (status, _, _) = oauth::post_form(
        &http,
        &a.url("/oauth/revoke"),
        &[("token", &access(&rotated))],
        Some((id, secret)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(scim(&b, access(&rotated)).await, StatusCode::UNAUTHORIZED);
    let (status, _, body) = oauth::post_form(
        &http,
        &b.url("/oauth/token"),
        &[
            ("grant_type", "authorization_code"),
            ("code", &callback.code),
        ],
        Some((id, secret)),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
}
