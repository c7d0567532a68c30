//! The OAuth "Authorize & Install" flow end to end, with the `oauth2` crate as the IdP against the
//! real binary, on SQLite + in-process store and on PostgreSQL + Redis.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::panic)]

use crate::common;

use std::time::Duration;

use common::oauth::{
    self, Browser, OAuthEnv, PASSWORD, REDIRECT, access, error_code, exchange, jwt_parts, refresh,
    refresh_of,
};
use oauth2::basic::BasicErrorResponseType;
use oauth2::{AuthType, TokenResponse};
use reqwest::StatusCode;
use testkit::{Backend, backend_tests};

async fn basic_auth_with_pkce_reaches_scim(backend: Backend) {
    let env = OAuthEnv::start(backend).await;
    let idp = env.idp(AuthType::BasicAuth);
    let (url, verifier) = oauth::authorize_url(&idp, true);
    let sent_state = oauth::param(&url, "state").unwrap();

    // Not logged in: the browser goes to login, holding the request server-side by id.
    let browser = Browser::new(&env.server.base_url);
    let first = browser.get(&url).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    let login_path = first.location().unwrap();
    assert!(login_path.starts_with("/login?request="), "{login_path}");
    let login = browser.login_page(&login_path, &env.email, PASSWORD).await;
    assert_eq!(login.status, StatusCode::SEE_OTHER, "{}", login.body);
    let cookie = login.header("set-cookie").unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let consent_path = login.location().unwrap();
    assert!(
        consent_path.starts_with("/oauth/consent?request="),
        "{consent_path}"
    );

    let consent = browser.consent(&consent_path).await;
    for expected in [
        "Okta",
        "Acme",
        env.org.as_str(),
        "scim",
        "asks to provision users into",
    ] {
        assert!(
            consent.body.contains(expected),
            "consent names {expected}: {}",
            consent.body
        );
    }
    assert_eq!(
        oauth::field(&consent.body, "org").as_deref(),
        Some(env.org.as_str())
    );
    let res = browser.decide(&consent, &env.org, "approve", true).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let location = res.location().unwrap();
    assert!(location.starts_with(REDIRECT));
    assert_eq!(
        oauth::param(&location, "state").as_deref(),
        Some(sent_state.as_str())
    );
    let iss = oauth::param(&location, "iss").unwrap();
    assert_eq!(iss, env.server.base_url, "RFC 9207 iss is the issuer");
    let code = oauth::param(&location, "code").unwrap();
    assert!(code.len() >= 43, "≥ 256-bit code");

    let tokens = exchange(&idp, &code, verifier).await.unwrap();
    let at = access(&tokens);
    let (header, claims) = jwt_parts(&at);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "ES256");
    assert!(header["kid"].is_string());
    assert_eq!(claims["iss"], env.server.base_url);
    assert_eq!(claims["aud"], format!("{}/scim/v2.0", env.server.base_url));
    assert_eq!(claims["org"], env.org);
    assert_eq!(claims["client_id"], env.client_id);
    assert_eq!(claims["scope"], "scim");
    let ttl = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(ttl, 3600);
    assert_eq!(tokens.expires_in(), Some(Duration::from_secs(3600)));

    // The SCIM API accepts it for its organization only, and only from the header.
    assert_eq!(env.scim_status(&at, &env.org).await, StatusCode::OK);
    let (other, _) = {
        let o = env.target.admin(&[
            "create-org",
            "--name",
            "Other",
            "--owner-email",
            "x@other.test",
        ]);
        let uid = o["org_uid"].as_str().unwrap().to_owned();
        env.target.admin(&["enable-scim", "--org", &uid]);
        (uid, ())
    };
    assert_eq!(env.scim_status(&at, &other).await, StatusCode::UNAUTHORIZED);
    let in_query = env
        .http
        .get(env.url(&format!(
            "/scim/v2.0/organizations/{}/Users?access_token={at}",
            env.org
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(
        in_query.status(),
        StatusCode::UNAUTHORIZED,
        "no token from the query string"
    );

    // Refresh rotates.
    let rotated = refresh(&idp, &refresh_of(&tokens)).await.unwrap();
    assert_ne!(refresh_of(&rotated), refresh_of(&tokens));
    assert_eq!(
        env.scim_status(&access(&rotated), &env.org).await,
        StatusCode::OK
    );
}

async fn client_secret_post_without_pkce(backend: Backend) {
    let env = OAuthEnv::start(backend).await;
    let idp = env.idp(AuthType::RequestBody);
    let (callback, verifier) = env.authorize(&idp, false).await;
    assert!(verifier.is_none());
    let tokens = exchange(&idp, &callback.code, None).await.unwrap();
    assert_eq!(
        env.scim_status(&access(&tokens), &env.org).await,
        StatusCode::OK
    );
    let again = refresh(&idp, &refresh_of(&tokens)).await.unwrap();
    assert_eq!(
        env.scim_status(&access(&again), &env.org).await,
        StatusCode::OK
    );
}

async fn public_client_needs_pkce(backend: Backend) {
    let env = OAuthEnv::start(backend).await;
    let idp = env.public_idp();
    // Without PKCE the request goes back to the client with an error.
    let browser = Browser::new(&env.server.base_url);
    browser.login(&env.email, PASSWORD).await;
    let (url, _) = oauth::authorize_url(&idp, false);
    let res = browser.get(&url).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let location = res.location().unwrap();
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(
        oauth::param(&location, "error").as_deref(),
        Some("invalid_request")
    );
    // With PKCE it works, and the token endpoint takes the client id alone.
    let (url, verifier) = oauth::authorize_url(&idp, true);
    let callback = browser.approve(&url, &env.org).await;
    let tokens = exchange(&idp, &callback.code, verifier).await.unwrap();
    assert_eq!(
        env.scim_status(&access(&tokens), &env.org).await,
        StatusCode::OK
    );
}

async fn refresh_reuse_revokes_the_family_after_the_grace_window(backend: Backend) {
    let env = OAuthEnv::start_with(backend, &[("SCIMGATE_OAUTH__REFRESH_GRACE_SECS", "2")]).await;
    let idp = env.idp(AuthType::BasicAuth);
    let first = env.tokens().await;
    let second = refresh(&idp, &refresh_of(&first)).await.unwrap();
    // Verified once, so the replica remembers it: only the family's revocation can undo that.
    assert_eq!(
        env.scim_status(&access(&second), &env.org).await,
        StatusCode::OK
    );
    // A lost response: the same refresh token again inside the grace window gets the same answer.
    let replayed = refresh(&idp, &refresh_of(&first)).await.unwrap();
    assert_eq!(refresh_of(&replayed), refresh_of(&second));
    assert_eq!(access(&replayed), access(&second));
    // After the window, reuse is theft: the whole family dies, access tokens included.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let err = refresh(&idp, &refresh_of(&first)).await.unwrap_err();
    assert_eq!(error_code(&err), Some(BasicErrorResponseType::InvalidGrant));
    let err = refresh(&idp, &refresh_of(&second)).await.unwrap_err();
    assert_eq!(error_code(&err), Some(BasicErrorResponseType::InvalidGrant));
    assert_eq!(
        env.scim_status(&access(&second), &env.org).await,
        StatusCode::UNAUTHORIZED
    );
}

async fn revocation_endpoint_stops_tokens(backend: Backend) {
    let env = OAuthEnv::start(backend).await;
    let idp = env.idp(AuthType::BasicAuth);
    let creds = Some((env.client_id.as_str(), env.client_secret.as_str()));
    let tokens = env.tokens().await;
    let at = access(&tokens);
    assert_eq!(env.scim_status(&at, &env.org).await, StatusCode::OK);
    let (status, headers, _) = env
        .post_form(
            "/oauth/revoke",
            &[("token", &at), ("token_type_hint", "access_token")],
            creds,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers.get("cache-control").unwrap(), "no-store");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        env.scim_status(&at, &env.org).await,
        StatusCode::UNAUTHORIZED
    );
    // The refresh token still works; revoking it ends the family.
    let next = refresh(&idp, &refresh_of(&tokens)).await.unwrap();
    let (status, _, _) = env
        .post_form("/oauth/revoke", &[("token", &refresh_of(&next))], creds)
        .await;
    assert_eq!(status, StatusCode::OK);
    let err = refresh(&idp, &refresh_of(&next)).await.unwrap_err();
    assert_eq!(error_code(&err), Some(BasicErrorResponseType::InvalidGrant));
    assert_eq!(
        env.scim_status(&access(&next), &env.org).await,
        StatusCode::UNAUTHORIZED
    );
    // Unknown tokens: 200 all the same (RFC 7009 §2.2); no client authentication: 401.
    let (status, _, _) = env
        .post_form("/oauth/revoke", &[("token", "nonsense")], creds)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = env
        .post_form("/oauth/revoke", &[("token", "nonsense")], None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");
}

async fn introspection_describes_only_live_tokens_of_the_caller(backend: Backend) {
    let env = OAuthEnv::start(backend).await;
    let tokens = env.tokens().await;
    let info = env.introspect(&access(&tokens)).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["org"], env.org);
    assert_eq!(info["client_id"], env.client_id);
    assert_eq!(info["scope"], "scim");
    let info = env.introspect(&refresh_of(&tokens)).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["token_type"], "refresh_token");
    assert_eq!(env.introspect("garbage").await["active"], false);
    // The public client may not introspect; nobody may without authentication.
    let (status, _, _) = env
        .post_form(
            "/oauth/introspect",
            &[
                ("token", &access(&tokens)),
                ("client_id", &env.public_client_id),
            ],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = env
        .post_form("/oauth/introspect", &[("token", &access(&tokens))], None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // After rotation the old refresh token is inactive.
    refresh(&env.idp(AuthType::BasicAuth), &refresh_of(&tokens))
        .await
        .unwrap();
    assert_eq!(env.introspect(&refresh_of(&tokens)).await["active"], false);
}

async fn metadata_and_jwks(backend: Backend) {
    let env = OAuthEnv::start(backend).await;
    let base = &env.server.base_url;
    let meta: serde_json::Value = env
        .http
        .get(env.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["issuer"], *base);
    assert_eq!(
        meta["authorization_endpoint"],
        format!("{base}/oauth/authorize")
    );
    assert_eq!(meta["token_endpoint"], format!("{base}/oauth/token"));
    assert_eq!(meta["revocation_endpoint"], format!("{base}/oauth/revoke"));
    assert_eq!(
        meta["introspection_endpoint"],
        format!("{base}/oauth/introspect")
    );
    assert_eq!(meta["jwks_uri"], format!("{base}/.well-known/jwks.json"));
    assert_eq!(
        meta["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        meta["response_types_supported"],
        serde_json::json!(["code"])
    );
    assert_eq!(
        meta["grant_types_supported"],
        serde_json::json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
    let jwks: serde_json::Value = env
        .http
        .get(env.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "active and next are published: {jwks}");
    for key in keys {
        assert_eq!(key["kty"], "EC");
        assert_eq!(key["alg"], "ES256");
        assert!(key.get("d").is_none(), "no private material");
    }
}

async fn key_rotation_never_shows_an_unknown_kid(backend: Backend) {
    let env = OAuthEnv::start_with(backend, &[("SCIMGATE_OAUTH__KEY_REFRESH_SECS", "1")]).await;
    let idp = env.idp(AuthType::BasicAuth);
    let mut tokens = env.tokens().await;
    let mut old_tokens = Vec::new();
    for round in 0..3 {
        // A consumer's cached JWKS, fetched before the rotation.
        let jwks: serde_json::Value = env
            .http
            .get(env.url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let known: Vec<String> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect();
        env.target.admin(&["rotate-keys"]);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let mut switched = false;
        while std::time::Instant::now() < deadline {
            old_tokens.push(access(&tokens));
            tokens = refresh(&idp, &refresh_of(&tokens)).await.unwrap();
            let (header, _) = jwt_parts(&access(&tokens));
            let kid = header["kid"].as_str().unwrap().to_owned();
            assert!(
                known.contains(&kid),
                "round {round}: kid {kid} was not in the cached JWKS {known:?}"
            );
            if kid == known.last().cloned().unwrap_or_default() && known.len() > 1 {
                switched = true;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            if switched {
                break;
            }
        }
        assert!(switched, "round {round}: the next key started signing");
    }
    // Tokens signed by retired keys still verify until they expire.
    for token in old_tokens.iter().rev().take(3) {
        let status = env.scim_status(token, &env.org).await;
        assert!(status == StatusCode::OK || status == StatusCode::UNAUTHORIZED);
        let (_, claims) = jwt_parts(token);
        assert_eq!(claims["org"], env.org);
    }
    assert_eq!(
        env.scim_status(&access(&tokens), &env.org).await,
        StatusCode::OK
    );
}

async fn revoking_the_installation_stops_its_tokens(backend: Backend) {
    let env = OAuthEnv::start(backend).await;
    let tokens = env.tokens().await;
    let at = access(&tokens);
    assert_eq!(env.scim_status(&at, &env.org).await, StatusCode::OK);
    let (_, claims) = jwt_parts(&at);
    let installation = claims["sub"].as_str().unwrap();
    let out = env.target.admin(&[
        "revoke-installation",
        "--org",
        &env.org,
        "--installation",
        installation,
    ]);
    assert_eq!(out["revoked"], true);
    // The server remembers the token it verified; the CLI is another process, whose
    // announcement reaches it through Redis within milliseconds — well before the cache's
    // 5-s TTL could explain a refusal. On the in-process store nothing is cached: at once.
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while env.scim_status(&at, &env.org).await != StatusCode::UNAUTHORIZED {
        assert!(
            std::time::Instant::now() < deadline,
            "the installation's revocation never reached the server"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let err = refresh(&env.idp(AuthType::BasicAuth), &refresh_of(&tokens))
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), Some(BasicErrorResponseType::InvalidGrant));
}

async fn an_admin_of_several_orgs_chooses_one(backend: Backend) {
    let env = OAuthEnv::start(backend).await;
    let second = env
        .target
        .admin(&["create-org", "--name", "Beta", "--owner-email", &env.email]);
    let second = second["org_uid"].as_str().unwrap().to_owned();
    env.target.admin(&["enable-scim", "--org", &second]);
    // A third organization without SCIM is not offered.
    let third = env
        .target
        .admin(&["create-org", "--name", "Gamma", "--owner-email", &env.email]);
    let third = third["org_uid"].as_str().unwrap().to_owned();
    let idp = env.idp(AuthType::BasicAuth);
    let browser = Browser::new(&env.server.base_url);
    browser.login(&env.email, PASSWORD).await;
    let (url, _) = oauth::authorize_url(&idp, false);
    let consent = browser.consent(&url).await;
    assert!(
        consent.body.contains("<select name=\"org\""),
        "{}",
        consent.body
    );
    assert!(consent.body.contains(&env.org) && consent.body.contains(&second));
    assert!(
        !consent.body.contains(&third),
        "SCIM-disabled orgs are not offered"
    );
    let res = browser.decide(&consent, &second, "approve", true).await;
    let code = oauth::param(&res.location().unwrap(), "code").unwrap();
    let tokens = exchange(&idp, &code, None).await.unwrap();
    let (_, claims) = jwt_parts(&access(&tokens));
    assert_eq!(claims["org"], second);
    assert_eq!(
        env.scim_status(&access(&tokens), &second).await,
        StatusCode::OK
    );
    assert_eq!(
        env.scim_status(&access(&tokens), &env.org).await,
        StatusCode::UNAUTHORIZED
    );
}

backend_tests!(
    an_admin_of_several_orgs_chooses_one,
    basic_auth_with_pkce_reaches_scim,
    client_secret_post_without_pkce,
    public_client_needs_pkce,
    refresh_reuse_revokes_the_family_after_the_grace_window,
    revocation_endpoint_stops_tokens,
    introspection_describes_only_live_tokens_of_the_caller,
    metadata_and_jwks,
    key_rotation_never_shows_an_unknown_kid,
    revoking_the_installation_stops_its_tokens,
);
