//! Test support for every crate: a fresh database per test on SQLite or PostgreSQL, a Redis
//! namespace per test, [`backend_tests!`] to run one test body on both backends, and an SMTP
//! sink ([`smtp`]) for email tests, and a webhook receiver (`receiver`, feature `receiver`).
//!
//! PostgreSQL and Redis come from `SCIMGATE_TEST_DATABASE_URL` / `SCIMGATE_TEST_REDIS_URL`
//! (defaults: the local services). A test on a backend that is not reachable fails loudly: it is
//! never skipped.

// A test helper fails its test by panicking: that is its job.
#![allow(clippy::panic)]

#[cfg(feature = "app")]
pub mod app;

#[cfg(feature = "receiver")]
pub mod receiver;
pub mod smtp;

use std::path::PathBuf;

use sea_orm::{ConnectionTrait, Database};

/// Admin connection for creating per-test PostgreSQL databases.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// The local Redis.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
/// Per-test PostgreSQL databases start with this; `scripts/test` drops leftovers.
pub const TEST_DB_PREFIX: &str = "scimgate_t_";

/// Which database (and key-value store) a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite with the in-process key-value store: the embedded default.
    Sqlite,
    /// PostgreSQL with Redis: production.
    Postgres,
}

impl Backend {
    /// The key-value URL that goes with this backend.
    pub fn kv_url(self) -> String {
        match self {
            Backend::Sqlite => "memory://".to_owned(),
            Backend::Postgres => redis_url(),
        }
    }
}

/// The PostgreSQL admin URL tests create their databases through.
pub fn postgres_admin_url() -> String {
    std::env::var("SCIMGATE_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

/// The Redis URL tests use.
pub fn redis_url() -> String {
    std::env::var("SCIMGATE_TEST_REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS_URL.to_owned())
}

/// A key prefix no other test uses, so tests share one Redis without seeing each other.
pub fn unique_namespace() -> String {
    format!("scimgate-test:{}:", uuid::Uuid::new_v4().simple())
}

/// Installs the process's one TLS crypto provider (aws-lc-rs), as `main` does. Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// A database that exists for one test and is removed when dropped.
#[derive(Debug)]
pub struct TestDatabase {
    /// The URL to connect to.
    pub url: String,
    /// Which backend it is.
    pub backend: Backend,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    Files(PathBuf),
    Postgres {
        admin_url: String,
        name: String,
    },
    /// Someone else's (a test's own server instance): left as it is.
    Nothing,
}

impl TestDatabase {
    /// Creates an empty database on `backend`. Panics (failing the test) when the backend is
    /// unreachable: a missing service must never look like a pass.
    pub async fn create(backend: Backend) -> Self {
        install_crypto_provider();
        match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!(
                    "scimgate-test-{}.db",
                    uuid::Uuid::new_v4().simple()
                ));
                Self {
                    url: format!("sqlite://{}?mode=rwc", path.display()),
                    backend,
                    cleanup: Cleanup::Files(path),
                }
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url();
                let name = format!("{TEST_DB_PREFIX}{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(&admin_url).await.unwrap_or_else(|e| {
                    panic!("PostgreSQL is not reachable at {admin_url} ({e}); start it or set SCIMGATE_TEST_DATABASE_URL")
                });
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
                let _ = admin.close().await;
                Self {
                    url: replace_database(&admin_url, &name),
                    backend,
                    cleanup: Cleanup::Postgres { admin_url, name },
                }
            }
        }
    }
}

impl TestDatabase {
    /// A database the test manages itself (its own PostgreSQL instance): used as it is and
    /// never dropped.
    pub fn external(url: &str, backend: Backend) -> Self {
        install_crypto_provider();
        Self {
            url: url.to_owned(),
            backend,
            cleanup: Cleanup::Nothing,
        }
    }
}

/// `postgres://user@host:port/db?params` with `db` replaced.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{}", &base[..path_start], name);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Files(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Postgres { admin_url, name } => {
                let (admin_url, name) = (admin_url.clone(), name.clone());
                // Dropping runs inside the test's runtime: do the async work on a thread of its own.
                let _ = std::thread::spawn(move || {
                    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    else {
                        return;
                    };
                    rt.block_on(async move {
                        if let Ok(admin) = Database::connect(&admin_url).await {
                            let _ = admin
                                .execute_unprepared(&format!(
                                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                                ))
                                .await;
                            let _ = admin.close().await;
                        }
                    });
                })
                .join();
            }
            Cleanup::Nothing => {}
        }
    }
}

/// Runs each listed `async fn name(backend: Backend)` as two tests, `name::sqlite` and
/// `name::postgres`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::Backend::Postgres).await
                }
            }
        )+
    };
}

#[cfg(test)]
mod tests {
    use super::replace_database;

    #[test]
    fn replaces_only_the_database_name() {
        assert_eq!(
            replace_database("postgres://u@h:5432/test", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            replace_database("postgres://u@h/test?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(replace_database("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
