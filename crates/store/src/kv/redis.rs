//! The Redis key-value store: `SET NX PX` for single-use values, `GETDEL` for the atomic take, a
//! Lua script for counters that start their window on creation. The connection manager reconnects
//! in the background; idempotent reads are retried once after a connection error, writes are not
//! (a write whose reply was lost may have happened).

use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{AsyncCommands, ExistenceCheck, Script, SetExpiry, SetOptions};

use super::KeyValueStore;
use crate::StoreError;

/// INCR, and on the first increment start the expiry window.
const INCR_WITH_WINDOW: &str = r"
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count
";

/// A Redis-backed store whose keys all start with a namespace.
pub struct RedisKv {
    conn: ConnectionManager,
    namespace: String,
    incr_script: Script,
}

impl std::fmt::Debug for RedisKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisKv")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

fn kv_err(err: redis::RedisError) -> StoreError {
    StoreError::KeyValue(err.to_string())
}

fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl RedisKv {
    /// Connects to `url`; fails when Redis does not answer.
    pub async fn connect(url: &str, namespace: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(kv_err)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(2);
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(kv_err)?;
        Ok(Self {
            conn,
            namespace: namespace.to_owned(),
            incr_script: Script::new(INCR_WITH_WINDOW),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{}", self.namespace, key)
    }

    /// Runs an idempotent read, once more if the first attempt lost its connection.
    async fn read<T, F, Fut>(&self, op: F) -> Result<T, StoreError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        match op(self.conn.clone()).await {
            Err(e) if e.is_connection_dropped() || e.is_io_error() => {
                op(self.conn.clone()).await.map_err(kv_err)
            }
            other => other.map_err(kv_err),
        }
    }
}

#[async_trait::async_trait]
impl KeyValueStore for RedisKv {
    async fn put_once(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, StoreError> {
        let options = SetOptions::default()
            .conditional_set(ExistenceCheck::NX)
            .with_expiration(SetExpiry::PX(millis(ttl)));
        let stored: Option<String> = self
            .conn
            .clone()
            .set_options(self.key(key), value, options)
            .await
            .map_err(kv_err)?;
        Ok(stored.is_some())
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.conn
            .clone()
            .get_del(self.key(key))
            .await
            .map_err(kv_err)
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        self.conn
            .clone()
            .pset_ex(self.key(key), value, millis(ttl))
            .await
            .map_err(kv_err)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let key = self.key(key);
        self.read(|mut conn| {
            let key = key.clone();
            async move { conn.get(key).await }
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let removed: u64 = self.conn.clone().del(self.key(key)).await.map_err(kv_err)?;
        Ok(removed > 0)
    }

    async fn incr(&self, key: &str, window: Duration) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        self.incr_script
            .key(self.key(key))
            .arg(millis(window))
            .invoke_async(&mut conn)
            .await
            .map_err(kv_err)
    }

    async fn revoke(&self, id: &str, ttl: Duration) -> Result<(), StoreError> {
        self.set(&format!("revoked:{id}"), b"1", ttl).await
    }

    async fn is_revoked(&self, id: &str) -> Result<bool, StoreError> {
        let key = self.key(&format!("revoked:{id}"));
        self.read(|mut conn| {
            let key = key.clone();
            async move { conn.exists(key).await }
        })
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read(
            |mut conn| async move { redis::cmd("PING").query_async::<String>(&mut conn).await },
        )
        .await
        .map(|_| ())
    }
}
