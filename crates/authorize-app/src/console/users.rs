//! The Users tab: what the IdP provisioned, with membership status, effective org role, stack
//! roles and groups. Searched by userName/email prefix and paged by id (keyset), so a page costs
//! the same at 100,000 users as at 10. A user's page shows one person in full: SCIM attributes,
//! groups, effective roles and what grants each, membership and invitation state, history.
//! Suspended people are shown as suspended, never with roles they cannot use.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use store::repo::role_catalog::{self, RoleKind};
use store::repo::{audit, directory, group_mappings, invitations, scim_groups, scim_users, stacks};
use usecases::members::RoleSource;

use super::groups::{ListQuery, back_query, here_of, next_link};
use super::views::{
    AttributeLine, RoleLine, SourceLine, UserGroupLine, UserLine, UserPage, UsersPage, when,
};
use super::{OrgAdmin, cursor};
use crate::AuthorizeApp;
use crate::error::PageError;
use crate::pages::render;

const PAGE: u64 = 50;
const SUSPENDED: &str = "suspended";
/// History entries on a user's page.
const HISTORY: u64 = 50;

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
                suspended: row.status.as_deref() == Some(SUSPENDED),
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
            back_query: back_query(&here_of(&admin.scim_path("/users"), &q)),
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

/// `GET …/users/{id}` query: where the page was opened from.
#[derive(Debug, Deserialize)]
pub struct UserQuery {
    back: Option<String>,
}

