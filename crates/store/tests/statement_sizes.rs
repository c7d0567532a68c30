//! No statement's bind-parameter count grows with the input: SQLite refuses more than 32,766
//! parameters and PostgreSQL more than 65,535, so a user with thousands of emails or a group
//! change of tens of thousands of members must be written in bounded chunks. Every statement the
//! SCIM repositories issue here is watched, on both databases.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use sea_orm::{ConnectionTrait, Statement};
use store::repo::scim_groups::{self, GroupColumns};
use store::repo::scim_users::{self as users, EmailColumn, UserColumns};
use testkit::{Backend, backend_tests};

/// The most bind parameters one statement may carry (what the repositories chunk to).
const MAX_PARAMS: usize = 1000;

/// The largest statement seen so far: (parameter count, its SQL).
type Largest = Arc<Mutex<(usize, String)>>;

/// Opens a store whose every statement is measured.
async fn watched(backend: Backend) -> (testkit::TestDatabase, store::Database, Largest) {
    let (guard, mut db) = common::open(backend).await;
    let largest: Largest = Arc::new(Mutex::new((0, String::new())));
    let seen = largest.clone();
    db.on_statement(move |info| {
        let mut worst = seen.lock().unwrap();
        if info.params > worst.0 {
            *worst = (info.params, info.sql.chars().take(200).collect());
        }
    });
    (guard, db, largest)
}

fn assert_bounded(largest: &Largest, what: &str) {
    let (params, sql) = largest.lock().unwrap().clone();
    assert!(
        params <= MAX_PARAMS,
        "{what}: a statement bound {params} parameters (at most {MAX_PARAMS}): {sql}"
    );
}

fn user_with_emails(user_name: &str, count: usize) -> UserColumns {
    UserColumns {
        user_name: user_name.to_owned(),
        external_id: None,
        active: true,
        given_name: None,
        family_name: None,
        display_name: None,
        emails: (0..count)
            .map(|i| EmailColumn {
                kind: Some("work".into()),
                value: format!("{user_name}.{i}@example.com"),
                primary: i == 0,
            })
            .collect(),
        resource: "{}".into(),
    }
}

/// More emails than either database accepts parameters for in one insert of six columns each
/// (SQLite: 5,461; PostgreSQL: 10,922): the repository must chunk, on insert and on update.
async fn many_emails_are_written_in_bounded_statements(backend: Backend) {
    let (guard, db, largest) = watched(backend).await;
    let acme = common::org(&db, "Acme").await;
    let user = users::insert(&db, &acme, None, &user_with_emails("many", 11_000))
        .await
        .unwrap();
    let update = user_with_emails("many", 11_500);
    let updated = users::update(&db, &acme, &user, &update).await.unwrap();
    assert_eq!(updated.version, 2);
    // Counted on a connection of the test's own: the store hands out none.
    let raw = sea_orm::Database::connect(&guard.url).await.unwrap();
    let row = raw
        .query_one_raw(Statement::from_sql_and_values(
            raw.get_database_backend(),
            match backend {
                Backend::Sqlite => "SELECT COUNT(*) AS n FROM scim_user_emails WHERE user_id = ?",
                Backend::Postgres => {
                    "SELECT COUNT(*) AS n FROM scim_user_emails WHERE user_id = $1"
                }
            },
            [user.id.into()],
        ))
        .await
        .unwrap()
        .unwrap();
    let emails: i64 = row.try_get("", "n").unwrap();
    assert_eq!(emails, 11_500, "every email written, the old ones replaced");
    assert_bounded(&largest, "emails");
}

/// Adding, resolving, listing and removing 2,500 members: every statement stays bounded.
async fn member_changes_are_written_in_bounded_statements(backend: Backend) {
    let (_guard, db, largest) = watched(backend).await;
    let acme = common::org(&db, "Acme").await;
    let mut uids = Vec::new();
    let mut ids = Vec::new();
    for i in 0..2_500 {
        let user = users::insert(&db, &acme, None, &user_with_emails(&format!("m{i}"), 0))
            .await
            .unwrap();
        uids.push(user.uid);
        ids.push(user.id);
    }
    let group = scim_groups::insert(
        &db,
        &acme,
        &GroupColumns {
            display_name: "Everyone".into(),
            external_id: None,
            resource: "{}".into(),
        },
    )
    .await
    .unwrap();
    let displays: BTreeMap<String, String> = uids
        .iter()
        .map(|uid| (uid.clone(), format!("display of {uid}")))
        .collect();
    let added = scim_groups::add_members(&db, &acme, group.id, &uids, &displays)
        .await
        .unwrap();
    assert_eq!(added.users.len(), 2_500);
    assert_eq!(
        scim_groups::member_count(&db, &acme, group.id)
            .await
            .unwrap(),
        2_500
    );
    let groups = scim_groups::groups_of_users(&db, &acme, &ids)
        .await
        .unwrap();
    assert_eq!(groups.len(), 2_500);
    assert_eq!(users::by_ids(&db, &acme, &ids).await.unwrap().len(), 2_500);
    let removed = scim_groups::remove_members(&db, &acme, group.id, &uids[..2_000])
        .await
        .unwrap();
    assert_eq!(removed.users.len(), 2_000);
    assert_eq!(
        scim_groups::member_count(&db, &acme, group.id)
            .await
            .unwrap(),
        500
    );
    assert_bounded(&largest, "members");
}

backend_tests!(
    many_emails_are_written_in_bounded_statements,
    member_changes_are_written_in_bounded_statements,
);
