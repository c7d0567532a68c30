//! `/organizations/{id}/stacks`: an organization's workspaces.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use store::repo::stacks;

use super::{Api, json};
use crate::auth::Backend;
use crate::dto::{Stack, StackName};
use crate::paging::Page;
use crate::problem::{ApiResult, Problem};

/// List the organization's stacks by name (one page: an organization has few).
#[utoipa::path(tag = "stacks", params(("id" = String, Path, description = "Organization id")),
    responses((status = 200, body = inline(Page<Stack>)), (status = 404, body = Problem)),
    security(("backend" = ["organizations:read"])))]
#[get("/organizations/{id}/stacks")]
pub async fn list(api: Api, backend: Backend, id: web::Path<String>) -> ApiResult<HttpResponse> {
    backend.require("organizations:read")?;
    let scope = backend.organization(&api, &id).await?;
    let data: Vec<Stack> = stacks::list(api.core.db(), &scope)
        .await?
        .into_iter()
        .map(Stack::from)
        .collect();
    Ok(json(
        StatusCode::OK,
        &Page {
            data,
            next_cursor: None,
        },
    ))
}

/// Create a stack.
#[utoipa::path(tag = "stacks", request_body = StackName,
    params(("id" = String, Path, description = "Organization id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    responses((status = 201, body = Stack), (status = 400, body = Problem), (status = 409, body = Problem)),
    security(("backend" = ["organizations:write"])))]
#[post("/organizations/{id}/stacks")]
pub async fn create(
    api: Api,
    backend: Backend,
    id: web::Path<String>,
    body: web::Json<StackName>,
) -> ApiResult<HttpResponse> {
    backend.require("organizations:write")?;
    let scope = backend.organization(&api, &id).await?;
    let stack = usecases::stacks::create(&api.core, &backend.actor, &scope, &body.name).await?;
    Ok(json(StatusCode::CREATED, &Stack::from(stack)))
}

/// Rename a stack.
#[utoipa::path(tag = "stacks", request_body = StackName,
    params(("id" = String, Path, description = "Organization id"),
        ("stack_id" = String, Path, description = "Stack id")),
    responses((status = 200, body = Stack), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("backend" = ["organizations:write"])))]
#[patch("/organizations/{id}/stacks/{stack_id}")]
pub async fn rename(
    api: Api,
    backend: Backend,
    path: web::Path<(String, String)>,
    body: web::Json<StackName>,
) -> ApiResult<HttpResponse> {
    backend.require("organizations:write")?;
    let (org, stack) = path.into_inner();
    let scope = backend.organization(&api, &org).await?;
    let stack =
        usecases::stacks::rename(&api.core, &backend.actor, &scope, &stack, &body.name).await?;
    Ok(json(StatusCode::OK, &Stack::from(stack)))
}

/// Delete a stack with every role on it (members' effective roles are recomputed).
#[utoipa::path(tag = "stacks",
    params(("id" = String, Path, description = "Organization id"),
        ("stack_id" = String, Path, description = "Stack id")),
    responses((status = 204), (status = 404, body = Problem)),
    security(("backend" = ["organizations:write"])))]
#[delete("/organizations/{id}/stacks/{stack_id}")]
pub async fn remove(
    api: Api,
    backend: Backend,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    backend.require("organizations:write")?;
    let (org, stack) = path.into_inner();
    let scope = backend.organization(&api, &org).await?;
    usecases::stacks::delete(&api.core, &backend.actor, &scope, &stack).await?;
    Ok(HttpResponse::NoContent().finish())
}
