//! The management API, `/api/v1`: what the SaaS product that deploys scimgate reads and changes —
//! organizations, members with their effective roles and where each comes from, accounts, the
//! role catalog, stacks, directory state and group mappings, portal links for a customer's IT
//! admin. Authenticated with the OAuth client-credentials grant (backend clients); errors are
//! RFC 9457 problem details; every POST honours `Idempotency-Key`; updates honour `If-Match`;
//! the OpenAPI 3.1 document is generated from the handlers and served at `/api/v1/openapi.json`.
#![deny(missing_docs)]

pub mod auth;
pub mod dto;
pub mod handlers;
pub mod idempotency;
pub mod openapi;
pub mod paging;
pub mod problem;

use std::sync::Arc;

use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, HttpResponse, web};
use token_service::TokenService;
use usecases::Core;

use crate::problem::{Kind, Problem};

/// Largest request body the API reads.
const BODY_LIMIT: usize = 64 * 1024;

/// URLs the API hands out.
#[derive(Debug, Clone)]
pub struct ManagementSettings {
    /// Where browsers reach this region (portal links open there).
    pub app_url: String,
    /// The region's auth API URL (the SCIM Base URL starts with it).
    pub auth_api_url: String,
}

/// The management API's state.
#[derive(Debug, Clone)]
pub struct ManagementApi {
    /// The use cases.
    pub core: Core,
    /// Verifies backend clients' access tokens.
    pub tokens: TokenService,
    /// URLs.
    pub settings: Arc<ManagementSettings>,
    openapi: Arc<String>,
}

impl ManagementApi {
    /// The API over the region's use cases and token service.
    pub fn new(core: Core, tokens: TokenService, settings: ManagementSettings) -> Self {
        let openapi = openapi::document(&settings.auth_api_url);
        Self {
            core,
            tokens,
            settings: Arc::new(settings),
            openapi: Arc::new(openapi),
        }
    }

    /// Mounts `/api/v1`.
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        cfg.service(self.scope());
    }

    fn scope(&self) -> impl actix_web::dev::HttpServiceFactory + use<> {
        let openapi = self.openapi.clone();
        openapi::routes()
            .app_data(web::Data::new(self.clone()))
            .app_data(
                web::JsonConfig::default()
                    .limit(BODY_LIMIT)
                    .error_handler(json_error),
            )
            .app_data(web::QueryConfig::default().error_handler(query_error))
            .app_data(web::PathConfig::default().error_handler(path_error))
            .app_data(web::PayloadConfig::new(BODY_LIMIT))
            .route(
                "/openapi.json",
                web::get().to(move || {
                    let body = openapi.clone();
                    async move {
                        HttpResponse::Ok()
                            .content_type("application/json")
                            .body(body.as_str().to_owned())
                    }
                }),
            )
            .default_service(web::to(unknown_route))
            .wrap(from_fn(idempotency::idempotent))
    }
}

fn json_error(err: actix_web::error::JsonPayloadError, _: &HttpRequest) -> actix_web::Error {
    use actix_web::error::JsonPayloadError;
    let problem = match &err {
        JsonPayloadError::ContentType => Problem::new(
            Kind::UnsupportedMediaType,
            "send the body as application/json",
        ),
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            Problem::invalid(format!("the body is larger than {BODY_LIMIT} bytes"))
        }
        _ => Problem::invalid(format!("the body is not valid: {err}")),
    };
    problem.into()
}

fn query_error(err: actix_web::error::QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    Problem::invalid(format!("the query string is not valid: {err}")).into()
}

fn path_error(err: actix_web::error::PathError, _: &HttpRequest) -> actix_web::Error {
    Problem::not_found(format!("no such resource: {err}")).into()
}

async fn unknown_route(req: HttpRequest) -> Result<HttpResponse, Problem> {
    Err(Problem::not_found(format!(
        "no endpoint {} {} (see /api/v1/openapi.json)",
        req.method(),
        req.path()
    )))
}
