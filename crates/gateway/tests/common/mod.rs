//! Runs the real `scimgate` binary: admin commands against a per-test database, and `serve` on a
//! random port with a handle that stops it with SIGTERM.
#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

pub mod browser;
pub mod oauth;
pub mod scim;
use testkit::{Backend, TestDatabase};

/// A database (and key-value store) for one test, plus a working directory for `./data`.
pub struct Target {
    pub db: TestDatabase,
    pub kv_url: String,
    pub namespace: String,
    pub workdir: tempfile::TempDir,
}

impl Target {
    pub async fn new(backend: Backend) -> Self {
        Self {
            db: TestDatabase::create(backend).await,
            kv_url: backend.kv_url(),
            namespace: testkit::unique_namespace(),
            workdir: tempfile::tempdir().unwrap(),
        }
    }

    /// `scimgate` with this target's database and key-value store in the environment.
    pub fn command(&self) -> Command {
        let mut cmd = bare_command(self.workdir.path());
        cmd.env("SCIMGATE_DATABASE__URL", &self.db.url)
            .env("SCIMGATE_KV__URL", &self.kv_url)
            .env("SCIMGATE_KV__NAMESPACE", &self.namespace);
        cmd
    }

    /// Creates an organization with SCIM enabled and one bearer token, through the CLI.
    pub fn scim_org(&self, name: &str) -> ScimOrg {
        let org = self.admin(&[
            "create-org",
            "--name",
            name,
            "--owner-email",
            &format!("owner@{}.test", name.to_lowercase()),
        ])["org_uid"]
            .as_str()
            .unwrap()
            .to_owned();
        self.admin(&["enable-scim", "--org", &org]);
        let issued = self.admin(&["create-token", "--org", &org, "--name", "idp"]);
        ScimOrg {
            org,
            token: issued["token"].as_str().unwrap().to_owned(),
            token_id: issued["token_id"].as_str().unwrap().to_owned(),
        }
    }

    /// Runs `scimgate admin <args> --json` and parses its output; panics with stderr on failure.
    pub fn admin(&self, args: &[&str]) -> Value {
        let out = self
            .command()
            .arg("admin")
            .args(args)
            .arg("--json")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "admin {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "admin {args:?} printed no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Runs `scimgate admin <args>` expecting failure; returns stderr.
    pub fn admin_fails(&self, args: &[&str]) -> String {
        let out = self.command().arg("admin").args(args).output().unwrap();
        assert!(!out.status.success(), "admin {args:?} should have failed");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

/// An organization ready for SCIM: its UID, a bearer token and that token's id.
pub struct ScimOrg {
    pub org: String,
    pub token: String,
    pub token_id: String,
}

/// `scimgate` run in `workdir`, with no scimgate configuration inherited from the test's own
/// environment.
pub fn bare_command(workdir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_scimgate"));
    cmd.current_dir(workdir);
    for (key, _) in std::env::vars() {
        if key.starts_with("SCIMGATE_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("SCIMGATE_LOG__FORMAT", "json");
    cmd
}

pub fn output_text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A running `scimgate serve` (or `demo`); killed on drop if still running.
pub struct Server {
    pub child: Child,
    pub base_url: String,
    pub stdout_lines: Vec<String>,
}

impl Server {
    /// Starts `cmd` (which must listen on port 0) and waits for its "listening on" line.
    pub fn start(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (err_tx, err_rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            let text: Vec<String> = BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
                .collect();
            let _ = err_tx.send(text.join("\n"));
        });
        let mut lines = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    if let Some(url) = line.strip_prefix("listening on ") {
                        let base_url = url.trim().to_owned();
                        lines.push(line);
                        return Self {
                            child,
                            base_url,
                            stdout_lines: lines,
                        };
                    }
                    lines.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let stderr = err_rx
                        .recv_timeout(Duration::from_secs(5))
                        .unwrap_or_default();
                    panic!("server did not start; stdout: {lines:?}\nstderr: {stderr}");
                }
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Sends SIGTERM and waits for the process; returns whether it exited successfully.
    pub fn terminate(mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..300 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn temp_path(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}