/// `GET …/users/{id}`: one provisioned person.
pub async fn show(
    app: web::Data<AuthorizeApp>,
    admin: OrgAdmin,
    path: web::Path<(String, String)>,
    query: web::Query<UserQuery>,
) -> Result<HttpResponse, PageError> {
    let (_, uid) = path.into_inner();
    let user = scim_users::get(&app.db, &admin.scope, &uid)
        .await?
        .ok_or_else(|| {
            PageError::NotFound(
                "this organization has no such provisioned user (it may have been deleted by \
                 the IdP)"
                    .into(),
            )
        })?;
    let catalog = role_catalog::load(&app.db).await?;
    let stacks = stacks::list(&app.db, &admin.scope).await?;
    let groups = scim_groups::groups_of_users(&app.db, &admin.scope, &[user.id])
        .await?
        .remove(&user.id)
        .unwrap_or_default();
    let group_ids: Vec<_> = {
        let mut ids = Vec::new();
        for (group_uid, _) in &groups {
            if let Some(g) = scim_groups::get(&app.db, &admin.scope, group_uid).await? {
                ids.push((g.uid, g.id));
            }
        }
        ids
    };
    let ids: Vec<_> = group_ids.iter().map(|(_, id)| *id).collect();
    let grants = group_mappings::grants_of(&app.db, &admin.scope, Some(&ids)).await?;
    let groups = groups
        .into_iter()
        .map(|(group_uid, name)| UserGroupLine {
            grants: group_ids
                .iter()
                .find(|(u, _)| *u == group_uid)
                .and_then(|(_, id)| grants.get(id))
                .map(|g| super::groups::grants_words(g, &stacks))
                .unwrap_or_default(),
            uid: group_uid,
            name,
        })
        .collect();

    let account = match user.account_id {
        Some(id) => store::repo::accounts::find_by_id(&app.db, id).await?,
        None => None,
    };
    let member = match &account {
        Some(account) => match usecases::members::get(
            &app.core,
            &admin.scope,
            &usecases::members::MemberKey::Account(account.uid.clone()),
        )
        .await
        {
            Ok(view) => Some(view),
            Err(usecases::Error::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let invitation = match &account {
        Some(account) => invitations::latest_of(&app.db, &admin.scope, &[account.id])
            .await?
            .remove(&account.id),
        None => None,
    };
    let status = member
        .as_ref()
        .map_or_else(|| "not linked".to_owned(), |m| m.status.clone());
    let status_words = match status.as_str() {
        "active" => "Active member: has access with the roles below.".to_owned(),
        "invited" => "Invited: has the roles below once the invitation is accepted.".to_owned(),
        SUSPENDED => "Suspended: no access to this organization and no roles until the IdP \
                      reactivates them (active = true). Nothing is deleted."
            .to_owned(),
        _ if account.is_some() => {
            "Not a member of this organization (the membership was removed).".to_owned()
        }
        _ => "Not linked to an account yet: no access.".to_owned(),
    };
    let role_name = |kind: RoleKind, key: &str| {
        let list = match kind {
            RoleKind::Organization => catalog.organization_roles(),
            RoleKind::Stack => catalog.stack_roles(),
        };
        list.iter()
            .find(|r| r.key == key)
            .map_or_else(|| key.to_owned(), |r| r.name.clone())
    };
    let sources = |kind: RoleKind, effective: &str, list: &[usecases::members::SourcedRole]| {
        list.iter()
            .map(|s| SourceLine {
                role: role_name(kind, &s.role),
                group: match &s.source {
                    RoleSource::Manual => None,
                    RoleSource::Group { id, name } => Some((id.clone(), name.clone())),
                },
                decides: s.role == effective,
            })
            .collect::<Vec<_>>()
    };
    let roles = match &member {
        Some(m) if m.status != SUSPENDED => {
            let mut roles = vec![RoleLine {
                scope: "Organization".to_owned(),
                role: role_name(RoleKind::Organization, &m.role),
                sources: sources(RoleKind::Organization, &m.role, &m.role_sources),
            }];
            roles.extend(m.stack_roles.iter().map(|s| RoleLine {
                scope: format!("Stack {}", s.stack_name),
                role: role_name(RoleKind::Stack, &s.role),
                sources: sources(RoleKind::Stack, &s.role, &s.sources),
            }));
            roles
        }
        _ => Vec::new(),
    };

    let mut about = vec![user.uid.clone()];
    if let Some(account) = &account {
        about.push(account.uid.clone());
    }
    if let Some(invitation) = &invitation {
        about.push(invitation.uid.clone());
    }
    let history = audit::about(&app.db, &admin.scope, &about, HISTORY).await?;
    let history = super::activity::lines(&app, &admin, history).await?;

    let back = admin.back(query.back.as_deref(), admin.scim_path("/users"));
    let here = format!(
        "{}?{}",
        admin.scim_path(&format!("/users/{uid}")),
        back_query(&back)
    );
    let page = UserPage {
        back_query: back_query(&here),
        back,
        title: display_name(&user),
        attributes: attributes(&user),
        resource: serde_json::from_str::<serde_json::Value>(&user.resource)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| user.resource.clone()),
        invitation: invitation
            .as_ref()
            .map(invitation_words)
            .unwrap_or_default(),
        invitation_failed: invitation.as_ref().is_some_and(|i| i.status == "failed"),
        account_uid: account.as_ref().map(|a| a.uid.clone()),
        account_email: account
            .as_ref()
            .map(|a| a.email.clone())
            .unwrap_or_default(),
        nav: admin.nav("users"),
        uid: user.uid.clone(),
        user_name: user.user_name.clone(),
        active: user.active,
        status,
        status_words,
        groups,
        roles,
        history,
    };
    Ok(render(StatusCode::OK, &page))
}

/// The name a person goes by: given and family name, else displayName, else userName.
fn display_name(user: &scim_users::ScimUser) -> String {
    let name = [user.given_name.as_deref(), user.family_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if !name.is_empty() {
        return name;
    }
    user.display_name
        .clone()
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| user.user_name.clone())
}

/// The SCIM attributes worth reading, in the order an IdP admin thinks of them.
fn attributes(user: &scim_users::ScimUser) -> Vec<AttributeLine> {
    let resource: serde_json::Value = serde_json::from_str(&user.resource).unwrap_or_default();
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    let mut out = vec![
        ("id", user.uid.clone()),
        ("userName", user.user_name.clone()),
        ("externalId", user.external_id.clone().unwrap_or_default()),
        ("active", user.active.to_string()),
        (
            "name.givenName",
            user.given_name.clone().unwrap_or_default(),
        ),
        (
            "name.familyName",
            user.family_name.clone().unwrap_or_default(),
        ),
        ("displayName", user.display_name.clone().unwrap_or_default()),
    ];
    if let Some(emails) = resource["emails"].as_array() {
        let list = emails
            .iter()
            .map(|e| {
                let mut line = text(&e["value"]);
                if let Some(kind) = e["type"].as_str() {
                    line.push_str(&format!(" ({kind})"));
                }
                if e["primary"].as_bool() == Some(true) {
                    line.push_str(", primary");
                }
                line
            })
            .collect::<Vec<_>>()
            .join("; ");
        out.push(("emails", list));
    }
    for key in [
        "title",
        "userType",
        "locale",
        "timezone",
        "preferredLanguage",
    ] {
        out.push((key, text(&resource[key])));
    }
    let enterprise = &resource["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"];
    for key in ["department", "employeeNumber", "organization", "costCenter"] {
        out.push((key, text(&enterprise[key])));
    }
    out.push(("created", when(user.created_at)));
    out.push(("last changed", when(user.updated_at)));
    out.into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(name, value)| AttributeLine {
            name: name.to_owned(),
            value,
        })
        .collect()
}
