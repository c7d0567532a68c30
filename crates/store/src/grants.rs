//! Authorization codes: written by the consent page (`authorize-app`), redeemed once at the token
//! endpoint (`token-service`). They live in the key-value port under the SHA-256 of the code, so a
//! dump of the store reveals no usable code; the atomic take (`GETDEL` on Redis) makes redemption
//! single-use even when two replicas race for the same code.
//!
//! A second marker, kept longer than the code, remembers which token family the code started: a
//! code presented again after its redemption is a replay, and the caller revokes that family.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::kv::KeyValueStore;
use crate::secret::{random_token, sha256_hex};
use crate::{StoreError, StoreResult};

/// How long a code is valid unless configured otherwise (RFC 6749 §4.1.2 recommends ≤ 10 min).
pub const DEFAULT_CODE_TTL: Duration = Duration::from_secs(60);
/// How long a redeemed code is remembered for replay detection.
pub const REPLAY_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Everything a code is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeGrant {
    /// The public `client_id` the code was issued to.
    pub client_id: String,
    /// The exact redirect URI of the authorization request.
    pub redirect_uri: String,
    /// Whether the authorization request named the redirect URI (then the token request must).
    pub redirect_uri_given: bool,
    /// The S256 PKCE challenge, when the client sent one.
    pub code_challenge: Option<String>,
    /// The organization approved.
    pub org_uid: String,
    /// The installation the approval created.
    pub installation_uid: String,
    /// Granted scopes, space-separated.
    pub scopes: String,
    /// The refresh-token family the redemption starts (and a replay revokes).
    pub family_id: String,
}

/// What presenting a code found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// The code was live and is now consumed.
    Granted(CodeGrant),
    /// The code was issued here and already redeemed (or expired after issue): revoke the family.
    Replayed {
        /// The family the code started.
        family_id: String,
    },
    /// Never issued, or forgotten.
    Unknown,
}

fn code_key(hash: &str) -> String {
    format!("code:{hash}")
}

fn family_key(hash: &str) -> String {
    format!("code-family:{hash}")
}

/// The digest a code is stored and referenced under (also kept on refresh tokens it started).
pub fn code_hash(code: &str) -> String {
    sha256_hex(code)
}

/// A credential this region hands out (code or refresh token), prefixed with the region's id so
/// another region that is shown it can say where it belongs instead of "unknown".
pub fn regional(region: &str, secret: &str) -> String {
    format!("{region}.{secret}")
}

/// The region a credential made by [`regional`] names (after any `sgr_`-style type prefix).
pub fn issuing_region<'a>(credential: &'a str, type_prefix: &str) -> Option<&'a str> {
    let rest = credential.strip_prefix(type_prefix).unwrap_or(credential);
    rest.split_once('.')
        .map(|(region, _)| region)
        .filter(|r| !r.is_empty() && r.len() <= 32)
}

/// Issues a code (256 random bits, prefixed with `region`) bound to `grant`, valid for `ttl`.
/// Returns the plaintext code.
pub async fn issue(
    kv: &dyn KeyValueStore,
    region: &str,
    grant: &CodeGrant,
    ttl: Duration,
) -> StoreResult<String> {
    let code = regional(region, &random_token(32));
    let hash = code_hash(&code);
    let value = serde_json::to_vec(grant).map_err(|e| StoreError::Invalid(e.to_string()))?;
    kv.set(
        &family_key(&hash),
        grant.family_id.as_bytes(),
        REPLAY_WINDOW.max(ttl),
    )
    .await?;
    if !kv.put_once(&code_key(&hash), &value, ttl).await? {
        // 256 random bits never collide; refusing is still better than overwriting.
        return Err(StoreError::Conflict("authorization code"));
    }
    Ok(code)
}

/// Consumes a code: of any number of concurrent callers, at most one gets the grant.
pub async fn redeem(kv: &dyn KeyValueStore, code: &str) -> StoreResult<Redemption> {
    let hash = code_hash(code);
    if let Some(value) = kv.take(&code_key(&hash)).await? {
        let grant = serde_json::from_slice(&value)
            .map_err(|e| StoreError::KeyValue(format!("corrupt authorization code: {e}")))?;
        return Ok(Redemption::Granted(grant));
    }
    Ok(match kv.get(&family_key(&hash)).await? {
        Some(family) => Redemption::Replayed {
            family_id: String::from_utf8_lossy(&family).into_owned(),
        },
        None => Redemption::Unknown,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::MemoryKv;

    fn grant() -> CodeGrant {
        CodeGrant {
            client_id: "client".into(),
            redirect_uri: "https://idp.example/cb".into(),
            redirect_uri_given: true,
            code_challenge: None,
            org_uid: "org".into(),
            installation_uid: "inst".into(),
            scopes: "scim".into(),
            family_id: "fam".into(),
        }
    }

    #[test]
    fn credentials_name_their_region() {
        let code = regional("azure-eu", "abc-_def");
        assert_eq!(issuing_region(&code, ""), Some("azure-eu"));
        assert_eq!(issuing_region("sgr_eu.xyz", "sgr_"), Some("eu"));
        assert_eq!(issuing_region("no-region-at-all", ""), None);
        assert_eq!(issuing_region(".leading", ""), None);
    }

    #[tokio::test]
    async fn a_code_redeems_once_then_reads_as_a_replay() {
        let kv = MemoryKv::new();
        let code = issue(&kv, "local", &grant(), DEFAULT_CODE_TTL)
            .await
            .unwrap_or_default();
        assert!(code.len() >= 43);
        assert_eq!(
            redeem(&kv, &code).await.ok(),
            Some(Redemption::Granted(grant()))
        );
        assert_eq!(
            redeem(&kv, &code).await.ok(),
            Some(Redemption::Replayed {
                family_id: "fam".into()
            })
        );
        assert_eq!(redeem(&kv, "nope").await.ok(), Some(Redemption::Unknown));
    }
}
