//! Bearer verification: turns the `Authorization` header of a SCIM request into a [`Principal`]
//! for the organization in the request path, or a reason to refuse it. Organization API tokens
//! (`sgt_…`) and OAuth access tokens (JWTs) both come through here.

use store::credential_cache::CredentialCache;
use store::repo::api_tokens::{self, TokenPrincipal};
use store::repo::installations::InstallationPrincipal;
use store::{Database, OrgScope, StoreError};

use crate::jwt::{self, JwtError};
use crate::service::TokenService;

/// What authenticated the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// An organization API token, by its UID.
    ApiToken(String),
    /// An OAuth installation's access token, by the installation's UID.
    Installation(String),
}

/// Who is calling, proven for one organization.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The organization the credential is valid for (equal to the one in the path).
    pub scope: OrgScope,
    /// The credential that proved it.
    pub credential: Credential,
    /// The organization's SCIM switch, read with the credential.
    pub scim_enabled: bool,
    /// What recording a use of the credential needs.
    usage: Usage,
}

/// A credential's row and when its use was last written, to record an accepted request's use.
#[derive(Debug, Clone)]
enum Usage {
    ApiToken {
        cache_key: String,
        id: store::ids::ApiTokenId,
        last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    },
    Installation {
        cache_key: String,
        id: store::ids::InstallationId,
        last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    },
}

/// Records the use of a principal's credential by a request that was accepted (at most once a
/// minute per credential; with a cache, only the first request past the minute writes it).
async fn record_use(
    db: &Database,
    cache: Option<&CredentialCache<VerifiedCredential>>,
    principal: &Principal,
) -> Result<(), VerifyError> {
    let at = chrono::Utc::now();
    let (key, last) = match &principal.usage {
        Usage::ApiToken {
            cache_key,
            last_used_at,
            ..
        }
        | Usage::Installation {
            cache_key,
            last_used_at,
            ..
        } => (cache_key, *last_used_at),
    };
    let claim = |held: &mut VerifiedCredential| {
        let last = match held {
            VerifiedCredential::ApiToken(p) => &mut p.last_used_at,
            VerifiedCredential::Installation(Some(p)) => &mut p.last_used_at,
            VerifiedCredential::Installation(None) | VerifiedCredential::AccessToken(_) => {
                return false;
            }
        };
        let due = api_tokens::use_due(*last, at);
        if due {
            *last = Some(at);
        }
        due
    };
    let due = cache
        .and_then(|c| c.update(key, claim))
        .unwrap_or_else(|| api_tokens::use_due(last, at));
    if !due {
        return Ok(());
    }
    match &principal.usage {
        Usage::ApiToken { id, .. } => api_tokens::record_use(db, *id, at).await?,
        Usage::Installation { id, .. } => {
            store::repo::installations::record_use(db, *id, at).await?;
        }
    }
    Ok(())
}

/// Why a bearer token was refused.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// No `Authorization: Bearer` header.
    #[error("a bearer token is required")]
    Missing,
    /// Unknown, malformed, expired or revoked, or issued for another organization: all answered
    /// alike, so a caller learns nothing about other tenants.
    #[error("the bearer token is invalid, expired or revoked")]
    Invalid,
    /// Issued by another region's deployment.
    #[error("the token was issued by region '{region}'; send it to that region's SCIM API")]
    WrongRegion {
        /// The region that issued it.
        region: String,
    },
    /// The data layer failed: not the caller's fault.
    #[error(transparent)]
    Unavailable(#[from] StoreError),
}

/// Checks bearer tokens for one organization.
#[async_trait::async_trait]
pub trait BearerVerifier: Send + Sync + std::fmt::Debug {
    /// Verifies `token` for the organization whose UID is in the request path. Nothing is
    /// written: the request may still be refused.
    async fn verify(&self, token: &str, org_uid: &str) -> Result<Principal, VerifyError>;

    /// Records that the request `principal` made was accepted: the credential's last use.
    async fn record_use(&self, principal: &Principal) -> Result<(), VerifyError>;
}

