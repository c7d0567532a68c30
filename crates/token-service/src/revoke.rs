//! `POST /oauth/revoke` (RFC 7009): a client revokes its own refresh token (and with it the
//! family) or access token. Unknown tokens, and tokens of other clients, get the same 200.

use actix_web::{HttpRequest, HttpResponse, web};
use store::repo::{installations, refresh_tokens};

use crate::client_auth;
use crate::error::{OAuthError, no_store};
use crate::jwt;
use crate::service::{TokenService, jti_key};
use crate::token::rate_limit;

/// The revocation endpoint.
pub async fn revoke(
    svc: web::Data<TokenService>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthError> {
    let params = client_auth::form(&req, &body)?;
    rate_limit(&svc, &req, &params).await?;
    let client = client_auth::authenticate(&svc.inner.db, &req, &params).await?;
    let token = params.require("token")?;
    let db = &svc.inner.db;
    if let Some(row) = refresh_tokens::find(db, token).await? {
        let owned = installations::find_by_id(db, row.installation_id)
            .await?
            .is_some_and(|i| i.client_id == client.id);
        if owned {
            svc.revoke_family(&row.family_id).await?;
        }
    } else if jwt::looks_like_jwt(token)
        && let Ok(claims) = jwt::verify(&svc.inner.keys, svc.settings(), token).await
        && claims.client_id == client.client_id
    {
        store::revocations::revoke(
            &svc.inner.db,
            &svc.inner.kv,
            &jti_key(&claims.jti),
            jwt::remaining(&claims),
        )
        .await?;
        // Replicas remember access tokens they verified: they must forget this one.
        store::credential_cache::announce(&svc.inner.kv, &claims.org).await?;
    }
    let mut res = HttpResponse::Ok();
    no_store(&mut res);
    Ok(res.finish())
}
