//! The SCIM API against the real server on both backends: protocol behaviour, what provisioning
//! means for memberships, tenant isolation, paging, bulk, concurrency.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::panic)]

use crate::common;

use common::scim::{ScimEnv, group, patch, user};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{Backend, backend_tests};

async fn user_lifecycle_drives_the_membership(backend: Backend) {
    let env = ScimEnv::start(backend).await;
    let reply = env.post("/Users", &user("Alice.Smith")).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let created = &reply.body;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        reply.header("location"),
        created["meta"]["location"].as_str()
    );
    assert_eq!(reply.header("etag"), created["meta"]["version"].as_str());
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("application/scim+json")
    );
    for key in [
        "created",
        "lastModified",
        "resourceType",
        "location",
        "version",
    ] {
        assert!(created["meta"][key].is_string(), "meta.{key}: {created}");
    }
    assert_eq!(created["userName"], "Alice.Smith");
    assert!(created.get("password").is_none());
    assert_eq!(
        env.membership("alice.smith@example.com").await,
        Some(("invited".into(), "member".into()))
    );

    let found = env.get("/Users?filter=userName+eq+%22ALICE.SMITH%22").await;
    assert_eq!(found.body["totalResults"], 1, "{}", found.body);
    assert_eq!(
        found.body["Resources"][0]["userName"], "Alice.Smith",
        "returned as stored"
    );

    let off = env
        .call(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(&patch(
                json!([{"op": "Replace", "path": "active", "value": "False"}]),
            )),
        )
        .await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.body);
    assert_eq!(off.body["active"], false);
    assert_eq!(
        env.membership("alice.smith@example.com").await.unwrap().0,
        "suspended"
    );
    let inactive = env.get("/Users?filter=active+eq+false").await;
    assert_eq!(
        inactive.body["totalResults"], 1,
        "inactive users are still returned"
    );

    let mut replacement = user("Alice.Smith");
    replacement["active"] = json!(true);
    replacement["displayName"] = json!("Alice S.");
    let put = env
        .call(Method::PUT, &format!("/Users/{id}"), Some(&replacement))
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(put.body["displayName"], "Alice S.");
    assert_eq!(
        env.membership("alice.smith@example.com").await.unwrap().0,
        "invited",
        "restored"
    );

    let deleted = env
        .call(Method::DELETE, &format!("/Users/{id}"), None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        env.membership("alice.smith@example.com").await,
        None,
        "membership removed"
    );
    let db = env.store().await;
    let email = store::types::Email::parse("alice.smith@example.com").unwrap();
    assert!(
        store::repo::accounts::find_by_email(&db, &email)
            .await
            .unwrap()
            .is_some(),
        "account kept"
    );
    env.get(&format!("/Users/{id}"))
        .await
        .assert_error(404, None);
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

async fn duplicate_user_name_is_a_conflict_that_changes_nothing(backend: Backend) {
    let env = ScimEnv::start(backend).await;
    let first = env.create_user("bob");
    let first = first.await;
    let mut retry = user("BOB");
    retry["displayName"] = json!("Impostor");
    env.post("/Users", &retry)
        .await
        .assert_error(409, Some("uniqueness"));
    let still = env
        .get(&format!("/Users/{}", first["id"].as_str().unwrap()))
        .await;
    assert_eq!(
        still.body["meta"]["version"], first["meta"]["version"],
        "untouched"
    );
    assert!(still.body.get("displayName").is_none());
}