/// Extracts the token of an `Authorization: Bearer …` header value (scheme case-insensitive, per
/// RFC 6750 §2.1). Tokens are only ever taken from this header, never from a query string.
pub fn bearer_token(header: Option<&str>) -> Result<&str, VerifyError> {
    let value = header.ok_or(VerifyError::Missing)?.trim();
    let (scheme, token) = value.split_once(' ').ok_or(VerifyError::Invalid)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(VerifyError::Invalid);
    }
    Ok(token)
}

/// What a replica's credential cache holds, under keys that say which kind it is.
#[derive(Debug, Clone)]
pub enum VerifiedCredential {
    /// An API token, under `token:{digest}`.
    ApiToken(TokenPrincipal),
    /// What an installation proves for one organization, under `installation:{uid}|{org}`
    /// (`None`: nothing there).
    Installation(Option<InstallationPrincipal>),
    /// An OAuth access token whose signature and claims checked out and that no revocation had
    /// reached when it was read, under `access:{digest}`.
    AccessToken(VerifiedAccess),
}

/// What a verified access token says, as far as a later request with it needs.
#[derive(Debug, Clone)]
pub struct VerifiedAccess {
    /// The installation (the token's `sub`).
    installation_uid: String,
    /// The organization it is for (`org`).
    org_uid: String,
    /// When it expires (`exp`, seconds since the epoch).
    expires_at: i64,
}

/// The cache key of an access token: its digest, so the cache never holds a usable token.
fn access_key(token: &str) -> String {
    format!("access:{}", store::secret::sha256_hex(token))
}

/// Verifies an organization API token: valid, not revoked or expired, and of this organization.
/// With a cache, a token verified lately is not read again (revocations are announced to it).
pub async fn verify_api_token(
    db: &Database,
    cache: Option<&CredentialCache<VerifiedCredential>>,
    token: &str,
    org_uid: &str,
) -> Result<Principal, VerifyError> {
    let key = format!(
        "token:{}",
        api_tokens::digest(token).ok_or(VerifyError::Invalid)?
    );
    let at = chrono::Utc::now();
    let principal = match cache.map(|c| c.get(&key)) {
        Some(Ok(VerifiedCredential::ApiToken(cached))) => cached,
        lookup => {
            let found = api_tokens::authenticate(db, token)
                .await?
                .ok_or(VerifyError::Invalid)?;
            if let (Some(cache), Some(Err(ticket))) = (cache, lookup) {
                cache.insert(
                    ticket,
                    key.clone(),
                    VerifiedCredential::ApiToken(found.clone()),
                );
            }
            found
        }
    };
    if !principal.is_current(at) || principal.scope.org_uid() != org_uid {
        return Err(VerifyError::Invalid);
    }
    Ok(Principal {
        scope: principal.scope,
        credential: Credential::ApiToken(principal.token_uid),
        scim_enabled: principal.scim_enabled,
        usage: Usage::ApiToken {
            cache_key: key,
            id: principal.token_id,
            last_used_at: principal.last_used_at,
        },
    })
}

/// Verifies organization API tokens only, reading each from the database (deployments or tests
/// without OAuth signing keys).
#[derive(Debug, Clone)]
pub struct ApiTokenVerifier {
    db: Database,
}

impl ApiTokenVerifier {
    /// A verifier over the region's database.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait::async_trait]
impl BearerVerifier for ApiTokenVerifier {
    async fn verify(&self, token: &str, org_uid: &str) -> Result<Principal, VerifyError> {
        verify_api_token(&self.db, None, token, org_uid).await
    }

    async fn record_use(&self, principal: &Principal) -> Result<(), VerifyError> {
        record_use(&self.db, None, principal).await
    }
}

/// The deployment's verifier: organization API tokens (`sgt_…`) and OAuth access tokens (JWTs
/// whose signature, `typ`, `iss`, `aud`, `exp` and `kid` check out, whose `org` claim is the
/// organization in the path, and that no revocation — of the token, its refresh family or its
/// installation — has reached).
#[async_trait::async_trait]
impl BearerVerifier for TokenService {
    async fn verify(&self, token: &str, org_uid: &str) -> Result<Principal, VerifyError> {
        if token.starts_with(api_tokens::TOKEN_PREFIX) {
            let cache = Some(&self.inner.credentials);
            return verify_api_token(&self.inner.db, cache, token, org_uid).await;
        }
        if !jwt::looks_like_jwt(token) {
            return Err(VerifyError::Invalid);
        }
        let access = self.verify_access_token(token).await?;
        if access.org_uid != org_uid {
            return Err(VerifyError::Invalid);
        }
        let installation = self
            .installation(&access.installation_uid, org_uid)
            .await?
            .ok_or(VerifyError::Invalid)?;
        Ok(Principal {
            scope: installation.scope,
            usage: Usage::Installation {
                cache_key: crate::service::installation_key(&access.installation_uid, org_uid),
                id: installation.installation_id,
                last_used_at: installation.last_used_at,
            },
            credential: Credential::Installation(access.installation_uid),
            scim_enabled: installation.scim_enabled,
        })
    }

