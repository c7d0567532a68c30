//! Every CLI command, run as the real binary against SQLite and against PostgreSQL + Redis.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::panic)]

use crate::common;

use common::{Server, Target, output_text};
use testkit::{Backend, backend_tests};

async fn migrate_prepares_an_empty_database(backend: Backend) {
    let target = Target::new(backend).await;
    let out = target.command().arg("migrate").output().unwrap();
    let (stdout, stderr) = output_text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("migrations applied"), "{stdout}");
    let again = target.command().arg("migrate").output().unwrap();
    assert!(again.status.success(), "migrate is idempotent");
}

async fn create_org_with_generated_and_given_passwords(backend: Backend) {
    let target = Target::new(backend).await;
    let org = target.admin(&[
        "create-org",
        "--name",
        "Acme",
        "--owner-email",
        "Owner@Acme.test",
    ]);
    assert!(org["org_uid"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(org["owner_email"], "Owner@Acme.test");
    assert!(
        org["owner_password"]
            .as_str()
            .is_some_and(|p| p.len() >= 20),
        "generated password printed once"
    );

    let second = target.admin(&[
        "create-org",
        "--name",
        "Beta",
        "--owner-email",
        "b@beta.test",
        "--owner-password",
        "a sufficiently long pw",
    ]);
    assert!(
        second.get("owner_password").is_none(),
        "a chosen password is never echoed"
    );
    assert_ne!(second["org_uid"], org["org_uid"]);

    let reuse = target.admin(&[
        "create-org",
        "--name",
        "Gamma",
        "--owner-email",
        "owner@acme.test",
    ]);
    assert!(
        reuse.get("owner_password").is_none(),
        "an existing account is reused, not re-passworded"
    );

    let err = target.admin_fails(&["create-org", "--name", "X", "--owner-email", "not-an-email"]);
    assert!(err.contains("not a valid email"), "{err}");
}

async fn scim_switch_members_and_tokens(backend: Backend) {
    let target = Target::new(backend).await;
    let org = target.admin(&[
        "create-org",
        "--name",
        "Acme",
        "--owner-email",
        "o@acme.test",
    ]);
    let uid = org["org_uid"].as_str().unwrap();

    assert_eq!(
        target.admin(&["enable-scim", "--org", uid])["scim_enabled"],
        true
    );
    assert_eq!(
        target.admin(&["disable-scim", "--org", uid])["scim_enabled"],
        false
    );

    let member = target.admin(&[
        "add-member",
        "--org",
        uid,
        "--email",
        "dev@acme.test",
        "--role",
        "admin",
        "--password",
        "another long password",
    ]);
    assert_eq!(member["role"], "admin");
    let err = target.admin_fails(&[
        "add-member",
        "--org",
        uid,
        "--email",
        "dev@acme.test",
        "--role",
        "member",
    ]);
    assert!(err.contains("is already a member"), "{err}");
    let err = target.admin_fails(&[
        "add-member",
        "--org",
        uid,
        "--email",
        "x@acme.test",
        "--role",
        "superuser",
    ]);
    assert!(
        err.contains("superuser") && err.contains("owner, admin") || err.contains("member, admin"),
        "{err}"
    );

    let token = target.admin(&["create-token", "--org", uid, "--name", "okta"]);
    let secret = token["token"].as_str().unwrap();
    assert!(secret.starts_with("sgt_"));
    assert_eq!(token["prefix"].as_str().unwrap(), &secret[..12]);
    let other = target.admin(&["create-token", "--org", uid, "--expires-in-days", "30"]);
    assert!(other["expires_at"].is_string());
    assert_ne!(other["token"], token["token"]);

    let err = target.admin_fails(&["enable-scim", "--org", "no-such-org"]);
    assert!(err.contains("organization not found"), "{err}");

    let stack = target.admin(&["create-stack", "--org", uid, "--name", "Marketing"]);
    assert_eq!(stack["name"], "Marketing");
    assert!(stack["stack_uid"].as_str().is_some_and(|s| !s.is_empty()));
    let err = target.admin_fails(&["create-stack", "--org", uid, "--name", "MARKETING"]);
    assert!(
        err.contains("already exists"),
        "names are unique ignoring case: {err}"
    );
    let err = target.admin_fails(&["create-stack", "--org", uid, "--name", "  "]);
    assert!(err.contains("name"), "{err}");
}

async fn register_client_enforces_redirect_rules(backend: Backend) {
    let target = Target::new(backend).await;
    let okta = target.admin(&[
        "register-client",
        "--name",
        "Okta",
        "--redirect-uri",
        "https://system-admin.okta.com/admin/app/cpc/scimgate/oauth/callback",
        "--redirect-uri",
        "https://system-admin.okta-emea.com/admin/app/cpc/scimgate/oauth/callback",
    ]);
    assert!(
        okta["client_id"].is_string()
            && okta["client_secret"]
                .as_str()
                .is_some_and(|s| s.len() >= 43)
    );
    assert_eq!(okta["redirect_uris"].as_array().unwrap().len(), 2);

    let err = target.admin_fails(&[
        "register-client",
        "--name",
        "Okta http",
        "--redirect-uri",
        "http://system-admin.okta.com/cb",
    ]);
    assert!(err.contains("--allow-insecure-redirect"), "{err}");
    let insecure = target.admin(&[
        "register-client",
        "--name",
        "Okta http",
        "--redirect-uri",
        "http://system-admin.okta.com/cb",
        "--allow-insecure-redirect",
    ]);
    assert!(insecure["client_id"].is_string());

    let fixed = target.admin(&[
        "register-client",
        "--name",
        "Okta EU",
        "--redirect-uri",
        "https://a.example/cb",
        "--client-id",
        "okta-global-client",
        "--client-secret",
        "0123456789abcdef0123456789abcdef",
    ]);
    assert_eq!(fixed["client_id"], "okta-global-client");
    let err = target.admin_fails(&[
        "register-client",
        "--name",
        "dup",
        "--redirect-uri",
        "https://a.example/cb",
        "--client-id",
        "okta-global-client",
    ]);
    assert!(err.contains("already exists"), "{err}");
}

async fn serve_answers_health_and_readiness_and_stops_on_sigterm(backend: Backend) {
    let target = Target::new(backend).await;
    let mut cmd = target.command();
    cmd.args(["serve", "--listen", "127.0.0.1:0"]);
    let server = Server::start(cmd);
    let http = common::http();
    let health = http.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(
        health.headers().contains_key("x-request-id"),
        "every response carries its request id"
    );
    let ready: serde_json::Value = http
        .get(server.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["database"], "ok");
    assert_eq!(ready["kv"], "ok");
    let missing = http.get(server.url("/no/such/thing")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(server.terminate(), "graceful shutdown exits 0");
}

backend_tests!(
    migrate_prepares_an_empty_database,
    create_org_with_generated_and_given_passwords,
    scim_switch_members_and_tokens,
    register_client_enforces_redirect_rules,
    serve_answers_health_and_readiness_and_stops_on_sigterm,
);
