//! The event catalogue as published: one scenario drives the use cases through the changes a
//! deployment sees, and every event that comes out of the feed is checked against
//! `docs/events.md` — its type has a section there and every key of its `data` (and of its
//! `previous_attributes`) is named in that section — and against the rule that no secret is ever
//! in an event. `SCIMGATE_WRITE_EVENT_EXAMPLES=<file>` writes the scenario's envelopes, by type, to that
//! file (how the examples in the document were made).

use std::collections::BTreeMap;

use serde_json::{Value, json};
use store::repo::group_mappings::Grants;
use store::types::OrgRole;
use testkit::{Backend, backend_tests};
use usecases::Actor;
use usecases::events::EventType;
use usecases::feed::FeedQuery;
use usecases::members::NewMember;
use usecases::scim::{Ctx, groups, users};

use super::common::*;

const DOC: &str = include_str!("../../../../docs/events.md");

/// The section of the document about `kind`: from its heading to the next.
fn section(kind: &str) -> Option<&'static str> {
    let heading = format!("### `{kind}`");
    let start = DOC.find(&heading)?;
    let rest = &DOC[start + heading.len()..];
    let end = rest
        .find("\n### ")
        .or_else(|| rest.find("\n## "))
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

fn patch(ops: Value) -> scim_core::patch::PatchRequest {
    serde_json::from_value(
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops}),
    )
    .unwrap()
}

