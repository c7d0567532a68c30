//! `/accounts`: look an account up by email across the region.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use serde::Deserialize;
use store::repo::{accounts, memberships};
use store::types::Email;
use utoipa::IntoParams;

use super::{Api, json};
use crate::auth::Backend;
use crate::dto::{Account, AccountMembership};
use crate::problem::{ApiResult, Problem};

/// `GET /accounts` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FindAccount {
    /// The email to look up (case ignored).
    pub email: String,
}

/// Look up an account by email: its id, name and the organizations of this region it belongs to.
#[utoipa::path(tag = "accounts", params(FindAccount),
    responses((status = 200, body = Account), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("backend" = ["members:read"])))]
#[get("/accounts")]
pub async fn find(
    api: Api,
    backend: Backend,
    query: web::Query<FindAccount>,
) -> ApiResult<HttpResponse> {
    backend.require("members:read")?;
    let email = Email::parse(&query.email)?;
    let account = accounts::find_by_email(api.core.db(), &email)
        .await?
        .ok_or_else(|| Problem::not_found("no account has this email in this region"))?;
    let organizations = memberships::organizations_of(api.core.db(), account.id)
        .await?
        .into_iter()
        .filter(|(_, org)| org.deleted_at.is_none())
        .map(|(m, org)| AccountMembership {
            id: org.uid,
            name: org.name,
            role: m.effective_role,
            status: m.status,
        })
        .collect();
    Ok(json(
        StatusCode::OK,
        &Account {
            id: account.uid,
            email: account.email,
            name: account.name,
            organizations,
        },
    ))
}
