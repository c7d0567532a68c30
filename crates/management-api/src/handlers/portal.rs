//! `/organizations/{id}/portal-links`: a single-use link for the customer's IT admin.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, post, web};

use super::{Api, json};
use crate::auth::Backend;
use crate::dto::{CreatePortalLink, PortalLink};
use crate::problem::{ApiResult, Problem};

/// Minutes a link stays valid unless asked otherwise.
const DEFAULT_MINUTES: i64 = 10;

/// Create a portal link: a single-use URL, valid for minutes, that opens this organization's
/// SCIM settings (enable, connection details, tokens, connected IdPs, group mapping, users,
/// groups, activity) for someone without an account. Everything done with it is audited with
/// the link's id.
#[utoipa::path(tag = "portal", request_body(content = Option<CreatePortalLink>),
    params(("id" = String, Path, description = "Organization id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    responses((status = 201, body = PortalLink), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("backend" = ["portal:write"])))]
#[post("/organizations/{id}/portal-links")]
pub async fn create(
    api: Api,
    backend: Backend,
    id: web::Path<String>,
    body: Option<web::Json<CreatePortalLink>>,
) -> ApiResult<HttpResponse> {
    backend.require("portal:write")?;
    let scope = backend.organization(&api, &id).await?;
    let body = body.map(web::Json::into_inner).unwrap_or_default();
    let minutes = body.expires_in_minutes.unwrap_or(DEFAULT_MINUTES);
    let issued = usecases::portal::create(
        &api.core,
        &backend.actor,
        &scope,
        minutes,
        body.return_url.as_deref(),
    )
    .await?;
    Ok(json(
        StatusCode::CREATED,
        &PortalLink {
            id: issued.row.uid,
            url: format!("{}/portal/{}", api.settings.app_url, issued.token),
            expires_at: issued.row.expires_at,
        },
    ))
}
