//! The Redis key-value store: `SET NX PX` for single-use values, `GETDEL` for the atomic take, a
//! Lua script for counters that start their window on creation. The connection manager reconnects
//! in the background; idempotent reads are retried once after a connection error, writes are not
//! (a write whose reply was lost may have happened). Channels are Redis pub/sub channels under the
//! namespace, each listened to on its own connection that a background task re-opens when it
//! breaks.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, ExistenceCheck, Script, SetExpiry, SetOptions};

use super::{Counter, KeyValueStore, Listener, Listening, LocalListeners, Notice};
use crate::StoreError;

/// INCRBY ARGV[2i] on each key, starting its expiry window of ARGV[2i - 1] ms when this created it;
/// answers each key's count and the milliseconds its window has left, in turn. A key left without
/// expiry (a failure between two calls of an older version) gets one, so a counter can never block
/// forever.
const ADD_TO_COUNTERS: &str = r"
local answer = {}
for i = 1, #KEYS do
  local window = tonumber(ARGV[2 * i - 1])
  local by = tonumber(ARGV[2 * i])
  local count = redis.call('INCRBY', KEYS[i], by)
  local left = redis.call('PTTL', KEYS[i])
  if count == by or left < 0 then
    redis.call('PEXPIRE', KEYS[i], window)
    left = window
  end
  answer[2 * i - 1] = count
  answer[2 * i] = left
end
return answer
";

/// EXISTS over the revocation keys, but only when the marker (KEYS[1]) exists: -1 otherwise.
/// One script, so no flush can fall between the two checks.
const EXISTS_IF_MARKED: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if #KEYS == 1 then return 0 end
return redis.call('EXISTS', unpack(KEYS, 2))
";

/// A Redis-backed store whose keys all start with a namespace.
pub struct RedisKv {
    client: redis::Client,
    conn: ConnectionManager,
    namespace: String,
    add_to_counters_script: Script,
    exists_if_marked: Script,
    listeners: Arc<LocalListeners>,
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
        let conn = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(kv_err)?;
        Ok(Self {
            client,
            conn,
            namespace: namespace.to_owned(),
            add_to_counters_script: Script::new(ADD_TO_COUNTERS),
            exists_if_marked: Script::new(EXISTS_IF_MARKED),
            listeners: Arc::default(),
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

/// How long to wait for Redis when opening a subscription, and between attempts.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(5);
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(1);

/// 1 while this process hears `channel`'s announcements, 0 while it may miss them. Labelled by the
/// channel without the namespace: a handful of fixed names.
fn subscribed_gauge(channel: &str, value: f64) {
    metrics::gauge!("scimgate_kv_subscribed", "channel" => channel.to_owned()).set(value);
}

/// Keeps `listener` subscribed to `channel`, telling it whenever messages may have been missed.
async fn subscription(client: redis::Client, channel: String, label: String, listener: Listener) {
    loop {
        let subscribed = tokio::time::timeout(SUBSCRIBE_TIMEOUT, async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        })
        .await;
        match subscribed {
            Ok(Ok(pubsub)) => {
                subscribed_gauge(&label, 1.0);
                listener(Notice::Listening);
                let mut messages = pubsub.into_on_message();
                while let Some(message) = messages.next().await {
                    listener(Notice::Message(message.get_payload_bytes()));
                }
                subscribed_gauge(&label, 0.0);
                listener(Notice::Lost);
                tracing::warn!(%channel, "Redis subscription lost; re-subscribing");
            }
            Ok(Err(e)) => tracing::warn!(%channel, error = %e, "cannot subscribe in Redis"),
            Err(_) => tracing::warn!(%channel, "subscribing in Redis timed out"),
        }
        tokio::time::sleep(RESUBSCRIBE_AFTER).await;
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
        Ok(self.incr_window(key, window).await?.0)
    }

    async fn incr_window(
        &self,
        key: &str,
        window: Duration,
    ) -> Result<(u64, Duration), StoreError> {
        let counter = Counter { key, by: 1, window };
        self.add_to_counters(&[counter])
            .await?
            .pop()
            .ok_or_else(|| StoreError::KeyValue("a counter answered nothing".into()))
    }

    async fn add_to_counters(
        &self,
        counters: &[Counter<'_>],
    ) -> Result<Vec<(u64, Duration)>, StoreError> {
        if counters.is_empty() {
            return Ok(Vec::new());
        }
        let mut invocation = self.add_to_counters_script.prepare_invoke();
        for counter in counters {
            invocation
                .key(self.key(counter.key))
                .arg(millis(counter.window))
                .arg(counter.by);
        }
        let mut conn = self.conn.clone();
        let answer: Vec<u64> = invocation.invoke_async(&mut conn).await.map_err(kv_err)?;
        if answer.len() != counters.len() * 2 {
            return Err(StoreError::KeyValue(format!(
                "adding to {} counters answered {} values",
                counters.len(),
                answer.len()
            )));
        }
        Ok(answer
            .chunks_exact(2)
            .map(|pair| (pair[0], Duration::from_millis(pair[1])))
            .collect())
    }

    async fn revoke(&self, id: &str, ttl: Duration) -> Result<(), StoreError> {
        self.set(&format!("revoked:{id}"), b"1", ttl).await
    }

    async fn is_revoked(&self, id: &str) -> Result<bool, StoreError> {
        self.any_revoked(&[id]).await
    }

    async fn any_revoked_if(&self, marker: &str, ids: &[&str]) -> Result<Option<bool>, StoreError> {
        let keys: Vec<String> = std::iter::once(marker)
            .chain(ids.iter().copied())
            .map(|id| self.key(&format!("revoked:{id}")))
            .collect();
        let found: i64 = self
            .read(|mut conn| {
                let mut invocation = self.exists_if_marked.prepare_invoke();
                for key in &keys {
                    invocation.key(key);
                }
                async move { invocation.invoke_async(&mut conn).await }
            })
            .await?;
        Ok((found >= 0).then_some(found > 0))
    }

    async fn any_revoked(&self, ids: &[&str]) -> Result<bool, StoreError> {
        if ids.is_empty() {
            return Ok(false);
        }
        let keys: Vec<String> = ids
            .iter()
            .map(|id| self.key(&format!("revoked:{id}")))
            .collect();
        let existing: u64 = self
            .read(|mut conn| {
                let keys = keys.clone();
                async move { conn.exists(keys).await }
            })
            .await?;
        Ok(existing > 0)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read(
            |mut conn| async move { redis::cmd("PING").query_async::<String>(&mut conn).await },
        )
        .await
        .map(|_| ())
    }

    fn is_shared(&self) -> bool {
        true
    }

    async fn publish(&self, channel: &str, message: &[u8]) -> Result<(), StoreError> {
        // This replica first, so it has acted before it answers; the others hear it from Redis
        // (and so does this one, again: listeners take messages as idempotent notices).
        self.listeners.deliver(channel, message);
        let _receivers: u64 = self
            .conn
            .clone()
            .publish(self.key(channel), message)
            .await
            .map_err(kv_err)?;
        Ok(())
    }

    fn listen(&self, channel: &str, listener: Listener) -> Listening {
        let unregister = self.listeners.add(channel, listener.clone());
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime to run the subscription on: the listener never hears `Listening`.
            listener(Notice::Lost);
            return Listening::new(unregister);
        };
        let task = runtime.spawn(subscription(
            self.client.clone(),
            self.key(channel),
            channel.to_owned(),
            listener,
        ));
        Listening::new(move || {
            task.abort();
            unregister();
        })
    }
}
