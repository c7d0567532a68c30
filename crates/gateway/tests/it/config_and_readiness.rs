//! Bad configuration stops start-up with one line naming the key; readiness reports a database or
//! key-value store that went away; the demo seeds what it prints.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::panic)]

use crate::common;

use std::process::Command;

use common::{Server, bare_command, output_text};
use sea_orm::{ConnectionTrait, Database};
use testkit::{Backend, TestDatabase};

fn fails_naming(mut cmd: Command, key: &str) -> String {
    let out = cmd.output().unwrap();
    let (_, stderr) = output_text(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "config errors exit 2; stderr: {stderr}"
    );
    let line = stderr.trim();
    assert_eq!(line.lines().count(), 1, "one line: {line}");
    assert!(line.contains(&format!("'{key}'")), "names {key}: {line}");
    line.to_owned()
}

#[test]
fn bad_values_name_their_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = bare_command(dir.path());
    cmd.env("SCIMGATE_LISTEN", "not-an-address").arg("migrate");
    fails_naming(cmd, "listen");

    let mut cmd = bare_command(dir.path());
    cmd.args(["migrate", "--database-url", "mysql://x"]);
    fails_naming(cmd, "database.url");

    let mut cmd = bare_command(dir.path());
    cmd.args(["serve", "--region", "mars"]);
    let line = fails_naming(cmd, "region");
    assert!(
        line.contains("eu") && line.contains("gcp-na"),
        "lists the known regions: {line}"
    );

    let mut cmd = bare_command(dir.path());
    cmd.args(["migrate", "--redis-url", "memcached://x"]);
    fails_naming(cmd, "kv.url");

    let mut cmd = bare_command(dir.path());
    cmd.env("SCIMGATE_LOG__FORMAT", "xml").arg("migrate");
    fails_naming(cmd, "log.format");

    // A lease that could run out during an attempt would let two replicas send it at once.
    let mut cmd = bare_command(dir.path());
    cmd.env("SCIMGATE_WEBHOOKS__TIMEOUT_SECS", "30")
        .env("SCIMGATE_WEBHOOKS__LEASE_SECS", "30")
        .arg("migrate");
    fails_naming(cmd, "webhooks.lease_secs");

    // The SCIM request log's bounds.
    for (var, value, key) in [
        (
            "SCIMGATE_SCIM_LOG__RETENTION_DAYS",
            "0",
            "scim_log.retention_days",
        ),
        (
            "SCIMGATE_SCIM_LOG__MAX_BODY_BYTES",
            "10",
            "scim_log.max_body_bytes",
        ),
        (
            "SCIMGATE_SCIM_LOG__QUEUE_CAPACITY",
            "0",
            "scim_log.queue_capacity",
        ),
        (
            "SCIMGATE_SCIM_LOG__RETENTION_DAYS",
            "a month",
            "scim_log.retention_days",
        ),
    ] {
        let mut cmd = bare_command(dir.path());
        cmd.env(var, value).arg("migrate");
        fails_naming(cmd, key);
    }
}

/// Issue 15, defect 7: a wrong value is described in words an operator knows (a whole number,
/// true or false, a list), never by Rust's type names.
#[test]
fn config_errors_do_not_name_rust_types() {
    let dir = tempfile::tempdir().unwrap();
    for (var, value, key, words) in [
        (
            "SCIMGATE_HTTP__WORKERS",
            "many",
            "http.workers",
            "a whole number",
        ),
        (
            "SCIMGATE_WEBHOOKS__JITTER",
            "lots",
            "webhooks.jitter",
            "a number",
        ),
        (
            "SCIMGATE_METRICS__ENABLED",
            "maybe",
            "metrics.enabled",
            "true or false",
        ),
        (
            "SCIMGATE_OAUTH__CODE_TTL_SECS",
            "-5",
            "oauth.code_ttl_secs",
            "a whole number",
        ),
        (
            "SCIMGATE_METRICS__ALLOW",
            "10.0.0.0/8",
            "metrics.allow",
            "a list",
        ),
    ] {
        let mut cmd = bare_command(dir.path());
        cmd.env(var, value).arg("migrate");
        let line = fails_naming(cmd, key);
        assert!(line.contains(words), "{var}={value}: {line}");
        for rust in [
            "usize", "u64", "u32", "i64", "f64", "bool", "sequence", "struct", "Vec", "IpNet",
        ] {
            assert!(
                !line.contains(rust),
                "{var}={value} names the Rust type {rust}: {line}"
            );
        }
    }
}

