//! Facts a deployment records about itself in its database. The one kept today: which key-value
//! store its servers use, so the operator's CLI — which announces revocations there, and whose
//! changes the servers' caches only forget when they hear of them — can tell whether it reaches
//! the same store, and refuse when it does not.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, EntityTrait};
use serde::{Deserialize, Serialize};

use crate::db::{Conn, Raw};
use crate::entity::deployment_facts::{self, Entity as Facts};
use crate::kv::Kv;
use crate::repo::now;
use crate::{StoreError, StoreResult};

const KV_FACT: &str = "kv";
/// The key, in the key-value store, holding the identity the servers recorded.
const KV_ID_KEY: &str = "deployment:kv-id";
/// How long the identity stays in the store without a server renewing it.
pub const KV_ID_TTL: std::time::Duration = std::time::Duration::from_secs(600);

/// The key-value store the servers use, as they recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvFact {
    /// Its URL, without password.
    pub url: String,
    /// The key prefix.
    pub namespace: String,
    /// Whether other processes can share it (`false`: `memory://`).
    pub shared: bool,
    /// A random identity the servers also keep in the store itself.
    pub id: String,
}

/// What the servers recorded, if any server ever started on this database.
pub async fn kv_fact(conn: &impl Conn) -> StoreResult<Option<KvFact>> {
    let Some(row) = Facts::find_by_id(KV_FACT.to_owned())
        .one(conn.raw())
        .await?
    else {
        return Ok(None);
    };
    serde_json::from_str(&row.value)
        .map(Some)
        .map_err(|e| StoreError::Invalid(format!("deployment fact 'kv' is unreadable: {e}")))
}

/// A server's start: records the store it uses (keeping the identity when the store is the one
/// already recorded) and writes the identity into the store. Returns the identity, which the
/// server renews in the store with [`renew_kv_id`].
pub async fn record_kv(
    conn: &impl Conn,
    kv: &Kv,
    url: &str,
    namespace: &str,
) -> StoreResult<String> {
    let shared = kv.is_shared();
    let id = match kv_fact(conn).await? {
        Some(fact) if fact.url == url && fact.namespace == namespace && fact.shared == shared => {
            fact.id
        }
        _ => crate::secret::random_token(16),
    };
    let fact = KvFact {
        url: url.to_owned(),
        namespace: namespace.to_owned(),
        shared,
        id: id.clone(),
    };
    let value = serde_json::to_string(&fact).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let row = deployment_facts::ActiveModel {
        name: Set(KV_FACT.to_owned()),
        value: Set(value),
        updated_at: Set(now()),
    };
    Facts::insert(row)
        .on_conflict(
            OnConflict::column(deployment_facts::Column::Name)
                .update_columns([
                    deployment_facts::Column::Value,
                    deployment_facts::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn.raw())
        .await?;
    renew_kv_id(kv, &id).await?;
    Ok(id)
}

/// Writes the servers' identity into the store again (it expires, and a store can lose it).
pub async fn renew_kv_id(kv: &Kv, id: &str) -> StoreResult<()> {
    kv.set(KV_ID_KEY, id.as_bytes(), KV_ID_TTL).await
}

/// Whether a process using `kv` (at `url`, under `namespace`) reaches the servers' store: `Err`
/// with the reason when it does not. The identity in the store decides; a store without it
/// (no server renewed it lately) is accepted when its URL and namespace are the recorded ones.
pub async fn check_kv(
    conn: &impl Conn,
    kv: &Kv,
    url: &str,
    namespace: &str,
) -> StoreResult<Result<(), String>> {
    let Some(fact) = kv_fact(conn).await? else {
        return Ok(Ok(()));
    };
    if !fact.shared {
        return Ok(Ok(()));
    }
    let servers = format!("{} (namespace '{}')", fact.url, fact.namespace);
    if !kv.is_shared() {
        return Ok(Err(format!(
            "the servers of this database use the key-value store {servers}, and this command \
             runs with {url}: its changes would not reach them. Run it with the servers' \
             configuration (--config, SCIMGATE_KV__URL / --redis-url, SCIMGATE_KV__NAMESPACE)"
        )));
    }
    let same = match kv.get(KV_ID_KEY).await? {
        Some(found) => found == fact.id.as_bytes(),
        None => fact.url == url && fact.namespace == namespace,
    };
    if same {
        Ok(Ok(()))
    } else {
        Ok(Err(format!(
            "the key-value store {url} (namespace '{namespace}') is not the one the servers of \
             this database use, {servers}: its changes would not reach them. Run it with the \
             servers' configuration (--config, SCIMGATE_KV__URL / --redis-url, \
             SCIMGATE_KV__NAMESPACE)"
        )))
    }
}
