//! The Groups tab, a group's page (members and mapping form), the mappings overview, and the
//! mapping form's steps: preview the impact, then save; or preview a removal, then remove.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use store::ids::{AccountId, ScimGroupId};
use store::repo::group_mappings::{self, Grants};
use store::repo::role_catalog::{self, RoleKind};
use store::repo::roles::RoleChange;
use store::repo::stacks::{self, Stack};
use store::repo::{accounts, directory, scim_groups};
use store::types::{OrgRole, StackRole};

use super::views::{
    ConfirmPage, GroupLine, GroupPage, GroupsPage, MappingLine, MappingsPage, MemberLine,
    RoleOption, StackChoice,
};
use super::{OrgAdmin, confirm, cursor};
use crate::AuthorizeApp;
use crate::error::PageError;
use crate::forms::see_other;
use crate::pages::render;

const PAGE: u64 = 50;

/// A listing's query: search term and keyset cursor (or offset, for a group's members).
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// The search term.
    pub q: Option<String>,
    /// The keyset cursor: the last id of the previous page.
    pub after: Option<String>,
    /// A group's members page offset.
    pub offset: Option<u64>,
    /// What the last action did (after a redirect).
    pub notice: Option<String>,
    /// Where the page's back link goes (a page of this console).
    pub back: Option<String>,
    /// The mappings page's group picker: a group's displayName.
    pub group: Option<String>,
}

fn title_case(role: &str) -> String {
    let mut chars = role.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// What a mapping grants, in words: "Org role Admin; Marketing: Developer".
pub fn grants_words(grants: &Grants, stacks: &[Stack]) -> String {
    let mut parts = Vec::new();
    if let Some(role) = &grants.org_role {
        parts.push(format!("Org role {}", title_case(role.as_str())));
    }
    for (id, role) in &grants.stack_roles {
        if let Some(stack) = stacks.iter().find(|s| s.id == *id) {
            parts.push(format!("{}: {}", stack.name, title_case(role.as_str())));
        }
    }
    if parts.is_empty() {
        "nothing".to_owned()
    } else {
        parts.join("; ")
    }
}

async fn group_lines(
    app: &AuthorizeApp,
    admin: &OrgAdmin,
    rows: Vec<directory::GroupRow>,
) -> Result<Vec<GroupLine>, PageError> {
    let ids: Vec<ScimGroupId> = rows.iter().map(|r| r.group.id).collect();
    let grants = group_mappings::grants_of(&app.db, &admin.scope, Some(&ids)).await?;
    let stacks = stacks::list(&app.db, &admin.scope).await?;
    Ok(rows
        .into_iter()
        .map(|r| GroupLine {
            mapping: grants
                .get(&r.group.id)
                .map(|g| grants_words(g, &stacks))
                .unwrap_or_default(),
            uid: r.group.uid,
            name: r.group.display_name,
            external_id: r.group.external_id.unwrap_or_default(),
            member_count: r.member_count,
        })
        .collect())
}

fn search_term(q: Option<&str>) -> String {
    q.map(str::trim).unwrap_or_default().to_owned()
}

/// `GET …/groups`
pub async fn list(
    app: web::Data<AuthorizeApp>,
    admin: OrgAdmin,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    let q = search_term(query.q.as_deref());
    let after = ScimGroupId(cursor(query.after.as_deref()).unwrap_or(0));
    let rows = directory::groups(&app.db, &admin.scope, Some(&q), after, PAGE).await?;
    let next = (rows.len() as u64 == PAGE)
        .then(|| rows.last().map(|r| r.group.id))
        .flatten()
        .map(|last| next_link(&admin.scim_path("/groups"), &q, last));
    let rows = group_lines(&app, &admin, rows).await?;
    Ok(render(
        StatusCode::OK,
        &GroupsPage {
            back_query: back_query(&here_of(&admin.scim_path("/groups"), &q)),
            nav: admin.nav("groups"),
            q,
            rows,
            next,
        },
    ))
}

/// `back={path}`, for a link whose page's back link should return to `path`.
pub fn back_query(path: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("back", path)
        .finish()
}

/// A searchable listing's address with its search term.
pub fn here_of(path: &str, q: &str) -> String {
    if q.is_empty() {
        return path.to_owned();
    }
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("q", q)
        .finish();
    format!("{path}?{query}")
}

/// The link to the page after id `last` of a searchable listing.
pub fn next_link(path: &str, q: &str, last: impl std::fmt::Display) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("q", q)
        .append_pair("after", &last.to_string())
        .finish();
    format!("{path}?{query}")
}

