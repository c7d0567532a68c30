//! `/organizations/{id}/members`: members with their effective roles and where each comes from;
//! manual members added, re-roled and removed under the Owner rules.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use serde::Deserialize;
use store::ids::MembershipId;
use store::repo::members::MemberFilter;
use store::types::{MembershipStatus, OrgRole};
use usecases::members::{MemberKey, NewMember};
use utoipa::IntoParams;

use super::{Api, check_if_match, json, with_etag};
use crate::auth::Backend;
use crate::dto::{AddMember, Member, UpdateMember};
use crate::paging::{self, Page};
use crate::problem::{ApiResult, Problem};

/// `GET …/members` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListMembers {
    /// From the page this cursor ends.
    pub cursor: Option<String>,
    /// Page size (1 to 200; default 50).
    pub limit: Option<u64>,
    /// Only members in this state (`invited`, `active`, `suspended`).
    pub status: Option<String>,
    /// Only members whose effective organization role is this key.
    pub role: Option<String>,
    /// Only the member with this email.
    pub email: Option<String>,
}

/// List members with their effective organization and stack roles and where each comes from.
#[utoipa::path(tag = "members", params(("id" = String, Path, description = "Organization id"), ListMembers),
    responses((status = 200, body = inline(Page<Member>)), (status = 404, body = Problem)),
    security(("backend" = ["members:read"])))]
#[get("/organizations/{id}/members")]
pub async fn list(
    api: Api,
    backend: Backend,
    id: web::Path<String>,
    query: web::Query<ListMembers>,
) -> ApiResult<HttpResponse> {
    backend.require("members:read")?;
    let scope = backend.organization(&api, &id).await?;
    let limit = paging::limit(query.limit)?;
    let after = paging::decode("members", query.cursor.as_deref())?.map(MembershipId);
    let filter = MemberFilter {
        status: query
            .status
            .as_deref()
            .map(str::parse::<MembershipStatus>)
            .transpose()?,
        role: query
            .role
            .as_deref()
            .map(|r| r.parse::<OrgRole>().map(String::from))
            .transpose()?,
        email: query.email.clone(),
    };
    let members = usecases::members::list(&api.core, &scope, &filter, after, limit + 1).await?;
    let page = paging::page(
        members,
        limit,
        "members",
        |m| m.membership_id.0,
        Member::from,
    );
    Ok(json(StatusCode::OK, &page))
}

/// Read one member, by account id or by email.
#[utoipa::path(tag = "members",
    params(("id" = String, Path, description = "Organization id"),
        ("member" = String, Path, description = "Account id or email")),
    responses((status = 200, body = Member), (status = 404, body = Problem)),
    security(("backend" = ["members:read"])))]
#[get("/organizations/{id}/members/{member}")]
pub async fn get_one(
    api: Api,
    backend: Backend,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    backend.require("members:read")?;
    let (org, member) = path.into_inner();
    let scope = backend.organization(&api, &org).await?;
    let view = usecases::members::get(&api.core, &scope, &MemberKey::parse(&member)).await?;
    let at = view.updated_at;
    Ok(with_etag(&Member::from(view), at))
}

/// Add a member by hand (an account is created and invited when new). Send an
/// `Idempotency-Key`: a retried add returns the first answer.
#[utoipa::path(tag = "members", request_body = AddMember,
    params(("id" = String, Path, description = "Organization id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    responses((status = 201, body = Member), (status = 400, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("backend" = ["members:write"])))]
#[post("/organizations/{id}/members")]
pub async fn add(
    api: Api,
    backend: Backend,
    id: web::Path<String>,
    body: web::Json<AddMember>,
) -> ApiResult<HttpResponse> {
    backend.require("members:write")?;
    let scope = backend.organization(&api, &id).await?;
    let body = body.into_inner();
    let new = NewMember {
        email: body.email,
        role: body.role.parse()?,
        password: None,
    };
    let added = usecases::members::add(&api.core, &backend.actor, &scope, new).await?;
    let view =
        usecases::members::get(&api.core, &scope, &MemberKey::Account(added.account.uid)).await?;
    Ok(json(StatusCode::CREATED, &Member::from(view)))
}

/// The member a path names (by account id or email), for a change.
async fn account_of(
    api: &Api,
    scope: &store::OrgScope,
    member: &str,
) -> ApiResult<usecases::members::MemberView> {
    Ok(usecases::members::get(&api.core, scope, &MemberKey::parse(member)).await?)
}

/// Change a member's manual organization role. Effective roles are recomputed; the last active
/// Owner cannot be demoted.
#[utoipa::path(tag = "members", request_body = UpdateMember,
    params(("id" = String, Path, description = "Organization id"),
        ("member" = String, Path, description = "Account id or email"),
        ("If-Match" = Option<String>, Header, description = "The ETag read")),
    responses((status = 200, body = Member), (status = 400, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)),
    security(("backend" = ["members:write"])))]
#[patch("/organizations/{id}/members/{member}")]
pub async fn update(
    api: Api,
    backend: Backend,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<UpdateMember>,
) -> ApiResult<HttpResponse> {
    backend.require("members:write")?;
    let (org, member) = path.into_inner();
    let scope = backend.organization(&api, &org).await?;
    let current = account_of(&api, &scope, &member).await?;
    check_if_match(&req, current.updated_at)?;
    let role: OrgRole = body.role.parse()?;
    usecases::members::set_role(&api.core, &backend.actor, &scope, current.account.id, &role)
        .await?;
    let view =
        usecases::members::get(&api.core, &scope, &MemberKey::Account(current.account.uid)).await?;
    let at = view.updated_at;
    Ok(with_etag(&Member::from(view), at))
}

/// Remove a member added by hand (the account stays). Provisioned members are removed by
/// deprovisioning in the identity provider; the last active Owner is never removed.
#[utoipa::path(tag = "members",
    params(("id" = String, Path, description = "Organization id"),
        ("member" = String, Path, description = "Account id or email"),
        ("If-Match" = Option<String>, Header, description = "The ETag read")),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 412, body = Problem)),
    security(("backend" = ["members:write"])))]
#[delete("/organizations/{id}/members/{member}")]
pub async fn remove(
    api: Api,
    backend: Backend,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    backend.require("members:write")?;
    let (org, member) = path.into_inner();
    let scope = backend.organization(&api, &org).await?;
    let current = account_of(&api, &scope, &member).await?;
    check_if_match(&req, current.updated_at)?;
    usecases::members::remove(&api.core, &backend.actor, &scope, current.account.id).await?;
    Ok(HttpResponse::NoContent().finish())
}
