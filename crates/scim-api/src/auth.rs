//! Who is calling: the bearer token of the `Authorization` header, verified for the organization in
//! the path, and that organization's SCIM switch. A handler that takes [`Caller`] cannot run for an
//! unauthenticated request or outside the proven organization.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use scim_core::error::ScimError;
use store::OrgScope;
use store::repo::organizations;
use token_service::{Credential, bearer_token};
use tracing_actix_web::RequestId;
use usecases::{Actor, ActorKind};

use crate::ScimApi;
use crate::error::{ApiError, forbidden};

/// An authenticated caller of one organization's SCIM API.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The organization the credential proved.
    pub scope: OrgScope,
    /// Who it is, from which request.
    pub actor: Actor,
    /// The organization's SCIM Base URL.
    pub base_url: String,
}

impl Caller {
    /// The use-case context of this request.
    pub fn ctx<'a>(&'a self, api: &'a ScimApi) -> usecases::scim::Ctx<'a> {
        usecases::scim::Ctx {
            core: &api.core,
            scope: &self.scope,
            actor: &self.actor,
            settings: &api.settings.paging,
            base_url: &self.base_url,
        }
    }
}

impl Caller {
    async fn authenticate(req: HttpRequest) -> Result<Self, actix_web::Error> {
        let api = req
            .app_data::<web::Data<ScimApi>>()
            .cloned()
            .ok_or_else(|| ApiError(ScimError::internal()))?;
        let org_uid = req.match_info().get("org").unwrap_or_default().to_owned();
        let header = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let token = bearer_token(header).map_err(ApiError::from)?;
        let principal = match api.verifier.verify(token, &org_uid).await {
            Ok(principal) => principal,
            Err(refused) => {
                let error = elsewhere(&api, &org_uid)
                    .await?
                    .unwrap_or_else(|| refused.into());
                return Err(error.into());
            }
        };
        let (kind, credential_kind, credential_id) = match principal.credential.clone() {
            Credential::ApiToken(uid) => (ActorKind::ApiToken(uid.clone()), "api_token", uid),
            Credential::Installation(uid) => {
                (ActorKind::Installation(uid.clone()), "installation", uid)
            }
        };
        // For the request log: the organization and credential are proven from here on.
        req.extensions_mut()
            .insert(crate::request_log::LoggedCaller {
                scope: principal.scope.clone(),
                kind: credential_kind,
                id: credential_id.clone(),
            });
        // Authentication first, then the switch: an unauthenticated caller learns nothing about
        // the organization, not even whether SCIM is on.
        if !principal.scim_enabled {
            return Err(ApiError(forbidden(
                "SCIM provisioning is disabled for this organization; an Owner or Admin can enable it in the organization's SCIM settings",
            ))
            .into());
        }
        // For the access log line and the metrics (the organization is never a metric label).
        req.extensions_mut().insert(CallerInfo {
            org_uid: principal.scope.org_uid().to_owned(),
            credential_kind,
        });
        crate::guard::check_rate(&api, &credential_id, principal.scope.org_uid())?;
        // Accepted: only now is it the credential's use.
        api.verifier
            .record_use(&principal)
            .await
            .map_err(ApiError::from)?;
        let actor = Actor::new(kind).in_request(
            req.extensions().get::<RequestId>().map(ToString::to_string),
            usecases::ClientAddr::resolve(req.extensions().get(), req.peer_addr())
                .map(|ip| ip.to_string()),
        );
        Ok(Self {
            base_url: api.base_url(principal.scope.org_uid()),
            scope: principal.scope,
            actor,
        })
    }
}

/// When the organization does not live in this region but another region has it, the error that
/// sends the IdP there (421 Misdirected Request, naming the organization's SCIM Base URL).
async fn elsewhere(api: &ScimApi, org_uid: &str) -> Result<Option<ApiError>, ApiError> {
    let Some(federation) = &api.federation else {
        return Ok(None);
    };
    // No organization has a NUL in its UID, and PostgreSQL cannot even compare one.
    if org_uid.contains('\0') {
        return Ok(None);
    }
    if organizations::find_by_uid(api.core.db(), org_uid)
        .await?
        .is_some()
    {
        return Ok(None);
    }
    Ok(federation.locate_organization(org_uid).await.map(|peer| {
        let base = format!(
            "{}/scim/v2.0/organizations/{org_uid}",
            peer.auth_api_url.trim_end_matches('/')
        );
        ApiError(ScimError::new(
            421,
            None,
            format!(
                "organization {org_uid} lives in region {}; send SCIM requests to {base}",
                peer.id
            ),
        ))
    }))
}

/// Who a SCIM request came from, left in the request's extensions for the access log.
#[derive(Debug, Clone)]
pub struct CallerInfo {
    /// The organization's UID.
    pub org_uid: String,
    /// `api_token` or `installation`.
    pub credential_kind: &'static str,
}

impl FromRequest for Caller {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        Box::pin(Self::authenticate(req.clone()))
    }
}
