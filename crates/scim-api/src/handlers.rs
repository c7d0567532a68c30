//! The routes of one organization's SCIM API and their thin handlers: parse, call the service,
//! shape the response (status, `Location`, `ETag`, `application/scim+json`).

use std::collections::HashMap;

use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{HttpRequest, HttpResponse, web};
use scim_core::error::ScimError;
use scim_core::patch::PatchRequest;
use scim_core::schema::ResourceSchema;
use serde_json::Value;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, SCIM_JSON};
use crate::{ScimApi, ScimSettings, bulk, discovery};
use usecases::scim::list::{ListRequest, Page};
use usecases::scim::{Ctx, groups, list, users};

type Api = web::Data<ScimApi>;
type Query = web::Query<HashMap<String, String>>;

/// A SCIM JSON response.
pub fn scim_response(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON)))
        .body(body.to_string())
}

/// A SCIM JSON response that also hands `body` itself to the request log
/// ([`crate::request_log::ResponseJson`]), which then need not parse the text back.
fn owned_scim_response(status: StatusCode, body: Value) -> HttpResponse {
    let text = web::Bytes::from(body.to_string());
    let mut res = HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON)))
        .body(text.clone());
    res.extensions_mut()
        .insert(crate::request_log::ResponseJson::new(body, text));
    res
}

fn with_etag(mut res: HttpResponse, resource: &Value) -> HttpResponse {
    let tag = resource.pointer("/meta/version").and_then(Value::as_str);
    if let Some(value) = tag.and_then(|t| HeaderValue::from_str(t).ok()) {
        res.headers_mut().insert(header::ETAG, value);
    }
    res
}

fn created(resource: Value) -> HttpResponse {
    let location = resource
        .pointer("/meta/location")
        .and_then(Value::as_str)
        .and_then(|l| HeaderValue::from_str(l).ok());
    let etag = resource
        .pointer("/meta/version")
        .and_then(Value::as_str)
        .and_then(|t| HeaderValue::from_str(t).ok());
    let mut res = owned_scim_response(StatusCode::CREATED, resource);
    if let Some(value) = etag {
        res.headers_mut().insert(header::ETAG, value);
    }
    if let Some(value) = location {
        res.headers_mut().insert(header::LOCATION, value);
    }
    res
}

fn header_text(req: &HttpRequest, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Parses a request body: `application/scim+json` or `application/json` (any parameters), or no
/// content type at all; anything else is refused.
pub fn parse_body(req: &HttpRequest, body: &[u8]) -> ApiResult<Value> {
    if let Some(content_type) = header_text(req, header::CONTENT_TYPE) {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if essence != "application/scim+json" && essence != "application/json" {
            return Err(ScimError::new(415, None, format!(
                "Content-Type {content_type} is not supported; send application/scim+json or application/json"
            ))
            .into());
        }
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ScimError::invalid_syntax("the request body is empty").into());
    }
    serde_json::from_slice(body)
        .map_err(|e| ScimError::invalid_syntax(format!("the body is not valid JSON: {e}")).into())
}

/// The `{id}` of `/Users/{id}` or `/Groups/{id}`. An id no resource can have — one with a NUL,
/// which PostgreSQL cannot even compare, or longer than any stored id — is answered 404 without
/// asking the database, the same on both backends.
pub fn resource_id<'a>(kind: &str, id: &'a str) -> ApiResult<&'a str> {
    if id.contains('\0') || id.len() > scim_core::limits::MAX_INDEXED_BYTES {
        return Err(ScimError::not_found(format!("{kind} not found")).into());
    }
    Ok(id)
}

fn parse_patch(req: &HttpRequest, body: &[u8]) -> ApiResult<PatchRequest> {
    let value = parse_body(req, body)?;
    serde_json::from_value(value)
        .map_err(|e| ScimError::invalid_syntax(format!("not a PatchOp request: {e}")).into())
}

