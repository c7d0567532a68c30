//! Provisioning: what each SCIM write records (rows, audit, typed events) and the rules every
//! surface shares.

use serde_json::{Value, json};
use store::repo::group_mappings::Grants;
use store::repo::{audit, memberships};
use store::types::{MembershipStatus, OrgRole};
use testkit::{Backend, backend_tests};
use usecases::scim::{groups, users};
use usecases::{Actor, Error};

use super::common::*;

/// A SCIM create writes the user, the membership, the audit row and two typed events naming
/// the actor and the request, in one transaction.
async fn provisioning_records_typed_events_with_their_actor(backend: Backend) {
    let world = world(backend).await;
    let before = all_events(world.core.db(), &world.scope).await.len();
    let user = scim_user(&world, &idp(), "bjensen", "bjensen@example.com").await;
    let events = all_events(world.core.db(), &world.scope).await;
    let new = &events[before..];
    assert_eq!(kinds(new), ["directory.user.created", "membership.invited"]);
    for event in new {
        assert_eq!(event.actor_type, "api_token");
        assert_eq!(event.actor_id.as_deref(), Some("tok_1"));
        assert_eq!(event.request_id.as_deref(), Some("req-1"));
        assert!(event.uid.starts_with("evt_"));
    }
    assert_eq!(new[0].subject_id, user["id"].as_str().unwrap());
    assert_eq!(new[0].subject_version, Some(1));
    let rows = audit::list(world.core.db(), &world.scope, None, 1)
        .await
        .unwrap();
    assert_eq!(rows[0].action, "scim_user.created");
    assert_eq!(rows[0].request_id.as_deref(), Some("req-1"));
}

/// Provisioning never suspends or removes an Owner: the request succeeds for the SCIM user, the
/// membership stays active, and what was asked is recorded as an event.
async fn provisioning_cannot_lock_the_owner_out(backend: Backend) {
    let world = world(backend).await;
    let settings = scim_settings();
    let actor = idp();
    let ctx = world_ctx(&world, &actor, &settings);
    let user = scim_user(&world, &actor, "owner", &world.owner_email).await;
    let id = user["id"].as_str().unwrap();
    let deactivate: scim_core::patch::PatchRequest = serde_json::from_value(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": false}}]}))
    .unwrap();
    users::patch(ctx, id, &deactivate, None).await.unwrap();
    users::delete(ctx, id, None).await.unwrap();
    let owner = store::repo::accounts::find_by_email(
        world.core.db(),
        &store::types::Email::parse(&world.owner_email).unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    let membership = memberships::get(world.core.db(), &world.scope, owner.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(membership.status, MembershipStatus::Active.as_str());
    assert_eq!(membership.role, OrgRole::owner().as_str());
    let events = all_events(world.core.db(), &world.scope).await;
    let protected: Vec<String> = events
        .iter()
        .filter(|e| e.kind == "member.owner_protected")
        .map(|e| serde_json::from_str::<Value>(&e.payload).unwrap()["asked"].to_string())
        .collect();
    assert_eq!(protected, ["\"suspend\"", "\"remove\""]);
    assert!(!kinds(&events).contains(&"membership.suspended"));
    assert!(!kinds(&events).contains(&"membership.removed"));
}

/// Membership changes of a large push are bounded events: 1,200 members are three events of at
/// most 500 ids, in order.
async fn member_events_come_in_bounded_chunks(backend: Backend) {
    let world = world(backend).await;
    let settings = scim_settings();
    let actor = idp();
    let ctx = world_ctx(&world, &actor, &settings);
    let mut ids = Vec::new();
    for i in 0..1_200 {
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": format!("user{i}")});
        ids.push(
            users::create(ctx, body).await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let members: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
    groups::create(
        ctx,
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Everyone", "members": members}),
    )
    .await
    .unwrap();
    let events = all_events(world.core.db(), &world.scope).await;
    let chunks: Vec<Value> = events
        .iter()
        .filter(|e| e.kind == "directory.group.members_added")
        .map(|e| serde_json::from_str(&e.payload).unwrap())
        .collect();
    assert_eq!(chunks.len(), 3);
    let sizes: Vec<usize> = chunks
        .iter()
        .map(|c| c["members"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [500, 500, 200]);
    assert_eq!(chunks[2]["chunk"], json!({"index": 3, "count": 3}));
    let sent: Vec<String> = chunks
        .iter()
        .flat_map(|c| c["members"].as_array().unwrap().clone())
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(sent, ids, "every member once, in order");
}

/// A mapping may not grant Owner nor nothing; a refused change writes nothing.
async fn mappings_never_grant_owner(backend: Backend) {
    let world = world(backend).await;
    let settings = scim_settings();
    let actor = idp();
    let ctx = world_ctx(&world, &actor, &settings);
    let group = groups::create(
        ctx,
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Admins"}),
    )
    .await
    .unwrap();
    let uid = group["id"].as_str().unwrap();
    let admin = Actor::operator();
    let before = all_events(world.core.db(), &world.scope).await.len();
    for grants in [
        Grants {
            org_role: Some(OrgRole::owner()),
            stack_roles: Vec::new(),
        },
        Grants::default(),
    ] {
        let refused =
            usecases::mappings::save(&world.core, &admin, &world.scope, uid, Some(&grants)).await;
        assert!(matches!(refused, Err(Error::Invalid(_))), "{refused:?}");
    }
    assert_eq!(
        all_events(world.core.db(), &world.scope).await.len(),
        before
    );
    let ok = Grants {
        org_role: Some("admin".parse::<OrgRole>().unwrap()),
        stack_roles: Vec::new(),
    };
    usecases::mappings::save(&world.core, &admin, &world.scope, uid, Some(&ok))
        .await
        .unwrap();
    let events = all_events(world.core.db(), &world.scope).await;
    assert_eq!(kinds(&events[before..]), ["group_mapping.saved"]);
}

backend_tests!(
    provisioning_records_typed_events_with_their_actor,
    provisioning_cannot_lock_the_owner_out,
    member_events_come_in_bounded_chunks,
    mappings_never_grant_owner,
);
