//! Every filter runs in the database and answers what the in-memory evaluator (`Filter::matches`)
//! answers, on both databases: a set of users and groups with varied attributes, and filters over
//! columns, the search document, extension attributes, value paths, `not`, and every operator.

use std::collections::BTreeSet;

use scim_core::filter::parse_filter;
use scim_core::schema::ResourceSchema;
use serde_json::{Value, json};
use testkit::{Backend, backend_tests};
use usecases::scim::list::{self, ListRequest};
use usecases::scim::{Ctx, groups, users};

use super::common::*;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn people() -> Vec<Value> {
    let user = |name: &str, extra: Value| {
        let mut u = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "userName": name, "active": true});
        for (k, v) in extra.as_object().unwrap() {
            u[k] = v.clone();
        }
        u
    };
    vec![
        user(
            "alice",
            json!({"externalId": "EXT-A", "title": "Engineer", "displayName": "Alice Liddell",
            "name": {"givenName": "Alice", "familyName": "Liddell"},
            "emails": [{"value": "alice@work.example", "type": "work", "primary": true},
                       {"value": "alice@home.example", "type": "home"}],
            ENTERPRISE: {"employeeNumber": "1001", "department": "Sales", "manager": {"value": "boss-1"}}}),
        ),
        user(
            "Bob",
            json!({"externalId": "ext-b", "title": "ENGINEER", "active": false,
            "emails": [{"value": "bob@home.example", "type": "home"}],
            ENTERPRISE: {"employeeNumber": "1002", "department": "sales"}}),
        ),
        user(
            "carol",
            json!({"title": "Manager", "nickName": "",
            "phoneNumbers": [{"value": "+1 555 0100", "type": "work"}],
            ENTERPRISE: {"department": "Engineering", "costCenter": "CC-9"}}),
        ),
        user(
            "dave",
            json!({"title": "Émile's Ingénieur", "displayName": "DAVE",
            "emails": [{"value": "Dave@Work.example", "type": "work"}]}),
        ),
        user(
            "erin",
            json!({"userType": "Contractor", "locale": "en-US",
            "addresses": [{"locality": "Paris", "country": "FR", "type": "work"}]}),
        ),
        user("frank", json!({})),
    ]
}

const USER_FILTERS: &[&str] = &[
    r#"userName eq "BOB""#,
    r#"externalId eq "ext-a""#,
    r#"externalId eq "EXT-A""#,
    r#"title eq "engineer""#,
    r#"title ne "engineer""#,
    r#"title co "gin""#,
    r#"title sw "ÉMILE""#,
    r#"title ew "EUR""#,
    r#"title gt "M""#,
    r#"title le "Engineer""#,
    r#"title pr"#,
    r#"not (title pr)"#,
    r#"title eq null"#,
    r#"nickName pr"#,
    r#"displayName eq "dave""#,
    r#"displayName eq "Émile""#,
    r#"not (displayName eq "dave")"#,
    r#"name.givenName eq "ALICE""#,
    r#"name pr"#,
    r#"active eq false"#,
    r#"active ne true"#,
    r#"not (active eq true)"#,
    r#"emails eq "alice@work.example""#,
    r#"emails.value ne "bob@home.example""#,
    r#"emails[type eq "work"].value eq "dave@work.example""#,
    r#"emails[type eq "work" and not (value co "alice")]"#,
    r#"emails[primary eq true]"#,
    r#"emails.type eq "home" and active eq true"#,
    r#"phoneNumbers[type eq "work"]"#,
    r#"phoneNumbers.value co "555""#,
    r#"addresses.locality eq "paris" or userType eq "contractor""#,
    r#"addresses[country eq "FR" and type eq "work"]"#,
    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1002""#,
    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "SALES""#,
    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department sw "eng""#,
    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "boss-1""#,
    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager pr"#,
    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter pr and not (title eq "x")"#,
    r#"locale eq "EN-us" or title eq "manager""#,
    r#"unknownAttribute eq "x""#,
    r#"unknownAttribute ne "x""#,
    r#"title eq true"#,
    r#"title gt 5"#,
    r#"userName co "" and title ew """#,
    r#"title eq "Émile's Ingénieur""#,
    r#"groups pr"#,
    r#"not (groups pr)"#,
    r#"groups.display eq "DEVELOPERS""#,
    r#"groups.display co "dev""#,
    r#"groups.display ne "admins""#,
    r#"groups.value eq "no-such-group""#,
    r#"groups.value ne "no-such-group" and groups pr"#,
    r#"meta.resourceType eq "User""#,
    r#"meta.resourceType eq "Group" or title pr"#,
];