fn list_response(page: Page) -> HttpResponse {
    let list = match page.start_index {
        Some(start) => scim_core::list::ListResponse::indexed(page.resources, page.total, start),
        None => {
            scim_core::list::ListResponse::with_cursor(page.resources, page.total, page.next_cursor)
        }
    };
    // Written without a `ResponseJson`: a page is usually longer than the log keeps, and a
    // short one (an IdP's `userName eq` lookup) is parsed back by the log once.
    HttpResponse::build(StatusCode::OK)
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON)))
        .body(list.to_json())
}

/// Answers a GET: 304 when `If-None-Match` names the current version, else the projected resource.
fn get_response(
    req: &HttpRequest,
    resource: Value,
    etag: &str,
    schema: &ResourceSchema,
    query: &Query,
) -> ApiResult<HttpResponse> {
    if header_text(req, header::IF_NONE_MATCH)
        .is_some_and(|t| t.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        let mut res = HttpResponse::NotModified().finish();
        if let Ok(value) = HeaderValue::from_str(etag) {
            res.headers_mut().insert(header::ETAG, value);
        }
        return Ok(res);
    }
    let projection = ListRequest::from_query(query)?.projection(schema)?;
    let projected = projection.apply(&resource, schema);
    Ok(with_etag(
        owned_scim_response(StatusCode::OK, projected),
        &resource,
    ))
}

/// The resource after a write, projected by the request's `attributes`/`excludedAttributes`.
fn write_response(
    resource: Value,
    schema: &ResourceSchema,
    query: &Query,
) -> ApiResult<HttpResponse> {
    let projection = ListRequest::from_query(query)?.projection(schema)?;
    let projected = projection.apply(&resource, schema);
    Ok(with_etag(
        owned_scim_response(StatusCode::OK, projected),
        &resource,
    ))
}

fn wants_minimal(req: &HttpRequest) -> bool {
    header_text(req, header::HeaderName::from_static("prefer"))
        .is_some_and(|p| p.contains("return=minimal"))
}

/// Whether the request names `attributes` or `excludedAttributes` (any case).
fn asks_projection(query: &Query) -> bool {
    query.keys().any(|k| {
        k.eq_ignore_ascii_case("attributes") || k.eq_ignore_ascii_case("excludedAttributes")
    })
}

fn wants(query: &Query, schema: &ResourceSchema, attribute: &str) -> ApiResult<bool> {
    Ok(ListRequest::from_query(query)?
        .projection(schema)?
        .wants_attribute(attribute))
}

