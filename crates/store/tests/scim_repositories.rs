//! SCIM users, groups as member rows, and effective roles through group mappings, on both
//! databases.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::panic)]

mod common;

use sea_orm::Condition;
use store::ids::{AccountId, ScimGroupId, ScimUserId};
use store::repo::group_mappings::{self, Grants};
use store::repo::memberships::{self, NewMembership};
use store::repo::scim_groups::{self, GroupColumns, GroupPageRequest, GroupSort};
use store::repo::scim_users::{
    self as users, EmailColumn, ScimUser, StoredUser, UserColumns, UserPageRequest, UserSort,
};
use store::repo::{accounts, roles, stacks};
use store::types::{Email, MembershipSource, MembershipStatus, OrgRole, StackRole};
use store::{Database, OrgScope, StoreError};
use testkit::{Backend, backend_tests};

fn columns(user_name: &str, email: &str) -> UserColumns {
    UserColumns {
        user_name: user_name.to_owned(),
        external_id: Some(format!("ext-{user_name}")),
        active: true,
        given_name: Some("Given".into()),
        family_name: Some("Family".into()),
        display_name: None,
        emails: vec![EmailColumn {
            kind: Some("work".into()),
            value: email.to_owned(),
            primary: true,
        }],
        resource: "{}".into(),
    }
}

/// A provisioned user: account, membership and SCIM user.
async fn provision(
    db: &Database,
    scope: &OrgScope,
    user_name: &str,
) -> (users::ScimUser, AccountId) {
    let email = format!("{user_name}@example.com");
    let account = accounts::ensure(db, &Email::parse(&email).unwrap(), None)
        .await
        .unwrap();
    let new = NewMembership {
        account_id: account.id,
        role: "member".parse::<OrgRole>().unwrap(),
        status: MembershipStatus::Invited,
        source: MembershipSource::Scim,
    };
    memberships::add(db, scope, new).await.unwrap();
    (
        users::insert(db, scope, Some(account.id), &columns(user_name, &email))
            .await
            .unwrap(),
        account.id,
    )
}

/// A new group of the organization (no members, no externalId).
async fn new_group(db: &Database, scope: &OrgScope, name: &str) -> scim_groups::ScimGroup {
    scim_groups::insert(
        db,
        scope,
        &GroupColumns {
            display_name: name.into(),
            external_id: None,
            resource: "{}".into(),
        },
    )
    .await
    .unwrap()
}

/// Adds one user (by SCIM id) to a group.
async fn add_member(db: &Database, scope: &OrgScope, group_id: ScimGroupId, user_uid: &str) {
    scim_groups::add_members(
        db,
        scope,
        group_id,
        &[user_uid.to_owned()],
        &Default::default(),
    )
    .await
    .unwrap();
}

fn page(condition: Option<Condition>) -> UserPageRequest {
    UserPageRequest {
        condition,
        sort: (UserSort::Id, true),
        offset: 0,
        limit: 100,
        after_id: None,
        skip_from: None,
        total: None,
        with_groups: false,
    }
}

async fn user_names_are_unique_per_org_ignoring_case(backend: Backend) {
    let (_guard, db) = common::open(backend).await;
    let acme = common::org(&db, "Acme").await;
    let beta = common::org(&db, "Beta").await;
    let (alice, _) = provision(&db, &acme, "Alice").await;
    assert_eq!(alice.user_name, "Alice", "stored as sent");
    let dup = users::insert(&db, &acme, None, &columns("ALICE", "x@example.com")).await;
    assert!(
        matches!(dup, Err(StoreError::Conflict("userName"))),
        "{dup:?}"
    );
    users::insert(&db, &beta, None, &columns("alice", "a@example.com"))
        .await
        .unwrap();
    assert!(
        users::get(&db, &beta, &alice.uid).await.unwrap().is_none(),
        "another org cannot read it"
    );
    let same_account = users::insert(
        &db,
        &acme,
        alice.account_id,
        &columns("alice2", "a2@example.com"),
    )
    .await;
    assert!(
        matches!(same_account, Err(StoreError::Conflict("account"))),
        "{same_account:?}"
    );
}

