//! `POST /oauth/authorize`: the consent form's decision. Approve (Owner/Admin of an organization
//! with SCIM enabled, terms accepted — all re-checked here, whatever the page showed) records an
//! installation and issues a single-use code; deny answers `access_denied`. Both go back to the
//! client's registered redirect URI with `state` and `iss`.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use store::StoreError;
use store::repo::{memberships, oauth_clients};
use usecases::installations::{Approval, Authorized};
use usecases::{Actor, ActorKind};

use crate::AuthorizeApp;
use crate::authorize::{consent_page, error_redirect};
use crate::error::PageError;
use crate::forms::{self, redirect_with};
use crate::pending;
use crate::session::CurrentAccount;

/// `POST /oauth/authorize`
pub async fn decide(
    app: web::Data<AuthorizeApp>,
    req: HttpRequest,
    current: CurrentAccount,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form = forms::fields(&body);
    current
        .session
        .check_csrf(form.get("csrf").map(String::as_str))?;
    let request_id = form.get("request").cloned().unwrap_or_default();
    let pending = pending::load(&app, &request_id)
        .await?
        .ok_or_else(pending::expired)?;
    match form.get("decision").map(String::as_str) {
        Some("deny") => {
            pending::take(&app, &request_id).await?;
            tracing::info!(client = %pending.client_id, "authorization denied");
            return error_redirect(
                &app,
                &pending.redirect_uri,
                "access_denied",
                None,
                pending.state.as_deref(),
            );
        }
        Some("approve") => {}
        _ => {
            return Err(PageError::BadRequest(
                "choose Authorize & Install or Deny".into(),
            ));
        }
    }
    let org_uid = form.get("org").cloned().unwrap_or_default();
    if let Some(named) = pending.org.as_deref()
        && named != org_uid
    {
        return Err(PageError::BadRequest(format!(
            "This authorization request is for {}: the identity provider's Authorization URL \
             names it, so it cannot be installed into another organization. Start again from \
             the identity provider to authorize another organization.",
            named_org(&app, current.account.id, named).await?
        )));
    }
    let scope = match memberships::admin_scope(&app.db, current.account.id, &org_uid).await {
        Ok(scope) => scope,
        Err(StoreError::NotFound(_) | StoreError::Forbidden(_)) => {
            return Err(PageError::Forbidden(
                "only an active Owner or Admin of the chosen organization can authorize it".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    if form.get("accept_terms").is_none_or(|v| v.is_empty()) {
        let error = Some("Accept the terms to authorize the installation.".to_owned());
        return consent_page(
            &app,
            &current,
            &request_id,
            &pending,
            error,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    // The decision is made once: a second submission of the same form finds nothing.
    let pending = pending::take(&app, &request_id)
        .await?
        .ok_or_else(pending::expired)?;
    let client = oauth_clients::find(&app.db, &pending.client_id)
        .await?
        .ok_or_else(|| PageError::BadRequest("the client is no longer registered".into()))?;
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let actor = Actor::new(ActorKind::Account {
        id: current.account.id,
        uid: current.account.uid.clone(),
    })
    .in_request(forms::request_id(&req), forms::client_ip(&req));
    let approval = Approval {
        redirect_uri: pending.redirect_uri.clone(),
        redirect_uri_given: pending.redirect_uri_given,
        code_challenge: pending.code_challenge.clone(),
        scopes: pending.scopes.clone(),
        user_agent,
    };
    let Authorized { installation, code } =
        usecases::installations::authorize(&app.core, &actor, &scope, &client, approval).await?;
    tracing::info!(org = %scope.org_uid(), client = %client.client_id, installation = %installation.uid, "installation approved");
    let mut params = vec![("code", code.as_str())];
    if let Some(state) = pending.state.as_deref() {
        params.push(("state", state));
    }
    params.push(("iss", app.settings.issuer.as_str()));
    redirect_with(&pending.redirect_uri, &params)
}

/// How to name the organization a request names to this account: its name when the account is a
/// member, else only the UID the URL holds.
async fn named_org(
    app: &AuthorizeApp,
    account_id: store::ids::AccountId,
    uid: &str,
) -> Result<String, PageError> {
    Ok(memberships::organizations_of(&app.db, account_id)
        .await?
        .into_iter()
        .find(|(_, org)| org.uid == uid)
        .map_or_else(
            || uid.to_owned(),
            |(_, org)| format!("{} ({uid})", org.name),
        ))
}
