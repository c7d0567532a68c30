//! Repository behaviour on both databases: uniqueness done by the database, scoping, secrets.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::panic)]

mod common;

use chrono::{Duration, Utc};
use serde_json::json;
use store::StoreError;
use store::repo::audit::AuditEntry;
use store::repo::memberships::NewMembership;
use store::repo::oauth_clients::NewClient;
use store::repo::{
    accounts, api_tokens, audit, events, memberships, oauth_clients, organizations, stacks,
};
use store::types::{Email, MembershipSource, MembershipStatus, OrgRole, StackRole};
use testkit::{Backend, backend_tests};

fn email(s: &str) -> Email {
    Email::parse(s).unwrap()
}

async fn organization_lifecycle(backend: Backend) {
    let (_guard, db) = common::open(backend).await;
    let (org, created_scope) = organizations::create(&db, "  Acme Inc ", "eu")
        .await
        .unwrap();
    assert_eq!(org.name, "Acme Inc");
    assert!(!org.scim_enabled);
    let scope = organizations::operator_scope(&db, &org.uid).await.unwrap();
    assert_eq!(scope.org_uid(), org.uid);
    assert_eq!(scope, created_scope);
    assert!(
        organizations::set_scim_enabled(&db, &scope, true)
            .await
            .unwrap()
            .scim_enabled
    );
    assert!(
        organizations::find_by_uid(&db, &org.uid)
            .await
            .unwrap()
            .unwrap()
            .scim_enabled
    );
    assert!(matches!(
        organizations::operator_scope(&db, "nope").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        organizations::create(&db, "   ", "eu").await,
        Err(StoreError::Invalid(_))
    ));
}

