//! [`TokenService`]: the state the gateway builds once and every token-side handler and the SCIM
//! API's bearer verification share — database, key-value store, settings, key ring — and the few
//! operations several endpoints need (revoking a family, checking the revocation set).

use std::sync::Arc;
use std::time::Duration;

use store::credential_cache::CredentialCache;
use store::kv::Kv;
use store::repo::installations::{self, InstallationPrincipal};
use store::repo::refresh_tokens;
use store::revocations::RevocationList;
use store::{Database, StoreResult};

use crate::jwt::AccessClaims;
use crate::keys::{self, KeyRing};
use crate::settings::TokenSettings;
use crate::verify::VerifiedCredential;

/// The token service of one deployment.
#[derive(Clone, Debug)]
pub struct TokenService {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) db: Database,
    pub(crate) kv: Kv,
    pub(crate) settings: TokenSettings,
    pub(crate) keys: KeyRing,
    /// API tokens and installations verified lately.
    pub(crate) credentials: CredentialCache<VerifiedCredential>,
    /// Revoked tokens, families and installations (the database's list, cached in `kv`).
    pub(crate) revocations: RevocationList,
}

/// Revocation-set key of one access token.
pub(crate) fn jti_key(jti: &str) -> String {
    format!("jti:{jti}")
}

/// Revocation-set key of a refresh family (and every access token issued with it).
pub(crate) fn family_key(family: &str) -> String {
    format!("fam:{family}")
}

impl TokenService {
    /// A service over the region's database and key-value store.
    pub fn new(db: Database, kv: Kv, settings: TokenSettings) -> Self {
        let keys = KeyRing::new(db.clone(), settings.key_refresh, settings.access_ttl);
        // Only a store other processes share can carry their announcements: with the in-process
        // one, a CLI beside the server could revoke a token the server would not hear of.
        let ttl = if kv.is_shared() {
            settings.credential_cache_ttl
        } else {
            Duration::ZERO
        };
        Self {
            inner: Arc::new(Inner {
                credentials: CredentialCache::new(&kv, ttl),
                revocations: RevocationList::new(db.clone(), kv.clone()),
                db,
                kv,
                settings,
                keys,
            }),
        }
    }

    /// Start-up: makes sure an active and a next signing key exist, then loads them.
    pub async fn start(&self) -> StoreResult<()> {
        keys::ensure_keys(&self.inner.db).await?;
        self.inner.keys.reload().await
    }

    /// The settings it runs with.
    pub fn settings(&self) -> &TokenSettings {
        &self.inner.settings
    }

    /// The key ring (signing and verification keys).
    pub fn keys(&self) -> &KeyRing {
        &self.inner.keys
    }

    /// How long revocation entries for access tokens must live.
    pub(crate) fn revocation_ttl(&self) -> Duration {
        self.inner.settings.access_ttl + Duration::from_secs(120)
    }

    /// Revokes a refresh family: its access tokens at once (the revocation list, recorded in the
    /// database and cached in the key-value store), then its refresh tokens. In that order: see
    /// `issue`, which checks the list after writing a family's refresh token.
    pub(crate) async fn revoke_family(&self, family_id: &str) -> StoreResult<()> {
        store::revocations::revoke(
            &self.inner.db,
            &self.inner.kv,
            &family_key(family_id),
            self.revocation_ttl(),
        )
        .await?;
        refresh_tokens::revoke_family(&self.inner.db, family_id).await?;
        // Replicas remember access tokens they verified: they must forget the family's.
        store::credential_cache::announce(&self.inner.kv, family_id).await?;
        Ok(())
    }

    /// For a code or refresh token this region does not know: the error naming the region that
    /// issued it, when its prefix names one of the other regions.
    pub(crate) fn other_region(
        &self,
        what: &'static str,
        credential: &str,
        type_prefix: &str,
    ) -> Option<crate::error::OAuthError> {
        let settings = &self.inner.settings;
        let region = store::grants::issuing_region(credential, type_prefix)?;
        if region == settings.region_id {
            return None;
        }
        let (id, auth_api_url) = settings.other_regions.iter().find(|(id, _)| id == region)?;
        Some(crate::error::OAuthError::OtherRegion {
            what,
            region: id.clone(),
            token_url: format!("{auth_api_url}/oauth/token"),
        })
    }

    /// True when the token, its family or its installation is in the revocation set.
    pub(crate) async fn is_revoked(&self, claims: &AccessClaims) -> StoreResult<bool> {
        let keys = [
            jti_key(&claims.jti),
            family_key(&claims.fam),
            installations::revocation_key(&claims.sub),
        ];
        self.inner
            .revocations
            .any_revoked(&keys.each_ref().map(String::as_str))
            .await
    }

    /// What an installation's token proves for `org_uid` (`None`: revoked, unknown, or of another
    /// organization), from the credential cache when it holds it.
    pub(crate) async fn installation(
        &self,
        installation_uid: &str,
        org_uid: &str,
    ) -> StoreResult<Option<InstallationPrincipal>> {
        let key = installation_key(installation_uid, org_uid);
        let cache = &self.inner.credentials;
        let ticket = match cache.get(&key) {
            Ok(VerifiedCredential::Installation(found)) => return Ok(found),
            // Keys say their kind, so another kind is never found here.
            Ok(VerifiedCredential::ApiToken(_) | VerifiedCredential::AccessToken(_)) => None,
            Err(ticket) => Some(ticket),
        };
        let found = installations::authenticate(&self.inner.db, installation_uid, org_uid).await?;
        if let Some(ticket) = ticket {
            cache.insert(ticket, key, VerifiedCredential::Installation(found.clone()));
        }
        Ok(found)
    }
}

/// The credential cache's key of what an installation proves for one organization.
pub(crate) fn installation_key(installation_uid: &str, org_uid: &str) -> String {
    format!("installation:{installation_uid}|{org_uid}")
}
