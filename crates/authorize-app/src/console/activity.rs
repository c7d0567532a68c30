//! The Activity tab: the organization's audit log (SCIM requests, console and CLI changes), newest
//! first, in sentences (who by name, what by name, what happened), filterable by action prefix,
//! actor kind, resource id and request id.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use store::repo::audit::{self, AuditFilter};

use super::views::{ActivityPage, AuditLine};
use super::{OrgAdmin, cursor};
use crate::AuthorizeApp;
use crate::error::PageError;
use crate::pages::render;

const PAGE: u64 = 50;
const ACTOR_KINDS: [&str; 5] = [
    "account",
    "api_token",
    "installation",
    "portal_link",
    "operator",
];

/// The filters and the cursor.
#[derive(Debug, Deserialize)]
pub struct ActivityQuery {
    action: Option<String>,
    actor: Option<String>,
    resource: Option<String>,
    request: Option<String>,
    before: Option<String>,
}

fn clean(value: Option<&str>) -> String {
    value.map(str::trim).unwrap_or_default().to_owned()
}

/// `GET …/activity`
pub async fn list(
    app: web::Data<AuthorizeApp>,
    admin: OrgAdmin,
    query: web::Query<ActivityQuery>,
) -> Result<HttpResponse, PageError> {
    let action = clean(query.action.as_deref());
    let actor = clean(query.actor.as_deref());
    let resource = clean(query.resource.as_deref());
    let request = clean(query.request.as_deref());
    if !actor.is_empty() && !ACTOR_KINDS.contains(&actor.as_str()) {
        return Err(PageError::BadRequest(format!(
            "“{actor}” is not a kind of actor; choose one of the list"
        )));
    }
    let filter = AuditFilter {
        action_prefix: Some(action.clone()),
        actor_type: Some(actor.clone()),
        resource_id: Some(resource.clone()),
        request_id: Some(request.clone()),
    };
    let before = cursor(query.before.as_deref()).map(store::ids::AuditId);
    let rows = audit::search(&app.db, &admin.scope, &filter, before, PAGE).await?;
    let next = (rows.len() as u64 == PAGE)
        .then(|| rows.last().map(|r| r.id))
        .flatten()
        .map(|last| {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("action", &action)
                .append_pair("actor", &actor)
                .append_pair("resource", &resource)
                .append_pair("request", &request)
                .append_pair("before", &last.to_string())
                .finish();
            format!("{}?{query}", admin.scim_path("/activity"))
        });
    let rows = lines(&app, &admin, rows).await?;
    Ok(render(
        StatusCode::OK,
        &ActivityPage {
            nav: admin.nav("activity"),
            action,
            actor,
            resource,
            request,
            rows,
            next,
        },
    ))
}

/// Audit rows as a person reads them (see [`super::describe`]).
pub async fn lines(
    app: &AuthorizeApp,
    admin: &OrgAdmin,
    rows: Vec<audit::AuditRow>,
) -> Result<Vec<AuditLine>, PageError> {
    super::describe::lines(app, admin, rows).await
}