async fn account_email_is_unique_ignoring_case_including_unicode(backend: Backend) {
    let (_guard, db) = common::open(backend).await;
    let first = accounts::create(&db, &email("Ärger@Example.com"), Some("Ä"), None)
        .await
        .unwrap();
    assert_eq!(first.email, "Ärger@Example.com", "stored as given");
    let dup = accounts::create(&db, &email("ärger@EXAMPLE.COM"), None, None).await;
    assert!(
        matches!(dup, Err(StoreError::Conflict("account"))),
        "{dup:?}"
    );
    let found = accounts::find_by_email(&db, &email("ÄRGER@example.com"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, first.id);
}

async fn concurrent_ensure_yields_one_account(backend: Backend) {
    let (_guard, db) = common::open(backend).await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(async move {
                let addr = if i % 2 == 0 {
                    "race@example.com"
                } else {
                    "RACE@example.com"
                };
                accounts::ensure(&db, &email(addr), None).await.unwrap().id
            })
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every caller got the same account: {ids:?}");
}

async fn login_checks_password(backend: Backend) {
    let (_guard, db) = common::open(backend).await;
    accounts::create(
        &db,
        &email("ann@example.com"),
        None,
        Some("a long password"),
    )
    .await
    .unwrap();
    assert!(
        accounts::verify_login(&db, "ANN@example.com", "a long password")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        accounts::verify_login(&db, "ann@example.com", "wrong password!")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        accounts::verify_login(&db, "nobody@example.com", "a long password")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        accounts::verify_login(&db, "not an email", "x")
            .await
            .unwrap()
            .is_none()
    );
    let short = accounts::create(&db, &email("bob@example.com"), None, Some("short")).await;
    assert!(matches!(short, Err(StoreError::Invalid(_))));
    let provisioned = accounts::ensure(&db, &email("carol@example.com"), None)
        .await
        .unwrap();
    assert!(provisioned.password_hash.is_none());
    assert!(
        accounts::verify_login(&db, "carol@example.com", "")
            .await
            .unwrap()
            .is_none()
    );
}

async fn admin_scope_requires_active_owner_or_admin(backend: Backend) {
    let (_guard, db) = common::open(backend).await;
    let scope = common::org(&db, "Acme").await;
    let other = common::org(&db, "Other").await;
    let mut ids = Vec::new();
    for (addr, role, status) in [
        (
            "owner@example.com",
            OrgRole::owner(),
            MembershipStatus::Active,
        ),
        (
            "admin@example.com",
            "admin".parse::<OrgRole>().unwrap(),
            MembershipStatus::Active,
        ),
        (
            "member@example.com",
            "member".parse::<OrgRole>().unwrap(),
            MembershipStatus::Active,
        ),
        (
            "suspended@example.com",
            "admin".parse::<OrgRole>().unwrap(),
            MembershipStatus::Suspended,
        ),
    ] {
        let account = accounts::create(&db, &email(addr), None, None)
            .await
            .unwrap();
        let new = NewMembership {
            account_id: account.id,
            role,
            status,
            source: MembershipSource::Manual,
        };
        memberships::add(&db, &scope, new).await.unwrap();
        ids.push(account.id);
    }
    assert_eq!(
        memberships::admin_scope(&db, ids[0], scope.org_uid())
            .await
            .unwrap(),
        scope
    );
    assert_eq!(
        memberships::admin_scope(&db, ids[1], scope.org_uid())
            .await
            .unwrap(),
        scope
    );
    assert!(matches!(
        memberships::admin_scope(&db, ids[2], scope.org_uid()).await,
        Err(StoreError::Forbidden(_))
    ));
    assert!(matches!(
        memberships::admin_scope(&db, ids[3], scope.org_uid()).await,
        Err(StoreError::Forbidden(_))
    ));
    assert!(matches!(
        memberships::admin_scope(&db, ids[0], other.org_uid()).await,
        Err(StoreError::NotFound(_))
    ));

    let again = NewMembership {
        account_id: ids[0],
        role: "member".parse::<OrgRole>().unwrap(),
        status: MembershipStatus::Active,
        source: MembershipSource::Manual,
    };
    assert!(matches!(
        memberships::add(&db, &scope, again).await,
        Err(StoreError::Conflict("membership"))
    ));
    assert_eq!(memberships::list(&db, &scope).await.unwrap().len(), 4);
    assert!(
        memberships::list(&db, &other).await.unwrap().is_empty(),
        "another org sees none of them"
    );

    let suspended = memberships::set_status(&db, &scope, ids[2], MembershipStatus::Suspended)
        .await
        .unwrap();
    assert_eq!(suspended.status, "suspended");
    let promoted = memberships::set_role(&db, &scope, ids[2], &"admin".parse::<OrgRole>().unwrap())
        .await
        .unwrap();
    assert_eq!(
        (promoted.0.role.as_str(), promoted.0.effective_role.as_str()),
        ("admin", "admin")
    );
    assert!(memberships::remove(&db, &scope, ids[2]).await.unwrap());
    assert!(
        accounts::find_by_id(&db, ids[2]).await.unwrap().is_some(),
        "the account stays"
    );
    assert_eq!(
        memberships::organizations_of(&db, ids[0])
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn api_tokens_store_only_a_digest_and_stop_when_revoked(backend: Backend) {
    let (_guard, db) = common::open(backend).await;
    let scope = common::org(&db, "Acme").await;
    let other = common::org(&db, "Other").await;
    let issued = api_tokens::create(&db, &scope, "okta", None, None)
        .await
        .unwrap();
    assert!(issued.token.starts_with("sgt_") && issued.token.len() > 40);
    assert_ne!(issued.row.token_hash, issued.token);
    assert_eq!(issued.row.prefix, issued.token[..12]);

    let principal = api_tokens::authenticate(&db, &issued.token)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(principal.scope, scope);
    let listed = api_tokens::list(&db, &scope).await.unwrap();
    assert!(
        listed[0].last_used_at.is_none(),
        "authenticating is not a use: the request may still be refused"
    );
    assert!(principal.is_use_due(chrono::Utc::now()));
    api_tokens::record_use(&db, principal.token_id, chrono::Utc::now())
        .await
        .unwrap();
    let listed = api_tokens::list(&db, &scope).await.unwrap();
    assert!(listed[0].last_used_at.is_some(), "use is recorded");
    assert!(
        api_tokens::authenticate(&db, "sgt_not-a-token")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        api_tokens::authenticate(&db, "Bearer x")
            .await
            .unwrap()
            .is_none()
    );

    assert!(
        matches!(
            api_tokens::revoke(&db, &other, &issued.row.uid).await,
            Err(StoreError::NotFound(_))
        ),
        "another org cannot revoke it"
    );
    assert!(
        api_tokens::authenticate(&db, &issued.token)
            .await
            .unwrap()
            .is_some()
    );
    api_tokens::revoke(&db, &scope, &issued.row.uid)
        .await
        .unwrap();
    assert!(
        api_tokens::authenticate(&db, &issued.token)
            .await
            .unwrap()
            .is_none()
    );

    let past = api_tokens::create(
        &db,
        &scope,
        "x",
        None,
        Some(Utc::now() - Duration::minutes(1)),
    )
    .await;
    assert!(matches!(past, Err(StoreError::Invalid(_))));
}

async fn oauth_clients_validate_redirects_and_secrets(backend: Backend) {
    let (_guard, db) = common::open(backend).await;
    let okta = oauth_clients::register(
        &db,
        NewClient {
            name: "Okta".into(),
            redirect_uris: vec![
                "https://system-admin.okta.com/admin/app/cpc/scimgate/oauth/callback".into(),
            ],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let secret = okta.client_secret.clone().unwrap();
    let found = oauth_clients::find(&db, &okta.row.client_id)
        .await
        .unwrap()
        .unwrap();
    assert!(oauth_clients::verify_secret(&found, &secret));
    assert!(!oauth_clients::verify_secret(&found, "wrong"));
    assert_ne!(found.secret_hash.as_deref(), Some(secret.as_str()));
    assert_eq!(oauth_clients::redirect_uris(&found).len(), 1);

    let http = NewClient {
        name: "x".into(),
        redirect_uris: vec!["http://idp.example.com/cb".into()],
        ..Default::default()
    };
    assert!(matches!(
        oauth_clients::register(&db, http.clone()).await,
        Err(StoreError::Invalid(_))
    ));
    let allowed = oauth_clients::register(
        &db,
        NewClient {
            allow_insecure_redirect: true,
            ..http
        },
    )
    .await
    .unwrap();
    assert!(allowed.row.insecure_redirect_allowed);
    let loopback = NewClient {
        name: "dev".into(),
        redirect_uris: vec!["http://127.0.0.1:9000/cb".into()],
        public: true,
        ..Default::default()
    };
    let public = oauth_clients::register(&db, loopback).await.unwrap();
    assert!(public.client_secret.is_none() && public.row.secret_hash.is_none());

    let same_id = NewClient {
        name: "Okta EU".into(),
        redirect_uris: vec!["https://a.example/cb".into()],
        client_id: Some(okta.row.client_id.clone()),
        ..Default::default()
    };
    assert!(matches!(
        oauth_clients::register(&db, same_id).await,
        Err(StoreError::Conflict("client"))
    ));
    let short = NewClient {
        name: "x".into(),
        redirect_uris: vec!["https://a.example/cb".into()],
        client_secret: Some("short".into()),
        ..Default::default()
    };
    assert!(matches!(
        oauth_clients::register(&db, short).await,
        Err(StoreError::Invalid(_))
    ));
}

async fn stacks_are_unique_per_org_and_scoped(backend: Backend) {
    let (_guard, db) = common::open(backend).await;
    let scope = common::org(&db, "Acme").await;
    let other = common::org(&db, "Other").await;
    let marketing = stacks::create(&db, &scope, "Marketing").await.unwrap();
    assert!(matches!(
        stacks::create(&db, &scope, "MARKETING").await,
        Err(StoreError::Conflict("stack"))
    ));
    stacks::create(&db, &other, "Marketing").await.unwrap();
    assert!(matches!(
        stacks::get(&db, &other, &marketing.uid).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        stacks::delete(&db, &other, &marketing.uid).await,
        Err(StoreError::NotFound(_))
    ));

    let account = accounts::create(&db, &email("dev@example.com"), None, None)
        .await
        .unwrap();
    stacks::set_role(
        &db,
        &scope,
        &marketing.uid,
        account.id,
        Some("viewer".parse::<StackRole>().unwrap()),
    )
    .await
    .unwrap();
    stacks::set_role(
        &db,
        &scope,
        &marketing.uid,
        account.id,
        Some("developer".parse::<StackRole>().unwrap()),
    )
    .await
    .unwrap();
    let roles = stacks::roles_of(&db, &scope, account.id).await.unwrap();
    assert_eq!(roles.len(), 1, "upsert, not a second row");
    assert_eq!(roles[0].role.as_deref(), Some("developer"));
    assert!(
        stacks::roles_of(&db, &other, account.id)
            .await
            .unwrap()
            .is_empty()
    );

    let renamed = stacks::rename(&db, &scope, &marketing.uid, "Growth")
        .await
        .unwrap();
    assert_eq!(renamed.name, "Growth");
    stacks::delete(&db, &scope, &marketing.uid).await.unwrap();
    assert!(
        stacks::roles_of(&db, &scope, account.id)
            .await
            .unwrap()
            .is_empty(),
        "roles go with the stack"
    );
    assert_eq!(stacks::list(&db, &scope).await.unwrap().len(), 0);
}

async fn audit_and_events_are_scoped_and_ordered(backend: Backend) {
    let (_guard, db) = common::open(backend).await;
    let scope = common::org(&db, "Acme").await;
    let other = common::org(&db, "Other").await;
    for i in 0..3 {
        let entry = AuditEntry {
            actor_type: "operator",
            actor_id: "cli".into(),
            action: "scim.enabled",
            resource_type: "organization",
            resource_id: Some(scope.org_uid().to_owned()),
            request_id: Some(format!("req-{i}")),
            ip: None,
            detail: json!({"i": i}),
        };
        audit::record(&db, Some(&scope), entry, &[]).await.unwrap();
        events::append(
            &db,
            &scope,
            &[event("membership.invited", "a1", json!({"i": i}))],
        )
        .await
        .unwrap();
    }
    let rows = audit::list(&db, &scope, None, 2).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].request_id.as_deref(), Some("req-2"), "newest first");
    let older = audit::list(&db, &scope, Some(rows[1].id), 10)
        .await
        .unwrap();
    assert_eq!(older.len(), 1);
    assert!(audit::list(&db, &other, None, 10).await.unwrap().is_empty());

    let feed = events::list_after(&db, &scope, store::ids::EventId(0), 10)
        .await
        .unwrap();
    assert_eq!(feed.len(), 3);
    assert!(feed.windows(2).all(|w| w[0].id < w[1].id), "oldest first");
    assert_eq!(
        events::list_after(&db, &scope, feed[1].id, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        events::list_after(&db, &other, store::ids::EventId(0), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn an_audit_row_and_its_event_are_written_together_or_not_at_all(backend: Backend) {
    let (_guard, db) = common::open(backend).await;
    let scope = common::org(&db, "Acme").await;
    let entry = |request: &str| AuditEntry {
        actor_type: "api_token",
        actor_id: "tok-1".into(),
        action: "scim_user.created",
        resource_type: "User",
        resource_id: Some("u-1".into()),
        request_id: Some(request.to_owned()),
        ip: Some("192.0.2.7".into()),
        detail: json!({"userName": "bjensen"}),
    };
    let invitation = || event("membership.invited", "u-1", json!({"status": "invited"}));
    let txn = store::db::begin_write(&db).await.unwrap();
    audit::record(&txn, Some(&scope), entry("rolled-back"), &[invitation()])
        .await
        .unwrap();
    txn.rollback().await.unwrap();
    assert!(audit::list(&db, &scope, None, 10).await.unwrap().is_empty());
    assert!(
        events::list_after(&db, &scope, store::ids::EventId(0), 10)
            .await
            .unwrap()
            .is_empty()
    );

    let txn = store::db::begin_write(&db).await.unwrap();
    audit::record(&txn, Some(&scope), entry("kept"), &[invitation()])
        .await
        .unwrap();
    audit::record(&txn, Some(&scope), entry("no-event"), &[])
        .await
        .unwrap();
    txn.commit().await.unwrap();
    let rows = audit::list(&db, &scope, None, 10).await.unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| r.request_id.as_deref().unwrap())
            .collect::<Vec<_>>(),
        vec!["no-event", "kept"]
    );
    let kept = &rows[1];
    assert_eq!(
        (
            kept.actor_type.as_str(),
            kept.actor_id.as_str(),
            kept.action.as_str()
        ),
        ("api_token", "tok-1", "scim_user.created")
    );
    assert_eq!(kept.ip.as_deref(), Some("192.0.2.7"));
    let feed = events::list_after(&db, &scope, store::ids::EventId(0), 10)
        .await
        .unwrap();
    assert_eq!(feed.len(), 1, "one event, for the entry that had one");
    assert_eq!(
        (
            feed[0].kind.as_str(),
            feed[0].subject_type.as_str(),
            feed[0].subject_id.as_str()
        ),
        ("membership.invited", "user", "u-1")
    );
    assert_eq!(feed[0].org_id, Some(scope.org_id()));
    assert_eq!(
        (feed[0].actor_type.as_str(), feed[0].actor_id.as_deref()),
        ("api_token", Some("tok-1"))
    );
    assert_eq!(
        (feed[0].sequence, feed[0].position),
        (None, None),
        "not yet sequenced"
    );
    let payload: serde_json::Value = serde_json::from_str(&feed[0].payload).unwrap();
    assert_eq!(payload, json!({"status": "invited"}));
}

/// Many events with their audit row: written in bounded statements, in order, all or nothing.
async fn many_events_with_one_audit_row_keep_their_order(backend: Backend) {
    let (_guard, db) = common::open(backend).await;
    let scope = common::org(&db, "Acme").await;
    let many: Vec<events::NewEvent> = (0..250)
        .map(|i| {
            event(
                "directory.group.members_added",
                &format!("g-{i}"),
                json!({"i": i}),
            )
        })
        .collect();
    let entry = AuditEntry {
        actor_type: "api_token",
        actor_id: "tok-1".into(),
        action: "scim_group.patched",
        resource_type: "Group",
        resource_id: Some("g".into()),
        request_id: None,
        ip: None,
        detail: json!({}),
    };
    let txn = store::db::begin_write(&db).await.unwrap();
    audit::record(&txn, Some(&scope), entry, &many)
        .await
        .unwrap();
    txn.commit().await.unwrap();
    let feed = events::list_after(&db, &scope, store::ids::EventId(0), 1000)
        .await
        .unwrap();
    let ids: Vec<String> = feed.iter().map(|e| e.subject_id.clone()).collect();
    let expected: Vec<String> = (0..250).map(|i| format!("g-{i}")).collect();
    assert_eq!(ids, expected);
    assert_eq!(audit::list(&db, &scope, None, 10).await.unwrap().len(), 1);
}

fn event(kind: &'static str, subject: &str, payload: serde_json::Value) -> events::NewEvent {
    events::NewEvent {
        kind,
        subject_type: "user",
        subject_id: subject.to_owned(),
        subject_version: Some(1),
        actor_type: "api_token",
        actor_id: Some("tok-1".into()),
        request_id: None,
        payload,
        previous: None,
    }
}

backend_tests!(
    organization_lifecycle,
    an_audit_row_and_its_event_are_written_together_or_not_at_all,
    account_email_is_unique_ignoring_case_including_unicode,
    concurrent_ensure_yields_one_account,
    login_checks_password,
    admin_scope_requires_active_owner_or_admin,
    api_tokens_store_only_a_digest_and_stop_when_revoked,
    oauth_clients_validate_redirects_and_secrets,
    stacks_are_unique_per_org_and_scoped,
    audit_and_events_are_scoped_and_ordered,
    many_events_with_one_audit_row_keep_their_order,
);
