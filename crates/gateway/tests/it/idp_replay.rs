//! Replays of what identity providers actually send, per their public provisioning docs, checking
//! the state the server ends in (resources read back, memberships, events), not only statuses.
//! Bodies, headers and query strings are written as each IdP writes them: `+` for spaces,
//! trailing `&`, unknown parameters, capitalized ops, booleans as strings, dotted path-less keys.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::panic)]

use crate::common;

use common::scim::ScimEnv;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{Backend, backend_tests};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn ops(operations: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": operations})
}

async fn lookup(env: &ScimEnv, query: &str) -> Value {
    let reply = env.get(&format!("/Users?{query}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

/// Okta (OIN / "SCIM 2.0 Test App" templates): lookup by userName with startIndex/count, create,
/// PUT profile updates, deactivation by PATCH `replace` of `active`, group push, rename, and a
/// retried create after a timeout.
async fn okta_lifecycle_and_group_push(backend: Backend) {
    let env = ScimEnv::start(backend).await;
    let miss = lookup(
        &env,
        "filter=userName%20eq%20%22dana%40acme.test%22&startIndex=1&count=100",
    )
    .await;
    assert_eq!(miss["totalResults"], 0);
    let okta_user = json!({
        "schemas": [USER],
        "userName": "dana@acme.test",
        "name": {"givenName": "Dana", "familyName": "Ng"},
        "emails": [{"primary": true, "value": "dana@acme.test", "type": "work"}],
        "displayName": "Dana Ng",
        "locale": "en-US",
        "externalId": "00u1a2b3c4",
        "groups": [],
        "password": "Tr0ub4dor&3",
        "active": true
    });
    let created = env.post("/Users", &okta_user).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert!(
        created.body.get("password").is_none(),
        "passwords are never returned"
    );
    let id = created.body["id"].as_str().unwrap().to_owned();
    // Okta retries a create that timed out: the duplicate is a uniqueness conflict, nothing changes.
    env.post("/Users", &okta_user)
        .await
        .assert_error(409, Some("uniqueness"));
    let hit = lookup(
        &env,
        "filter=userName%20eq%20%22DANA%40acme.test%22&startIndex=1&count=100",
    )
    .await;
    assert_eq!(hit["Resources"][0]["id"], id.as_str());

    let mut update = okta_user.clone();
    update["name"]["familyName"] = json!("Ng-Smith");
    update["id"] = json!(id);
    let put = env
        .call(Method::PUT, &format!("/Users/{id}"), Some(&update))
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(put.body["name"]["familyName"], "Ng-Smith");

    let deactivate = ops(json!([{"op": "replace", "value": {"active": false}}]));
    assert_eq!(
        env.call(Method::PATCH, &format!("/Users/{id}"), Some(&deactivate))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        env.membership("dana@acme.test").await.unwrap().0,
        "suspended"
    );
    let reactivate = ops(json!([{"op": "replace", "value": {"active": true}}]));
    assert_eq!(
        env.call(Method::PATCH, &format!("/Users/{id}"), Some(&reactivate))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(env.membership("dana@acme.test").await.unwrap().0, "invited");

    // Group push: create with members, rename, add and remove members.
    let second = env.create_user("eli").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let group = env.post("/Groups", &json!({"schemas": [GROUP], "displayName": "Okta Engineers", "members": [{"value": id, "display": "dana@acme.test"}]})).await;
    assert_eq!(group.status, StatusCode::CREATED, "{}", group.body);
    let gid = group.body["id"].as_str().unwrap().to_owned();
    let rename =
        ops(json!([{"op": "replace", "value": {"id": gid, "displayName": "Engineering"}}]));
    assert_eq!(
        env.call(Method::PATCH, &format!("/Groups/{gid}"), Some(&rename))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let change = ops(json!([
        {"op": "remove", "path": format!("members[value eq \"{id}\"]")},
        {"op": "add", "path": "members", "value": [{"value": second, "display": "eli"}]}
    ]));
    let changed = env
        .call(Method::PATCH, &format!("/Groups/{gid}"), Some(&change))
        .await;
    // Okta's documentation shows 204 No Content for its group PATCHes.
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{}", changed.body);
    let group = env.get(&format!("/Groups/{gid}")).await.body;
    assert_eq!(group["displayName"], "Engineering");
    let members: Vec<&str> = group["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(members, vec![second.as_str()]);

    assert_eq!(
        env.call(Method::DELETE, &format!("/Groups/{gid}"), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        env.call(Method::DELETE, &format!("/Users/{id}"), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(env.membership("dana@acme.test").await, None);
    let kinds = env.event_kinds().await;
    for kind in [
        "membership.invited",
        "membership.suspended",
        "membership.restored",
        "membership.removed",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
}

/// Microsoft Entra ID, default and `aadOptscim062020` dialects: lookups with the flag, create with
/// the enterprise extension and a manager, capitalized ops, string booleans, dotted and
/// URN-qualified path-less keys, filtered email paths, member removal by value list,
/// `excludedAttributes=members` reads.
async fn entra_dialects(backend: Backend) {
    let env = ScimEnv::start(backend).await;
    let boss = env.create_user("boss").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let miss = lookup(
        &env,
        "aadOptscim062020&filter=userName+eq+%22frank%40contoso.test%22",
    )
    .await;
    assert_eq!(miss["totalResults"], 0);
    let by_external = lookup(
        &env,
        "filter=externalId+eq+%2200000000-0000-0000-0000-00000000f001%22&",
    )
    .await;
    assert_eq!(by_external["totalResults"], 0);
    let entra_user = json!({
        "schemas": [USER, ENTERPRISE],
        "externalId": "00000000-0000-0000-0000-00000000f001",
        "userName": "frank@contoso.test",
        "active": true,
        "displayName": "Frank Ocean",
        "emails": [{"primary": true, "type": "work", "value": "frank@contoso.test"}],
        "name": {"formatted": "Frank Ocean", "familyName": "Ocean", "givenName": "Frank"},
        "title": "Engineer",
        ENTERPRISE: {"department": "R&D", "employeeNumber": "1001", "manager": {"value": boss}}
    });
    let created = env.post("/Users", &entra_user).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(created.body[ENTERPRISE]["manager"]["value"], boss.as_str());

    let update = ops(json!([
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Add", "value": {"name.givenName": "Franklin", "title": "Staff Engineer"}},
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "franklin@contoso.test"},
        {"op": "Add", "path": format!("{ENTERPRISE}:department"), "value": "Platform"},
        {"op": "Replace", "path": format!("{ENTERPRISE}:manager"), "value": boss}
    ]));
    let patched = env
        .call(Method::PATCH, &format!("/Users/{id}"), Some(&update))
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let user = env.get(&format!("/Users/{id}")).await.body;
    assert_eq!(user["active"], false);
    assert_eq!(user["name"]["givenName"], "Franklin");
    assert_eq!(user["title"], "Staff Engineer");
    assert_eq!(user["emails"][0]["value"], "franklin@contoso.test");
    assert_eq!(user[ENTERPRISE]["department"], "Platform");
    assert_eq!(user[ENTERPRISE]["manager"]["value"], boss.as_str());
    assert_eq!(
        env.membership("frank@contoso.test").await.unwrap().0,
        "suspended",
        "the account is the one linked at creation"
    );
    let by_email = lookup(
        &env,
        "filter=emails%5Btype+eq+%22work%22%5D.value+eq+%22franklin%40contoso.test%22",
    )
    .await;
    assert_eq!(by_email["totalResults"], 1);

    let group = env.post("/Groups", &json!({"schemas": [GROUP], "externalId": "grp-1", "displayName": "Contoso Sales", "members": []})).await;
    let gid = group.body["id"].as_str().unwrap().to_owned();
    let found = env
        .get("/Groups?excludedAttributes=members&filter=displayName+eq+%22Contoso+Sales%22")
        .await;
    assert_eq!(found.body["totalResults"], 1);
    assert!(found.body["Resources"][0].get("members").is_none());
    let add =
        ops(json!([{"op": "Add", "path": "members", "value": [{"value": id}, {"value": boss}]}]));
    assert_eq!(
        env.call(Method::PATCH, &format!("/Groups/{gid}"), Some(&add))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let remove = ops(json!([{"op": "Remove", "path": "members", "value": [{"value": boss}]}]));
    assert_eq!(
        env.call(Method::PATCH, &format!("/Groups/{gid}"), Some(&remove))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let members = env.get(&format!("/Groups/{gid}")).await.body["members"].clone();
    assert_eq!(members.as_array().unwrap().len(), 1);
    assert_eq!(members[0]["value"], id.as_str());

    assert_eq!(
        env.call(Method::DELETE, &format!("/Users/{id}"), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let members = env.get(&format!("/Groups/{gid}")).await.body["members"].clone();
    assert_eq!(
        members.as_array().map_or(0, Vec::len),
        0,
        "a deleted user leaves its groups"
    );
}

/// OneLogin: create with `emails` as one object, updates by PUT of the whole user, deactivation
/// by PUT with `active: false`, group membership replaced wholesale.
async fn onelogin_put_style(backend: Backend) {
    let env = ScimEnv::start(backend).await;
    let onelogin_user = json!({
        "schemas": [USER],
        "userName": "gail",
        "name": {"givenName": "Gail", "familyName": "Hart"},
        "emails": {"value": "gail@onelogin.test", "primary": true},
        "externalId": "ol-77",
        "active": "true"
    });
    let created = env.post("/Users", &onelogin_user).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(created.body["emails"][0]["value"], "gail@onelogin.test");
    assert_eq!(
        env.membership("gail@onelogin.test").await.unwrap().0,
        "invited"
    );

    let mut off = onelogin_user.clone();
    off["active"] = json!(false);
    off["name"]["familyName"] = json!("Hart-Lee");
    let put = env
        .call(Method::PUT, &format!("/Users/{id}"), Some(&off))
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(put.body["name"]["familyName"], "Hart-Lee");
    assert_eq!(
        env.membership("gail@onelogin.test").await.unwrap().0,
        "suspended"
    );

    let other = env.create_user("hugo").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let group = env
        .post(
            "/Groups",
            &json!({"schemas": [GROUP], "displayName": "OneLogin Ops", "members": [{"value": id}]}),
        )
        .await;
    let gid = group.body["id"].as_str().unwrap().to_owned();
    let replace =
        json!({"schemas": [GROUP], "displayName": "OneLogin Ops", "members": [{"value": other}]});
    let put = env
        .call(Method::PUT, &format!("/Groups/{gid}"), Some(&replace))
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    let members: Vec<String> = put.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(members, vec![other]);
}

/// The same IdP sequence against two organizations with the same userNames: each sees only its own.
async fn same_sequence_in_two_organizations(backend: Backend) {
    let env = ScimEnv::start(backend).await;
    let (beta, beta_token) = env.other_org("beta");
    let beta_base = env.server.url(&format!("/scim/v2.0/organizations/{beta}"));
    for (base, token) in [
        (env.base(), env.token.clone()),
        (beta_base.clone(), beta_token.clone()),
    ] {
        let created = env
            .send(
                Method::POST,
                &format!("{base}/Users"),
                Some(&token),
                Some(&common::scim::user("ivy")),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let id = created.body["id"].as_str().unwrap();
        let off = ops(json!([{"op": "replace", "value": {"active": false}}]));
        assert_eq!(
            env.send(
                Method::PATCH,
                &format!("{base}/Users/{id}"),
                Some(&token),
                Some(&off)
            )
            .await
            .status,
            StatusCode::OK
        );
    }
    let ours = env.get("/Users?filter=userName+eq+%22ivy%22").await.body;
    let theirs = env
        .send(
            Method::GET,
            &format!("{beta_base}/Users?filter=userName+eq+%22ivy%22"),
            Some(&beta_token),
            None,
        )
        .await
        .body;
    assert_eq!(
        (
            ours["totalResults"].as_u64(),
            theirs["totalResults"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_ne!(ours["Resources"][0]["id"], theirs["Resources"][0]["id"]);
}

backend_tests!(
    okta_lifecycle_and_group_push,
    entra_dialects,
    onelogin_put_style,
    same_sequence_in_two_organizations
);