/// The roles of a catalog half a mapping may grant (Owner never).
fn options(roles: &[role_catalog::RoleDef]) -> Vec<RoleOption> {
    roles
        .iter()
        .filter(|r| !r.system && r.key != OrgRole::OWNER)
        .map(|r| RoleOption {
            key: r.key.clone(),
            name: r.name.clone(),
        })
        .collect()
}

/// `GET …/groups/{id}`
pub async fn show(
    app: web::Data<AuthorizeApp>,
    admin: OrgAdmin,
    path: web::Path<(String, String)>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    let (_, uid) = path.into_inner();
    let back = admin.back(query.back.as_deref(), admin.scim_path("/groups"));
    let view = GroupView {
        uid: &uid,
        offset: query.offset.unwrap_or(0),
        back: &back,
    };
    group_page(&app, &admin, &view, None, StatusCode::OK).await
}

/// Which group page to render.
struct GroupView<'a> {
    uid: &'a str,
    offset: u64,
    back: &'a str,
}

/// A group's page, with `error` (why the mapping form was refused) above its form.
async fn group_page(
    app: &AuthorizeApp,
    admin: &OrgAdmin,
    view: &GroupView<'_>,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let uid = view.uid;
    let offset = view.offset;
    let group = usecases::mappings::group(&app.core, &admin.scope, uid).await?;
    let members = scim_groups::members(&app.db, &admin.scope, group.id, offset, PAGE).await?;
    let member_count = scim_groups::member_count(&app.db, &admin.scope, group.id).await?;
    let stacks = stacks::list(&app.db, &admin.scope).await?;
    let catalog = role_catalog::load(&app.db).await?;
    let mapping = group_mappings::get(&app.db, &admin.scope, group.id)
        .await?
        .map(|(_, g)| g);
    let here = admin.scim_path(&format!("/groups/{uid}"));
    let with_back = |offset: u64| {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("offset", &offset.to_string())
            .append_pair("back", view.back)
            .finish();
        format!("{here}?{query}")
    };
    let prev = (offset > 0).then(|| with_back(offset.saturating_sub(PAGE)));
    let next = (offset + PAGE < member_count).then(|| with_back(offset + PAGE));
    let stack_choices = stacks
        .iter()
        .map(|s| StackChoice {
            uid: s.uid.clone(),
            name: s.name.clone(),
            current: mapping
                .as_ref()
                .and_then(|g| g.stack_roles.iter().find(|(id, _)| *id == s.id))
                .map(|(_, r)| r.as_str().to_owned())
                .unwrap_or_default(),
        })
        .collect();
    let page = GroupPage {
        nav: admin.nav("groups"),
        group: GroupLine {
            mapping: mapping
                .as_ref()
                .map(|g| grants_words(g, &stacks))
                .unwrap_or_default(),
            uid: group.uid,
            name: group.display_name,
            external_id: group.external_id.unwrap_or_default(),
            member_count,
        },
        members: members
            .into_iter()
            .map(|m| MemberLine {
                uid: m.user_uid,
                display: m.display,
            })
            .collect(),
        offset,
        prev,
        next,
        org_role: mapping
            .as_ref()
            .and_then(|g| g.org_role.clone())
            .map(|r| r.as_str().to_owned())
            .unwrap_or_default(),
        stacks: stack_choices,
        mapped: mapping.is_some(),
        org_roles: options(catalog.organization_roles()),
        stack_roles: options(catalog.stack_roles()),
        back: view.back.to_owned(),
        back_query: back_query(&with_back(offset)),
        error,
    };
    Ok(render(status, &page))
}

