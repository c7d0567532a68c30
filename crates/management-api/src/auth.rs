//! Who is calling: the `Authorization: Bearer` access token of a backend client, verified for the
//! management API's audience (an IdP's token or an organization API token is refused), and the
//! scope each operation needs. Organizations are reached only through the verified principal.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use store::OrgScope;
use store::repo::backend_clients::{self, BackendPrincipal};
use tracing_actix_web::RequestId;
use usecases::{Actor, ActorKind, ClientAddr};

use crate::ManagementApi;
use crate::problem::{ApiResult, Kind, Problem};

/// A verified backend client, for one request.
#[derive(Debug, Clone)]
pub struct Backend {
    /// What the client proved, narrowed to the token's scopes.
    pub principal: BackendPrincipal,
    /// The actor of everything this request does.
    pub actor: Actor,
}

impl Backend {
    /// Refuses the request unless the token holds `scope` (403 naming it).
    pub fn require(&self, scope: &str) -> ApiResult<()> {
        if self.principal.has_scope(scope) {
            Ok(())
        } else {
            Err(Problem::missing_scope(scope))
        }
    }

    /// The scope of an organization of this region (404 for any other id).
    pub async fn organization(&self, api: &ManagementApi, org_uid: &str) -> ApiResult<OrgScope> {
        backend_clients::scope_for(api.core.db(), &self.principal, org_uid)
            .await?
            .ok_or_else(|| Problem::not_found(format!("organization {org_uid} not found")))
    }

    async fn authenticate(req: HttpRequest) -> ApiResult<Self> {
        if let Some(known) = req.extensions().get::<Backend>() {
            return Ok(known.clone());
        }
        let api = req
            .app_data::<web::Data<ManagementApi>>()
            .cloned()
            .ok_or_else(|| Problem::new(Kind::Internal, "the management API is not mounted"))?;
        let header = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let token = token_service::bearer_token(header)?;
        let principal = token_service::verify::verify_backend(&api.tokens, token).await?;
        let actor = Actor::new(ActorKind::BackendClient(principal.client_id().to_owned()))
            .in_request(
                req.extensions().get::<RequestId>().map(ToString::to_string),
                ClientAddr::resolve(req.extensions().get(), req.peer_addr())
                    .map(|ip| ip.to_string()),
            );
        let backend = Backend { principal, actor };
        req.extensions_mut().insert(backend.clone());
        Ok(backend)
    }
}

impl FromRequest for Backend {
    type Error = Problem;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        Box::pin(Self::authenticate(req.clone()))
    }
}
