//! The management API (`/api/v1`) against the real app on both databases: authentication and
//! scopes, organizations, members and their role sources, the Owner rules, the role catalog,
//! stacks, directory state and mappings, idempotency, ETags, paging, and tenancy.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{Backend, backend_tests};

use crate::common::api::ApiEnv;
use crate::common::scim::{self, group, user};

/// Without a valid management token nothing answers; IdPs' and organizations' credentials are
/// refused; a missing scope is a 403 naming it; a revoked client stops at once.
async fn authentication_and_scopes(backend: Backend) {
    let env = ApiEnv::start_with(backend, "organizations:read members:read").await;
    let none = env
        .send(Method::GET, "/organizations", None, None, &[])
        .await;
    none.assert_problem(401, "unauthorized");
    assert!(
        none.header("www-authenticate")
            .is_some_and(|h| h.starts_with("Bearer"))
    );
    let garbage = env
        .send(Method::GET, "/organizations", None, Some("not.a.jwt"), &[])
        .await;
    garbage.assert_problem(401, "unauthorized");

    // An organization's SCIM bearer token is not a management token.
    let org = env.target.scim_org("Acme");
    env.send(Method::GET, "/organizations", None, Some(&org.token), &[])
        .await
        .assert_problem(401, "unauthorized");
    // …and a management token is not a SCIM credential.
    let scim = env
        .http
        .get(
            env.server
                .url(&format!("/scim/v2.0/organizations/{}/Users", org.org)),
        )
        .bearer_auth(&env.token)
        .send()
        .await
        .unwrap();
    assert_eq!(scim.status(), StatusCode::UNAUTHORIZED);

    // Client credentials: a wrong secret, an unregistered scope.
    let wrong = env.token_request(&env.client_id, "sgbs_wrong", None).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.body);
    assert_eq!(wrong.body["error"], "invalid_client");
    let beyond = env
        .token_request(
            &env.client_id,
            &env.client_secret,
            Some("organizations:write"),
        )
        .await;
    assert_eq!(beyond.body["error"], "invalid_scope", "{}", beyond.body);
    let granted = env
        .token_request(&env.client_id, &env.client_secret, None)
        .await;
    assert_eq!(granted.body["token_type"], "Bearer");
    assert_eq!(granted.body["scope"], "organizations:read members:read");
    assert!(granted.body["expires_in"].as_u64().unwrap() > 0);
    assert!(granted.body.get("refresh_token").is_none());
    // A backend client is not an IdP: the authorization-code grant is not for it.
    let code = env
        .http
        .post(env.server.url("/oauth/token"))
        .basic_auth(&env.client_id, Some(&env.client_secret))
        .form(&[("grant_type", "authorization_code"), ("code", "x")])
        .send()
        .await
        .unwrap();
    let code = crate::common::api::reply(code).await;
    assert_eq!(code.body["error"], "unauthorized_client", "{}", code.body);

    // The scope each operation needs.
    assert_eq!(env.get("/organizations").await.status, StatusCode::OK);
    let refused = env
        .post(
            "/organizations",
            &json!({"name": "X", "owner_email": "x@x.test"}),
        )
        .await;
    refused.assert_problem(403, "insufficient-scope");
    assert_eq!(refused.body["missing_scope"], "organizations:write");
    let narrow = env.access_token(Some("members:read")).await;
    env.send(Method::GET, "/organizations", None, Some(&narrow), &[])
        .await
        .assert_problem(403, "insufficient-scope");

    // Revoked: the very next request is refused.
    env.target
        .admin(&["revoke-backend-client", "--client", &env.client_id]);
    env.get("/organizations")
        .await
        .assert_problem(401, "unauthorized");
}