async fn updates_are_compare_and_swap(backend: Backend) {
    let (_guard, db) = common::open(backend).await;
    let acme = common::org(&db, "Acme").await;
    let (user, _) = provision(&db, &acme, "bob").await;
    let mut changed = columns("bob", "bob@new.example.com");
    changed.active = false;
    let updated = users::update(&db, &acme, &user, &changed).await.unwrap();
    assert_eq!(updated.version, 2);
    assert!(!updated.active);
    assert_eq!(
        updated.primary_email.as_deref(),
        Some("bob@new.example.com")
    );
    let stale = users::update(&db, &acme, &user, &changed).await;
    assert!(
        matches!(stale, Err(StoreError::VersionMismatch)),
        "a stale version loses"
    );
    provision(&db, &acme, "carol").await;
    let clash = users::update(&db, &acme, &updated, &columns("CAROL", "c@example.com")).await;
    assert!(matches!(clash, Err(StoreError::Conflict("userName"))));
}

async fn filters_run_as_sql_on_columns_and_emails(backend: Backend) {
    let (_guard, db) = common::open(backend).await;
    let acme = common::org(&db, "Acme").await;
    let beta = common::org(&db, "Beta").await;
    for name in ["dave", "erin", "frank"] {
        provision(&db, &acme, name).await;
    }
    provision(&db, &beta, "dave").await;
    let condition = |filter: &str| {
        store::scim_filter::user_condition(
            &scim_core::filter::parse_filter(filter).unwrap(),
            &acme,
            store::Conn::is_postgres(&db),
        )
    };
    let by_name = condition(r#"userName eq "DAVE""#).unwrap();
    let (total, rows) = users::page::<ScimUser>(&db, &acme, &page(Some(by_name)))
        .await
        .unwrap();
    assert_eq!((total, rows.len()), (1, 1));
    let email = condition(r#"emails[type eq "work" and value eq "Erin@Example.com"]"#).unwrap();
    let (total, rows) = users::page::<ScimUser>(&db, &acme, &page(Some(email)))
        .await
        .unwrap();
    assert_eq!((total, rows[0].user.user_name.as_str()), (1, "erin"));
    assert!(rows[0].groups.is_none(), "groups only when asked for");

    let mut request = page(None);
    request.limit = 2;
    let (total, first) = users::page::<ScimUser>(&db, &acme, &request).await.unwrap();
    request.offset = 2;
    let (_, second) = users::page::<ScimUser>(&db, &acme, &request).await.unwrap();
    assert_eq!((total, first.len(), second.len()), (3, 2, 1));
    request.offset = 0;
    request.after_id = Some(first[1].user.id);
    let (_, keyset) = users::page::<ScimUser>(&db, &acme, &request).await.unwrap();
    assert_eq!(
        keyset[0].user.id, second[0].user.id,
        "keyset and offset paging agree"
    );
}

async fn group_members_are_rows_scoped_to_the_org(backend: Backend) {
    let (_guard, db) = common::open(backend).await;
    let acme = common::org(&db, "Acme").await;
    let beta = common::org(&db, "Beta").await;
    let group = new_group(&db, &acme, "Engineering").await;
    let dup = scim_groups::insert(
        &db,
        &acme,
        &GroupColumns {
            display_name: "ENGINEERING".into(),
            external_id: None,
            resource: "{}".into(),
        },
    )
    .await;
    assert!(matches!(dup, Err(StoreError::Conflict("displayName"))));
    let (a, _) = provision(&db, &acme, "a").await;
    let (b, _) = provision(&db, &acme, "b").await;
    let (foreign, _) = provision(&db, &beta, "c").await;

    let ids = vec![
        a.uid.clone(),
        b.uid.clone(),
        foreign.uid.clone(),
        "nope".to_owned(),
        a.uid.clone(),
    ];
    let resolved = scim_groups::add_members(&db, &acme, group.id, &ids, &Default::default())
        .await
        .unwrap();
    assert_eq!(resolved.users.len(), 2);
    assert_eq!(
        resolved.unknown,
        vec![foreign.uid.clone(), "nope".to_owned()],
        "other orgs' users are unknown here"
    );
    add_member(&db, &acme, group.id, &a.uid).await;
    assert_eq!(
        scim_groups::member_count(&db, &acme, group.id)
            .await
            .unwrap(),
        2,
        "adding twice keeps one row"
    );
    let listed = scim_groups::members(&db, &acme, group.id, 0, 10)
        .await
        .unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|m| m.user_uid.as_str())
            .collect::<Vec<_>>(),
        vec![a.uid.as_str(), b.uid.as_str()]
    );
    let of_users = scim_groups::groups_of_users(&db, &acme, &[a.id, b.id])
        .await
        .unwrap();
    assert_eq!(
        of_users[&a.id],
        vec![(group.uid.clone(), "Engineering".to_owned())]
    );
    // A listing reads the same groups in its one query; a user in none gets an empty list.
    let second_group = new_group(&db, &acme, "Design \"core\"").await;
    add_member(&db, &acme, second_group.id, &a.uid).await;
    let (d, _) = provision(&db, &acme, "d").await;
    let mut request = page(None);
    request.with_groups = true;
    let (_, listed_users) = users::page::<ScimUser>(&db, &acme, &request).await.unwrap();
    let groups_of = |id: ScimUserId| {
        listed_users
            .iter()
            .find(|u| u.user.id == id)
            .and_then(|u| u.groups.clone())
            .unwrap()
    };
    assert_eq!(
        groups_of(a.id),
        vec![
            (group.uid.clone(), "Engineering".to_owned()),
            (second_group.uid.clone(), "Design \"core\"".to_owned()),
        ]
    );
    assert_eq!(
        groups_of(b.id),
        vec![(group.uid.clone(), "Engineering".to_owned())]
    );
    assert_eq!(groups_of(d.id), Vec::<(String, String)>::new());
    // Past the first page they come from a second query, the same way.
    request.offset = 1;
    let (_, later) = users::page::<ScimUser>(&db, &acme, &request).await.unwrap();
    let first_later = &later[0];
    assert_eq!(
        first_later.groups.as_ref(),
        Some(&groups_of(first_later.user.id))
    );
    // SCIM's pages read only what it answers with: the same users, resources and groups.
    for offset in [0, 1] {
        request.offset = offset;
        let (total, every_column) = users::page::<ScimUser>(&db, &acme, &request).await.unwrap();
        let (stored_total, stored) = users::page::<StoredUser>(&db, &acme, &request)
            .await
            .unwrap();
        assert_eq!(stored_total, total);
        let project = |rows: Vec<users::ListedUser<StoredUser>>| {
            rows.into_iter()
                .map(|r| (r.user, r.groups))
                .collect::<Vec<_>>()
        };
        let expected: Vec<_> = every_column
            .into_iter()
            .map(|r| {
                let u = r.user;
                let stored = StoredUser {
                    id: u.id,
                    uid: u.uid,
                    resource: u.resource,
                    version: u.version,
                    created_at: u.created_at,
                    updated_at: u.updated_at,
                };
                (stored, r.groups)
            })
            .collect();
        assert!(!expected.is_empty());
        assert_eq!(project(stored), expected);
    }

    scim_groups::remove_members(&db, &acme, group.id, std::slice::from_ref(&a.uid))
        .await
        .unwrap();
    assert_eq!(
        scim_groups::member_count(&db, &acme, group.id)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        scim_groups::clear_members(&db, &acme, group.id)
            .await
            .unwrap(),
        1
    );
    let request = GroupPageRequest {
        condition: None,
        sort: (GroupSort::Id, true),
        offset: 0,
        limit: 10,
        after_id: None,
    };
    let (total, _) = scim_groups::page(&db, &beta, &request).await.unwrap();
    assert_eq!(total, 0);
    users::delete(&db, &acme, &b.uid).await.unwrap();
    assert!(
        scim_groups::delete(&db, &acme, &group.uid)
            .await
            .unwrap()
            .is_some()
    );
}

