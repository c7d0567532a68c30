//! `Idempotency-Key` on every POST: the first answer is kept (in the database, so every replica
//! and every restart sees it) and a retry of the same request gets it again instead of doing the
//! work twice. The same key with a different request is refused (422); a retry while the first
//! is still running is told so (409). Answers that failed on our side (5xx) are not kept: a
//! retry runs again.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError, web};
use sha2::{Digest, Sha256};
use store::repo::idempotency::{self, Claim};

use crate::ManagementApi;
use crate::auth::Backend;
use crate::problem::{Kind, Problem};

/// The header.
pub const HEADER: &str = "idempotency-key";

fn fingerprint(method: &Method, path_and_query: &str, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(method.as_str().as_bytes());
    hash.update(b" ");
    hash.update(path_and_query.as_bytes());
    hash.update(b"\n");
    hash.update(body);
    hex::encode(hash.finalize())
}

/// The middleware.
pub async fn idempotent(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let key = req
        .headers()
        .get(HEADER)
        .map(|v| v.to_str().map(str::to_owned));
    let (Some(key), true) = (key, req.method() == Method::POST) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let Ok(key) = key else {
        let problem = Problem::invalid("Idempotency-Key must be printable text");
        return Ok(req.into_response(problem.error_response()));
    };
    // The key belongs to the client: authenticate first (the handler reuses the result).
    let backend = match req.extract::<Backend>().await {
        Ok(backend) => backend,
        Err(problem) => return Ok(req.into_response(problem.error_response())),
    };
    let Some(api) = req.app_data::<web::Data<ManagementApi>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let body = req.extract::<web::Bytes>().await?;
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.path().to_owned(), |p| p.as_str().to_owned());
    let print = fingerprint(req.method(), &path, &body);
    let client = backend.principal.client_id().to_owned();
    let claimed = match idempotency::claim(api.core.db(), &client, &key, &print).await {
        Ok(claim) => claim,
        Err(e) => return Ok(req.into_response(Problem::from(e).error_response())),
    };
    let id = match claimed {
        Claim::Fresh(id) => id,
        Claim::Replay { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let content_type = if status.is_success() {
                "application/json"
            } else {
                crate::problem::PROBLEM_JSON
            };
            let res = HttpResponse::build(status)
                .insert_header((header::CONTENT_TYPE, content_type))
                .insert_header(("idempotent-replayed", "true"))
                .body(body);
            return Ok(req.into_response(res));
        }
        Claim::Mismatch => {
            let problem = Problem::new(
                Kind::IdempotencyKeyReused,
                "this Idempotency-Key was used for a different request; use a new key",
            );
            return Ok(req.into_response(problem.error_response()));
        }
        Claim::InProgress => {
            let problem = Problem::new(
                Kind::IdempotencyInProgress,
                "the first request with this Idempotency-Key is still running; retry shortly",
            )
            .retry_after(1);
            return Ok(req.into_response(problem.error_response()));
        }
    };
    req.set_payload(actix_web::dev::Payload::from(body));
    let res = match next.call(req).await {
        Ok(res) => res,
        Err(e) => {
            let _ = idempotency::release(api.core.db(), id).await;
            return Err(e);
        }
    };
    let status = res.status();
    let (request, response) = res.into_parts();
    let (head, body) = response.into_parts();
    let bytes = actix_web::body::to_bytes(body)
        .await
        .map_err(|_| actix_web::error::ErrorInternalServerError("unreadable response"))?;
    let kept = if status.is_server_error() {
        idempotency::release(api.core.db(), id).await
    } else {
        idempotency::complete(
            api.core.db(),
            id,
            status.as_u16(),
            &String::from_utf8_lossy(&bytes),
        )
        .await
    };
    if let Err(e) = kept {
        tracing::error!(error = %e, "could not record an idempotent answer");
    }
    let mut response = head.set_body(BoxBody::new(bytes));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(ServiceResponse::new(request, response))
}
