//! The discovery documents — ServiceProviderConfig, ResourceTypes, Schemas — generated from
//! scim-core's schema definitions, so they can never disagree with what the API does.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use scim_core::error::ScimError;
use serde_json::{Value, json};

use crate::ScimApi;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::handlers::scim_response;

type Api = web::Data<ScimApi>;

fn list(resources: Vec<Value>) -> HttpResponse {
    let body = json!({
        "schemas": [scim_core::schema::LIST_RESPONSE],
        "totalResults": resources.len(),
        "itemsPerPage": resources.len(),
        "startIndex": 1,
        "Resources": resources,
    });
    scim_response(StatusCode::OK, &body)
}

fn find(resources: Vec<Value>, id: &str, what: &str) -> ApiResult<HttpResponse> {
    resources
        .into_iter()
        .find(|r| r.get("id").and_then(Value::as_str) == Some(id))
        .map(|r| scim_response(StatusCode::OK, &r))
        .ok_or_else(|| ScimError::not_found(format!("{what} {id} not found")).into())
}

/// `GET /ServiceProviderConfig`.
pub async fn service_provider_config(api: Api, caller: Caller) -> ApiResult<HttpResponse> {
    let settings = &api.settings;
    let base = api.base_url(caller.scope.org_uid());
    let max_results = u32::try_from(settings.paging.max_results).unwrap_or(u32::MAX);
    let default_count = u32::try_from(settings.paging.default_count).unwrap_or(u32::MAX);
    let document = scim_core::service_provider::ServiceProviderConfigBuilder::new()
        .documentation_uri(settings.documentation_uri.clone())
        .bulk(
            u32::try_from(settings.bulk_max_operations).unwrap_or(u32::MAX),
            u64::try_from(settings.bulk_max_payload).unwrap_or(u64::MAX),
        )
        .filter(Some(max_results))
        .sort(true)
        .pagination(
            true,
            true,
            default_count,
            max_results,
            u64::try_from(settings.paging.cursor_ttl.num_seconds()).unwrap_or(0),
        )
        .location(format!("{base}/ServiceProviderConfig"))
        .build();
    Ok(scim_response(StatusCode::OK, &document))
}

/// `GET /ResourceTypes`.
pub async fn resource_types(api: Api, caller: Caller) -> ApiResult<HttpResponse> {
    Ok(list(scim_core::schema::resource_types_document(
        &api.base_url(caller.scope.org_uid()),
    )))
}

/// `GET /ResourceTypes/{id}`.
pub async fn resource_type(
    api: Api,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    find(
        scim_core::schema::resource_types_document(&api.base_url(caller.scope.org_uid())),
        &path.1,
        "ResourceType",
    )
}

/// `GET /Schemas`.
pub async fn schemas(api: Api, caller: Caller) -> ApiResult<HttpResponse> {
    Ok(list(scim_core::schema::schemas_document(
        &api.base_url(caller.scope.org_uid()),
    )))
}

/// `GET /Schemas/{id}`.
pub async fn schema(
    api: Api,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    find(
        scim_core::schema::schemas_document(&api.base_url(caller.scope.org_uid())),
        &path.1,
        "Schema",
    )
}