async fn concurrent_member_adds_lose_nothing(backend: Backend) {
    let (_guard, db) = common::open(backend).await;
    let acme = common::org(&db, "Acme").await;
    let group = new_group(&db, &acme, "All").await;
    let mut uids = Vec::new();
    for i in 0..12 {
        uids.push(provision(&db, &acme, &format!("u{i}")).await.0.uid);
    }
    let tasks: Vec<_> = uids
        .into_iter()
        .map(|uid| {
            let (db, acme) = (db.clone(), acme.clone());
            tokio::spawn(async move {
                let txn = store::db::begin_write(&db).await.unwrap();
                scim_groups::add_members(&txn, &acme, group.id, &[uid], &Default::default())
                    .await
                    .unwrap();
                scim_groups::touch(&txn, &acme, group.id).await.unwrap();
                txn.commit().await.unwrap();
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        scim_groups::member_count(&db, &acme, group.id)
            .await
            .unwrap(),
        12
    );
    let group = scim_groups::get(&db, &acme, &group.uid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(group.version, 13, "every change bumped the version");
}

async fn mapped_groups_raise_effective_roles(backend: Backend) {
    let (_guard, db) = common::open(backend).await;
    let acme = common::org(&db, "Acme").await;
    let marketing = stacks::create(&db, &acme, "Marketing").await.unwrap();
    let admins = new_group(&db, &acme, "Admins").await;
    let (user, account) = provision(&db, &acme, "gina").await;
    add_member(&db, &acme, admins.id, &user.uid).await;

    let grants = Grants {
        org_role: Some("admin".parse::<OrgRole>().unwrap()),
        stack_roles: vec![(marketing.id, "developer".parse::<StackRole>().unwrap())],
    };
    let changes = group_mappings::set(&db, &acme, admins.id, &grants)
        .await
        .unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(
        changes[0].before.org_role,
        "member".parse::<OrgRole>().unwrap()
    );
    assert_eq!(
        changes[0].after.org_role,
        "admin".parse::<OrgRole>().unwrap()
    );
    assert_eq!(
        changes[0].after.stacks.get(&marketing.id),
        Some(&"developer".parse::<StackRole>().unwrap())
    );
    let membership = memberships::get(&db, &acme, account)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (membership.role.as_str(), membership.effective_role.as_str()),
        ("member", "admin")
    );
    assert!(
        roles::recompute(&db, &acme, &[account])
            .await
            .unwrap()
            .is_empty(),
        "recompute is idempotent"
    );

    stacks::set_role(
        &db,
        &acme,
        &marketing.uid,
        account,
        Some("admin".parse::<StackRole>().unwrap()),
    )
    .await
    .unwrap();
    scim_groups::remove_members(&db, &acme, admins.id, std::slice::from_ref(&user.uid))
        .await
        .unwrap();
    let changes = roles::recompute(&db, &acme, &[account]).await.unwrap();
    assert_eq!(
        changes[0].after.org_role,
        "member".parse::<OrgRole>().unwrap(),
        "leaving the group drops the role"
    );
    assert_eq!(
        changes[0].after.stacks.get(&marketing.id),
        Some(&"admin".parse::<StackRole>().unwrap()),
        "the manual stack role stays"
    );

    add_member(&db, &acme, admins.id, &user.uid).await;
    roles::recompute(&db, &acme, &[account]).await.unwrap();
    let changes = group_mappings::remove(&db, &acme, admins.id).await.unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(
        changes[0].after.org_role,
        "member".parse::<OrgRole>().unwrap()
    );
}

backend_tests!(
    user_names_are_unique_per_org_ignoring_case,
    updates_are_compare_and_swap,
    filters_run_as_sql_on_columns_and_emails,
    group_members_are_rows_scoped_to_the_org,
    concurrent_member_adds_lose_nothing,
    mapped_groups_raise_effective_roles,
);

/// An IdP's lookups of one shape run one kept statement text with each request's values
/// (`repo::first_pages`): each answers from its own organization only, across organizations and
/// values, for a filter on a column and for one on the email rows (whose condition names the
/// organization again).
async fn lookups_of_one_shape_share_a_statement_and_stay_in_their_org(backend: Backend) {
    use std::sync::{Arc, Mutex};
    let (_guard, mut db) = common::open(backend).await;
    let texts = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = texts.clone();
    db.on_statement(move |statement| {
        if statement.sql.contains("FROM \"scim_users\"") {
            seen.lock().unwrap().push(statement.sql.to_owned());
        }
    });
    let acme = common::org(&db, "Acme").await;
    let beta = common::org(&db, "Beta").await;
    let (acme_dave, _) = provision(&db, &acme, "dave").await;
    provision(&db, &acme, "erin").await;
    let (beta_dave, _) = provision(&db, &beta, "dave").await;
    let lookup = async |scope: &OrgScope, filter: &str| {
        let condition = store::scim_filter::user_condition(
            &scim_core::filter::parse_filter(filter).unwrap(),
            scope,
            store::Conn::is_postgres(&db),
        );
        let mut request = page(condition);
        request.with_groups = true;
        let (total, rows) = users::page::<StoredUser>(&db, scope, &request)
            .await
            .unwrap();
        assert_eq!(total, rows.len() as u64);
        rows.iter().map(|r| r.user.uid.clone()).collect::<Vec<_>>()
    };
    for filter in [
        r#"userName eq "DAVE""#,
        r#"emails.value eq "dave@example.com""#,
    ] {
        texts.lock().unwrap().clear();
        assert_eq!(
            lookup(&acme, filter).await,
            vec![acme_dave.uid.clone()],
            "{filter}"
        );
        assert_eq!(
            lookup(&beta, filter).await,
            vec![beta_dave.uid.clone()],
            "{filter}"
        );
        assert_eq!(
            lookup(&acme, filter).await,
            vec![acme_dave.uid.clone()],
            "{filter}"
        );
        let texts = std::mem::take(&mut *texts.lock().unwrap());
        assert_eq!(texts.len(), 3, "{texts:?}");
        assert!(
            texts.iter().all(|t| *t == texts[0]),
            "one statement text: {texts:?}"
        );
    }
    assert_eq!(lookup(&acme, r#"userName eq "erin""#).await.len(), 1);
    assert!(
        lookup(&beta, r#"userName eq "erin""#).await.is_empty(),
        "another organization's user is not found through the kept statement"
    );
    assert!(
        lookup(&beta, r#"emails.value eq "erin@example.com""#)
            .await
            .is_empty()
    );
}

backend_tests!(lookups_of_one_shape_share_a_statement_and_stay_in_their_org);

async fn console_read_models_and_mapping_preview(backend: Backend) {
    let (_guard, db) = common::open(backend).await;
    let acme = common::org(&db, "Acme").await;
    let beta = common::org(&db, "Beta").await;
    let (ann, ann_account) = provision(&db, &acme, "ann").await;
    provision(&db, &acme, "andy").await;
    provision(&db, &acme, "bea").await;
    provision(&db, &beta, "ann").await;
    let page = store::repo::directory::users(&db, &acme, Some("AN"), ScimUserId(0), 10)
        .await
        .unwrap();
    assert_eq!(
        page.iter()
            .map(|r| r.user.user_name.as_str())
            .collect::<Vec<_>>(),
        vec!["ann", "andy"]
    );
    assert_eq!(page[0].status.as_deref(), Some("invited"));
    let next = store::repo::directory::users(&db, &acme, None, page[0].user.id, 1)
        .await
        .unwrap();
    assert_eq!(next[0].user.user_name, "andy", "keyset paging");

    let group = new_group(&db, &acme, "Admins").await;
    add_member(&db, &acme, group.id, &ann.uid).await;
    let groups = store::repo::directory::groups(&db, &acme, Some("adm"), ScimGroupId(0), 10)
        .await
        .unwrap();
    assert_eq!((groups.len(), groups[0].member_count), (1, 1));

    let grants = Grants {
        org_role: Some("admin".parse::<OrgRole>().unwrap()),
        stack_roles: vec![],
    };
    let preview = group_mappings::preview(&db, &acme, group.id, Some(&grants))
        .await
        .unwrap();
    assert_eq!(preview.len(), 1);
    assert_eq!(
        preview[0].after.org_role,
        "admin".parse::<OrgRole>().unwrap()
    );
    assert!(
        !group_mappings::is_mapped(&db, &acme, group.id)
            .await
            .unwrap(),
        "a preview writes nothing"
    );
    let membership = memberships::get(&db, &acme, ann_account)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(membership.effective_role, "member");
}

backend_tests!(console_read_models_and_mapping_preview);

/// The count of an organization's users and groups that unfiltered pages answer as
/// `totalResults` follows every insert and delete — concurrent ones, a multi-row statement, a
/// rolled-back transaction, an organization's deletion — and never another organization's rows.
async fn resource_counts_follow_every_write(backend: Backend) {
    use sea_orm::{ConnectionTrait, Statement};
    use store::repo::resource_counts::{self, Kind};

    let (guard, db) = common::open(backend).await;
    let raw = sea_orm::Database::connect(&guard.url).await.unwrap();
    let raw_backend = raw.get_database_backend();
    let acme = common::org(&db, "Acme").await;
    let globex = common::org(&db, "Globex").await;
    let mut acme_users = Vec::new();
    for i in 0..5 {
        acme_users.push(provision(&db, &acme, &format!("a{i}")).await.0);
    }
    for i in 0..3 {
        provision(&db, &globex, &format!("g{i}")).await;
    }
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let (db, acme) = (db.clone(), acme.clone());
            tokio::spawn(async move {
                for i in 0..4 {
                    let txn = store::db::begin_write(&db).await.unwrap();
                    let name = format!("c{task}-{i}");
                    users::insert(
                        &txn,
                        &acme,
                        None,
                        &columns(&name, &format!("{name}@x.test")),
                    )
                    .await
                    .unwrap();
                    txn.commit().await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    for i in 0..4 {
        new_group(&db, &acme, &format!("team{i}")).await;
    }

    // A transaction that rolls back leaves the count as it was.
    let txn = store::db::begin_write(&db).await.unwrap();
    users::insert(&txn, &acme, None, &columns("gone", "gone@x.test"))
        .await
        .unwrap();
    txn.rollback().await.unwrap();
    // Deletes, one by one and of a group.
    for user in &acme_users[..2] {
        users::delete(&db, &acme, &user.uid).await.unwrap().unwrap();
    }
    let team0 = scim_groups::page(
        &db,
        &acme,
        &GroupPageRequest {
            condition: None,
            sort: (GroupSort::Id, true),
            offset: 0,
            limit: 1,
            after_id: None,
        },
    )
    .await
    .unwrap()
    .1
    .remove(0);
    scim_groups::delete(&db, &acme, &team0.uid).await.unwrap();
    // Rows written by one multi-row statement, as a bulk load would.
    let placeholder = if backend == Backend::Postgres {
        "$1"
    } else {
        "?"
    };
    let now = if backend == Backend::Postgres {
        "now()"
    } else {
        "CURRENT_TIMESTAMP"
    };
    raw.execute_raw(Statement::from_sql_and_values(
            raw_backend,
            format!(
                "INSERT INTO scim_users (uid, org_id, user_name, user_name_normalized, active, \
                 resource, search, version, created_at, updated_at) \
                 SELECT 'bulk' || n, {placeholder}, 'bulk' || n, 'bulk' || n, true, '{{}}', '{{}}', 1, \
                 {now}, {now} FROM (SELECT 1 AS n UNION ALL SELECT 2 UNION ALL SELECT 3) AS s"
            ),
            [acme.org_id().0.into()],
        ))
        .await
        .unwrap();

    let rows = |table: &'static str, scope: OrgScope| {
        let raw = &raw;
        async move {
            let row = raw
                .query_one_raw(Statement::from_string(
                    raw_backend,
                    format!(
                        "SELECT CAST(count(*) AS BIGINT) AS n FROM {table} WHERE org_id = {}",
                        scope.org_id().0
                    ),
                ))
                .await
                .unwrap()
                .unwrap();
            u64::try_from(row.try_get::<i64>("", "n").unwrap()).unwrap()
        }
    };
    let acme_count = resource_counts::get(&db, &acme, Kind::Users).await.unwrap();
    assert_eq!(acme_count, 5 + 32 - 2 + 3);
    assert_eq!(acme_count, rows("scim_users", acme.clone()).await);
    assert_eq!(
        resource_counts::get(&db, &acme, Kind::Groups)
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        resource_counts::get(&db, &globex, Kind::Users)
            .await
            .unwrap(),
        rows("scim_users", globex.clone()).await
    );
    assert_eq!(
        resource_counts::get(&db, &globex, Kind::Groups)
            .await
            .unwrap(),
        0
    );

    // A page in the middle answers the kept count as its total, unfiltered or not.
    let middle = |condition: Option<Condition>| UserPageRequest {
        condition,
        sort: (UserSort::Id, true),
        offset: 3,
        limit: 4,
        after_id: None,
        skip_from: None,
        total: None,
        with_groups: false,
    };
    let (total, page) = users::page::<ScimUser>(&db, &acme, &middle(None))
        .await
        .unwrap();
    assert_eq!((total, page.len()), (acme_count, 4));
    let active = store::scim_filter::user_condition(
        &scim_core::filter::parse_filter("active eq true").unwrap(),
        &acme,
        store::Conn::is_postgres(&db),
    );
    let (filtered_total, _) = users::page::<ScimUser>(&db, &acme, &middle(active))
        .await
        .unwrap();
    assert_eq!(filtered_total, acme_count);

    // Removals are counted, and only removals: two users and one group were deleted.
    let counts = |kind| resource_counts::counts(&db, &acme, kind);
    assert_eq!(counts(Kind::Users).await.unwrap().removed, 2);
    assert_eq!(counts(Kind::Groups).await.unwrap().removed, 1);
    assert_eq!(
        resource_counts::counts(&db, &globex, Kind::Users)
            .await
            .unwrap()
            .removed,
        0
    );

    // The position marks name the ids at every third position, and a page counted from a
    // mark is the page counted from the first user.
    let at = |offset: u64| UserPageRequest {
        offset,
        ..middle(None)
    };
    let (_, everyone) = users::page::<ScimUser>(
        &db,
        &acme,
        &UserPageRequest {
            limit: 1000,
            ..at(0)
        },
    )
    .await
    .unwrap();
    let marks = users::position_marks(&db, &acme, 3).await.unwrap();
    let expected: Vec<_> = everyone.iter().step_by(3).map(|u| u.user.id).collect();
    assert_eq!(marks, expected);
    for offset in [0, 2, 3, 7, 20, 36, 37, 40] {
        let (from_first, plain) = users::page::<ScimUser>(&db, &acme, &at(offset))
            .await
            .unwrap();
        let mark = usize::try_from(offset / 3).unwrap().min(marks.len() - 1);
        let from_mark = UserPageRequest {
            skip_from: Some(marks[mark]),
            ..at(offset - 3 * mark as u64)
        };
        let (total, marked) = users::page::<ScimUser>(&db, &acme, &from_mark)
            .await
            .unwrap();
        let ids = |rows: &[store::repo::scim_users::ListedUser]| {
            rows.iter().map(|r| r.user.id).collect::<Vec<_>>()
        };
        assert_eq!(ids(&marked), ids(&plain), "offset {offset}");
        assert_eq!(total, from_first, "offset {offset}");
    }

    // Deleting an organization forgets its counts and leaves the other's.
    store::repo::organizations::delete(&db, &globex)
        .await
        .unwrap();
    assert_eq!(
        resource_counts::get(&db, &globex, Kind::Users)
            .await
            .unwrap(),
        0
    );
    assert_eq!(rows("scim_resource_counts", globex.clone()).await, 0);
    assert_eq!(
        resource_counts::get(&db, &acme, Kind::Users).await.unwrap(),
        acme_count
    );
}

backend_tests!(resource_counts_follow_every_write);
