//! `/organizations/{id}/invitations` and a member's resend: what was emailed to whom, and when.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use store::ids::InvitationId;
use store::repo::invitations::InvitationStatus;
use utoipa::IntoParams;

use super::{Api, json};
use crate::auth::Backend;
use crate::dto::Invitation;
use crate::paging::{self, Page};
use crate::problem::{ApiResult, Problem};

/// `GET …/invitations` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListInvitations {
    /// From the page this cursor ends.
    pub cursor: Option<String>,
    /// Page size (1 to 200; default 50).
    pub limit: Option<u64>,
    /// Only invitations in this state (`queued`, `sent`, `failed`, `accepted`, `revoked`,
    /// `not_sent`).
    pub status: Option<String>,
}

/// List the organization's invitations, newest first: whom, their state, attempts, the mail
/// server's last refusal.
#[utoipa::path(tag = "members", params(("id" = String, Path, description = "Organization id"), ListInvitations),
    responses((status = 200, body = inline(Page<Invitation>)), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("backend" = ["members:read"])))]
#[get("/organizations/{id}/invitations")]
pub async fn list(
    api: Api,
    backend: Backend,
    id: web::Path<String>,
    query: web::Query<ListInvitations>,
) -> ApiResult<HttpResponse> {
    backend.require("members:read")?;
    let scope = backend.organization(&api, &id).await?;
    let limit = paging::limit(query.limit)?;
    let before = paging::decode("invitations", query.cursor.as_deref())?.map(InvitationId);
    let status = query
        .status
        .as_deref()
        .map(|s| {
            InvitationStatus::parse(s).ok_or_else(|| {
                Problem::invalid(format!(
                    "status must be queued, sent, failed, accepted, revoked or not_sent (got {s:?})"
                ))
            })
        })
        .transpose()?;
    let rows = usecases::invitations::list(&api.core, &scope, status, before, limit + 1).await?;
    let page = paging::page(
        rows,
        limit,
        "invitations",
        |(row, _)| row.id.0,
        Invitation::from,
    );
    Ok(json(StatusCode::OK, &page))
}

/// Send a member a new invitation (their membership must still be invited); the earlier link
/// stops working. At most `email.resends_per_hour` per person (429 beyond).
#[utoipa::path(tag = "members",
    params(("id" = String, Path, description = "Organization id"),
        ("member" = String, Path, description = "Account id or email"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    responses((status = 202, body = Invitation), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 429, body = Problem)),
    security(("backend" = ["members:write"])))]
#[post("/organizations/{id}/members/{member}/invitation")]
pub async fn resend(
    api: Api,
    backend: Backend,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    backend.require("members:write")?;
    let (org, member) = path.into_inner();
    let scope = backend.organization(&api, &org).await?;
    let view = usecases::members::get(
        &api.core,
        &scope,
        &usecases::members::MemberKey::parse(&member),
    )
    .await?;
    let invitation =
        usecases::invitations::resend(&api.core, &backend.actor, &scope, &view.account.uid).await?;
    Ok(json(
        StatusCode::ACCEPTED,
        &Invitation::from((invitation, view.account.uid)),
    ))
}
