//! The real app, started in this process on a random port against a fresh database (SQLite with
//! the in-process store, or PostgreSQL with Redis): no subprocess, no CLI round trip for setup.
//! Admin commands run in-process too, through the very same code the `scimgate admin` CLI runs.

use clap::Parser;
use gateway::cli::{Cli, Command};
use gateway::config::{Config, Overrides};
use gateway::server::RunningApp;
use serde_json::Value;

use crate::{Backend, TestDatabase};

/// A running app and everything a test needs to talk to it and to seed it.
#[derive(Debug)]
pub struct TestApp {
    /// The app.
    pub app: RunningApp,
    /// Its configuration.
    pub config: Config,
    /// Which backend it runs on.
    pub backend: Backend,
    /// Its database (dropped with the test).
    pub db: TestDatabase,
}

impl TestApp {
    /// Starts the app on `backend` with the embedded defaults.
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    /// Starts the app on `backend`, letting the test adjust the configuration first.
    pub async fn start_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        let db = TestDatabase::create(backend).await;
        let overrides = Overrides {
            listen: Some("127.0.0.1:0".into()),
            database_url: Some(db.url.clone()),
            kv_url: Some(backend.kv_url()),
            kv_namespace: Some(crate::unique_namespace()),
            region: Some("local".into()),
        };
        let mut config =
            Config::embedded(&overrides).unwrap_or_else(|e| panic!("test configuration: {e}"));
        config.http.workers = 2;
        tweak(&mut config);
        let services = gateway::server::open_services(&config)
            .await
            .unwrap_or_else(|e| panic!("open services: {e:#}"));
        store::db::migrate(&services.db)
            .await
            .unwrap_or_else(|e| panic!("migrate: {e}"));
        let app = gateway::server::start(config.clone(), services)
            .await
            .unwrap_or_else(|e| panic!("start the app: {e:#}"));
        Self {
            app,
            config,
            backend,
            db,
        }
    }

    /// The URL of `path` on the app.
    pub fn url(&self, path: &str) -> String {
        self.app.url(path)
    }

    /// The use cases the app runs on.
    pub fn core(&self) -> &usecases::Core {
        &self.app.services.core
    }

    /// The app's database.
    pub fn store(&self) -> &store::Database {
        &self.app.services.db
    }

    /// Runs `scimgate admin <args> --json` in this process against the app's database and
    /// key-value store, and returns its JSON; panics with the error when it fails.
    pub async fn admin(&self, args: &[&str]) -> Value {
        self.try_admin(args)
            .await
            .unwrap_or_else(|e| panic!("admin {args:?} failed: {e}"))
    }

    /// Like [`TestApp::admin`], returning the error's message instead of panicking.
    pub async fn try_admin(&self, args: &[&str]) -> Result<Value, String> {
        let argv = ["scimgate", "admin"]
            .into_iter()
            .chain(args.iter().copied())
            .chain(["--json"]);
        let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
        let Command::Admin { command, .. } = cli.command else {
            return Err("not an admin command".into());
        };
        gateway::admin::run(self.core(), &self.config, command)
            .await
            .map(|(output, _)| output.json)
            .map_err(|e| format!("{e:#}"))
    }

    /// Stops the app, letting in-flight requests finish.
    pub async fn stop(self) {
        let _ = self.app.stop().await;
    }
}