/// A deployment's day: provisioning, groups and their mappings, stacks, members by hand, tokens,
/// settings, SCIM switched off and the organization deleted.
async fn every_published_event_is_documented_and_holds_no_secret(backend: Backend) {
    let world = world(backend).await;
    let core = &world.core;
    let scope = &world.scope;
    let idp = idp();
    let admin = Actor::operator();
    let settings = scim_settings();
    let ctx = Ctx {
        core,
        scope,
        actor: &idp,
        settings: &settings,
        base_url: "http://scim.test",
    };
    usecases::organizations::set_scim_enabled(core, &admin, scope, true)
        .await
        .unwrap();
    let token = usecases::tokens::create(core, &admin, scope, "Okta", Some(90))
        .await
        .unwrap();
    let stack = usecases::stacks::create(core, &admin, scope, "Production")
        .await
        .unwrap();
    let user = scim_user(&world, &idp, "bjensen", "bjensen@acme.test").await;
    let user_id = user["id"].as_str().unwrap();
    users::patch(
        ctx,
        user_id,
        &patch(json!([{"op": "replace", "path": "displayName", "value": "Barbara Jensen"}])),
        None,
    )
    .await
    .unwrap();
    let group = groups::create(
        ctx,
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Engineering",
            "members": [{"value": user_id}]}),
    )
    .await
    .unwrap();
    let group_id = group["id"].as_str().unwrap();
    let grants = Grants {
        org_role: Some("admin".parse::<OrgRole>().unwrap()),
        stack_roles: vec![(stack.id, "developer".parse().unwrap())],
    };
    usecases::mappings::save(core, &admin, scope, group_id, Some(&grants))
        .await
        .unwrap();
    groups::patch(
        ctx,
        group_id,
        &patch(json!([{"op": "replace", "value": {"displayName": "Eng"}}])),
        None,
        false,
    )
    .await
    .unwrap();
    groups::patch(
        ctx,
        group_id,
        &patch(json!([{"op": "remove", "path": format!("members[value eq \"{user_id}\"]")}])),
        None,
        false,
    )
    .await
    .unwrap();
    usecases::mappings::save(core, &admin, scope, group_id, None)
        .await
        .unwrap();
    groups::delete(ctx, group_id, None).await.unwrap();
    // The Owner protection: the IdP deactivates the Owner's SCIM user.
    let owner = scim_user(&world, &idp, "owner", &world.owner_email).await;
    users::patch(
        ctx,
        owner["id"].as_str().unwrap(),
        &patch(json!([{"op": "replace", "value": {"active": false}}])),
        None,
    )
    .await
    .unwrap();
    users::patch(
        ctx,
        user_id,
        &patch(json!([{"op": "replace", "value": {"active": false}}])),
        None,
    )
    .await
    .unwrap();
    users::patch(
        ctx,
        user_id,
        &patch(json!([{"op": "replace", "value": {"active": true}}])),
        None,
    )
    .await
    .unwrap();
    let added = usecases::members::add(
        core,
        &admin,
        scope,
        NewMember {
            email: "hand@acme.test".into(),
            role: "member".parse().unwrap(),
            password: None,
        },
    )
    .await
    .unwrap();
    usecases::members::set_role(
        core,
        &admin,
        scope,
        added.account.id,
        &"admin".parse().unwrap(),
    )
    .await
    .unwrap();
    usecases::members::remove(core, &admin, scope, added.account.id)
        .await
        .unwrap();
    users::delete(ctx, user_id, None).await.unwrap();
    usecases::stacks::rename(core, &admin, scope, &stack.uid, "Prod")
        .await
        .unwrap();
    usecases::stacks::delete(core, &admin, scope, &stack.uid)
        .await
        .unwrap();
    let rotated = usecases::tokens::rotate(
        core,
        &admin,
        scope,
        &token.row.uid,
        usecases::tokens::Overlap::parse("24h").unwrap(),
        None,
    )
    .await
    .unwrap();
    usecases::tokens::revoke(core, &admin, scope, &token.row.uid)
        .await
        .unwrap();
    usecases::organizations::update(
        core,
        &admin,
        scope,
        &store::repo::organizations::OrganizationChanges {
            name: Some("Acme Corp".into()),
            invitations_enabled: Some(false),
        },
        None,
    )
    .await
    .unwrap();
    usecases::organizations::set_scim_enabled(core, &admin, scope, false)
        .await
        .unwrap();
    usecases::organizations::delete(core, &admin, scope, scope.org_uid())
        .await
        .unwrap();
    sequence_all(core).await;
    let (events, _) = follow(
        core,
        None,
        FeedQuery {
            limit: 1000,
            ..FeedQuery::default()
        },
    )
    .await;

    let mut examples: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for event in &events {
        examples
            .entry(event["type"].as_str().unwrap().to_owned())
            .or_default()
            .push(event.clone());
    }
    if let Ok(path) = std::env::var("SCIMGATE_WRITE_EVENT_EXAMPLES") {
        std::fs::write(path, serde_json::to_string_pretty(&examples).unwrap()).unwrap();
    }
    // The token itself (its public prefix is fine), webhook secrets, password hashes, client
    // secrets.
    let secret_markers = [
        token.token.as_str(),
        rotated.issued.token.as_str(),
        "whsec_",
        "$argon2",
        "password",
        "client_secret",
    ];
    for event in &events {
        let kind = event["type"].as_str().unwrap();
        assert!(
            EventType::parse(kind).is_some(),
            "{kind} is in the catalogue"
        );
        let text = event.to_string();
        for marker in secret_markers {
            assert!(!text.contains(marker), "{kind} carries '{marker}': {text}");
        }
        let doc = section(kind).unwrap_or_else(|| panic!("docs/events.md has no section `{kind}`"));
        for part in ["data", "previous_attributes"] {
            if let Some(fields) = event[part].as_object() {
                for key in fields.keys() {
                    assert!(
                        doc.contains(&format!("`{key}`")),
                        "docs/events.md `{kind}` does not name {part}.{key}"
                    );
                }
            }
        }
    }
    let produced: Vec<&str> = examples.keys().map(String::as_str).collect();
    for expected in [
        "organization.created",
        "membership.invited",
        "scim.enabled",
        "api_token.created",
        "stack.created",
        "directory.user.created",
        "directory.user.updated",
        "directory.group.created",
        "directory.group.members_added",
        "group_mapping.saved",
        "member.roles_changed",
        "directory.group.updated",
        "directory.group.members_removed",
        "group_mapping.removed",
        "directory.group.deleted",
        "member.owner_protected",
        "membership.suspended",
        "membership.restored",
        "member.updated",
        "membership.removed",
        "directory.user.deleted",
        "stack.updated",
        "stack.deleted",
        "api_token.rotated",
        "api_token.revoked",
        "organization.updated",
        "scim.disabled",
        "organization.deleted",
    ] {
        assert!(
            produced.contains(&expected),
            "the scenario publishes {expected}: {produced:?}"
        );
    }
}

/// Every type of the catalogue has its section, whether or not the scenario makes one.
#[test]
fn every_event_type_has_a_section() {
    for kind in EventType::ALL {
        assert!(
            section(kind.as_str()).is_some(),
            "docs/events.md has no section `{}`",
            kind.as_str()
        );
    }
}

backend_tests!(every_published_event_is_documented_and_holds_no_secret);
