//! [`TokenService`]: the state the gateway builds once and every token-side handler and the SCIM
//! API's bearer verification share — database, key-value store, settings, key ring — and the few
//! operations several endpoints need (revoking a family, checking the revocation set).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use store::kv::Kv;
use store::repo::{installations, refresh_tokens};
use store::{Database, OrgScope, StoreResult};

use crate::jwt::AccessClaims;
use crate::keys::{self, KeyRing};
use crate::settings::TokenSettings;

/// How long a process trusts an installation lookup. Revocation through the database (the CLI, or
/// a deployment without Redis) therefore reaches every replica within this time; the key-value
/// revocation set makes it immediate.
const INSTALLATION_CACHE: Duration = Duration::from_millis(500);

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
    scopes: Mutex<HashMap<String, (OrgScope, Instant)>>,
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
        Self {
            inner: Arc::new(Inner {
                db,
                kv,
                settings,
                keys,
                scopes: Mutex::new(HashMap::new()),
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

    /// Revokes a refresh family: its access tokens at once (revocation set), its refresh tokens
    /// in the database.
    pub(crate) async fn revoke_family(&self, family_id: &str) -> StoreResult<()> {
        self.inner
            .kv
            .revoke(&family_key(family_id), self.revocation_ttl())
            .await?;
        refresh_tokens::revoke_family(&self.inner.db, family_id).await?;
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
        let kv = &self.inner.kv;
        Ok(kv.is_revoked(&jti_key(&claims.jti)).await?
            || kv.is_revoked(&family_key(&claims.fam)).await?
            || kv
                .is_revoked(&installations::revocation_key(&claims.sub))
                .await?)
    }

    /// The scope an installation's token proves for `org_uid`, from a short-lived cache.
    pub(crate) async fn installation_scope(
        &self,
        installation_uid: &str,
        org_uid: &str,
    ) -> StoreResult<Option<OrgScope>> {
        if let Ok(cache) = self.inner.scopes.lock()
            && let Some((scope, at)) = cache.get(installation_uid)
            && at.elapsed() < INSTALLATION_CACHE
        {
            return Ok((scope.org_uid() == org_uid).then(|| scope.clone()));
        }
        let scope = installations::authenticate(&self.inner.db, installation_uid, org_uid).await?;
        if let (Some(scope), Ok(mut cache)) = (&scope, self.inner.scopes.lock()) {
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(installation_uid.to_owned(), (scope.clone(), Instant::now()));
        }
        Ok(scope)
    }
}