/// Issue 15, defect 7: `--help` describes the commands for an operator, not the code.
#[test]
fn help_is_written_for_operators() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["--help"][..], &["admin", "--help"], &["serve", "--help"]] {
        let out = bare_command(dir.path()).args(args).output().unwrap();
        let (stdout, _) = output_text(&out);
        assert!(out.status.success(), "{args:?}: {stdout}");
        for internal in [
            "The subcommands",
            "What to do",
            "`scimgate admin …`",
            "Where the configuration and the data are",
            "contract",
            "wiring of the apps",
        ] {
            assert!(
                !stdout.contains(internal),
                "{args:?} prints the doc comment {internal:?}: {stdout}"
            );
        }
    }
    let out = bare_command(dir.path()).arg("--help").output().unwrap();
    let (stdout, _) = output_text(&out);
    assert!(
        stdout.contains("demo") && stdout.contains("serve"),
        "{stdout}"
    );
    assert!(stdout.contains("multi-tenant SCIM 2.0 gateway"), "{stdout}");
}

#[test]
fn unknown_and_missing_keys_in_a_file_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[database]\nurll = \"sqlite://x.db\"\n").unwrap();
    let mut cmd = bare_command(dir.path());
    cmd.args(["migrate", "--config", file.to_str().unwrap()]);
    fails_naming(cmd, "database.urll");

    let mut cmd = bare_command(dir.path());
    cmd.args([
        "migrate",
        "--config",
        dir.path().join("absent.toml").to_str().unwrap(),
    ]);
    fails_naming(cmd, "config");
}

#[test]
fn file_secrets_and_config_files_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("db-url");
    std::fs::write(
        &secret,
        format!("sqlite://{}/from-file.db?mode=rwc\n", dir.path().display()),
    )
    .unwrap();
    let mut cmd = bare_command(dir.path());
    let out = cmd
        .env("SCIMGATE_DATABASE__URL_FILE", &secret)
        .arg("migrate")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out).1);
    assert!(
        dir.path().join("from-file.db").exists(),
        "the URL came from the file"
    );

    let file = dir.path().join("scimgate.toml");
    std::fs::write(
        &file,
        format!(
            "[database]\nurl = \"sqlite://{}/from-config.db?mode=rwc\"\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let out = bare_command(dir.path())
        .args(["migrate", "--config", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out).1);
    assert!(dir.path().join("from-config.db").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_when_postgres_goes_away() {
    let db = TestDatabase::create(Backend::Postgres).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = bare_command(dir.path());
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        &db.url,
    ]);
    let server = Server::start(cmd);
    let http = common::http();
    assert_eq!(
        http.get(server.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let name = db.url.rsplit('/').next().unwrap().to_owned();
    let admin = Database::connect(testkit::postgres_admin_url())
        .await
        .unwrap();
    admin
        .execute_unprepared(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .await
        .unwrap();

    let res = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    assert_ne!(body["database"], "ok");
    assert_eq!(
        http.get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "the process is still up"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_when_redis_goes_away() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let mut redis = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server must be installed for this test");
    let redis_url = format!("redis://127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let mut cmd = bare_command(dir.path());
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--redis-url",
        &redis_url,
    ]);
    let server = Server::start(cmd);
    let http = common::http();
    assert_eq!(
        http.get(server.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    redis.kill().unwrap();
    redis.wait().unwrap();
    let res = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["database"], "ok");
    assert_ne!(body["kv"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_seeds_what_it_prints() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = bare_command(dir.path());
    cmd.args(["demo", "--listen", "127.0.0.1:0"]);
    let server = Server::start(cmd);
    let printed = server.stdout_lines.join("\n");
    let field = |label: &str| {
        printed
            .lines()
            .find_map(|l| l.strip_prefix(label))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| panic!("demo output lacks {label}: {printed}"))
    };
    let token = field("Bearer token");
    let org_uid = field("Organization UID");
    assert!(token.starts_with("sgt_"));
    assert!(field("SCIM Base URL").ends_with(&format!("/scim/v2.0/organizations/{org_uid}")));
    assert!(field("  password").len() >= 20);
    assert_eq!(
        common::http()
            .get(server.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // The printed token is a real token of the printed organization.
    let db = store::connect(
        &format!("sqlite://{}/data/demo.db", dir.path().display()),
        &Default::default(),
    )
    .await
    .unwrap();
    let principal = store::repo::api_tokens::authenticate(&db, &token)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(principal.scope.org_uid(), org_uid);
    let org = store::repo::organizations::get(&db, &principal.scope)
        .await
        .unwrap();
    assert!(
        !org.scim_enabled,
        "the demo starts where every IdP guide starts: Enable SCIM"
    );
    assert!(field("Authorization URL").ends_with(&format!("/oauth/authorize?org={org_uid}")));
    assert!(field("Token endpoint").ends_with("/oauth/token"));
}