/// How many groups the mappings page's picker offers (the browser filters them as one types;
/// beyond this, the prefix search finds the rest).
const PICKER: u64 = 1000;

/// `GET …/mappings`: every mapping, a picker of the organization's groups (a datalist the
/// browser filters as one types) and a prefix search to add one. Picking a group opens its page.
pub async fn mappings(
    app: web::Data<AuthorizeApp>,
    admin: OrgAdmin,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    let here = admin.scim_path("/mappings");
    let picked = search_term(query.group.as_deref());
    let mut error = None;
    if !picked.is_empty() {
        match group_named(&app, &admin, &picked).await? {
            Some(uid) => {
                let query = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("back", &here)
                    .finish();
                return Ok(see_other(
                    &admin.scim_path(&format!("/groups/{uid}?{query}")),
                ));
            }
            None => {
                error = Some(format!(
                    "This organization has no SCIM group named “{picked}”. Pick one of the \
                     list: groups appear here once the IdP pushes them."
                ));
            }
        }
    }
    let grants = group_mappings::grants_of(&app.db, &admin.scope, None).await?;
    let stacks = stacks::list(&app.db, &admin.scope).await?;
    let mut rows = Vec::new();
    for (group_id, g) in &grants {
        if let Some(group) = scim_groups::by_id(&app.db, &admin.scope, *group_id).await? {
            rows.push(MappingLine {
                group_uid: group.uid,
                group_name: group.display_name,
                grants: grants_words(g, &stacks),
            });
        }
    }
    rows.sort_by(|a, b| {
        a.group_name
            .to_lowercase()
            .cmp(&b.group_name.to_lowercase())
    });
    let q = search_term(query.q.as_deref());
    let results = if q.is_empty() {
        Vec::new()
    } else {
        let found = directory::groups(&app.db, &admin.scope, Some(&q), ScimGroupId(0), 20).await?;
        group_lines(&app, &admin, found).await?
    };
    let choices = directory::groups(&app.db, &admin.scope, None, ScimGroupId(0), PICKER)
        .await?
        .into_iter()
        .map(|r| r.group.display_name)
        .collect();
    let status = if error.is_some() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    Ok(render(
        status,
        &MappingsPage {
            nav: admin.nav("mappings"),
            back_query: back_query(&here),
            rows,
            q,
            results,
            choices,
            picked,
            error,
        },
    ))
}

/// The SCIM id of the organization's group whose displayName is `name` (ignoring case).
async fn group_named(
    app: &AuthorizeApp,
    admin: &OrgAdmin,
    name: &str,
) -> Result<Option<String>, PageError> {
    let wanted = name.to_lowercase();
    let found = directory::groups(&app.db, &admin.scope, Some(name), ScimGroupId(0), 50).await?;
    Ok(found
        .into_iter()
        .find(|r| r.group.display_name.to_lowercase() == wanted)
        .map(|r| r.group.uid))
}

/// Reads the mapping form: `org_role` (empty: none) and `stack:{uid}` per stack (empty: none).
fn parse_grants(form: &HashMap<String, String>, stacks: &[Stack]) -> Result<Grants, PageError> {
    let org_role =
        match form.get("org_role").map(|v| v.trim()) {
            None | Some("") => None,
            Some(role) => Some(role.parse::<OrgRole>().map_err(|_| {
                PageError::BadRequest(format!("“{role}” is not an organization role"))
            })?),
        };
    let mut stack_roles = Vec::new();
    for (key, value) in form {
        let Some(stack_uid) = key.strip_prefix("stack:") else {
            continue;
        };
        if value.trim().is_empty() {
            continue;
        }
        let stack = stacks.iter().find(|s| s.uid == stack_uid).ok_or_else(|| {
            PageError::BadRequest("one of the stacks no longer exists; reload the page".into())
        })?;
        let role = value
            .parse::<StackRole>()
            .map_err(|_| PageError::BadRequest(format!("“{value}” is not a stack role")))?;
        stack_roles.push((stack.id, role));
    }
    stack_roles.sort_unstable();
    Ok(Grants {
        org_role,
        stack_roles,
    })
}

