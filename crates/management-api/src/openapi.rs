//! The OpenAPI 3.1 document of `/api/v1`, generated from the handlers' annotations (paths from
//! their actix route attributes, schemas from the request and response types), so it cannot
//! disagree with what the API does.

use utoipa::openapi::security::{ClientCredentials, Flow, OAuth2, Scopes, SecurityScheme};
use utoipa::openapi::{Components, InfoBuilder, OpenApi, Server, Tag};
use utoipa_actix_web::OpenApiFactory;
use utoipa_actix_web::scope::Scope;

use crate::handlers::{
    accounts, directory, events, invitations, members, organizations, portal, roles, scim_requests,
    stacks, webhooks,
};

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
        .service(invitations::list)
        .service(invitations::resend)
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
        .service(scim_requests::list)
        .service(portal::create)
        .service(events::list)
        .service(events::redeliver)
        .service(webhooks::create)
        .service(webhooks::list)
        .service(webhooks::get_one)
        .service(webhooks::update)
        .service(webhooks::remove)
        .service(webhooks::rotate_secret)
        .service(webhooks::deliveries)
        .service(webhooks::recover)
        .service(webhooks::test)
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
                 links; the change feed (events) and its webhooks. Errors are RFC 9457 problem details; POSTs honour Idempotency-Key; \
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
                "SCIM connection, synced groups, group mappings and the SCIM request log",
            ),
            ("portal", "Links for a customer's IT admin"),
            ("events", "The change feed: every change, in commit order"),
            ("webhooks", "Endpoints the change feed is pushed to"),
        ]
        .into_iter()
        .map(|(name, what)| {
            let mut tag = Tag::new(name);
            tag.description = Some(what.to_owned());
            tag
        })
        .collect(),
    );
    let mut doc = serde_json::to_value(&api).unwrap_or_default();
    problems_everywhere(&mut doc);
    doc.to_string()
}

/// Errors are `application/problem+json`, and any operation may answer a problem the annotation
/// did not list (a 401, a 415, a 503): every error response is declared with that media type and
/// every operation gets a `default` problem response.
fn problems_everywhere(doc: &mut serde_json::Value) {
    let problem = serde_json::json!({"description": "An RFC 9457 problem",
        "content": {crate::problem::PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) else {
        return;
    };
    for item in paths.values_mut() {
        let Some(operations) = item.as_object_mut() else {
            continue;
        };
        for operation in operations.values_mut() {
            let Some(responses) = operation
                .get_mut("responses")
                .and_then(|r| r.as_object_mut())
            else {
                continue;
            };
            for (status, response) in responses.iter_mut() {
                if status.starts_with('4') || status.starts_with('5') {
                    *response = problem.clone();
                }
            }
            responses.insert("default".to_owned(), problem.clone());
        }
    }
}