async fn groups_members_and_projection(backend: Backend) {
    let env = ScimEnv::start(backend).await;
    let a = env.create_user("a").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = env.create_user("b").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let c = env.create_user("c").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (other_org, other_token) = env.other_org("beta");
    let foreign = env
        .send(
            Method::POST,
            &env.server
                .url(&format!("/scim/v2.0/organizations/{other_org}/Users")),
            Some(&other_token),
            Some(&user("zed")),
        )
        .await;
    let foreign = foreign.body["id"].as_str().unwrap().to_owned();

    let reply = env
        .post(
            "/Groups",
            &group("Engineering", &[&a, &foreign, "not-a-user"]),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let gid = reply.body["id"].as_str().unwrap().to_owned();
    let members: Vec<&str> = reply.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        members,
        vec![a.as_str()],
        "ids that are not users of this org are never stored"
    );

    let add =
        patch(json!([{"op": "add", "path": "members", "value": [{"value": b}, {"value": c}]}]));
    let added = env
        .call(Method::PATCH, &format!("/Groups/{gid}"), Some(&add))
        .await;
    // A group PATCH without a projection answers 204, whatever the group's size.
    assert_eq!(added.status, StatusCode::NO_CONTENT, "{}", added.body);
    assert!(added.headers.get("etag").is_some());
    let remove_listed =
        patch(json!([{"op": "remove", "path": "members", "value": [{"value": a}]}]));
    assert_eq!(
        env.call(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            Some(&remove_listed)
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    let remove_one = patch(json!([{"op": "remove", "path": format!("members[value eq \"{b}\"]")}]));
    // Asked for, the members come back (200).
    let after = env
        .call(
            Method::PATCH,
            &format!("/Groups/{gid}?attributes=members"),
            Some(&remove_one),
        )
        .await;
    assert_eq!(after.status, StatusCode::OK, "{}", after.body);
    let left: Vec<&str> = after.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(left, vec![c.as_str()]);

    let slim = env
        .get(&format!("/Groups/{gid}?excludedAttributes=members"))
        .await;
    assert!(slim.body.get("members").is_none());
    assert_eq!(slim.body["displayName"], "Engineering");
    let user_c = env.get(&format!("/Users/{c}")).await;
    assert_eq!(
        user_c.body["groups"][0]["value"],
        gid.as_str(),
        "users show their groups"
    );

    let rename = patch(json!([{"op": "replace", "value": {"displayName": "Platform"}}]));
    let minimal = env
        .http
        .patch(env.url(&format!("/Groups/{gid}")))
        .bearer_auth(&env.token)
        .header("content-type", "application/scim+json")
        .header("prefer", "return=minimal")
        .body(rename.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(minimal.status(), StatusCode::NO_CONTENT);
    let by_name = env
        .get("/Groups?filter=displayName+eq+%22platform%22&excludedAttributes=members")
        .await;
    assert_eq!(by_name.body["totalResults"], 1, "{}", by_name.body);

    let empty = patch(json!([{"op": "replace", "path": "members", "value": []}]));
    let emptied = env
        .call(
            Method::PATCH,
            &format!("/Groups/{gid}?excludedAttributes=externalId"),
            Some(&empty),
        )
        .await;
    assert_eq!(emptied.status, StatusCode::OK, "{}", emptied.body);
    assert_eq!(emptied.body["displayName"], "Platform");
    assert_eq!(emptied.body["members"].as_array().map_or(0, Vec::len), 0);
    env.post("/Groups", &group("PLATFORM", &[]))
        .await
        .assert_error(409, Some("uniqueness"));
    assert_eq!(
        env.call(Method::DELETE, &format!("/Groups/{gid}"), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
}

async fn every_failure_is_a_scim_error(backend: Backend) {
    let env = ScimEnv::start(backend).await;
    let no_token = env.send(Method::GET, &env.url("/Users"), None, None).await;
    no_token.assert_error(401, None);
    assert!(
        no_token
            .header("www-authenticate")
            .unwrap()
            .starts_with("Bearer")
    );
    env.send(Method::GET, &env.url("/Users"), Some("sgt_forged"), None)
        .await
        .assert_error(401, None);
    let query_token = env
        .http
        .get(format!("{}?access_token={}", env.url("/Users"), env.token))
        .send()
        .await
        .unwrap();
    assert_eq!(
        query_token.status(),
        StatusCode::UNAUTHORIZED,
        "tokens only come from the header"
    );

    let bad_json = env
        .http
        .post(env.url("/Users"))
        .bearer_auth(&env.token)
        .header("content-type", "application/json; charset=utf-8")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_json.status(), StatusCode::BAD_REQUEST);
    let bad_json: Value = bad_json.json().await.unwrap();
    assert_eq!(bad_json["scimType"], "invalidSyntax");
    env.get("/Users?filter=userName+zz+%22x%22")
        .await
        .assert_error(400, Some("invalidFilter"));
    env.get("/Nope").await.assert_error(404, None);
    env.call(Method::DELETE, "/Users", None)
        .await
        .assert_error(405, None);
    env.post("/ServiceProviderConfig", &json!({}))
        .await
        .assert_error(405, None);
    env.get("/Me").await.assert_error(501, None);
    env.post(
        "/Users",
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}),
    )
    .await
    .assert_error(400, None);
    env.get("/Users?count=abc")
        .await
        .assert_error(400, Some("invalidValue"));

    let disabled = env.target.admin(&["disable-scim", "--org", &env.org]);
    assert_eq!(disabled["scim_enabled"], false);
    let refused = env.get_until("/Users", 403).await;
    refused.assert_error(403, None);
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("disabled")
    );
}

async fn tenants_never_meet(backend: Backend) {
    let env = ScimEnv::start(backend).await;
    let (beta, beta_token) = env.other_org("beta");
    let ours = env.create_user("same.name").await;
    let beta_url = |path: &str| {
        env.server
            .url(&format!("/scim/v2.0/organizations/{beta}{path}"))
    };
    let theirs = env
        .send(
            Method::POST,
            &beta_url("/Users"),
            Some(&beta_token),
            Some(&user("same.name")),
        )
        .await;
    assert_eq!(
        theirs.status,
        StatusCode::CREATED,
        "the same userName lives in two orgs"
    );
    let their_id = theirs.body["id"].as_str().unwrap();

    env.send(Method::GET, &beta_url("/Users"), Some(&env.token), None)
        .await
        .assert_error(401, None);
    env.get(&format!("/Users/{their_id}"))
        .await
        .assert_error(404, None);
    env.call(Method::DELETE, &format!("/Users/{their_id}"), None)
        .await
        .assert_error(404, None);
    let listed = env.get("/Users").await;
    assert_eq!(listed.body["totalResults"], 1);
    assert_eq!(listed.body["Resources"][0]["id"], ours["id"]);
    let by_id = env
        .get(&format!("/Users?filter=id+eq+%22{their_id}%22"))
        .await;
    assert_eq!(by_id.body["totalResults"], 0);
}

async fn paging_is_stable_and_quirky_queries_work(backend: Backend) {
    let env = ScimEnv::start(backend).await;
    for i in 0..7 {
        env.create_user(&format!("user{i}")).await;
    }
    let mut seen = Vec::new();
    for start in [1, 4, 7] {
        let page = env
            .get(&format!(
                "/Users?startIndex={start}&count=3&sortBy=userName&"
            ))
            .await;
        assert_eq!(page.body["totalResults"], 7);
        assert_eq!(page.body["startIndex"], start);
        for r in page.body["Resources"].as_array().unwrap() {
            seen.push(r["userName"].as_str().unwrap().to_owned());
        }
    }
    let expected: Vec<String> = (0..7).map(|i| format!("user{i}")).collect();
    assert_eq!(seen, expected, "every user once, in order");
    let past = env.get("/Users?startIndex=50").await;
    assert_eq!(
        (
            past.body["totalResults"].as_u64(),
            past.body["Resources"].as_array().map(Vec::len)
        ),
        (Some(7), Some(0))
    );
    let entra = env
        .get("/Users?aadOptscim062020&filter=userName+eq+%22user3%22&")
        .await;
    assert_eq!(entra.body["totalResults"], 1, "{}", entra.body);
    let none = env.get("/Users?filter=externalId+eq+%22nobody%22").await;
    assert_eq!(
        (none.status, none.body["totalResults"].as_u64()),
        (StatusCode::OK, Some(0))
    );
    let by_email = env
        .get("/Users?filter=emails%5Btype+eq+%22work%22%5D.value+eq+%22user5%40example.com%22")
        .await;
    assert_eq!(by_email.body["totalResults"], 1, "{}", by_email.body);
    let zero = env.get("/Users?count=0").await;
    assert_eq!(
        (
            zero.body["totalResults"].as_u64(),
            zero.body["Resources"].as_array().map(Vec::len)
        ),
        (Some(7), Some(0))
    );
    let search = env.post("/Users/.search", &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userName sw \"user\"", "count": 2, "attributes": ["userName"]})).await;
    assert_eq!(search.body["totalResults"], 7);
    let first = &search.body["Resources"][0];
    assert!(
        first.get("emails").is_none() && first["id"].is_string(),
        "projection keeps id: {first}"
    );
}

