//! `[branding]`: the product's name, logo, accent colour, support contact and terms on the login,
//! consent, console and error pages, over HTTP against the real app on both databases; bad
//! values stop start-up naming their key.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::panic)]

use crate::common;

use common::oauth::{self, OAuthEnv, PASSWORD};
use common::{bare_command, output_text};
use oauth2::AuthType;
use reqwest::StatusCode;
use testkit::{Backend, backend_tests};

const BRANDING: &[(&str, &str)] = &[
    ("SCIMGATE_BRANDING__PRODUCT_NAME", "Acme Cloud"),
    (
        "SCIMGATE_BRANDING__LOGO_URL",
        "https://cdn.acme-cloud.example/logo.svg",
    ),
    ("SCIMGATE_BRANDING__PRIMARY_COLOR", "#0A7D33"),
    (
        "SCIMGATE_BRANDING__SUPPORT_EMAIL",
        "help@acme-cloud.example",
    ),
    (
        "SCIMGATE_BRANDING__TERMS_URL",
        "https://acme-cloud.example/terms",
    ),
];

/// The marks every branded page carries.
fn assert_branded(what: &str, html: &str) {
    for expected in [
        "<span class=\"product-name\">Acme Cloud</span>",
        "src=\"https://cdn.acme-cloud.example/logo.svg\"",
        "href=\"mailto:help@acme-cloud.example\"",
        "href=\"https://acme-cloud.example/terms\"",
        "href=\"/static/brand.css\"",
        "· Acme Cloud</title>",
    ] {
        assert!(html.contains(expected), "{what} lacks {expected}: {html}");
    }
    assert!(
        !html.contains(">scimgate<"),
        "{what} still says scimgate: {html}"
    );
}

async fn pages_carry_the_configured_brand(backend: Backend) {
    let env = OAuthEnv::start_with(backend, BRANDING).await;
    let browser = env.browser();

    let login = browser.get("/login").await;
    assert_eq!(login.status, StatusCode::OK);
    assert_branded("login", &login.body);
    assert!(
        login.body.contains("Sign in to Acme Cloud"),
        "{}",
        login.body
    );
    let csp = login.header("content-security-policy").unwrap();
    assert!(
        csp.contains("img-src 'self' https://cdn.acme-cloud.example"),
        "the logo may load: {csp}"
    );
    assert!(csp.contains("default-src 'none'"), "{csp}");

    let css = browser.get("/static/brand.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(
        css.header("content-type").unwrap().starts_with("text/css"),
        "{:?}",
        css.headers
    );
    assert!(css.body.contains("--accent: #0a7d33"), "{}", css.body);
    assert!(css.body.contains("--on-accent: #ffffff"), "{}", css.body);

    browser.login(&env.email, PASSWORD).await;
    let idp = env.idp(AuthType::BasicAuth);
    let (url, _) = oauth::authorize_url(&idp, true);
    let consent = browser.consent(&format!("{url}&org={}", env.org)).await;
    assert_branded("consent", &consent.body);
    assert!(
        consent.body.contains(
            "<strong>Okta</strong> asks to provision users into <strong>Acme</strong> on Acme Cloud."
        ),
        "{}",
        consent.body
    );
    assert!(
        consent
            .body
            .contains("class=\"terms-link\" href=\"https://acme-cloud.example/terms\""),
        "the terms it asks to accept are linked: {}",
        consent.body
    );
    assert!(
        consent.body.contains("suspend and remove their access"),
        "scopes in words: {}",
        consent.body
    );

    let console = browser
        .get(&format!("/orgs/{}/settings/scim", env.org))
        .await;
    assert_eq!(console.status, StatusCode::OK);
    assert_branded("console", &console.body);
    let orgs = browser.get("/").await;
    assert_branded("organizations", &orgs.body);

    // Error pages too: one answered inside a console route, and an unknown path.
    let missing = browser
        .get(&format!("/orgs/{}/settings/scim/groups/nope", env.org))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_branded("console error", &missing.body);
    let unknown = browser.get("/no/such/page").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_branded("unknown page", &unknown.body);
}

async fn the_default_brand_is_scimgate(backend: Backend) {
    let env = OAuthEnv::start(backend).await;
    let login = env.browser().get("/login").await;
    assert!(
        login
            .body
            .contains("<span class=\"product-name\">scimgate</span>"),
        "{}",
        login.body
    );
    assert!(
        !login.body.contains("mailto:"),
        "no support contact is made up"
    );
    assert!(!login.body.contains("class=\"logo\""));
    let css = env.browser().get("/static/brand.css").await;
    assert!(css.body.contains("--accent: #2456d6"), "{}", css.body);
}

backend_tests!(
    pages_carry_the_configured_brand,
    the_default_brand_is_scimgate
);

#[test]
fn bad_branding_values_name_their_key() {
    let dir = tempfile::tempdir().unwrap();
    for (var, value, key) in [
        (
            "SCIMGATE_BRANDING__PRIMARY_COLOR",
            "red",
            "branding.primary_color",
        ),
        (
            "SCIMGATE_BRANDING__PRIMARY_COLOR",
            "#fff;background:url(x)",
            "branding.primary_color",
        ),
        (
            "SCIMGATE_BRANDING__LOGO_URL",
            "javascript:alert(1)",
            "branding.logo_url",
        ),
        (
            "SCIMGATE_BRANDING__TERMS_URL",
            "/terms",
            "branding.terms_url",
        ),
        (
            "SCIMGATE_BRANDING__SUPPORT_EMAIL",
            "not-an-address",
            "branding.support_email",
        ),
        (
            "SCIMGATE_BRANDING__PRODUCT_NAME",
            " ",
            "branding.product_name",
        ),
        ("SCIMGATE_BRANDING__COLOUR", "#fff", "branding.colour"),
    ] {
        let out = bare_command(dir.path())
            .env(var, value)
            .arg("migrate")
            .output()
            .unwrap();
        let (_, stderr) = output_text(&out);
        assert_eq!(out.status.code(), Some(2), "{var}={value}: {stderr}");
        assert!(
            stderr.contains(&format!("'{key}'")),
            "{var}={value} names {key}: {stderr}"
        );
    }
}
