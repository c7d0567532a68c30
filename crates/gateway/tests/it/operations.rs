//! What an operator relies on: the CLI reaches the servers' key-value store or refuses, metrics,
//! and the access log.

use std::process::Command;

use testkit::Backend;

use crate::common::output_text;
use crate::common::scim::ScimEnv;

fn run(mut cmd: Command) -> (bool, String, String) {
    let out = cmd.output().unwrap();
    let (stdout, stderr) = output_text(&out);
    (out.status.success(), stdout, stderr)
}

/// A CLI on another key-value store than the servers' (none given: the in-process one; or
/// another namespace) refuses with a clear message instead of revoking a token the servers keep
/// accepting from their caches; with the servers' own store it works and lands at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_refuses_a_key_value_store_the_servers_do_not_use() {
    let env = ScimEnv::start(Backend::Postgres).await;
    let token_id = env
        .target
        .admin(&["create-token", "--org", &env.org, "--name", "victim"])["token_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoke = |kv: Option<&str>, namespace: Option<&str>| {
        let mut cmd = env.target.command();
        if let Some(kv) = kv {
            cmd.env("SCIMGATE_KV__URL", kv);
        }
        if let Some(namespace) = namespace {
            cmd.env("SCIMGATE_KV__NAMESPACE", namespace);
        }
        cmd.args([
            "admin",
            "revoke-token",
            "--org",
            &env.org,
            "--token",
            &token_id,
        ]);
        run(cmd)
    };
    let (ok, _, stderr) = revoke(Some("memory://"), None);
    assert!(!ok, "memory:// must be refused");
    assert!(
        stderr.contains("key-value store") && stderr.contains(&env.target.kv_url),
        "{stderr}"
    );
    let (ok, _, stderr) = revoke(None, Some("elsewhere:"));
    assert!(!ok, "another namespace must be refused");
    assert!(stderr.contains("is not the one the servers"), "{stderr}");

    let (ok, stdout, stderr) = revoke(None, None);
    assert!(ok, "{stdout}{stderr}");
}