async fn cursor_paging_walks_every_resource_once(backend: Backend) {
    let env = ScimEnv::start(backend).await;
    for i in 0..5 {
        env.create_user(&format!("c{i}")).await;
    }
    let mut seen = Vec::new();
    let mut cursor = String::new();
    for _ in 0..5 {
        let page = env.get(&format!("/Users?count=2&cursor={cursor}")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert_eq!(page.body["totalResults"], 5);
        assert!(
            page.body.get("startIndex").is_none(),
            "cursor pages carry no startIndex"
        );
        seen.extend(
            page.body["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["userName"].as_str().unwrap().to_owned()),
        );
        match page.body["nextCursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, (0..5).map(|i| format!("c{i}")).collect::<Vec<_>>());
    env.get("/Users?cursor=forged.cursor")
        .await
        .assert_error(400, Some("invalidCursor"));
    let first = env.get("/Users?count=2&cursor=").await;
    let next = first.body["nextCursor"].as_str().unwrap();
    env.get(&format!(
        "/Users?count=2&filter=userName+sw+%22c%22&cursor={next}"
    ))
    .await
    .assert_error(400, Some("invalidCursor"));
}

async fn mapped_group_membership_changes_effective_roles(backend: Backend) {
    let env = ScimEnv::start(backend).await;
    let uid = env.create_user("mapped").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let gid = env.post("/Groups", &group("Admins", &[])).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let db = env.store().await;
    let scope = env.scope().await;
    let group_row = store::repo::scim_groups::get(&db, &scope, &gid)
        .await
        .unwrap()
        .unwrap();
    let grants = store::repo::group_mappings::Grants {
        org_role: Some("admin".parse::<store::types::OrgRole>().unwrap()),
        stack_roles: vec![],
    };
    store::repo::group_mappings::set(&db, &scope, group_row.id, &grants)
        .await
        .unwrap();

    let add = patch(json!([{"op": "add", "path": "members", "value": [{"value": uid}]}]));
    assert_eq!(
        env.call(Method::PATCH, &format!("/Groups/{gid}"), Some(&add))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        env.membership("mapped@example.com").await.unwrap().1,
        "admin"
    );
    let remove = patch(json!([{"op": "remove", "path": format!("members[value eq \"{uid}\"]")}]));
    assert_eq!(
        env.call(Method::PATCH, &format!("/Groups/{gid}"), Some(&remove))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        env.membership("mapped@example.com").await.unwrap().1,
        "member"
    );
    let changes = env
        .event_kinds()
        .await
        .iter()
        .filter(|k| *k == "member.roles_changed")
        .count();
    assert_eq!(changes, 2, "one event per effective-role change");
}

async fn etags_guard_writes(backend: Backend) {
    let env = ScimEnv::start(backend).await;
    let created = env.create_user("etag").await;
    let id = created["id"].as_str().unwrap();
    let version = created["meta"]["version"].as_str().unwrap();
    let not_modified = env
        .http
        .get(env.url(&format!("/Users/{id}")))
        .bearer_auth(&env.token)
        .header("if-none-match", version)
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
    let stale = env
        .http
        .put(env.url(&format!("/Users/{id}")))
        .bearer_auth(&env.token)
        .header("if-match", "W/\"999\"")
        .header("content-type", "application/scim+json")
        .body(user("etag").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    let fresh = env
        .http
        .put(env.url(&format!("/Users/{id}")))
        .bearer_auth(&env.token)
        .header("if-match", version)
        .header("content-type", "application/scim+json")
        .body(user("etag").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), StatusCode::OK);
}

async fn concurrent_writes_lose_nothing(backend: Backend) {
    let env = ScimEnv::start(backend).await;
    let racer = user("racer");
    let creates: Vec<_> = (0..6).map(|_| env.post("/Users", &racer)).collect();
    let statuses: Vec<u16> = futures_util::future::join_all(creates)
        .await
        .iter()
        .map(|r| r.status.as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );

    let gid = env.post("/Groups", &group("Crowd", &[])).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(
            env.create_user(&format!("m{i}")).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let env = &env;
    let adds: Vec<_> = ids
        .iter()
        .map(|id| {
            let body = patch(json!([{"op": "add", "path": "members", "value": [{"value": id}]}]));
            let url = format!("/Groups/{gid}?excludedAttributes=members");
            async move { env.call(Method::PATCH, &url, Some(&body)).await.status }
        })
        .collect();
    for status in futures_util::future::join_all(adds).await {
        assert_eq!(status, StatusCode::OK);
    }
    let group = env.get(&format!("/Groups/{gid}")).await;
    assert_eq!(
        group.body["members"].as_array().unwrap().len(),
        10,
        "no member lost"
    );
}

async fn bulk_resolves_references_and_enforces_limits(backend: Backend) {
    let env = ScimEnv::start(backend).await;
    let request = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {"method": "POST", "path": "/Groups", "bulkId": "g1", "data": group("Bulkers", &["bulkId:u1"])},
            {"method": "POST", "path": "/Users", "bulkId": "u1", "data": user("bulk.one")},
            {"method": "POST", "path": "/Users", "bulkId": "u2", "data": user("bulk.one")},
        ]
    });
    let reply = env.post("/Bulk", &request).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let ops = reply.body["Operations"].as_array().unwrap();
    let status_of = |id: &str| {
        ops.iter().find(|o| o["bulkId"] == id).unwrap()["status"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(status_of("u1"), "201");
    assert_eq!(status_of("g1"), "201");
    assert_eq!(status_of("u2"), "409");
    let groups = env.get("/Groups?filter=displayName+eq+%22Bulkers%22").await;
    assert_eq!(
        groups.body["Resources"][0]["members"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "bulkId reference resolved"
    );

    let too_many: Vec<Value> = (0..1001)
        .map(|i| json!({"method": "DELETE", "path": format!("/Users/{i}")}))
        .collect();
    let big = env.post("/Bulk", &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": too_many})).await;
    big.assert_error(413, None);
}

async fn discovery_documents(backend: Backend) {
    let env = ScimEnv::start(backend).await;
    let spc = env.get("/ServiceProviderConfig").await;
    assert_eq!(spc.status, StatusCode::OK);
    assert_eq!(spc.body["patch"]["supported"], true);
    assert_eq!(spc.body["bulk"]["maxOperations"], 1000);
    let types = env.get("/ResourceTypes").await;
    assert_eq!(types.body["totalResults"], 2);
    assert_eq!(
        env.get("/ResourceTypes/User").await.body["endpoint"],
        "/Users"
    );
    let schemas = env.get("/Schemas").await;
    assert!(schemas.body["totalResults"].as_u64().unwrap() >= 3);
    let user_schema = env
        .get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")
        .await;
    assert_eq!(user_schema.status, StatusCode::OK, "{}", user_schema.body);
    let alias = env
        .send(
            Method::GET,
            &env.server.url(&format!(
                "/scim/v2/organizations/{}/ServiceProviderConfig",
                env.org
            )),
            Some(&env.token),
            None,
        )
        .await;
    assert_eq!(
        alias.status,
        StatusCode::OK,
        "the /scim/v2 alias serves too"
    );
}

/// What an attacker probing the API sends: every one is a SCIM 4xx naming what is wrong, the same
/// on SQLite and PostgreSQL, and nothing is stored.
async fn bad_input_is_a_scim_4xx_never_a_500(backend: Backend) {
    let env = ScimEnv::start(backend).await;
    let with = |key: &str, value: Value| {
        let mut body = user("probe");
        body[key] = value;
        body
    };
    let long = |n: usize| "x".repeat(n);
    let emails = |n: usize| -> Value {
        (0..n)
            .map(|i| json!({"value": format!("probe.{i}@example.com")}))
            .collect()
    };
    let refused_users = [
        (with("userName", json!("pro\u{0}be")), "`userName`"),
        (with("displayName", json!("\u{0}")), "`displayName`"),
        (with("externalId", json!("e\u{0}")), "`externalId`"),
        (with("title", json!("t\u{0}")), "`title`"),
        (with("userName", json!(long(2700))), "`userName`"),
        // Just under http.payload_limit_bytes (1 MiB): a larger body is a 413 before any parsing
        // (limits::scim_bodies_are_held_to_the_payload_limit).
        (with("userName", json!(long(900 * 1024))), "`userName`"),
        (with("externalId", json!(long(9 * 1024))), "`externalId`"),
        (
            with("emails", json!([{"value": long(9 * 1024)}])),
            "`emails[0].value`",
        ),
        (with("emails", emails(6000)), "`emails` has 6000 values"),
    ];
    for (body, named) in &refused_users {
        let reply = env.post("/Users", body).await;
        reply.assert_error(400, Some("invalidValue"));
        let detail = reply.body["detail"].as_str().unwrap();
        assert!(detail.contains(named), "{named}: {detail}");
    }
    for body in [
        group("Adm\u{0}ins", &[]),
        group(&long(9 * 1024), &[]),
        json!({"displayName": "g", "externalId": long(9 * 1024)}),
        json!({"displayName": "g", "members": [{"value": "u\u{0}"}]}),
    ] {
        env.post("/Groups", &body)
            .await
            .assert_error(400, Some("invalidValue"));
    }

    let id = env.create_user("kept").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let group_id = env.post("/Groups", &group("Kept", &[&id])).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut replacement = user("kept");
    replacement["emails"] = emails(11_000);
    env.call(Method::PUT, &format!("/Users/{id}"), Some(&replacement))
        .await
        .assert_error(400, Some("invalidValue"));
    for ops in [
        json!([{"op": "replace", "path": "displayName", "value": "\u{0}"}]),
        json!([{"op": "add", "value": {"nickName": "n\u{0}"}}]),
        json!([{"op": "add", "path": "emails", "value": emails(101)}]),
        json!([{"op": "replace", "path": "userName", "value": long(2700)}]),
    ] {
        env.call(Method::PATCH, &format!("/Users/{id}"), Some(&patch(ops)))
            .await
            .assert_error(400, Some("invalidValue"));
    }
    for ops in [
        json!([{"op": "add", "path": "members", "value": [{"value": "u\u{0}"}]}]),
        json!([{"op": "replace", "path": "displayName", "value": long(9 * 1024)}]),
    ] {
        env.call(
            Method::PATCH,
            &format!("/Groups/{group_id}"),
            Some(&patch(ops)),
        )
        .await
        .assert_error(400, Some("invalidValue"));
    }
    env.get("/Users?filter=userName+eq+%22a%5Cu0000%22")
        .await
        .assert_error(400, Some("invalidFilter"));
    for method in [Method::GET, Method::PUT, Method::PATCH, Method::DELETE] {
        for path in ["/Users/%00", "/Groups/a%00b"] {
            let body = (method == Method::PUT || method == Method::PATCH)
                .then(|| patch(json!([{"op": "replace", "path": "displayName", "value": "x"}])));
            env.call(method.clone(), path, body.as_ref())
                .await
                .assert_error(404, None);
        }
    }

    // Malformed bodies and queries of every kind are SCIM errors too, never plain text.
    let raw = |method: Method, path: &str, body: &'static [u8]| {
        env.http
            .request(method, env.url(path))
            .bearer_auth(&env.token)
            .header("content-type", "application/scim+json")
            .body(body)
            .send()
    };
    for (method, path, body) in [
        (Method::POST, "/Users", &b"\xff\xfe{}"[..]),
        (Method::POST, "/Users", b"[1, 2]"),
        (Method::POST, "/Users", b"{\"userName\": \"a\""),
        (
            Method::PATCH,
            &*format!("/Users/{id}"),
            b"{\"Operations\": \"x\"}",
        ),
        (
            Method::PATCH,
            &*format!("/Users/{id}"),
            b"{\"Operations\": [{\"op\": \"move\"}]}",
        ),
        (Method::POST, "/Bulk", b"{\"Operations\": {}}"),
        (Method::POST, "/Users/.search", b"{\"count\": \"ten\"}"),
    ] {
        let res = raw(method, path, body).await.unwrap();
        let status = res.status();
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = res.text().await.unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {text}");
        assert!(
            content_type.starts_with("application/scim+json"),
            "{path}: {content_type}"
        );
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            body["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
    }
    for query in [
        "/Users?count=%FF",
        "/Users?filter=%FF%FE",
        "/Users?startIndex=1e99",
    ] {
        let reply = env.get(query).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{query}: {}",
            reply.body
        );
        reply.assert_error(400, None);
    }

    let users = env.get("/Users").await;
    assert_eq!(
        users.body["totalResults"], 1,
        "only `kept` stored: {}",
        users.body
    );
    let kept = env.get(&format!("/Users/{id}")).await;
    assert_eq!(kept.body["emails"].as_array().unwrap().len(), 1);
    assert_eq!(env.get("/Groups").await.body["totalResults"], 1);
}

/// Microsoft Entra's documented manager forms (the older `"path": "manager"` with an array of one
/// `{"$ref", "value"}`, and the URN path with a bare id) are stored and read back.
async fn entra_manager_patch_forms_are_stored(backend: Backend) {
    let env = ScimEnv::start(backend).await;
    let boss = env.create_user("boss").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = env.create_user("other.boss").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let report = env.create_user("report").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let forms = [
        (
            json!({"op": "Add", "path": "manager", "value": [{"$ref": null, "value": boss}]}),
            &boss,
        ),
        (
            json!({"op": "Replace", "path": format!("{ent}:manager"), "value": other}),
            &other,
        ),
        (
            json!({"op": "Replace", "path": "manager", "value": [{"$ref": null, "value": boss}]}),
            &boss,
        ),
    ];
    for (op, expected) in forms {
        let reply = env
            .call(
                Method::PATCH,
                &format!("/Users/{report}"),
                Some(&patch(json!([op]))),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{op}: {}", reply.body);
        let read = env.get(&format!("/Users/{report}")).await;
        assert_eq!(
            read.body[ent]["manager"]["value"],
            expected.as_str(),
            "{op}: {}",
            read.body
        );
        assert!(
            read.body["schemas"]
                .as_array()
                .unwrap()
                .contains(&json!(ent)),
            "{}",
            read.body
        );
    }
    // A value with nothing the engine can store is refused, not acknowledged and dropped.
    env.call(
        Method::PATCH,
        &format!("/Users/{report}"),
        Some(&patch(json!([{"op": "Add", "path": "manager", "value": [{"$ref": null, "displayName": "Boss"}]}]))),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    let read = env.get(&format!("/Users/{report}")).await;
    assert_eq!(
        read.body[ent]["manager"]["value"],
        boss.as_str(),
        "unchanged"
    );
}

/// RFC 7644 §3.7: a bulkId is unique within a request (a duplicate refuses the whole request
/// before anything runs); operations that reference each other's bulkId are answered 409
/// (§3.7.1), and every other unresolvable reference says why.
async fn bulk_refuses_duplicate_bulk_ids_and_circular_references(backend: Backend) {
    let env = ScimEnv::start(backend).await;
    let bulk = |ops: Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops});
    let duplicate = env
        .post(
            "/Bulk",
            &bulk(json!([
                {"method": "POST", "path": "/Users", "bulkId": "dup", "data": user("first.dup")},
                {"method": "POST", "path": "/Users", "bulkId": "dup", "data": user("second.dup")},
            ])),
        )
        .await;
    duplicate.assert_error(400, Some("invalidValue"));
    let detail = duplicate.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("\"dup\"") && detail.contains("Operations[1]"),
        "{detail}"
    );
    assert_eq!(
        env.get("/Users").await.body["totalResults"],
        0,
        "nothing ran"
    );

    let reply = env
        .post(
            "/Bulk",
            &bulk(json!([
                {"method": "POST", "path": "/Groups", "bulkId": "a", "data": group("A", &["bulkId:b"])},
                {"method": "POST", "path": "/Groups", "bulkId": "b", "data": group("B", &["bulkId:a"])},
                {"method": "POST", "path": "/Groups", "bulkId": "c", "data": group("C", &["bulkId:a"])},
                {"method": "POST", "path": "/Groups", "bulkId": "d", "data": group("D", &["bulkId:nowhere"])},
                {"method": "POST", "path": "/Users", "bulkId": "bad", "data": {"displayName": "no userName"}},
                {"method": "POST", "path": "/Groups", "bulkId": "e", "data": group("E", &["bulkId:bad"])},
                {"method": "POST", "path": "/Users", "bulkId": "ok", "data": user("bulk.ok")},
            ])),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let ops = reply.body["Operations"].as_array().unwrap();
    let result = |id: &str| ops.iter().find(|o| o["bulkId"] == id).unwrap().clone();
    let detail = |id: &str| {
        result(id)["response"]["detail"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for id in ["a", "b"] {
        assert_eq!(result(id)["status"], "409", "{}", reply.body);
        assert!(detail(id).contains("circular"), "{}", detail(id));
    }
    assert_eq!(result("c")["status"], "409");
    assert!(
        detail("c").contains("depends on circular"),
        "{}",
        detail("c")
    );
    assert_eq!(result("d")["status"], "400");
    assert_eq!(result("d")["response"]["scimType"], "invalidValue");
    assert!(detail("d").contains("bulkId:nowhere"), "{}", detail("d"));
    assert_eq!(result("bad")["status"], "400");
    assert_eq!(result("e")["status"], "409");
    assert!(
        detail("e").contains("bulkId:bad was not created"),
        "{}",
        detail("e")
    );
    assert_eq!(result("ok")["status"], "201");
    assert_eq!(
        env.get("/Groups").await.body["totalResults"],
        0,
        "no group of a cycle ran"
    );
}

backend_tests!(
    user_lifecycle_drives_the_membership,
    duplicate_user_name_is_a_conflict_that_changes_nothing,
    groups_members_and_projection,
    every_failure_is_a_scim_error,
    tenants_never_meet,
    paging_is_stable_and_quirky_queries_work,
    etags_guard_writes,
    cursor_paging_walks_every_resource_once,
    mapped_group_membership_changes_effective_roles,
    concurrent_writes_lose_nothing,
    bulk_resolves_references_and_enforces_limits,
    discovery_documents,
    bad_input_is_a_scim_4xx_never_a_500,
    entra_manager_patch_forms_are_stored,
    bulk_refuses_duplicate_bulk_ids_and_circular_references,
);

/// Behind a trusted proxy the audit log records the forwarded client; from anyone else a forwarded
/// header is ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    let target = common::Target::new(Backend::Sqlite).await;
    let org = target.admin(&[
        "create-org",
        "--name",
        "Acme",
        "--owner-email",
        "o@acme.test",
    ])["org_uid"]
        .as_str()
        .unwrap()
        .to_owned();
    target.admin(&["enable-scim", "--org", &org]);
    let token = target.admin(&["create-token", "--org", &org])["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let http = common::http();
    for (trusted, name, expected) in [
        ("[\"127.0.0.1/32\"]", "via-proxy", "203.0.113.9"),
        ("[]", "direct", "127.0.0.1"),
    ] {
        let mut cmd = target.command();
        cmd.env("SCIMGATE_HTTP__TRUSTED_PROXIES", trusted).args([
            "serve",
            "--listen",
            "127.0.0.1:0",
        ]);
        let server = common::Server::start(cmd);
        let res = http
            .post(server.url(&format!("/scim/v2.0/organizations/{org}/Users")))
            .bearer_auth(&token)
            .header("content-type", "application/scim+json")
            .header("x-forwarded-for", "203.0.113.9")
            .body(user(name).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        let db = store::connect(&target.db.url, &Default::default())
            .await
            .unwrap();
        let scope = store::repo::organizations::operator_scope(&db, &org)
            .await
            .unwrap();
        let rows = store::repo::audit::list(&db, &scope, None, 1)
            .await
            .unwrap();
        assert_eq!(rows[0].ip.as_deref(), Some(expected), "{name}");
    }
}
