//! `POST /oauth/introspect` (RFC 7662): a confidential client asks whether a token it holds is
//! active. Tokens of other clients, and anything unknown, are `{"active": false}`.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde_json::{Value, json};
use store::repo::oauth_clients::OauthClient;
use store::repo::{installations, refresh_tokens};

use crate::client_auth;
use crate::error::{OAuthError, no_store};
use crate::jwt;
use crate::service::TokenService;
use crate::token::rate_limit;

/// The introspection endpoint.
pub async fn introspect(
    svc: web::Data<TokenService>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthError> {
    let params = client_auth::form(&req, &body)?;
    rate_limit(&svc, &req, &params).await?;
    let client = client_auth::authenticate(&svc.inner.db, &req, &params).await?;
    if client.secret_hash.is_none() {
        // Introspection is for authenticated callers only (RFC 7662 §2.1, §4).
        return Err(OAuthError::InvalidClient);
    }
    let token = params.require("token")?;
    let answer = match describe(&svc, &client, token).await? {
        Some(info) => info,
        None => json!({"active": false}),
    };
    let mut res = HttpResponse::Ok();
    no_store(&mut res);
    Ok(res.json(answer))
}

async fn describe(
    svc: &TokenService,
    client: &OauthClient,
    token: &str,
) -> Result<Option<Value>, OAuthError> {
    let db = &svc.inner.db;
    if let Some(row) = refresh_tokens::find(db, token).await? {
        let Some(installation) = installations::find_by_id(db, row.installation_id).await? else {
            return Ok(None);
        };
        let live = row.used_at.is_none()
            && row.revoked_at.is_none()
            && row.expires_at > Utc::now()
            && installation.revoked_at.is_none()
            && installation.client_id == client.id;
        if !live {
            return Ok(None);
        }
        let org = installations::organization(db, &installation).await?;
        return Ok(Some(json!({
            "active": true,
            "token_type": "refresh_token",
            "client_id": client.client_id,
            "scope": row.scopes,
            "sub": installation.uid,
            "org": org.map(|o| o.uid),
            "iat": row.created_at.timestamp(),
            "exp": row.expires_at.timestamp(),
            "iss": svc.settings().issuer,
        })));
    }
    if !jwt::looks_like_jwt(token) {
        return Ok(None);
    }
    let Ok(claims) = jwt::verify(&svc.inner.keys, svc.settings(), token).await else {
        return Ok(None);
    };
    if claims.client_id != client.client_id
        || svc.is_revoked(&claims).await?
        || svc.installation(&claims.sub, &claims.org).await?.is_none()
    {
        return Ok(None);
    }
    Ok(Some(json!({
        "active": true,
        "token_type": "Bearer",
        "client_id": claims.client_id,
        "scope": claims.scope,
        "sub": claims.sub,
        "aud": claims.aud,
        "iss": claims.iss,
        "exp": claims.exp,
        "iat": claims.iat,
        "nbf": claims.nbf,
        "jti": claims.jti,
        "org": claims.org,
    })))
}
