//! `/organizations/{id}/directory`, `…/groups` and `…/group-mappings`: what the identity provider
//! connected and synced, and what its groups grant.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, put, web};
use serde::Deserialize;
use store::OrgScope;
use store::ids::{ScimGroupId, StackId};
use store::repo::group_mappings::{self, Grants};
use store::repo::{
    api_tokens, audit, directory, installations, oauth_clients, organizations, stacks,
};
use utoipa::IntoParams;

use super::{Api, json};
use crate::auth::Backend;
use crate::dto::{
    BearerToken, ConnectedIdp, DirectoryState, Group, GroupMapping, LastScimChange,
    SavedGroupMapping, SetGroupMapping, StackGrant, UpdateDirectory,
};
use crate::paging::{self, Page};
use crate::problem::{ApiResult, Problem};

async fn state(api: &Api, scope: &OrgScope) -> ApiResult<DirectoryState> {
    let db = api.core.db();
    let org = organizations::get(db, scope).await?;
    let (user_count, group_count) = directory::counts(db, scope).await?;
    let bearer_tokens = api_tokens::list(db, scope)
        .await?
        .into_iter()
        .map(|t| BearerToken {
            id: t.uid,
            name: t.name,
            prefix: t.prefix,
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        })
        .collect();
    let mut connected_idps = Vec::new();
    for installation in installations::list(db, scope).await? {
        let client = oauth_clients::find_by_id(db, installation.client_id).await?;
        connected_idps.push(ConnectedIdp {
            id: installation.uid,
            client_id: client
                .as_ref()
                .map(|c| c.client_id.clone())
                .unwrap_or_default(),
            client_name: client.map_or_else(|| "(removed client)".to_owned(), |c| c.name),
            scopes: installation.scopes,
            created_at: installation.created_at,
            last_used_at: installation.last_used_at,
            revoked_at: installation.revoked_at,
        });
    }
    let last_scim_change = audit::last_by(db, scope, &["api_token", "installation"])
        .await?
        .map(|row| LastScimChange {
            at: row.created_at,
            action: row.action,
        });
    Ok(DirectoryState {
        scim_enabled: org.scim_enabled,
        scim_base_url: format!(
            "{}/scim/v2.0/organizations/{}",
            api.settings.auth_api_url,
            scope.org_uid()
        ),
        users: user_count,
        groups: group_count,
        bearer_tokens,
        connected_idps,
        last_scim_change,
    })
}

/// Read the organization's directory: SCIM switch and Base URL, bearer tokens (metadata only),
/// connected IdPs, counts of synced users and groups, the last change an IdP made.
#[utoipa::path(tag = "directory", params(("id" = String, Path, description = "Organization id")),
    responses((status = 200, body = DirectoryState), (status = 404, body = Problem)),
    security(("backend" = ["organizations:read"])))]
#[get("/organizations/{id}/directory")]
pub async fn get_state(
    api: Api,
    backend: Backend,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    backend.require("organizations:read")?;
    let scope = backend.organization(&api, &id).await?;
    Ok(json(StatusCode::OK, &state(&api, &scope).await?))
}

/// Turn SCIM on or off (off keeps every token, user and group; requests are refused until it is
/// on again, on every replica at once).
#[utoipa::path(tag = "directory", request_body = UpdateDirectory,
    params(("id" = String, Path, description = "Organization id")),
    responses((status = 200, body = DirectoryState), (status = 404, body = Problem)),
    security(("backend" = ["organizations:write"])))]
#[patch("/organizations/{id}/directory")]
pub async fn update(
    api: Api,
    backend: Backend,
    id: web::Path<String>,
    body: web::Json<UpdateDirectory>,
) -> ApiResult<HttpResponse> {
    backend.require("organizations:write")?;
    let scope = backend.organization(&api, &id).await?;
    usecases::organizations::set_scim_enabled(&api.core, &backend.actor, &scope, body.scim_enabled)
        .await?;
    Ok(json(StatusCode::OK, &state(&api, &scope).await?))
}

/// `GET …/groups` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListGroups {
    /// From the page this cursor ends.
    pub cursor: Option<String>,
    /// Page size (1 to 200; default 50).
    pub limit: Option<u64>,
    /// Only groups whose name starts with this (case ignored).
    pub q: Option<String>,
}

/// List the SCIM groups the identity provider pushed, with member counts.
#[utoipa::path(tag = "directory", params(("id" = String, Path, description = "Organization id"), ListGroups),
    responses((status = 200, body = inline(Page<Group>)), (status = 404, body = Problem)),
    security(("backend" = ["organizations:read"])))]