/// Create (idempotent), read with an ETag, change under If-Match, list by prefix and cursor,
/// delete only when confirmed; the account outlives its organization.
async fn organizations_lifecycle(backend: Backend) {
    let env = ApiEnv::start(backend).await;
    let body = json!({"name": "Acme", "owner_email": "Owner@Acme.test"});
    let key = [("Idempotency-Key", "create-acme-1")];
    let first = env
        .send(
            Method::POST,
            "/organizations",
            Some(&body),
            Some(&env.token),
            &key,
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let id = first.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        first.header("location"),
        Some(format!("/api/v1/organizations/{id}").as_str())
    );
    assert_eq!(first.body["owner"]["status"], "invited");
    assert_eq!(first.body["settings"]["invitations_enabled"], true);
    let again = env
        .send(
            Method::POST,
            "/organizations",
            Some(&body),
            Some(&env.token),
            &key,
        )
        .await;
    assert_eq!(
        (again.status, &again.body),
        (first.status, &first.body),
        "a retry gets the first answer"
    );
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let other = json!({"name": "Other", "owner_email": "o@o.test"});
    env.send(
        Method::POST,
        "/organizations",
        Some(&other),
        Some(&env.token),
        &key,
    )
    .await
    .assert_problem(422, "idempotency-key-reused");
    let listed = env.get("/organizations?name_prefix=acm").await;
    assert_eq!(
        listed.body["data"].as_array().unwrap().len(),
        1,
        "one Acme, not two"
    );

    let read = env.get(&format!("/organizations/{id}")).await;
    let etag = read.header("etag").unwrap().to_owned();
    assert_eq!(read.body["name"], "Acme");
    let renamed = env
        .send(
            Method::PATCH,
            &format!("/organizations/{id}"),
            Some(&json!({"name": "Acme Inc", "settings": {"invitations_enabled": false}})),
            Some(&env.token),
            &[("If-Match", &etag)],
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    assert_eq!(renamed.body["settings"]["invitations_enabled"], false);
    assert_ne!(renamed.header("etag"), Some(etag.as_str()));
    env.send(
        Method::PATCH,
        &format!("/organizations/{id}"),
        Some(&json!({"name": "Lost update"})),
        Some(&env.token),
        &[("If-Match", &etag)],
    )
    .await
    .assert_problem(412, "precondition-failed");
    env.call(
        Method::PATCH,
        &format!("/organizations/{id}"),
        Some(&json!({"name": ""})),
    )
    .await
    .assert_problem(400, "invalid-request");
    env.call(
        Method::PATCH,
        &format!("/organizations/{id}"),
        Some(&json!({"nope": 1})),
    )
    .await
    .assert_problem(400, "invalid-request");

    // Paging: three organizations two at a time, every one once.
    env.create_org("Beta", "b@b.test").await;
    env.create_org("Gamma", "g@g.test").await;
    let page1 = env.get("/organizations?limit=2").await;
    let cursor = page1.body["next_cursor"].as_str().unwrap().to_owned();
    let page2 = env
        .get(&format!("/organizations?limit=2&cursor={cursor}"))
        .await;
    assert!(page2.body["next_cursor"].is_null());
    let names: Vec<&str> = page1.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .chain(page2.body["data"].as_array().unwrap())
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Acme Inc", "Beta", "Gamma"]);
    env.get("/organizations?limit=0")
        .await
        .assert_problem(400, "invalid-request");
    env.get("/organizations?cursor=bogus")
        .await
        .assert_problem(400, "invalid-request");

    // Delete: confirmed by id only; the account stays.
    env.call(Method::DELETE, &format!("/organizations/{id}"), None)
        .await
        .assert_problem(400, "invalid-request");
    env.call(
        Method::DELETE,
        &format!("/organizations/{id}?confirm=Acme"),
        None,
    )
    .await
    .assert_problem(400, "invalid-request");
    let gone = env
        .call(
            Method::DELETE,
            &format!("/organizations/{id}?confirm={id}"),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.body);
    env.get(&format!("/organizations/{id}"))
        .await
        .assert_problem(404, "not-found");
    let account = env.get("/accounts?email=owner@acme.test").await;
    assert_eq!(account.status, StatusCode::OK, "{}", account.body);
    assert_eq!(account.body["organizations"], json!([]));
    env.get("/nowhere").await.assert_problem(404, "not-found");
}

/// Members: effective roles with their sources (manual, and the mapped group that grants more);
/// filters; an organization always keeps an active Owner; provisioned members are the IdP's.
async fn members_roles_and_owner_rules(backend: Backend) {
    let env = ApiEnv::start(backend).await;
    let org = env.target.scim_org("Acme");
    let base = format!("/organizations/{}", org.org);

    // A manual member, invited because the account is new.
    let added = env
        .post(
            &format!("{base}/members"),
            &json!({"email": "dev@acme.test", "role": "member"}),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    assert_eq!(
        (added.body["status"].as_str(), added.body["source"].as_str()),
        (Some("invited"), Some("manual"))
    );
    env.post(
        &format!("{base}/members"),
        &json!({"email": "DEV@acme.test", "role": "member"}),
    )
    .await
    .assert_problem(409, "conflict");
    env.post(
        &format!("{base}/members"),
        &json!({"email": "x@acme.test", "role": "emperor"}),
    )
    .await
    .assert_problem(400, "invalid-request");

    // Provisioned over SCIM into a group the API maps to Admin and a stack role.
    let scim = |method: Method, path: &str, body: Option<Value>| {
        let url = env
            .server
            .url(&format!("/scim/v2.0/organizations/{}{path}", org.org));
        let req = env.http.request(method, url).bearer_auth(&org.token);
        async move {
            let req = match body {
                Some(b) => req
                    .header("content-type", "application/scim+json")
                    .body(b.to_string()),
                None => req,
            };
            crate::common::api::reply(req.send().await.unwrap()).await
        }
    };
    let ann = scim(Method::POST, "/Users", Some(user("ann"))).await;
    assert_eq!(ann.status, StatusCode::CREATED, "{}", ann.body);
    let ann_id = ann.body["id"].as_str().unwrap().to_owned();
    let admins = scim(Method::POST, "/Groups", Some(group("Admins", &[&ann_id]))).await;
    let group_id = admins.body["id"].as_str().unwrap().to_owned();
    let stack = env
        .post(&format!("{base}/stacks"), &json!({"name": "Marketing"}))
        .await;
    assert_eq!(stack.status, StatusCode::CREATED, "{}", stack.body);
    let stack_id = stack.body["id"].as_str().unwrap().to_owned();
    let mapped = env
        .call(
            Method::PUT,
            &format!("{base}/group-mappings/{group_id}"),
            Some(&json!({"role": "admin", "stack_roles": [{"stack_id": stack_id, "role": "developer"}]})),
        )
        .await;
    assert_eq!(mapped.status, StatusCode::OK, "{}", mapped.body);
    assert_eq!(mapped.body["members_changed"], 1);
    env.call(
        Method::PUT,
        &format!("{base}/group-mappings/{group_id}"),
        Some(&json!({"role": "owner"})),
    )
    .await
    .assert_problem(400, "invalid-request");

    let member = env.get(&format!("{base}/members/ann@example.com")).await;
    assert_eq!(member.status, StatusCode::OK, "{}", member.body);
    assert_eq!(member.body["role"], "admin");
    assert_eq!(member.body["manual_role"], "member");
    assert_eq!(member.body["source"], "scim");
    assert_eq!(member.body["scim_user_id"], ann_id.as_str());
    assert_eq!(
        member.body["role_sources"],
        json!([{"role": "member", "source": "manual"},
               {"role": "admin", "source": "group", "group_id": group_id, "group_name": "Admins"}])
    );
    assert_eq!(member.body["stack_roles"][0]["stack_id"], stack_id.as_str());
    assert_eq!(member.body["stack_roles"][0]["role"], "developer");
    assert_eq!(
        member.body["stack_roles"][0]["sources"][0]["source"],
        "group"
    );

    // Filters.
    let invited = env.get(&format!("{base}/members?status=invited")).await;
    let emails: Vec<&str> = invited.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["dev@acme.test", "ann@example.com"]);
    let admins_only = env.get(&format!("{base}/members?role=admin")).await;
    assert_eq!(admins_only.body["data"].as_array().unwrap().len(), 1);
    env.get(&format!("{base}/members?status=sleeping"))
        .await
        .assert_problem(400, "invalid-request");

    // The IdP's member is the IdP's to remove.
    env.call(
        Method::DELETE,
        &format!("{base}/members/ann@example.com"),
        None,
    )
    .await
    .assert_problem(409, "conflict");

    // The Owner: never demoted or removed while the only active one.
    let owner = "owner@acme.test";
    env.call(
        Method::PATCH,
        &format!("{base}/members/{owner}"),
        Some(&json!({"role": "admin"})),
    )
    .await
    .assert_problem(409, "conflict");
    env.call(Method::DELETE, &format!("{base}/members/{owner}"), None)
        .await
        .assert_problem(409, "conflict");
    env.target.admin(&[
        "add-member",
        "--org",
        &org.org,
        "--email",
        "second@acme.test",
        "--role",
        "owner",
        "--password",
        "correct horse battery staple",
    ]);
    let demoted = env
        .call(
            Method::PATCH,
            &format!("{base}/members/{owner}"),
            Some(&json!({"role": "admin"})),
        )
        .await;
    assert_eq!(demoted.status, StatusCode::OK, "{}", demoted.body);
    assert_eq!(demoted.body["role"], "admin");

    // If-Match on a member.
    let read = env.get(&format!("{base}/members/dev@acme.test")).await;
    let etag = read.header("etag").unwrap().to_owned();
    let changed = env
        .send(
            Method::PATCH,
            &format!("{base}/members/dev@acme.test"),
            Some(&json!({"role": "admin"})),
            Some(&env.token),
            &[("If-Match", &etag)],
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    env.send(
        Method::PATCH,
        &format!("{base}/members/dev@acme.test"),
        Some(&json!({"role": "member"})),
        Some(&env.token),
        &[("If-Match", &etag)],
    )
    .await
    .assert_problem(412, "precondition-failed");
    let removed = env
        .call(
            Method::DELETE,
            &format!("{base}/members/dev@acme.test"),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    env.get(&format!("{base}/members/dev@acme.test"))
        .await
        .assert_problem(404, "not-found");

    // The events the changes wrote.
    let kinds = scim::ScimEnvLike::event_kinds(&env.target, &org.org).await;
    for kind in [
        "membership.invited",
        "member.roles_changed",
        "group_mapping.saved",
        "member.updated",
        "membership.removed",
    ] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "{kind} missing from {kinds:?}"
        );
    }
}

/// The role catalog: defined by the product, used by memberships, never removed while in use.
async fn the_role_catalog(backend: Backend) {
    let env = ApiEnv::start(backend).await;
    let catalog = env.get("/roles").await;
    let keys = |kind: &str| -> Vec<String> {
        catalog.body[kind]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["key"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(keys("organization"), ["member", "admin", "owner"]);
    assert_eq!(keys("stack"), ["viewer", "developer", "admin"]);

    let billing = env
        .post("/roles", &json!({"kind": "organization", "key": "billing", "name": "Billing", "description": "Pays", "rank": 15}))
        .await;
    assert_eq!(billing.status, StatusCode::CREATED, "{}", billing.body);
    env.post(
        "/roles",
        &json!({"kind": "organization", "key": "billing", "name": "Twice", "rank": 16}),
    )
    .await
    .assert_problem(409, "conflict");
    env.post(
        "/roles",
        &json!({"kind": "organization", "key": "clash", "name": "Clash", "rank": 20}),
    )
    .await
    .assert_problem(400, "invalid-request");
    env.post(
        "/roles",
        &json!({"kind": "organization", "key": "root", "name": "Root", "rank": 99}),
    )
    .await
    .assert_problem(400, "invalid-request");
    env.post(
        "/roles",
        &json!({"kind": "planet", "key": "x", "name": "X", "rank": 1}),
    )
    .await
    .assert_problem(400, "invalid-request");

    let org = env.create_org("Acme", "owner@acme.test").await;
    let member = env
        .post(
            &format!("/organizations/{org}/members"),
            &json!({"email": "pay@acme.test", "role": "billing"}),
        )
        .await;
    assert_eq!(member.body["role"], "billing", "{}", member.body);
    let in_use = env
        .call(Method::DELETE, "/roles/organization/billing", None)
        .await;
    in_use.assert_problem(409, "role-in-use");
    assert_eq!(in_use.body["used_by"]["memberships"], 1);
    env.call(Method::DELETE, "/roles/organization/owner", None)
        .await
        .assert_problem(400, "invalid-request");

    let renamed = env
        .call(
            Method::PATCH,
            "/roles/organization/billing",
            Some(&json!({"name": "Billing admin", "rank": 12})),
        )
        .await;
    assert_eq!(
        (renamed.body["name"].as_str(), renamed.body["rank"].as_i64()),
        (Some("Billing admin"), Some(12))
    );
    env.call(
        Method::PATCH,
        &format!("/organizations/{org}/members/pay@acme.test"),
        Some(&json!({"role": "member"})),
    )
    .await;
    let removed = env
        .call(Method::DELETE, "/roles/organization/billing", None)
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    env.call(Method::DELETE, "/roles/organization/billing", None)
        .await
        .assert_problem(404, "not-found");
}

/// Directory state, the SCIM switch, groups and stacks; ids of another organization in paths and
/// bodies find nothing.
async fn directory_stacks_and_tenancy(backend: Backend) {
    let env = ApiEnv::start(backend).await;
    let acme = env.target.scim_org("Acme");
    let beta = env.target.scim_org("Beta");
    let base = format!("/organizations/{}", acme.org);
    let state = env.get(&format!("{base}/directory")).await;
    assert_eq!(state.status, StatusCode::OK, "{}", state.body);
    assert_eq!(state.body["scim_enabled"], true);
    assert!(
        state.body["scim_base_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/scim/v2.0/organizations/{}", acme.org))
    );
    assert_eq!(state.body["bearer_tokens"][0]["name"], "idp");
    assert!(
        state.body["bearer_tokens"][0].get("token").is_none(),
        "never the token"
    );
    assert_eq!(state.body["users"], 0);

    // SCIM off through the API: the IdP is refused at once; on again: it works.
    let off = env
        .call(
            Method::PATCH,
            &format!("{base}/directory"),
            Some(&json!({"scim_enabled": false})),
        )
        .await;
    assert_eq!(off.body["scim_enabled"], false);
    let refused = env
        .http
        .get(
            env.server
                .url(&format!("/scim/v2.0/organizations/{}/Users", acme.org)),
        )
        .bearer_auth(&acme.token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    env.call(
        Method::PATCH,
        &format!("{base}/directory"),
        Some(&json!({"scim_enabled": true})),
    )
    .await;

    // Stacks.
    let stack = env
        .post(&format!("{base}/stacks"), &json!({"name": "Web"}))
        .await;
    let stack_id = stack.body["id"].as_str().unwrap().to_owned();
    env.post(&format!("{base}/stacks"), &json!({"name": "WEB"}))
        .await
        .assert_problem(409, "conflict");
    let renamed = env
        .call(
            Method::PATCH,
            &format!("{base}/stacks/{stack_id}"),
            Some(&json!({"name": "Website"})),
        )
        .await;
    assert_eq!(renamed.body["name"], "Website");
    let listed = env.get(&format!("{base}/stacks")).await;
    assert_eq!(listed.body["data"][0]["name"], "Website");

    // Another organization's ids: nothing found, nothing changed.
    let beta_base = format!("/organizations/{}", beta.org);
    env.call(
        Method::PATCH,
        &format!("{beta_base}/stacks/{stack_id}"),
        Some(&json!({"name": "Hijack"})),
    )
    .await
    .assert_problem(404, "not-found");
    env.call(
        Method::DELETE,
        &format!("{beta_base}/stacks/{stack_id}"),
        None,
    )
    .await
    .assert_problem(404, "not-found");
    env.get(&format!("{beta_base}/members/owner@acme.test"))
        .await
        .assert_problem(404, "not-found");
    let ann = env
        .http
        .post(
            env.server
                .url(&format!("/scim/v2.0/organizations/{}/Groups", acme.org)),
        )
        .bearer_auth(&acme.token)
        .header("content-type", "application/scim+json")
        .body(group("Engineering", &[]).to_string())
        .send()
        .await
        .unwrap();
    let group_id = crate::common::api::reply(ann).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    env.call(
        Method::PUT,
        &format!("{beta_base}/group-mappings/{group_id}"),
        Some(&json!({"role": "admin"})),
    )
    .await
    .assert_problem(404, "not-found");
    env.call(
        Method::PUT,
        &format!("{base}/group-mappings/{group_id}"),
        Some(&json!({"stack_roles": [{"stack_id": "not-a-stack-of-acme", "role": "viewer"}]})),
    )
    .await
    .assert_problem(400, "invalid-request");
    env.get("/organizations/01a00000-0000-7000-8000-000000000000")
        .await
        .assert_problem(404, "not-found");

    let groups = env.get(&format!("{base}/groups?q=eng")).await;
    assert_eq!(groups.body["data"][0]["display_name"], "Engineering");
    assert_eq!(groups.body["data"][0]["member_count"], 0);
    let saved = env.call(Method::PUT, &format!("{base}/group-mappings/{group_id}"),
        Some(&json!({"role": "admin", "stack_roles": [{"stack_id": stack_id, "role": "viewer"}]}))).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    let mappings = env.get(&format!("{base}/group-mappings")).await;
    assert_eq!(mappings.body["data"][0]["group_name"], "Engineering");
    assert_eq!(
        mappings.body["data"][0]["stack_roles"][0]["stack_id"],
        stack_id.as_str()
    );
    let removed = env
        .call(
            Method::DELETE,
            &format!("{base}/group-mappings/{group_id}"),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    assert_eq!(
        env.get(&format!("{base}/group-mappings")).await.body["data"],
        json!([])
    );
    let deleted = env
        .call(Method::DELETE, &format!("{base}/stacks/{stack_id}"), None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
}

/// The OpenAPI document is served, names every operation and the client-credentials scheme.
async fn the_openapi_document(backend: Backend) {
    let env = ApiEnv::start(backend).await;
    let doc = env
        .send(Method::GET, "/openapi.json", None, None, &[])
        .await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc.body["paths"].as_object().unwrap();
    for path in [
        "/api/v1/organizations",
        "/api/v1/organizations/{id}/members",
        "/api/v1/roles",
        "/api/v1/organizations/{id}/portal-links",
        "/api/v1/accounts",
        "/api/v1/organizations/{id}/scim-requests",
    ] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    let log = &paths["/api/v1/organizations/{id}/scim-requests"]["get"];
    assert_eq!(
        log["security"][0]["backend"][0], "organizations:read",
        "{log}"
    );
    let params: Vec<&str> = log["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for name in [
        "status", "method", "q", "user", "since", "until", "cursor", "limit",
    ] {
        assert!(params.contains(&name), "{name} not documented: {params:?}");
    }
    let flows = &doc.body["components"]["securitySchemes"]["backend"]["flows"]["clientCredentials"];
    assert!(
        flows["tokenUrl"]
            .as_str()
            .unwrap()
            .ends_with("/oauth/token")
    );
    assert!(flows["scopes"]["members:read"].is_string());
}

backend_tests!(
    authentication_and_scopes,
    organizations_lifecycle,
    members_roles_and_owner_rules,
    the_role_catalog,
    directory_stacks_and_tenancy,
    the_openapi_document,
);
