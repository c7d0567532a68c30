//! `/roles`: the role catalog the SaaS product defines.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use store::repo::role_catalog::{NewRole, RoleChanges, RoleKind};

use super::{Api, json};
use crate::auth::Backend;
use crate::dto::{CreateRole, Role, RoleCatalog, UpdateRole};
use crate::problem::{ApiResult, Kind, Problem};

/// Read the catalog: organization roles and stack roles, least privileged first.
#[utoipa::path(tag = "roles", responses((status = 200, body = RoleCatalog)),
    security(("backend" = ["roles:read"])))]
#[get("/roles")]
pub async fn list(api: Api, backend: Backend) -> ApiResult<HttpResponse> {
    backend.require("roles:read")?;
    let catalog = usecases::roles::catalog(&api.core).await?;
    Ok(json(
        StatusCode::OK,
        &RoleCatalog {
            organization: catalog
                .organization_roles()
                .iter()
                .cloned()
                .map(Role::from)
                .collect(),
            stack: catalog
                .stack_roles()
                .iter()
                .cloned()
                .map(Role::from)
                .collect(),
        },
    ))
}

/// Add a role.
#[utoipa::path(tag = "roles", request_body = CreateRole,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    responses((status = 201, body = Role), (status = 400, body = Problem), (status = 409, body = Problem)),
    security(("backend" = ["roles:write"])))]
#[post("/roles")]
pub async fn create(
    api: Api,
    backend: Backend,
    body: web::Json<CreateRole>,
) -> ApiResult<HttpResponse> {
    backend.require("roles:write")?;
    let body = body.into_inner();
    let new = NewRole {
        kind: body.kind.parse()?,
        key: body.key,
        name: body.name,
        description: body.description,
        rank: body.rank,
        manages_scim: body.manages_scim,
    };
    let role = usecases::roles::create(&api.core, &backend.actor, new).await?;
    Ok(json(StatusCode::CREATED, &Role::from(role)))
}

/// Change a role's name, description, rank or SCIM flag.
#[utoipa::path(tag = "roles", request_body = UpdateRole,
    params(("kind" = String, Path, description = "organization or stack"),
        ("key" = String, Path, description = "The role's key")),
    responses((status = 200, body = Role), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("backend" = ["roles:write"])))]
#[patch("/roles/{kind}/{key}")]
pub async fn update(
    api: Api,
    backend: Backend,
    path: web::Path<(String, String)>,
    body: web::Json<UpdateRole>,
) -> ApiResult<HttpResponse> {
    backend.require("roles:write")?;
    let (kind, key) = path.into_inner();
    let kind: RoleKind = kind.parse()?;
    let body = body.into_inner();
    let changes = RoleChanges {
        name: body.name,
        description: body.description,
        rank: body.rank,
        manages_scim: body.manages_scim,
    };
    let role = usecases::roles::update(&api.core, &backend.actor, kind, &key, &changes).await?;
    Ok(json(StatusCode::OK, &Role::from(role)))
}

/// Remove a role nothing uses. A role in use is refused (409 `role-in-use`) with `used_by`
/// counting the memberships, group mappings and stack roles that hold it.
#[utoipa::path(tag = "roles",
    params(("kind" = String, Path, description = "organization or stack"),
        ("key" = String, Path, description = "The role's key")),
    responses((status = 204), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)),
    security(("backend" = ["roles:write"])))]
#[delete("/roles/{kind}/{key}")]
pub async fn remove(
    api: Api,
    backend: Backend,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    backend.require("roles:write")?;
    let (kind, key) = path.into_inner();
    let kind: RoleKind = kind.parse()?;
    match usecases::roles::delete(&api.core, &backend.actor, kind, &key).await? {
        Ok(()) => Ok(HttpResponse::NoContent().finish()),
        Err(in_use) => Err(Problem::new(
            Kind::RoleInUse,
            format!("the role '{key}' is in use; change what uses it first"),
        )
        .with("used_by", in_use.0)),
    }
}