/// The impact of a change, one line per (gain or loss, role, stack) with who is affected:
/// "1 user gains Admin (alice@example.com)", "3 users lose Developer on Marketing (…)".
async fn impact_lines(
    app: &AuthorizeApp,
    changes: &[RoleChange],
    stacks: &[Stack],
) -> Result<Vec<String>, PageError> {
    if changes.is_empty() {
        return Ok(vec!["No one's effective roles change.".to_owned()]);
    }
    let catalog = role_catalog::load(&app.db).await?;
    let ids: Vec<AccountId> = changes.iter().map(|c| c.account_id).collect();
    let emails: HashMap<AccountId, String> = accounts::by_ids(&app.db, &ids)
        .await?
        .into_iter()
        .map(|a| (a.id, a.email))
        .collect();
    // (gains?, role, stack name) → affected emails, in a stable order.
    let mut groups: std::collections::BTreeMap<(bool, String, String), Vec<String>> =
        std::collections::BTreeMap::new();
    for change in changes {
        let who = emails.get(&change.account_id).cloned().unwrap_or_default();
        let (before, after) = (&change.before.org_role, &change.after.org_role);
        if before != after {
            let rank = |r: &OrgRole| catalog.rank(RoleKind::Organization, r.as_str());
            let (gains, role) = if rank(after) > rank(before) {
                (true, after)
            } else {
                (false, before)
            };
            groups
                .entry((gains, title_case(role.as_str()), String::new()))
                .or_default()
                .push(who.clone());
        }
        for stack in stacks {
            let (b, a) = (
                change.before.stacks.get(&stack.id),
                change.after.stacks.get(&stack.id),
            );
            if b == a {
                continue;
            }
            let rank = |r: &StackRole| catalog.rank(RoleKind::Stack, r.as_str());
            let (gains, role) = match (b, a) {
                (Some(b), Some(a)) if rank(a) < rank(b) => (false, b),
                (Some(b), None) => (false, b),
                (_, Some(a)) => (true, a),
                (None, None) => continue,
            };
            groups
                .entry((gains, title_case(role.as_str()), stack.name.clone()))
                .or_default()
                .push(who.clone());
        }
    }
    Ok(groups
        .into_iter()
        .rev()
        .map(|((gains, role, stack), who)| {
            let n = who.len();
            let noun = if n == 1 { "user" } else { "users" };
            let verb = match (gains, n == 1) {
                (true, true) => "gains",
                (true, false) => "gain",
                (false, true) => "loses",
                (false, false) => "lose",
            };
            let on = if stack.is_empty() {
                String::new()
            } else {
                format!(" on {stack}")
            };
            let mut names: Vec<String> = who.into_iter().take(5).collect();
            if n > 5 {
                names.push(format!("and {} more", n - 5));
            }
            format!("{n} {noun} {verb} {role}{on} ({})", names.join(", "))
        })
        .collect())
}

/// The form fields that carry `grants` to the save step.
fn grant_fields(grants: &Grants, stacks: &[Stack]) -> Vec<(String, String)> {
    let mut fields = vec![(
        "org_role".to_owned(),
        grants
            .org_role
            .as_ref()
            .map(|r| r.as_str().to_owned())
            .unwrap_or_default(),
    )];
    for (id, role) in &grants.stack_roles {
        if let Some(stack) = stacks.iter().find(|s| s.id == *id) {
            fields.push((format!("stack:{}", stack.uid), role.as_str().to_owned()));
        }
    }
    fields
}

