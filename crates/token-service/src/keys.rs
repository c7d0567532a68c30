//! Signing keys: ES256 (P-256) key pairs made with aws-lc-rs, their lifecycle in the database
//! (next → active → retired, see `store::repo::signing_keys`), and the in-memory [`KeyRing`] each
//! process signs and verifies with, re-read every few seconds so verification never waits on the
//! database and a rotation reaches every replica quickly.
//!
//! A key is published (JWKS) from the moment it is `next`, one rotation before it signs, and stays
//! published after retirement until every token it signed has expired: a consumer that caches the
//! JWKS never meets an unknown `kid`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde_json::{Value, json};
use store::repo::signing_keys::{self, ACTIVE, NEXT, NewSigningKey, SigningKey};
use store::{Database, StoreError, StoreResult};

/// The one algorithm scimgate signs with.
pub const ALGORITHM: &str = "ES256";
/// Retired keys stay published this much longer than the access-token lifetime (clock skew).
const RETIREMENT_MARGIN: Duration = Duration::from_secs(300);
/// An unknown `kid` triggers a reload at most this often.
const MIN_RELOAD_INTERVAL: Duration = Duration::from_secs(1);

fn crypto_err(what: &str) -> StoreError {
    StoreError::Invalid(format!("signing key: {what}"))
}

