//! `/organizations`: create (with a first Owner), list, read, change, delete.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use serde::Deserialize;
use store::ids::OrgId;
use store::repo::organizations;
use usecases::organizations::{NewOrganization, OrganizationChanges, OwnerAccess};
use utoipa::IntoParams;

use super::{Api, check_if_match, if_match, json, with_etag};
use crate::auth::Backend;
use crate::dto::{
    CreateOrganization, CreatedOrganization, MemberRef, Organization, UpdateOrganization,
};
use crate::paging::{self, Page};
use crate::problem::{ApiResult, Problem};

/// `GET /organizations` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListOrganizations {
    /// From the page this cursor ends.
    pub cursor: Option<String>,
    /// Page size (1 to 200; default 50).
    pub limit: Option<u64>,
    /// Only organizations whose name starts with this (ASCII case ignored).
    pub name_prefix: Option<String>,
}

/// Create an organization in this region with its first Owner (an existing account is linked,
/// a new one is created and invited). Send an `Idempotency-Key`: a retried create returns the
/// first answer, never a second organization.
#[utoipa::path(tag = "organizations", request_body = CreateOrganization,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    responses((status = 201, body = CreatedOrganization), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("backend" = ["organizations:write"])))]
#[post("/organizations")]
pub async fn create(
    api: Api,
    backend: Backend,
    body: web::Json<CreateOrganization>,
) -> ApiResult<HttpResponse> {
    backend.require("organizations:write")?;
    let body = body.into_inner();
    let created = usecases::organizations::create(
        &api.core,
        &backend.actor,
        NewOrganization {
            name: body.name,
            owner_email: body.owner_email,
            owner_access: OwnerAccess::Invitation,
        },
    )
    .await?;
    let mut organization = created.organization;
    if let Some(settings) = body.settings.filter(|s| !s.invitations_enabled) {
        let scope = backend.organization(&api, &organization.uid).await?;
        let changes = OrganizationChanges {
            invitations_enabled: Some(settings.invitations_enabled),
            ..OrganizationChanges::default()
        };
        organization =
            usecases::organizations::update(&api.core, &backend.actor, &scope, &changes, None)
                .await?;
    }
    let owner = MemberRef {
        account_id: created.owner.uid,
        email: created.owner.email,
        status: created.owner_status.as_str().to_owned(),
    };
    let location = format!("/api/v1/organizations/{}", organization.uid);
    let mut res = json(
        StatusCode::CREATED,
        &CreatedOrganization {
            organization: Organization::from(organization),
            owner,
        },
    );
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&location) {
        res.headers_mut()
            .insert(actix_web::http::header::LOCATION, value);
    }
    Ok(res)
}

/// List the region's organizations, oldest first.
#[utoipa::path(tag = "organizations", params(ListOrganizations),
    responses((status = 200, body = inline(Page<Organization>)), (status = 401, body = Problem),
        (status = 403, body = Problem)),
    security(("backend" = ["organizations:read"])))]
#[get("/organizations")]
pub async fn list(
    api: Api,
    backend: Backend,
    query: web::Query<ListOrganizations>,
) -> ApiResult<HttpResponse> {
    backend.require("organizations:read")?;
    let limit = paging::limit(query.limit)?;
    let after = paging::decode("organizations", query.cursor.as_deref())?.map(OrgId);
    let rows = organizations::list(
        api.core.db(),
        &backend.principal,
        query.name_prefix.as_deref(),
        after,
        limit + 1,
    )
    .await?;
    let page = paging::page(rows, limit, "organizations", |o| o.id.0, Organization::from);
    Ok(json(StatusCode::OK, &page))
}

/// Read an organization (its `ETag` is what `If-Match` compares).
#[utoipa::path(tag = "organizations", params(("id" = String, Path, description = "Organization id")),
    responses((status = 200, body = Organization), (status = 404, body = Problem)),
    security(("backend" = ["organizations:read"])))]
#[get("/organizations/{id}")]
pub async fn get_one(api: Api, backend: Backend, id: web::Path<String>) -> ApiResult<HttpResponse> {
    backend.require("organizations:read")?;
    let scope = backend.organization(&api, &id).await?;
    let org = organizations::get(api.core.db(), &scope).await?;
    let at = org.updated_at;
    Ok(with_etag(&Organization::from(org), at))
}

/// Change an organization's name or settings. With `If-Match`, only if it is unchanged since.
#[utoipa::path(tag = "organizations", request_body = UpdateOrganization,
    params(("id" = String, Path, description = "Organization id"),
        ("If-Match" = Option<String>, Header, description = "The ETag read")),
    responses((status = 200, body = Organization), (status = 400, body = Problem),
        (status = 404, body = Problem), (status = 412, body = Problem)),
    security(("backend" = ["organizations:write"])))]
#[patch("/organizations/{id}")]
pub async fn update(
    api: Api,
    backend: Backend,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Json<UpdateOrganization>,
) -> ApiResult<HttpResponse> {
    backend.require("organizations:write")?;
    let scope = backend.organization(&api, &id).await?;
    let body = body.into_inner();
    let changes = OrganizationChanges {
        name: body.name,
        invitations_enabled: body.settings.and_then(|s| s.invitations_enabled),
    };
    let expected = if_match(&req)?;
    let org =
        usecases::organizations::update(&api.core, &backend.actor, &scope, &changes, expected)
            .await?;
    let at = org.updated_at;
    Ok(with_etag(&Organization::from(org), at))
}

/// `DELETE /organizations/{id}` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConfirmDelete {
    /// The organization's id again: a delete is never an accident.
    pub confirm: Option<String>,
}

/// Delete an organization: its memberships, SCIM users and groups, mappings, tokens, connected
/// IdPs and stacks go; accounts stay. Confirm with `?confirm=<id>`.
#[utoipa::path(tag = "organizations",
    params(("id" = String, Path, description = "Organization id"), ConfirmDelete,
        ("If-Match" = Option<String>, Header, description = "The ETag read")),
    responses((status = 204), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 412, body = Problem)),
    security(("backend" = ["organizations:write"])))]
#[delete("/organizations/{id}")]
pub async fn remove(
    api: Api,
    backend: Backend,
    req: HttpRequest,
    id: web::Path<String>,
    query: web::Query<ConfirmDelete>,
) -> ApiResult<HttpResponse> {
    backend.require("organizations:write")?;
    let scope = backend.organization(&api, &id).await?;
    let org = organizations::get(api.core.db(), &scope).await?;
    check_if_match(&req, org.updated_at)?;
    let confirm = query
        .confirm
        .as_deref()
        .ok_or_else(|| Problem::invalid("confirm the deletion with ?confirm=<organization id>"))?;
    usecases::organizations::delete(&api.core, &backend.actor, &scope, confirm).await?;
    Ok(HttpResponse::NoContent().finish())
}
