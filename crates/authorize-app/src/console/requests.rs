//! The Request log page: every SCIM request of the organization, refused ones included, newest
//! first, searchable by status class, method, text, userName/externalId and time; and one
//! request with its redacted bodies. Reads through [`usecases::request_log`].

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use store::repo::api_tokens;
use store::repo::scim_request_log::LoggedRequest;
use usecases::request_log::{self, SearchInput};

use super::views::{RequestDetailPage, RequestLine, RequestLogPage};
use super::{OrgAdmin, cursor};
use crate::AuthorizeApp;
use crate::error::PageError;
use crate::pages::render;

const PAGE: u64 = 50;

/// The filters and the cursor, as the search form sends them.
#[derive(Debug, Default, Deserialize)]
pub struct RequestLogQuery {
    status: Option<String>,
    method: Option<String>,
    q: Option<String>,
    user: Option<String>,
    since: Option<String>,
    until: Option<String>,
    before: Option<String>,
}

fn clean(value: Option<&str>) -> String {
    value.map(str::trim).unwrap_or_default().to_owned()
}

/// A `datetime-local` value (`2026-01-31T12:00`, read as UTC).
fn time(name: &str, value: &str) -> Result<Option<DateTime<Utc>>, PageError> {
    if value.is_empty() {
        return Ok(None);
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(value, format).ok())
        .map(|t| Some(t.and_utc()))
        .ok_or_else(|| {
            PageError::BadRequest(format!(
                "“{}” is not a time for {name}; use the form 2026-01-31T12:00 (UTC)",
                value.chars().take(40).collect::<String>()
            ))
        })
}

/// `GET …/settings/scim/requests`
pub async fn list(
    app: web::Data<AuthorizeApp>,
    admin: OrgAdmin,
    query: web::Query<RequestLogQuery>,
) -> Result<HttpResponse, PageError> {
    let status = clean(query.status.as_deref());
    let method = clean(query.method.as_deref());
    let text = clean(query.q.as_deref());
    let user = clean(query.user.as_deref());
    let since = clean(query.since.as_deref());
    let until = clean(query.until.as_deref());
    let input = SearchInput {
        status: Some(status.clone()),
        method: Some(method.clone()),
        text: Some(text.clone()),
        user: Some(user.clone()),
        since: time("From", &since)?,
        until: time("Until", &until)?,
        before: cursor(query.before.as_deref()),
        limit: PAGE,
    };
    let found = request_log::search(&app.core, &admin.scope, &input).await?;
    let names = credential_names(&app, &admin).await?;
    let next = found.next_before.map(|last| {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("status", &status)
            .append_pair("method", &method)
            .append_pair("q", &text)
            .append_pair("user", &user)
            .append_pair("since", &since)
            .append_pair("until", &until)
            .append_pair("before", &last.to_string())
            .finish();
        format!("{}?{query}", admin.scim_path("/requests"))
    });
    let rows = found
        .rows
        .into_iter()
        .map(|row| line(&admin, &names, row))
        .collect();
    Ok(render(
        StatusCode::OK,
        &RequestLogPage {
            nav: admin.nav("requests"),
            retention_days: app.core.request_log().settings().retention.num_days(),
            status,
            method,
            text,
            user,
            since,
            until,
            rows,
            next,
        },
    ))
}

/// `GET …/settings/scim/requests/{id}`
pub async fn show(
    app: web::Data<AuthorizeApp>,
    admin: OrgAdmin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let id = cursor(Some(&path.1)).ok_or_else(|| {
        PageError::NotFound("there is no such request in this organization's log".into())
    })?;
    let row = request_log::get(&app.core, &admin.scope, id).await?;
    let names = credential_names(&app, &admin).await?;
    let request_body = pretty(row.request_body.as_deref());
    let response_body = pretty(row.response_body.as_deref());
    let request_id = row.request_id.clone().unwrap_or_default();
    let ip = row.client_ip.clone().unwrap_or_default();
    Ok(render(
        StatusCode::OK,
        &RequestDetailPage {
            nav: admin.nav("requests"),
            line: line(&admin, &names, row),
            request_id,
            ip,
            request_body,
            response_body,
            back: admin.scim_path("/requests"),
        },
    ))
}

/// Bearer tokens' names by id, to say which credential was used in words.
async fn credential_names(
    app: &AuthorizeApp,
    admin: &OrgAdmin,
) -> Result<HashMap<String, String>, PageError> {
    Ok(api_tokens::list(&app.db, &admin.scope)
        .await?
        .into_iter()
        .map(|t| (t.uid, t.name))
        .collect())
}

fn line(admin: &OrgAdmin, names: &HashMap<String, String>, row: LoggedRequest) -> RequestLine {
    let credential = match (row.credential_kind.as_deref(), row.credential_id.as_deref()) {
        (Some("api_token"), Some(id)) => match names.get(id) {
            Some(name) => format!("bearer token “{name}”"),
            None => format!("bearer token {id}"),
        },
        (Some("installation"), Some(id)) => format!("connected IdP {id}"),
        _ => "none accepted".to_owned(),
    };
    let status_class = match row.status {
        200..=399 => "ok",
        401 | 403 => "refused",
        400..=499 => "client-error",
        _ => "server-error",
    };
    // The organization's SCIM Base URL is the same on every row: shown once, on the tab.
    let uid = &admin.org.uid;
    let path = ["/scim/v2.0/organizations/", "/scim/v2/organizations/"]
        .iter()
        .find_map(|base| row.path.strip_prefix(&format!("{base}{uid}")))
        .filter(|rest| !rest.is_empty())
        .map_or_else(|| row.path.clone(), str::to_owned);
    RequestLine {
        href: admin.scim_path(&format!("/requests/{}", row.id)),
        at: when_precise(row.created_at),
        method: row.method,
        path,
        full_path: row.path,
        status: row.status,
        status_class,
        duration: format!("{:.1} ms", row.duration_us as f64 / 1000.0),
        credential,
        subject: row.user_name.or(row.external_id).unwrap_or_default(),
    }
}

/// To the second: requests come many a minute.
fn when_precise(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A body indented when it is whole JSON; as kept otherwise (truncated or not JSON).
fn pretty(body: Option<&str>) -> String {
    let Some(body) = body else {
        return String::new();
    };
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| body.to_owned())
}