const GROUP_FILTERS: &[&str] = &[
    r#"displayName eq "ADMINS""#,
    r#"displayName co "dev""#,
    r#"externalId eq "g-2""#,
    r#"externalId pr"#,
    r#"not (externalId pr)"#,
    r#"displayName sw "D" and not (displayName ew "ops")"#,
    r#"members pr"#,
    r#"not (members pr)"#,
    r#"members.value ne "no-such-user""#,
    r#"meta.resourceType eq "Group""#,
    r#"meta.resourceType ne "Group""#,
];

fn names(resources: &[Value], key: &str) -> BTreeSet<String> {
    resources
        .iter()
        .map(|r| r[key].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn every_filter_runs_in_the_database_as_in_memory(backend: Backend) {
    let world = world(backend).await;
    let settings = scim_settings();
    let actor = idp();
    let ctx = world_ctx(&world, &actor, &settings);
    let mut ids = Vec::new();
    for person in people() {
        let created = users::create(ctx, person).await.unwrap();
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    let member = |i: usize| json!({"value": ids[i]});
    for (name, external, members) in [
        ("Admins", None, vec![member(0)]),
        ("Developers", Some("g-2"), vec![member(1), member(2)]),
        ("DevOps", Some("g-3"), vec![]),
    ] {
        let mut group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": name, "members": members});
        if let Some(external) = external {
            group["externalId"] = json!(external);
        }
        groups::create(ctx, group).await.unwrap();
    }
    // Another organization's user matches most filters and must never be listed.
    let other = world.second_org().await;
    let other_ctx = Ctx {
        scope: &other,
        ..ctx
    };
    let mut stranger = people().remove(0);
    stranger["userName"] = json!("stranger");
    users::create(other_ctx, stranger).await.unwrap();

    let everyone = list::users(ctx, &ListRequest::default()).await.unwrap();
    assert_eq!(everyone.resources.len(), people().len());
    // Filters on the relations by the ids just made.
    let by_id = [
        format!(r#"groups eq "{}""#, ids[1]),
        format!(
            r#"groups.value eq "{}" or groups.display eq "admins""#,
            ids[1]
        ),
    ];
    let user_filters = USER_FILTERS
        .iter()
        .map(|f| (*f).to_owned())
        .chain(by_id.iter().cloned());
    for filter in user_filters {
        let filter = filter.as_str();
        let parsed = parse_filter(filter).unwrap();
        let expected: Vec<Value> = everyone
            .values()
            .iter()
            .filter(|u| parsed.matches(u, ResourceSchema::user()))
            .cloned()
            .collect();
        let request = ListRequest {
            filter: Some((*filter).to_owned()),
            ..ListRequest::default()
        };
        let page = list::users(ctx, &request).await.unwrap();
        assert_eq!(
            names(&page.values(), "userName"),
            names(&expected, "userName"),
            "{backend:?}: {filter}"
        );
        assert_eq!(page.total, expected.len() as u64, "{filter}");
        assert!(
            store::scim_filter::user_condition(&parsed, &world.scope, backend == Backend::Postgres)
                .is_some(),
            "{filter} runs in the database"
        );
    }
    let all_groups = list::groups(ctx, &ListRequest::default()).await.unwrap();
    let by_id = [
        format!(r#"members.value eq "{}""#, ids[2]),
        format!(r#"members ne "{}""#, ids[0]),
    ];
    let group_filters = GROUP_FILTERS
        .iter()
        .map(|f| (*f).to_owned())
        .chain(by_id.iter().cloned());
    for filter in group_filters {
        let filter = filter.as_str();
        let parsed = parse_filter(filter).unwrap();
        let expected: Vec<Value> = all_groups
            .values()
            .iter()
            .filter(|g| parsed.matches(g, ResourceSchema::group()))
            .cloned()
            .collect();
        let request = ListRequest {
            filter: Some((*filter).to_owned()),
            ..ListRequest::default()
        };
        let page = list::groups(ctx, &request).await.unwrap();
        assert_eq!(
            names(&page.values(), "displayName"),
            names(&expected, "displayName"),
            "{backend:?}: {filter}"
        );
        assert!(
            store::scim_filter::group_condition(&parsed, backend == Backend::Postgres).is_some(),
            "{filter} runs in the database"
        );
    }
}

backend_tests!(every_filter_runs_in_the_database_as_in_memory);

/// What no row holds is refused (`invalidFilter`), not evaluated over the organization in memory.
async fn filters_on_what_no_row_holds_are_refused(backend: Backend) {
    let world = world(backend).await;
    let settings = scim_settings();
    let actor = idp();
    let ctx = world_ctx(&world, &actor, &settings);
    for (users_filter, filter) in [
        (true, r#"meta.location eq "http://scim.test/Users/x""#),
        (true, r#"meta.version eq "W/\"1\"""#),
        (true, r#"userName eq "a" or groups.type eq "direct""#),
        (false, r#"members.display eq "Alice""#),
        (false, r#"members[display co "A"]"#),
    ] {
        let request = ListRequest {
            filter: Some(filter.to_owned()),
            ..ListRequest::default()
        };
        let answer = if users_filter {
            list::users(ctx, &request).await.map(|_| ())
        } else {
            list::groups(ctx, &request).await.map(|_| ())
        };
        match answer {
            Err(usecases::Error::Scim(e)) => {
                assert_eq!(
                    (e.status, e.scim_type.map(|t| t.as_str())),
                    (400, Some("invalidFilter")),
                    "{filter}"
                );
            }
            other => panic!("{filter}: {other:?}"),
        }
    }
}

backend_tests!(filters_on_what_no_row_holds_are_refused);

/// A filter that no index serves runs under `scim_filter_timeout`: held up past it (here by a
/// lock another session holds on the users table), it answers `400 tooMany` and nothing else is
/// affected; once the lock is gone the same filter answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_past_its_time_limit_answers_too_many() {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let settings = usecases::Settings {
        scim_filter_timeout: std::time::Duration::from_millis(300),
        ..usecases::Settings::for_region("local")
    };
    let world = world_with(Backend::Postgres, settings).await;
    let scim = scim_settings();
    let actor = idp();
    let ctx = world_ctx(&world, &actor, &scim);
    users::create(ctx, people().remove(0)).await.unwrap();
    let request = ListRequest {
        filter: Some(r#"title co "gin""#.to_owned()),
        ..ListRequest::default()
    };
    let other = sea_orm::Database::connect(world._db.url.as_str())
        .await
        .unwrap();
    let holder = other.begin().await.unwrap();
    holder
        .execute_unprepared("LOCK TABLE scim_users IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    match list::users(ctx, &request).await {
        Err(usecases::Error::Scim(e)) => {
            assert_eq!(
                (e.status, e.scim_type.map(|t| t.as_str())),
                (400, Some("tooMany"))
            );
            assert!(e.detail.contains("300 ms"), "{}", e.detail);
        }
        other => panic!("{other:?}"),
    }
    holder.rollback().await.unwrap();
    let page = list::users(ctx, &request).await.unwrap();
    assert_eq!(page.total, 1);
}

/// Creates a user named `name`; its SCIM id.
async fn create(ctx: Ctx<'_>, name: String) -> String {
    let user = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name});
    users::create(ctx, user).await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Pages by `startIndex` answer the users at those positions whether they start from a mark
/// (`mark_every` users apart) or from the first user: through a fresh organization, after users
/// are added at the end, after deletions anywhere (which move every later position), and past
/// the last user. Another organization's users never count.
async fn start_index_pages_from_marks_answer_every_position(backend: Backend) {
    let world = world(backend).await;
    let mut settings = scim_settings();
    settings.mark_every = 3;
    let actor = idp();
    let ctx = world_ctx(&world, &actor, &settings);
    let other = world.second_org().await;
    let mut ids = Vec::new();
    for i in 0..14 {
        ids.push(create(ctx, format!("u{i:02}")).await);
        // Interleaved with another organization's users, so ids are not dense.
        create(
            Ctx {
                scope: &other,
                ..ctx
            },
            format!("o{i:02}"),
        )
        .await;
    }
    let check = |ids: Vec<String>| async move {
        for start in 1..=ids.len() as i64 + 2 {
            for count in [1, 2, 4] {
                let request = ListRequest {
                    start_index: Some(start),
                    count: Some(count),
                    ..ListRequest::default()
                };
                let page = list::users(ctx, &request).await.unwrap();
                let got: Vec<String> = page
                    .values()
                    .iter()
                    .map(|u| u["id"].as_str().unwrap().to_owned())
                    .collect();
                let from = usize::try_from(start - 1).unwrap().min(ids.len());
                let to = (from + usize::try_from(count).unwrap()).min(ids.len());
                assert_eq!(got, ids[from..to], "startIndex={start} count={count}");
                assert_eq!(page.total, ids.len() as u64);
                assert_eq!(page.start_index, Some(u64::try_from(start).unwrap()));
            }
        }
    };
    check(ids.clone()).await;
    // Added at the end: the marks read before reach further.
    for i in 14..20 {
        ids.push(create(ctx, format!("u{i:02}")).await);
    }
    check(ids.clone()).await;
    // Deleted near the start, at a mark and at the end: every later position moves.
    for at in [18, 6, 1] {
        users::delete(ctx, &ids.remove(at), None).await.unwrap();
        check(ids.clone()).await;
    }
}

backend_tests!(start_index_pages_from_marks_answer_every_position);
