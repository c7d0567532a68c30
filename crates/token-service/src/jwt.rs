//! OAuth access tokens as JWTs (RFC 9068): `typ: at+jwt`, ES256, a `kid` from the key ring,
//! `iss` = this region's auth API, `aud` = this region's SCIM API, plus the `org` the installation
//! belongs to and the refresh family (`fam`) so revoking a family also stops its access tokens.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::keys::KeyRing;
use crate::settings::TokenSettings;
use store::StoreError;

/// The JOSE `typ` of an access token (RFC 9068 §2.1).
pub const TYP: &str = "at+jwt";
/// Tolerated clock skew when checking `exp`/`nbf`/`iat`.
const LEEWAY_SECS: u64 = 30;

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer: this region's auth API URL.
    pub iss: String,
    /// Subject: the installation the token acts for.
    pub sub: String,
    /// Audience: this region's SCIM API.
    pub aud: String,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Unique id (revocation of one token).
    pub jti: String,
    /// The OAuth client it was issued to.
    pub client_id: String,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// The organization UID the token is valid for.
    pub org: String,
    /// The refresh-token family it was issued with.
    pub fam: String,
}

/// What an access token is issued for.
#[derive(Debug, Clone)]
pub struct AccessGrant<'a> {
    /// Installation UID.
    pub installation_uid: &'a str,
    /// Client id.
    pub client_id: &'a str,
    /// Scopes.
    pub scope: &'a str,
    /// Organization UID.
    pub org_uid: &'a str,
    /// Refresh family.
    pub family_id: &'a str,
}

/// Why a JWT was refused.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    /// Bad signature, type, issuer, audience, expiry or key.
    #[error("invalid access token")]
    Invalid,
    /// Issued by another region (named).
    #[error("issued by region {0}")]
    WrongRegion(String),
    /// The key ring could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Signs an access token with the active key; returns it with its claims.
pub async fn issue(
    keys: &KeyRing,
    settings: &TokenSettings,
    grant: &AccessGrant<'_>,
) -> Result<(String, AccessClaims), StoreError> {
    let (kid, key) = keys.signer().await?;
    let now = chrono::Utc::now().timestamp();
    let ttl = i64::try_from(settings.access_ttl.as_secs()).unwrap_or(3600);
    let claims = AccessClaims {
        iss: settings.issuer.clone(),
        sub: grant.installation_uid.to_owned(),
        aud: settings.audience.clone(),
        exp: now + ttl,
        iat: now,
        nbf: now,
        jti: uuid::Uuid::new_v4().to_string(),
        client_id: grant.client_id.to_owned(),
        scope: grant.scope.to_owned(),
        org: grant.org_uid.to_owned(),
        fam: grant.family_id.to_owned(),
    };
    let mut header = Header::new(Algorithm::ES256);
    header.typ = Some(TYP.to_owned());
    header.kid = Some(kid);
    let token = jsonwebtoken::encode(&header, &claims, &key)
        .map_err(|e| StoreError::Invalid(format!("cannot sign access token: {e}")))?;
    Ok((token, claims))
}

/// True when the string has the shape of a JWS compact serialization (three dot-separated parts).
pub fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}

/// The `iss` of a token, read without verifying it (only to name the right region).
fn unverified_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value["iss"].as_str().map(str::to_owned)
}

/// Verifies signature, `typ`, `alg`, `kid`, `iss`, `aud`, `exp` and `nbf`; returns the claims.
pub async fn verify(
    keys: &KeyRing,
    settings: &TokenSettings,
    token: &str,
) -> Result<AccessClaims, JwtError> {
    verify_for(keys, settings, token, &settings.audience).await
}

/// The claims of a management API access token (client credentials, RFC 9068): no organization
/// and no refresh family — a backend client acts in every organization of the region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendClaims {
    /// Issuer: this region's auth API URL.
    pub iss: String,
    /// Subject: the backend client.
    pub sub: String,
    /// Audience: this region's management API.
    pub aud: String,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Unique id.
    pub jti: String,
    /// The backend client.
    pub client_id: String,
    /// Granted scopes, space-separated.
    pub scope: String,
}

/// Signs a management API access token for a backend client.
pub async fn issue_backend(
    keys: &KeyRing,
    settings: &TokenSettings,
    client_id: &str,
    scope: &str,
) -> Result<(String, BackendClaims), StoreError> {
    let (kid, key) = keys.signer().await?;
    let now = chrono::Utc::now().timestamp();
    let ttl = i64::try_from(settings.backend_access_ttl.as_secs()).unwrap_or(900);
    let claims = BackendClaims {
        iss: settings.issuer.clone(),
        sub: client_id.to_owned(),
        aud: settings.management_audience.clone(),
        exp: now + ttl,
        iat: now,
        nbf: now,
        jti: uuid::Uuid::new_v4().to_string(),
        client_id: client_id.to_owned(),
        scope: scope.to_owned(),
    };
    let mut header = Header::new(Algorithm::ES256);
    header.typ = Some(TYP.to_owned());
    header.kid = Some(kid);
    let token = jsonwebtoken::encode(&header, &claims, &key)
        .map_err(|e| StoreError::Invalid(format!("cannot sign access token: {e}")))?;
    Ok((token, claims))
}

/// Verifies a management API access token: as [`verify`], for the management API's audience.
pub async fn verify_backend(
    keys: &KeyRing,
    settings: &TokenSettings,
    token: &str,
) -> Result<BackendClaims, JwtError> {
    verify_for(keys, settings, token, &settings.management_audience).await
}

async fn verify_for<C: serde::de::DeserializeOwned>(
    keys: &KeyRing,
    settings: &TokenSettings,
    token: &str,
    audience: &str,
) -> Result<C, JwtError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| JwtError::Invalid)?;
    let typ_ok = header.typ.as_deref().is_some_and(|t| {
        t.eq_ignore_ascii_case(TYP) || t.eq_ignore_ascii_case("application/at+jwt")
    });
    if !typ_ok || header.alg != Algorithm::ES256 {
        return Err(JwtError::Invalid);
    }
    if let Some(iss) = unverified_issuer(token).filter(|iss| *iss != settings.issuer) {
        return Err(
            match settings.other_regions.iter().find(|(_, i)| *i == iss) {
                Some((region, _)) => JwtError::WrongRegion(region.clone()),
                None => JwtError::Invalid,
            },
        );
    }
    let kid = header.kid.ok_or(JwtError::Invalid)?;
    let key = keys.verifier(&kid).await?.ok_or(JwtError::Invalid)?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.leeway = LEEWAY_SECS;
    validation.validate_nbf = true;
    validation.set_issuer(&[&settings.issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub", "nbf"]);
    jsonwebtoken::decode::<C>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|_| JwtError::Invalid)
}

/// Seconds until `exp`, at least one (how long a revocation entry must live).
pub fn remaining(claims: &AccessClaims) -> Duration {
    let left =
        claims.exp - chrono::Utc::now().timestamp() + i64::try_from(LEEWAY_SECS).unwrap_or(30);
    Duration::from_secs(u64::try_from(left).unwrap_or(0).max(1))
}
