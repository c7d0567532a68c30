//! The SCIM tab's overview: the switch (through a confirmation page), the connection details of
//! this region with the setup guides, and the landing page listing the account's organizations.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use store::repo::memberships;
use store::types::OrgRole;

use super::views::{ConfirmPage, ConnectionValue, OrgLine, OrgsPage, OverviewPage};
use super::{OrgAdmin, confirm};
use crate::AuthorizeApp;
use crate::error::PageError;
use crate::forms::see_other;
use crate::pages::render;
use crate::session::CurrentAccount;

/// `GET /`: the signed-in account's organizations.
pub async fn orgs(
    app: web::Data<AuthorizeApp>,
    current: CurrentAccount,
) -> Result<HttpResponse, PageError> {
    let catalog = store::repo::role_catalog::load(&app.db).await?;
    let orgs = memberships::organizations_of(&app.db, current.account.id)
        .await?
        .into_iter()
        .map(|(membership, org)| OrgLine {
            manages: membership.status == "active"
                && membership
                    .effective_role
                    .parse::<OrgRole>()
                    .is_ok_and(|role| catalog.manages_scim(&role)),
            uid: org.uid,
            name: org.name,
            role: membership.effective_role,
            status: membership.status,
            scim_enabled: org.scim_enabled,
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &OrgsPage {
            brand: app.settings.branding.clone(),
            email: current.account.email,
            csrf: current.session.data.csrf,
            orgs,
        },
    ))
}

/// `GET /orgs/{org}`: the organization's settings start at its SCIM tab.
pub async fn org_root(admin: OrgAdmin) -> HttpResponse {
    see_other(&admin.scim_path(""))
}

/// `GET /orgs/{org}/settings/scim` query: `test` asks for "Test connection".
#[derive(Debug, Deserialize)]
pub struct OverviewQuery {
    test: Option<String>,
}

/// `GET /orgs/{org}/settings/scim` (`?test=1`: with what the IdP will see, in words)
pub async fn overview(
    app: web::Data<AuthorizeApp>,
    admin: OrgAdmin,
    query: web::Query<OverviewQuery>,
) -> Result<HttpResponse, PageError> {
    let settings = &app.settings;
    let site_url = settings.auth_api_url().to_owned();
    let authorization_url = format!("{}/oauth/authorize?org={}", settings.app_url, admin.org.uid);
    let scim_base_url = format!("{site_url}/scim/v2.0/organizations/{}", admin.org.uid);
    let health = super::health::of(&app, &admin, &scim_base_url, query.test.is_some()).await?;
    let active_tokens = health.active_tokens;
    let active_installations = health.active_installations;
    let values = vec![
        ConnectionValue {
            id: "site-url",
            label: "Site URL",
            value: site_url.clone(),
            hint: "the auth API of this region: the token endpoint and SCIM live here",
        },
        ConnectionValue {
            id: "authorization-url",
            label: "Authorization URL",
            value: authorization_url.clone(),
            hint: "where the IdP sends your browser when you click Authenticate",
        },
        ConnectionValue {
            id: "scim-base-url",
            label: "SCIM Base URL",
            value: scim_base_url.clone(),
            hint: "for IdPs configured with a base URL and a bearer token",
        },
        ConnectionValue {
            id: "org-uid",
            label: "Organization UID",
            value: admin.org.uid.clone(),
            hint: "identifies this organization to the IdP app",
        },
    ];
    Ok(render(
        StatusCode::OK,
        &OverviewPage {
            nav: admin.nav("overview"),
            scim_enabled: admin.org.scim_enabled,
            region: settings.region.clone(),
            values,
            token_url: format!("{site_url}/oauth/token"),
            site_url,
            authorization_url,
            scim_base_url,
            active_tokens,
            active_installations,
            health,
        },
    ))
}

fn wants_enabled(switch: &str) -> bool {
    switch == "enable"
}

/// `GET /orgs/{org}/settings/scim/{enable|disable}`: what switching does, and the button.
pub async fn confirm_switch(admin: OrgAdmin, path: web::Path<(String, String)>) -> HttpResponse {
    let (_, switch) = path.into_inner();
    let (title, message, button) = if wants_enabled(&switch) {
        (
            format!("Enable SCIM for {}?", admin.org.name),
            "Identity providers will be able to provision and deprovision this organization's \
             members and groups, with a bearer token you create or after an Owner or Admin \
             clicks Authorize & Install for them."
                .to_owned(),
            "Enable SCIM",
        )
    } else {
        (
            format!("Disable SCIM for {}?", admin.org.name),
            "Every bearer token and connected IdP stops working at once: SCIM requests are \
             refused until SCIM is enabled again. Nothing is deleted: provisioned users, groups, \
             memberships, mappings and tokens stay as they are."
                .to_owned(),
            "Disable SCIM",
        )
    };
    confirm(&ConfirmPage {
        nav: admin.nav("overview"),
        title,
        message,
        items: Vec::new(),
        action: admin.scim_path(&format!("/{switch}")),
        button,
        hidden: Vec::new(),
        cancel: admin.scim_path(""),
        danger: !wants_enabled(&switch),
    })
}

/// `POST /orgs/{org}/settings/scim/{enable|disable}`
pub async fn switch(
    app: web::Data<AuthorizeApp>,
    admin: OrgAdmin,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    admin.form(&body)?;
    let (_, switch) = path.into_inner();
    usecases::organizations::set_scim_enabled(
        &app.core,
        &admin.actor,
        &admin.scope,
        wants_enabled(&switch),
    )
    .await?;
    Ok(see_other(&admin.scim_path("")))
}
