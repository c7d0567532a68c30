//! The Users tab: what the IdP provisioned, with membership status, effective org role, stack
//! roles and groups. Searched by userName/email prefix and paged by id (keyset), so a page costs
//! the same at 100,000 users as at 10.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use store::repo::{directory, invitations, scim_groups, stacks};

use super::groups::{ListQuery, next_link};
use super::views::{UserLine, UsersPage};
use super::{OrgAdmin, cursor};
use crate::AuthorizeApp;
use crate::error::PageError;
use crate::pages::render;

const PAGE: u64 = 50;

/// `GET …/users`
pub async fn list(
    app: web::Data<AuthorizeApp>,
    admin: OrgAdmin,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    let q = query
        .q
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    let after = store::ids::ScimUserId(cursor(query.after.as_deref()).unwrap_or(0));
    let rows = directory::users(&app.db, &admin.scope, Some(q.as_str()), after, PAGE).await?;
    let next = (rows.len() as u64 == PAGE)
        .then(|| rows.last().map(|r| r.user.id))
        .flatten()
        .map(|last| next_link(&admin.scim_path("/users"), &q, last));
    let user_ids: Vec<store::ids::ScimUserId> = rows.iter().map(|r| r.user.id).collect();
    let account_ids: Vec<store::ids::AccountId> =
        rows.iter().filter_map(|r| r.user.account_id).collect();
    let groups = scim_groups::groups_of_users(&app.db, &admin.scope, &user_ids).await?;
    let roles = stacks::effective_roles_of(&app.db, &admin.scope, &account_ids).await?;
    let invited = invitations::latest_of(&app.db, &admin.scope, &account_ids).await?;
    let account_uids: HashMap<store::ids::AccountId, String> =
        store::repo::accounts::by_ids(&app.db, &account_ids)
            .await?
            .into_iter()
            .map(|a| (a.id, a.uid))
            .collect();
    let stack_names: HashMap<store::ids::StackId, String> = stacks::list(&app.db, &admin.scope)
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    let rows = rows
        .into_iter()
        .map(|row| {
            let user = row.user;
            let stack_roles = user
                .account_id
                .and_then(|a| roles.get(&a))
                .map(|list| {
                    list.iter()
                        .filter_map(|(id, role)| {
                            Some(format!("{}: {}", stack_names.get(id)?, role.as_str()))
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            let name = [user.given_name.as_deref(), user.family_name.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            let invitation = user.account_id.and_then(|a| invited.get(&a));
            UserLine {
                account_uid: user.account_id.and_then(|a| account_uids.get(&a).cloned()),
                invitation: invitation.map(invitation_words).unwrap_or_default(),
                invitation_failed: invitation.is_some_and(|i| i.status == "failed"),
                groups: groups
                    .get(&user.id)
                    .map(|g| {
                        g.iter()
                            .map(|(_, name)| name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default(),
                name: if name.is_empty() {
                    user.display_name.clone().unwrap_or_default()
                } else {
                    name
                },
                email: user.primary_email.clone().unwrap_or_default(),
                status: row.status.unwrap_or_else(|| "not linked".to_owned()),
                active: user.active,
                effective_role: row.effective_role.unwrap_or_default(),
                stack_roles,
                uid: user.uid,
                user_name: user.user_name,
            }
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &UsersPage {
            nav: admin.nav("users"),
            q,
            rows,
            next,
            notice: query.notice.clone(),
        },
    ))
}

/// An invitation's state in words, for the Users tab.
fn invitation_words(invitation: &invitations::Invitation) -> String {
    let day = |at: chrono::DateTime<chrono::Utc>| at.format("%-d %b %Y %H:%M UTC").to_string();
    match invitation.status.as_str() {
        "queued" if invitation.attempts > 0 => format!(
            "retrying (attempt {}): {}",
            invitation.attempts,
            invitation.last_error.as_deref().unwrap_or("not sent yet")
        ),
        "queued" => "waiting to be sent".to_owned(),
        "sent" => invitation
            .sent_at
            .map_or_else(|| "sent".to_owned(), |at| format!("sent {}", day(at))),
        "failed" => format!(
            "failed: {}",
            invitation.last_error.as_deref().unwrap_or("refused")
        ),
        "accepted" => invitation.accepted_at.map_or_else(
            || "accepted".to_owned(),
            |at| format!("accepted {}", day(at)),
        ),
        "not_sent" => "not emailed (sent by the product)".to_owned(),
        _ => String::new(),
    }
}

/// `POST …/users/{account}/invitation`: sends a new invitation to an invited member.
pub async fn resend_invitation(
    app: web::Data<AuthorizeApp>,
    admin: OrgAdmin,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    admin.form(&body)?;
    let (_, account) = path.into_inner();
    let invitation =
        usecases::invitations::resend(&app.core, &admin.actor, &admin.scope, &account).await?;
    let notice = format!("A new invitation to {} is on its way.", invitation.email);
    crate::forms::redirect_with(&admin.scim_path("/users"), &[("notice", &notice)])
}