/// `POST …/groups/{id}/mapping` with `step` = `preview`, `save`, `remove` or `confirm-remove`
/// (and `back`, the group page's back link, carried through). A mistake — a mapping that grants
/// nothing, an unknown role or stack — shows the group page again with the reason, and changes
/// nothing.
pub async fn mapping(
    app: web::Data<AuthorizeApp>,
    admin: OrgAdmin,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let form = admin.form(&body)?;
    let (_, uid) = path.into_inner();
    let group = usecases::mappings::group(&app.core, &admin.scope, &uid).await?;
    let stacks = stacks::list(&app.db, &admin.scope).await?;
    let back = admin.back(
        form.get("back").map(String::as_str),
        admin.scim_path("/groups"),
    );
    let back_query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("back", &back)
        .finish();
    let group_page_path = admin.scim_path(&format!("/groups/{uid}"));
    let return_to = format!("{group_page_path}?{back_query}");
    let action = format!("{group_page_path}/mapping");
    let view = GroupView {
        uid: &uid,
        offset: 0,
        back: &back,
    };
    match form.get("step").map(String::as_str) {
        Some(step @ ("preview" | "save")) => {
            let grants = match parse_grants(&form, &stacks) {
                Ok(grants) => grants,
                Err(e) => return refused(&app, &admin, &view, e).await,
            };
            if step == "save" {
                if let Err(e) = usecases::mappings::save(
                    &app.core,
                    &admin.actor,
                    &admin.scope,
                    &uid,
                    Some(&grants),
                )
                .await
                {
                    return refused(&app, &admin, &view, e.into()).await;
                }
                let message = format!(
                    "Saved: members of {} get {}.",
                    group.display_name,
                    grants_words(&grants, &stacks)
                );
                return admin.done(&app, &return_to, &message).await;
            }
            let changes =
                match usecases::mappings::preview(&app.core, &admin.scope, &uid, Some(&grants))
                    .await
                {
                    Ok(changes) => changes,
                    Err(e) => return refused(&app, &admin, &view, e.into()).await,
                };
            let mut hidden = grant_fields(&grants, &stacks);
            hidden.push(("step".into(), "save".into()));
            hidden.push(("back".into(), back.clone()));
            Ok(confirm(&ConfirmPage {
                nav: admin.nav("groups"),
                title: format!(
                    "Map {} to {}?",
                    group.display_name,
                    grants_words(&grants, &stacks)
                ),
                message: "Members of this group get at least these roles; a member keeps a \
                          higher role that they hold manually or through another group. Saving \
                          changes these effective roles now:"
                    .to_owned(),
                items: impact_lines(&app, &changes, &stacks).await?,
                action,
                button: "Save mapping",
                hidden,
                cancel: return_to,
                danger: false,
            }))
        }
        Some("remove") => {
            let changes = usecases::mappings::preview(&app.core, &admin.scope, &uid, None).await?;
            Ok(confirm(&ConfirmPage {
                nav: admin.nav("groups"),
                title: format!("Remove the mapping of {}?", group.display_name),
                message: "The group stops granting roles. Removing it changes these effective \
                          roles now:"
                    .to_owned(),
                items: impact_lines(&app, &changes, &stacks).await?,
                action,
                button: "Remove mapping",
                hidden: vec![
                    ("step".into(), "confirm-remove".into()),
                    ("back".into(), back.clone()),
                ],
                cancel: return_to,
                danger: true,
            }))
        }
        Some("confirm-remove") => {
            usecases::mappings::save(&app.core, &admin.actor, &admin.scope, &uid, None).await?;
            let message = format!("Removed: {} no longer grants roles.", group.display_name);
            admin.done(&app, &return_to, &message).await
        }
        _ => {
            let e = PageError::BadRequest("choose Preview impact or Remove mapping".into());
            refused(&app, &admin, &view, e).await
        }
    }
}

/// The group page again with why the mapping form was refused (400), for a mistake in the form;
/// any other failure is its own page.
async fn refused(
    app: &AuthorizeApp,
    admin: &OrgAdmin,
    view: &GroupView<'_>,
    error: PageError,
) -> Result<HttpResponse, PageError> {
    match error {
        PageError::BadRequest(reason) => {
            group_page(app, admin, view, Some(reason), StatusCode::BAD_REQUEST).await
        }
        other => Err(other),
    }
}