    async fn record_use(&self, principal: &Principal) -> Result<(), VerifyError> {
        record_use(&self.inner.db, Some(&self.inner.credentials), principal).await
    }
}

impl TokenService {
    /// Checks an OAuth access token's signature and claims, and that no revocation reached it.
    /// An IdP sends the same token with every request until it expires, so a replica remembers
    /// one it verified (for the credential cache's short TTL, and never past `exp`): a revocation
    /// of the token, its refresh family or its installation is announced, and makes every
    /// replica forget what it remembered before the revoking request is answered here.
    async fn verify_access_token(&self, token: &str) -> Result<VerifiedAccess, VerifyError> {
        let cache = &self.inner.credentials;
        let key = access_key(token);
        let now = chrono::Utc::now().timestamp();
        let ticket = match cache.get(&key) {
            Ok(VerifiedCredential::AccessToken(access)) if now < access.expires_at => {
                return Ok(access);
            }
            Ok(_) => None,
            Err(ticket) => Some(ticket),
        };
        let claims = match jwt::verify(&self.inner.keys, self.settings(), token).await {
            Ok(claims) => claims,
            Err(JwtError::WrongRegion(region)) => return Err(VerifyError::WrongRegion { region }),
            Err(JwtError::Store(e)) => return Err(VerifyError::Unavailable(e)),
            Err(JwtError::Invalid) => return Err(VerifyError::Invalid),
        };
        if self.is_revoked(&claims).await? {
            return Err(VerifyError::Invalid);
        }
        let access = VerifiedAccess {
            installation_uid: claims.sub,
            org_uid: claims.org,
            expires_at: claims.exp,
        };
        if let Some(ticket) = ticket {
            cache.insert(ticket, key, VerifiedCredential::AccessToken(access.clone()));
        }
        Ok(access)
    }
}

/// Verifies a management API access token: a JWT for the management API's audience (never an
/// IdP's token, never an organization API token), whose backend client is still registered and
/// not revoked. The principal holds the token's scopes.
pub async fn verify_backend(
    svc: &TokenService,
    token: &str,
) -> Result<store::repo::backend_clients::BackendPrincipal, VerifyError> {
    if !jwt::looks_like_jwt(token) {
        return Err(VerifyError::Invalid);
    }
    let claims = match jwt::verify_backend(&svc.inner.keys, svc.settings(), token).await {
        Ok(claims) => claims,
        Err(JwtError::WrongRegion(region)) => return Err(VerifyError::WrongRegion { region }),
        Err(JwtError::Store(e)) => return Err(VerifyError::Unavailable(e)),
        Err(JwtError::Invalid) => return Err(VerifyError::Invalid),
    };
    let principal = store::repo::backend_clients::active(&svc.inner.db, &claims.client_id)
        .await?
        .ok_or(VerifyError::Invalid)?;
    let granted: Vec<String> = claims.scope.split_whitespace().map(str::to_owned).collect();
    Ok(principal.narrowed(&granted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive_and_required() {
        assert_eq!(bearer_token(Some("Bearer abc")).ok(), Some("abc"));
        assert_eq!(bearer_token(Some("bearer  abc ")).ok(), Some("abc"));
        assert!(matches!(bearer_token(None), Err(VerifyError::Missing)));
        assert!(matches!(
            bearer_token(Some("Basic abc")),
            Err(VerifyError::Invalid)
        ));
        assert!(matches!(
            bearer_token(Some("Bearer")),
            Err(VerifyError::Invalid)
        ));
        assert!(matches!(
            bearer_token(Some("Bearer ")),
            Err(VerifyError::Invalid)
        ));
    }
}