/// Makes a fresh P-256 key: PKCS#8 PEM for signing, the public JWK for the JWKS.
pub fn generate() -> StoreResult<NewSigningKey> {
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
        .map_err(|_| crypto_err("cannot generate"))?;
    let pkcs8 = pair
        .to_pkcs8v1()
        .map_err(|_| crypto_err("cannot serialize"))?;
    let point = pair.public_key().as_ref();
    // Uncompressed SEC1 point: 0x04 || X (32 bytes) || Y (32 bytes).
    if point.len() != 65 || point[0] != 4 {
        return Err(crypto_err("unexpected public key encoding"));
    }
    let kid = store::secret::random_token(12);
    let jwk = json!({
        "kty": "EC", "crv": "P-256", "use": "sig", "alg": ALGORITHM, "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    });
    Ok(NewSigningKey {
        kid,
        algorithm: ALGORITHM.to_owned(),
        private_key_pem: pem("PRIVATE KEY", pkcs8.as_ref()),
        public_jwk: jwk.to_string(),
    })
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Makes sure an active and a next key exist. Safe when replicas start together: the database
/// takes one key per state, and a loser simply uses the winner's.
pub async fn ensure_keys(db: &Database) -> StoreResult<()> {
    for state in [ACTIVE, NEXT] {
        if signing_keys::in_state(db, state).await?.is_none() {
            let created = signing_keys::insert(db, generate()?, state).await?;
            if let Some(key) = created {
                tracing::info!(kid = %key.kid, state, "created signing key");
            }
        }
    }
    Ok(())
}

/// What a rotation did.
#[derive(Debug, Clone)]
pub struct Rotation {
    /// The key that signs from now on.
    pub active_kid: String,
    /// The key published for the next rotation.
    pub next_kid: String,
    /// The key that stopped signing (published until its tokens expire).
    pub retired_kid: Option<String>,
    /// Retired keys deleted because every token they signed has expired.
    pub deleted: u64,
}

/// Rotates: the published `next` key becomes active, the active one retires, a new `next` is
/// published, and keys retired longer than `access_ttl` ago are deleted.
pub async fn rotate(db: &Database, access_ttl: Duration) -> StoreResult<Rotation> {
    ensure_keys(db).await?;
    let txn = store::db::begin_write(db).await?;
    let retired_kid = signing_keys::in_state(&txn, ACTIVE).await?.map(|k| k.kid);
    let active = signing_keys::promote_next(&txn)
        .await?
        .ok_or(StoreError::NotFound("next signing key"))?;
    let next = signing_keys::insert(&txn, generate()?, NEXT)
        .await?
        .ok_or(StoreError::Conflict("next signing key"))?;
    let deleted = signing_keys::delete_retired_before(&txn, retirement_cutoff(access_ttl)).await?;
    txn.commit().await?;
    Ok(Rotation {
        active_kid: active.kid,
        next_kid: next.kid,
        retired_kid,
        deleted,
    })
}

fn retirement_cutoff(access_ttl: Duration) -> chrono::DateTime<chrono::Utc> {
    let keep = chrono::Duration::from_std(access_ttl + RETIREMENT_MARGIN)
        .unwrap_or(chrono::Duration::days(1));
    chrono::Utc::now() - keep
}

/// One loaded set of keys.
struct Snapshot {
    signer: Option<(String, EncodingKey)>,
    verifiers: HashMap<String, DecodingKey>,
    jwks: Value,
    loaded_at: Instant,
}

/// The keys this process signs and verifies with, shared by every worker.
#[derive(Clone)]
pub struct KeyRing {
    inner: Arc<RwLock<Arc<Snapshot>>>,
    db: Database,
    refresh: Duration,
    access_ttl: Duration,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing").finish_non_exhaustive()
    }
}

fn load_key(row: &SigningKey) -> Option<(DecodingKey, Value)> {
    let jwk: Value = serde_json::from_str(&row.public_jwk).ok()?;
    let key = DecodingKey::from_ec_components(jwk["x"].as_str()?, jwk["y"].as_str()?).ok()?;
    Some((key, jwk))
}

impl KeyRing {
    /// A key ring over the database; empty until the first [`KeyRing::reload`].
    pub fn new(db: Database, refresh: Duration, access_ttl: Duration) -> Self {
        let empty = Snapshot {
            signer: None,
            verifiers: HashMap::new(),
            jwks: json!({"keys": []}),
            loaded_at: Instant::now() - refresh - MIN_RELOAD_INTERVAL,
        };
        Self {
            inner: Arc::new(RwLock::new(Arc::new(empty))),
            db,
            refresh,
            access_ttl,
        }
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        match self.inner.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Re-reads the published keys from the database.
    pub async fn reload(&self) -> StoreResult<()> {
        let rows = signing_keys::published(&self.db, retirement_cutoff(self.access_ttl)).await?;
        let mut verifiers = HashMap::new();
        let mut jwks = Vec::new();
        let mut signer = None;
        for row in &rows {
            let Some((key, jwk)) = load_key(row) else {
                tracing::error!(kid = %row.kid, "unreadable signing key skipped");
                continue;
            };
            if row.state == ACTIVE {
                match EncodingKey::from_ec_pem(row.private_key_pem.as_bytes()) {
                    Ok(enc) => signer = Some((row.kid.clone(), enc)),
                    Err(e) => tracing::error!(kid = %row.kid, error = %e, "unreadable private key"),
                }
            }
            verifiers.insert(row.kid.clone(), key);
            jwks.push(jwk);
        }
        let snapshot = Arc::new(Snapshot {
            signer,
            verifiers,
            jwks: json!({ "keys": jwks }),
            loaded_at: Instant::now(),
        });
        match self.inner.write() {
            Ok(mut guard) => *guard = snapshot,
            Err(poisoned) => *poisoned.into_inner() = snapshot,
        }
        Ok(())
    }

    async fn fresh(&self) -> StoreResult<Arc<Snapshot>> {
        let snap = self.snapshot();
        if snap.loaded_at.elapsed() < self.refresh {
            return Ok(snap);
        }
        self.reload().await?;
        Ok(self.snapshot())
    }

    /// The active key's id and encoding key.
    pub async fn signer(&self) -> StoreResult<(String, EncodingKey)> {
        let snap = self.fresh().await?;
        if let Some((kid, key)) = &snap.signer {
            return Ok((kid.clone(), key.clone()));
        }
        // No active key seen yet (first start, or a rotation in flight): look again once.
        self.reload().await?;
        self.snapshot()
            .signer
            .clone()
            .ok_or(StoreError::NotFound("active signing key"))
    }

    /// The verification key for `kid`; an unknown `kid` triggers one (rate-limited) reload.
    pub async fn verifier(&self, kid: &str) -> StoreResult<Option<DecodingKey>> {
        let snap = self.fresh().await?;
        if let Some(key) = snap.verifiers.get(kid) {
            return Ok(Some(key.clone()));
        }
        if snap.loaded_at.elapsed() < MIN_RELOAD_INTERVAL {
            return Ok(None);
        }
        self.reload().await?;
        Ok(self.snapshot().verifiers.get(kid).cloned())
    }

    /// The JWK Set: next, active and still-valid retired keys.
    pub async fn jwks(&self) -> StoreResult<Value> {
        Ok(self.fresh().await?.jwks.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_sign_and_verify() {
        let key = generate().unwrap_or_else(|e| unreachable!("{e}"));
        let enc = EncodingKey::from_ec_pem(key.private_key_pem.as_bytes());
        assert!(enc.is_ok(), "PEM parses");
        let jwk: Value = serde_json::from_str(&key.public_jwk).unwrap_or_default();
        assert_eq!(jwk["kid"], key.kid.as_str());
        assert_eq!(jwk["crv"], "P-256");
        let row = SigningKey {
            id: store::ids::SigningKeyId(1),
            kid: key.kid.clone(),
            algorithm: key.algorithm.clone(),
            private_key_pem: key.private_key_pem.clone(),
            public_jwk: key.public_jwk.clone(),
            state: ACTIVE.into(),
            created_at: chrono::Utc::now(),
            activated_at: None,
            retired_at: None,
        };
        let (dec, _) = load_key(&row).unwrap_or_else(|| unreachable!());
        let Ok(enc) = enc else { unreachable!() };
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(key.kid.clone());
        let claims = json!({"sub": "x", "exp": 4_000_000_000u64});
        let token = jsonwebtoken::encode(&header, &claims, &enc).unwrap_or_default();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.validate_aud = false;
        assert!(jsonwebtoken::decode::<Value>(&token, &dec, &validation).is_ok());
    }
}