/// A resource type as the handlers see it: its schema, the relation kept as rows (`groups` of a
/// user, `members` of a group, loaded only when the projection wants it), and its service.
trait Kind: 'static {
    const NAME: &'static str;
    const RELATED: &'static str;
    /// A PATCH without `attributes`/`excludedAttributes` answers 204 No Content (RFC 7644
    /// §3.5.2), so its cost does not grow with the relation (a group's members).
    const PATCH_NO_CONTENT: bool;
    fn schema() -> &'static ResourceSchema;
    async fn list(ctx: Ctx<'_>, request: &ListRequest) -> usecases::Result<Page>;
    async fn create(ctx: Ctx<'_>, body: Value) -> usecases::Result<Value>;
    async fn get(ctx: Ctx<'_>, id: &str, related: bool) -> usecases::Result<(Value, String)>;
    async fn replace(
        ctx: Ctx<'_>,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        related: bool,
    ) -> usecases::Result<Value>;
    async fn patch(
        ctx: Ctx<'_>,
        id: &str,
        patch: &PatchRequest,
        if_match: Option<&str>,
        related: bool,
    ) -> usecases::Result<Value>;
    async fn delete(ctx: Ctx<'_>, id: &str, if_match: Option<&str>) -> usecases::Result<()>;
}

/// `/Users`.
struct Users;
/// `/Groups`.
struct Groups;

impl Kind for Users {
    const NAME: &'static str = "User";
    const RELATED: &'static str = "groups";
    const PATCH_NO_CONTENT: bool = false;
    fn schema() -> &'static ResourceSchema {
        ResourceSchema::user()
    }
    async fn list(ctx: Ctx<'_>, request: &ListRequest) -> usecases::Result<Page> {
        list::users(ctx, request).await
    }
    async fn create(ctx: Ctx<'_>, body: Value) -> usecases::Result<Value> {
        users::create(ctx, body).await
    }
    async fn get(ctx: Ctx<'_>, id: &str, related: bool) -> usecases::Result<(Value, String)> {
        users::get(ctx, id, related).await
    }
    // A user's groups are few: writes always answer with them.
    async fn replace(
        ctx: Ctx<'_>,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        _: bool,
    ) -> usecases::Result<Value> {
        users::replace(ctx, id, body, if_match).await
    }
    async fn patch(
        ctx: Ctx<'_>,
        id: &str,
        patch: &PatchRequest,
        if_match: Option<&str>,
        _: bool,
    ) -> usecases::Result<Value> {
        users::patch(ctx, id, patch, if_match).await
    }
    async fn delete(ctx: Ctx<'_>, id: &str, if_match: Option<&str>) -> usecases::Result<()> {
        users::delete(ctx, id, if_match).await
    }
}

impl Kind for Groups {
    const NAME: &'static str = "Group";
    const RELATED: &'static str = "members";
    const PATCH_NO_CONTENT: bool = true;
    fn schema() -> &'static ResourceSchema {
        ResourceSchema::group()
    }
    async fn list(ctx: Ctx<'_>, request: &ListRequest) -> usecases::Result<Page> {
        list::groups(ctx, request).await
    }
    async fn create(ctx: Ctx<'_>, body: Value) -> usecases::Result<Value> {
        groups::create(ctx, body).await
    }
    async fn get(ctx: Ctx<'_>, id: &str, related: bool) -> usecases::Result<(Value, String)> {
        groups::get(ctx, id, related).await
    }
    async fn replace(
        ctx: Ctx<'_>,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        related: bool,
    ) -> usecases::Result<Value> {
        groups::replace(ctx, id, body, if_match, related).await
    }
    async fn patch(
        ctx: Ctx<'_>,
        id: &str,
        patch: &PatchRequest,
        if_match: Option<&str>,
        related: bool,
    ) -> usecases::Result<Value> {
        groups::patch(ctx, id, patch, if_match, related).await
    }
    async fn delete(ctx: Ctx<'_>, id: &str, if_match: Option<&str>) -> usecases::Result<()> {
        groups::delete(ctx, id, if_match).await
    }
}

async fn list_resources<K: Kind>(
    api: Api,
    caller: Caller,
    query: Query,
) -> ApiResult<HttpResponse> {
    let ctx = caller.ctx(&api);
    Ok(list_response(
        K::list(ctx, &ListRequest::from_query(&query)?).await?,
    ))
}

async fn search_resources<K: Kind>(
    api: Api,
    caller: Caller,
    req: HttpRequest,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let request = ListRequest::from_search(&parse_body(&req, &body)?)?;
    Ok(list_response(K::list(caller.ctx(&api), &request).await?))
}

async fn create_resource<K: Kind>(
    api: Api,
    caller: Caller,
    req: HttpRequest,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let resource = K::create(caller.ctx(&api), parse_body(&req, &body)?).await?;
    Ok(created(resource))
}

async fn get_resource<K: Kind>(
    api: Api,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<(String, String)>,
    query: Query,
) -> ApiResult<HttpResponse> {
    let related = wants(&query, K::schema(), K::RELATED)?;
    let (resource, etag) = K::get(caller.ctx(&api), resource_id(K::NAME, &id.1)?, related).await?;
    get_response(&req, resource, &etag, K::schema(), &query)
}

async fn replace_resource<K: Kind>(
    api: Api,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<(String, String)>,
    query: Query,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let body = parse_body(&req, &body)?;
    let related = wants(&query, K::schema(), K::RELATED)?;
    let if_match = header_text(&req, header::IF_MATCH);
    let resource = K::replace(
        caller.ctx(&api),
        resource_id(K::NAME, &id.1)?,
        &body,
        if_match,
        related,
    )
    .await?;
    write_response(resource, K::schema(), &query)
}

async fn patch_resource<K: Kind>(
    api: Api,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<(String, String)>,
    query: Query,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let patch = parse_patch(&req, &body)?;
    let minimal = wants_minimal(&req) || (K::PATCH_NO_CONTENT && !asks_projection(&query));
    let related = !minimal && wants(&query, K::schema(), K::RELATED)?;
    let if_match = header_text(&req, header::IF_MATCH);
    let resource = K::patch(
        caller.ctx(&api),
        resource_id(K::NAME, &id.1)?,
        &patch,
        if_match,
        related,
    )
    .await?;
    if minimal {
        return Ok(with_etag(HttpResponse::NoContent().finish(), &resource));
    }
    write_response(resource, K::schema(), &query)
}

async fn delete_resource<K: Kind>(
    api: Api,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    K::delete(
        caller.ctx(&api),
        resource_id(K::NAME, &id.1)?,
        header_text(&req, header::IF_MATCH),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The routes of one resource type under `/{name}`.
fn resource_routes<K: Kind>(
    name: &str,
) -> (
    actix_web::Resource,
    actix_web::Resource,
    actix_web::Resource,
) {
    use web::{delete, get, patch, post, put, resource, to};
    (
        resource(format!("/{name}"))
            .route(get().to(list_resources::<K>))
            .route(post().to(create_resource::<K>))
            .default_service(to(method_not_allowed)),
        resource(format!("/{name}/.search"))
            .route(post().to(search_resources::<K>))
            .default_service(to(method_not_allowed)),
        resource(format!("/{name}/{{id}}"))
            .route(get().to(get_resource::<K>))
            .route(put().to(replace_resource::<K>))
            .route(patch().to(patch_resource::<K>))
            .route(delete().to(delete_resource::<K>))
            .default_service(to(method_not_allowed)),
    )
}

/// `POST /.search` at the root: searches Users and Groups together, Users first.
async fn search_all(
    api: Api,
    caller: Caller,
    req: HttpRequest,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let request = ListRequest::from_search(&parse_body(&req, &body)?)?;
    let ctx = caller.ctx(&api);
    let mut everything = request.clone();
    everything.start_index = Some(1);
    everything.count = Some(i64::try_from(api.settings.paging.max_results).unwrap_or(i64::MAX));
    let users = list::users(ctx, &everything).await?;
    let groups = list::groups(ctx, &everything).await?;
    let total = users.total + groups.total;
    let start = u64::try_from(request.start_index.unwrap_or(1).max(1)).unwrap_or(1);
    let count = request
        .count
        .map_or(api.settings.paging.default_count, |c| {
            u64::try_from(c.max(0)).unwrap_or(0)
        })
        .min(api.settings.paging.max_results);
    let resources: Vec<scim_core::list::JsonText> = users
        .resources
        .into_iter()
        .chain(groups.resources)
        .skip(usize::try_from(start - 1).unwrap_or(usize::MAX))
        .take(usize::try_from(count).unwrap_or(usize::MAX))
        .collect();
    Ok(list_response(Page {
        total,
        start_index: Some(start),
        next_cursor: None,
        resources,
    }))
}

async fn me() -> ApiResult<HttpResponse> {
    Err(ScimError::new(
        501,
        None,
        "/Me is not supported: callers are identity providers, not users",
    )
    .into())
}

async fn method_not_allowed(req: HttpRequest) -> ApiResult<HttpResponse> {
    Err(ScimError::new(
        405,
        None,
        format!("{} is not allowed on {}", req.method(), req.path()),
    )
    .into())
}

/// A path under `/scim` that names no organization.
pub async fn no_organization(req: HttpRequest) -> ApiResult<HttpResponse> {
    Err(ScimError::not_found(format!(
        "no SCIM endpoint at {}; the SCIM Base URL of an organization is /scim/v2.0/organizations/{{ORG_UID}}",
        req.path()
    ))
    .into())
}

async fn not_found(req: HttpRequest) -> ApiResult<HttpResponse> {
    Err(ScimError::not_found(format!("no SCIM endpoint at {}", req.path())).into())
}

fn query_error(err: actix_web::error::QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    ApiError(ScimError::invalid_value(format!(
        "the query string is invalid: {err}"
    )))
    .into()
}

fn path_error(err: actix_web::error::PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError(ScimError::not_found(format!("invalid path: {err}"))).into()
}

/// Turns any error response that is not already a SCIM Error (one actix produced itself, such as a
/// body over the payload limit) into one with the same status.
fn as_scim_error<B: actix_web::body::MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_scim = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|c| c.as_bytes().starts_with(SCIM_JSON.as_bytes()));
    if is_scim || !(res.status().is_client_error() || res.status().is_server_error()) {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let detail = status
        .canonical_reason()
        .unwrap_or("request failed")
        .to_owned();
    let error = ApiError(ScimError::new(status.as_u16(), None, detail));
    let (req, _) = res.into_parts();
    let res = ServiceResponse::new(req, actix_web::ResponseError::error_response(&error));
    Ok(ErrorHandlerResponse::Response(res.map_into_right_body()))
}

/// The routes of one organization under `prefix`.
pub fn scope(
    prefix: &str,
    api: Api,
    settings: &ScimSettings,
) -> impl actix_web::dev::HttpServiceFactory + use<> {
    use web::{get, post, resource, to};
    let deny = || to(method_not_allowed);
    web::scope(prefix)
        .app_data(api)
        .app_data(web::QueryConfig::default().error_handler(query_error))
        .app_data(web::PathConfig::default().error_handler(path_error))
        // Bulk has its own, larger limit (its resource's configuration wins over this one).
        .app_data(web::PayloadConfig::new(settings.max_payload))
        .wrap(ErrorHandlers::new().default_handler(as_scim_error))
        .wrap(actix_web::middleware::from_fn(crate::guard::check_head))
        .wrap(actix_web::middleware::from_fn(crate::observe::count))
        // Outermost: refusals of the head and of the credential are logged too.
        .wrap(actix_web::middleware::from_fn(crate::request_log::record))
        .service(resource_routes::<Users>("Users"))
        .service(resource_routes::<Groups>("Groups"))
        .service(
            resource("/.search")
                .route(post().to(search_all))
                .default_service(deny()),
        )
        .service(
            resource("/Bulk")
                .app_data(web::PayloadConfig::new(settings.bulk_max_payload))
                .route(post().to(bulk::handle))
                .default_service(deny()),
        )
        .service(
            resource("/ServiceProviderConfig")
                .route(get().to(discovery::service_provider_config))
                .default_service(deny()),
        )
        .service(
            resource("/ResourceTypes")
                .route(get().to(discovery::resource_types))
                .default_service(deny()),
        )
        .service(
            resource("/ResourceTypes/{id}")
                .route(get().to(discovery::resource_type))
                .default_service(deny()),
        )
        .service(
            resource("/Schemas")
                .route(get().to(discovery::schemas))
                .default_service(deny()),
        )
        .service(
            resource("/Schemas/{id}")
                .route(get().to(discovery::schema))
                .default_service(deny()),
        )
        .service(resource("/Me").to(me))
        .default_service(to(not_found))
}
