//! The stacks page: the workspaces group mappings grant roles on. Create, rename, delete (through
//! a confirmation page: deleting a stack removes every role on it).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use store::repo::stacks;

use super::views::{ConfirmPage, StackLine, StacksPage, when};
use super::{OrgAdmin, confirm};
use crate::AuthorizeApp;
use crate::error::PageError;
use crate::forms::see_other;
use crate::pages::render;

fn stacks_path(admin: &OrgAdmin) -> String {
    format!("/orgs/{}/stacks", admin.org.uid)
}

async fn page(
    app: &AuthorizeApp,
    admin: &OrgAdmin,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let rows = stacks::list(&app.db, &admin.scope)
        .await?
        .into_iter()
        .map(|s| StackLine {
            created: when(s.created_at),
            uid: s.uid,
            name: s.name,
        })
        .collect();
    Ok(render(
        status,
        &StacksPage {
            nav: admin.nav("stacks"),
            rows,
            error,
        },
    ))
}

/// A form mistake (a bad or taken name) shows the page again with the reason.
async fn or_page_error(
    app: &AuthorizeApp,
    admin: &OrgAdmin,
    result: usecases::Result<()>,
) -> Result<HttpResponse, PageError> {
    match result {
        Ok(()) => Ok(see_other(&stacks_path(admin))),
        Err(usecases::Error::Invalid(message)) => {
            page(app, admin, Some(message), StatusCode::BAD_REQUEST).await
        }
        Err(usecases::Error::Conflict(_)) => {
            let message = "A stack with that name already exists.".to_owned();
            page(app, admin, Some(message), StatusCode::CONFLICT).await
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /orgs/{org}/stacks`
pub async fn list(
    app: web::Data<AuthorizeApp>,
    admin: OrgAdmin,
) -> Result<HttpResponse, PageError> {
    page(&app, &admin, None, StatusCode::OK).await
}

/// `POST /orgs/{org}/stacks`
pub async fn create(
    app: web::Data<AuthorizeApp>,
    admin: OrgAdmin,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form = admin.form(&body)?;
    let name = form.get("name").map(String::as_str).unwrap_or_default();
    let result = usecases::stacks::create(&app.core, &admin.actor, &admin.scope, name)
        .await
        .map(drop);
    or_page_error(&app, &admin, result).await
}

/// `GET /orgs/{org}/stacks/{id}/delete`: the confirmation.
pub async fn confirm_delete(
    app: web::Data<AuthorizeApp>,
    admin: OrgAdmin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (_, id) = path.into_inner();
    let stack = stacks::get(&app.db, &admin.scope, &id).await?;
    Ok(confirm(&ConfirmPage {
        nav: admin.nav("stacks"),
        title: format!("Delete the stack {}?", stack.name),
        message: "Every role on this stack goes with it, manual ones and those group mappings \
                  grant; the mappings keep their other roles. This cannot be undone."
            .to_owned(),
        items: Vec::new(),
        action: format!("{}/{id}/delete", stacks_path(&admin)),
        button: "Delete stack",
        hidden: Vec::new(),
        cancel: stacks_path(&admin),
        danger: true,
    }))
}

/// `POST /orgs/{org}/stacks/{id}/{rename|delete}`
pub async fn change(
    app: web::Data<AuthorizeApp>,
    admin: OrgAdmin,
    path: web::Path<(String, String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form = admin.form(&body)?;
    let (_, id, action) = path.into_inner();
    let result = if action == "delete" {
        usecases::stacks::delete(&app.core, &admin.actor, &admin.scope, &id).await
    } else {
        let name = form.get("name").map(String::as_str).unwrap_or_default();
        usecases::stacks::rename(&app.core, &admin.actor, &admin.scope, &id, name)
            .await
            .map(drop)
    };
    or_page_error(&app, &admin, result).await
}