#[get("/organizations/{id}/groups")]
pub async fn groups(
    api: Api,
    backend: Backend,
    id: web::Path<String>,
    query: web::Query<ListGroups>,
) -> ApiResult<HttpResponse> {
    backend.require("organizations:read")?;
    let scope = backend.organization(&api, &id).await?;
    let limit = paging::limit(query.limit)?;
    let after = paging::decode("groups", query.cursor.as_deref())?.unwrap_or(0);
    let rows = directory::groups(
        api.core.db(),
        &scope,
        query.q.as_deref(),
        ScimGroupId(after),
        limit + 1,
    )
    .await?;
    let page = paging::page(
        rows,
        limit,
        "groups",
        |r| r.group.id.0,
        |r| Group {
            id: r.group.uid,
            display_name: r.group.display_name,
            external_id: r.group.external_id,
            member_count: r.member_count,
        },
    );
    Ok(json(StatusCode::OK, &page))
}

fn mapping_view(
    group_uid: String,
    group_name: String,
    grants: &Grants,
    stack_uids: &HashMap<StackId, String>,
) -> GroupMapping {
    GroupMapping {
        group_id: group_uid,
        group_name,
        role: grants.org_role.as_ref().map(ToString::to_string),
        stack_roles: grants
            .stack_roles
            .iter()
            .filter_map(|(stack, role)| {
                Some(StackGrant {
                    stack_id: stack_uids.get(stack)?.clone(),
                    role: role.to_string(),
                })
            })
            .collect(),
    }
}

async fn stack_uids(api: &Api, scope: &OrgScope) -> ApiResult<HashMap<StackId, String>> {
    Ok(stacks::list(api.core.db(), scope)
        .await?
        .into_iter()
        .map(|s| (s.id, s.uid))
        .collect())
}

/// List the group mappings: what each mapped SCIM group grants its members.
#[utoipa::path(tag = "directory", params(("id" = String, Path, description = "Organization id")),
    responses((status = 200, body = inline(Page<GroupMapping>)), (status = 404, body = Problem)),
    security(("backend" = ["organizations:read"])))]
#[get("/organizations/{id}/group-mappings")]
pub async fn mappings(
    api: Api,
    backend: Backend,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    backend.require("organizations:read")?;
    let scope = backend.organization(&api, &id).await?;
    let uids = stack_uids(&api, &scope).await?;
    let data: Vec<GroupMapping> = group_mappings::list(api.core.db(), &scope)
        .await?
        .into_iter()
        .map(|(group, grants)| mapping_view(group.uid, group.display_name, &grants, &uids))
        .collect();
    Ok(json(
        StatusCode::OK,
        &Page {
            data,
            next_cursor: None,
        },
    ))
}

/// Map a SCIM group to an organization role and stack roles (never Owner). Members' effective
/// roles are recomputed at once and every change is an event.
#[utoipa::path(tag = "directory", request_body = SetGroupMapping,
    params(("id" = String, Path, description = "Organization id"),
        ("group_id" = String, Path, description = "The group's SCIM id")),
    responses((status = 200, body = SavedGroupMapping), (status = 400, body = Problem),
        (status = 404, body = Problem)),
    security(("backend" = ["organizations:write"])))]
#[put("/organizations/{id}/group-mappings/{group_id}")]
pub async fn set_mapping(
    api: Api,
    backend: Backend,
    path: web::Path<(String, String)>,
    body: web::Json<SetGroupMapping>,
) -> ApiResult<HttpResponse> {
    backend.require("organizations:write")?;
    let (org, group_uid) = path.into_inner();
    let scope = backend.organization(&api, &org).await?;
    let stacks = stacks::list(api.core.db(), &scope).await?;
    let body = body.into_inner();
    let mut stack_roles = Vec::new();
    for grant in &body.stack_roles {
        let stack = stacks
            .iter()
            .find(|s| s.uid == grant.stack_id)
            .ok_or_else(|| {
                Problem::invalid(format!("no stack {} in this organization", grant.stack_id))
            })?;
        stack_roles.push((stack.id, grant.role.parse()?));
    }
    let grants = Grants {
        org_role: body.role.as_deref().map(str::parse).transpose()?,
        stack_roles,
    };
    let changes =
        usecases::mappings::save(&api.core, &backend.actor, &scope, &group_uid, Some(&grants))
            .await?;
    let group = usecases::mappings::group(&api.core, &scope, &group_uid).await?;
    let uids = stacks.into_iter().map(|s| (s.id, s.uid)).collect();
    Ok(json(
        StatusCode::OK,
        &SavedGroupMapping {
            mapping: mapping_view(group.uid, group.display_name, &grants, &uids),
            members_changed: changes.len(),
        },
    ))
}

/// Remove a group's mapping: its members lose what it granted.
#[utoipa::path(tag = "directory",
    params(("id" = String, Path, description = "Organization id"),
        ("group_id" = String, Path, description = "The group's SCIM id")),
    responses((status = 204), (status = 404, body = Problem)),
    security(("backend" = ["organizations:write"])))]
#[delete("/organizations/{id}/group-mappings/{group_id}")]
pub async fn remove_mapping(
    api: Api,
    backend: Backend,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    backend.require("organizations:write")?;
    let (org, group_uid) = path.into_inner();
    let scope = backend.organization(&api, &org).await?;
    usecases::mappings::save(&api.core, &backend.actor, &scope, &group_uid, None).await?;
    Ok(HttpResponse::NoContent().finish())
}
