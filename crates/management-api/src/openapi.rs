//! The OpenAPI 3.1 document of `/api/v1`, generated from the handlers' annotations (paths from
//! their actix route attributes, schemas from the request and response types), so it cannot
//! disagree with what the API does.

use utoipa::openapi::security::{ClientCredentials, Flow, OAuth2, Scopes, SecurityScheme};
use utoipa::openapi::{Components, InfoBuilder, OpenApi, Server, Tag};
use utoipa_actix_web::OpenApiFactory;
use utoipa_actix_web::scope::Scope;

use crate::handlers::{accounts, directory, members, organizations, portal, roles, stacks};

/// Every route of `/api/v1` (except the document itself), as one scope that also knows its paths
/// and schemas.
pub fn routes() -> Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    utoipa_actix_web::scope("/api/v1")
        .service(organizations::create)
        .service(organizations::list)
        .service(organizations::get_one)
        .service(organizations::update)
        .service(organizations::remove)
        .service(members::list)
        .service(members::get_one)
        .service(members::add)
        .service(members::update)
        .service(members::remove)
        .service(accounts::find)
        .service(roles::list)
        .service(roles::create)
        .service(roles::update)
        .service(roles::remove)
        .service(stacks::list)
        .service(stacks::create)
        .service(stacks::rename)
        .service(stacks::remove)
        .service(directory::get_state)
        .service(directory::update)
        .service(directory::groups)
        .service(directory::mappings)
        .service(directory::set_mapping)
        .service(directory::remove_mapping)
        .service(portal::create)
}

/// The document, as JSON.
pub fn document(auth_api_url: &str) -> String {
    let scope = routes();
    let paths = scope.paths();
    let mut schemas = Vec::new();
    scope.schemas(&mut schemas);
    let mut components = Components::new();
    components.schemas.extend(schemas);
    let scopes = Scopes::from_iter(
        usecases::backend_clients::SCOPES
            .iter()
            .map(|(name, what)| (*name, *what)),
    );
    components.add_security_scheme(
        "backend",
        SecurityScheme::OAuth2(OAuth2::with_description(
            [Flow::ClientCredentials(ClientCredentials::new(
                format!("{auth_api_url}/oauth/token"),
                scopes,
            ))],
            "A backend client's access token (client credentials grant at the token endpoint).",
        )),
    );
    let mut api = OpenApi::new(
        InfoBuilder::new()
            .title("scimgate management API")
            .version("1.0.0")
            .description(Some(
                "What the SaaS product reads and changes: organizations, members with effective \
                 roles, the role catalog, stacks, directory state, group mappings and portal \
                 links. Errors are RFC 9457 problem details; POSTs honour Idempotency-Key; \
                 updates honour If-Match.",
            ))
            .build(),
        paths,
    );
    api.components = Some(components);
    api.servers = Some(vec![Server::new(auth_api_url)]);
    api.tags = Some(
        [
            ("organizations", "The region's organizations"),
            ("members", "Members and their effective roles"),
            ("accounts", "Accounts across the region"),
            ("roles", "The role catalog"),
            ("stacks", "An organization's stacks (workspaces)"),
            (
                "directory",
                "SCIM connection, synced groups and group mappings",
            ),
            ("portal", "Links for a customer's IT admin"),
        ]
        .into_iter()
        .map(|(name, what)| {
            let mut tag = Tag::new(name);
            tag.description = Some(what.to_owned());
            tag
        })
        .collect(),
    );
    api.to_json().unwrap_or_else(|_| "{}".to_owned())
}
