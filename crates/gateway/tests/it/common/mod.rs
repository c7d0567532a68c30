//! The deployment a test runs against: a per-test database and key-value store, admin commands
//! run in-process through the CLI's own code (no process per setup step), and the server either
//! in-process on a random port ([`Server::in_process`]) or, where a test is about the binary
//! itself (signals, configuration files, several replicas), as the real `scimgate` process.
#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

pub mod api;
pub mod browser;
pub mod oauth;
pub mod scim;
pub mod services;
use clap::Parser;
use gateway::config::{Config, Overrides};
use gateway::server::{RunningApp, Services};
use testkit::{Backend, TestDatabase};

/// A database (and key-value store) for one test, plus a working directory for `./data`.
pub struct Target {
    pub db: TestDatabase,
    pub kv_url: String,
    pub namespace: String,
    pub workdir: tempfile::TempDir,
    /// What admin commands run against, opened on first use as the CLI opens its own.
    operator: tokio::sync::OnceCell<(Config, Services)>,
}

impl Target {
    pub async fn new(backend: Backend) -> Self {
        Self::on(TestDatabase::create(backend).await, backend.kv_url())
    }

    /// A target on a given database and key-value store (the test's own instances).
    pub fn on(db: TestDatabase, kv_url: String) -> Self {
        Self {
            db,
            kv_url,
            namespace: testkit::unique_namespace(),
            workdir: tempfile::tempdir().unwrap(),
            operator: tokio::sync::OnceCell::new(),
        }
    }

    /// The configuration of a deployment on this target: the embedded defaults, this target's
    /// database and key-value store, and `settings` (`SCIMGATE_*` variables as the binary would
    /// read them from its environment).
    pub fn config(&self, settings: &[(&str, &str)]) -> Config {
        let file = self.workdir.path().join(format!("{}.toml", uuid_like()));
        std::fs::write(&file, settings_toml(settings)).unwrap();
        let overrides = Overrides {
            listen: Some("127.0.0.1:0".into()),
            database_url: Some(self.db.url.clone()),
            kv_url: Some(self.kv_url.clone()),
            kv_namespace: Some(self.namespace.clone()),
            region: None,
        };
        Config::load(Some(&file), &overrides).unwrap_or_else(|e| panic!("config: {e}"))
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

    /// Runs `scimgate admin <args> --json` in this process (the CLI's own code, with its own
    /// database pool and key-value connection, as the CLI would have) and returns its JSON;
    /// panics with the error on failure.
    pub fn admin(&self, args: &[&str]) -> Value {
        self.run_admin(args)
            .unwrap_or_else(|e| panic!("admin {args:?} failed: {e}"))
    }

    /// Runs `scimgate admin <args>` expecting failure; returns the error.
    pub fn admin_fails(&self, args: &[&str]) -> String {
        match self.run_admin(args) {
            Ok(out) => panic!("admin {args:?} should have failed: {out}"),
            Err(e) => e,
        }
    }

    fn run_admin(&self, args: &[&str]) -> Result<Value, String> {
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async {
                let (config, services) = self
                    .operator
                    .get_or_init(|| async {
                        let config = self.config(&[]);
                        let services = gateway::server::open_services(&config).await.unwrap();
                        store::db::migrate(&services.db).await.unwrap();
                        (config, services)
                    })
                    .await;
                let argv = ["scimgate", "admin"]
                    .into_iter()
                    .chain(args.iter().copied())
                    .chain(["--json"]);
                let cli = gateway::cli::Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
                let gateway::cli::Command::Admin { command, .. } = cli.command else {
                    return Err("not an admin command".to_owned());
                };
                gateway::admin::run(&services.core, config, command)
                    .await
                    .map(|(output, _)| output.json)
                    .map_err(|e| format!("{e:#}"))
            })
        })
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

/// A running server: `scimgate serve` (or `demo`) as a process, killed on drop if still
/// running, or the same app started in this process.
pub struct Server {
    pub child: Option<Child>,
    app: Option<RunningApp>,
    pub base_url: String,
    pub stdout_lines: Vec<String>,
}

impl Server {
    /// The app in this process on `target`, configured with `settings` as the binary would be
    /// by its environment.
    pub async fn in_process(target: &Target, settings: &[(&str, &str)]) -> Self {
        let config = target.config(settings);
        let services = gateway::server::open_services(&config).await.unwrap();
        store::db::migrate(&services.db).await.unwrap();
        let app = gateway::server::start(config, services).await.unwrap();
        Self {
            child: None,
            base_url: app.base_url.clone(),
            app: Some(app),
            stdout_lines: Vec::new(),
        }
    }

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
                            child: Some(child),
                            app: None,
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
        let Some(child) = self.child.as_mut() else {
            panic!("terminate() is for a server process");
        };
        let pid = child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..300 {
            if let Ok(Some(status)) = child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// The app, when it runs in this process.
    pub fn app(&self) -> &RunningApp {
        self.app.as_ref().expect("an in-process server")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `SCIMGATE_A__B=value` settings as a TOML document (`[a] b = value`): values that read as TOML
/// (numbers, booleans, arrays) keep their type, anything else is a string.
fn settings_toml(settings: &[(&str, &str)]) -> String {
    let mut root = toml::Table::new();
    for (var, value) in settings {
        let key = var
            .strip_prefix("SCIMGATE_")
            .unwrap_or(var)
            .to_ascii_lowercase();
        let path: Vec<&str> = key.split("__").collect();
        let value = toml::from_str::<toml::Table>(&format!("v = {value}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String((*value).to_owned()));
        let mut table = &mut root;
        for part in &path[..path.len() - 1] {
            table = table
                .entry(part.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .unwrap();
        }
        table.insert(path[path.len() - 1].to_owned(), value);
    }
    toml::to_string(&root).unwrap()
}

fn uuid_like() -> String {
    testkit::unique_namespace().replace(':', "_")
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
