//! A page of a large organization is planned once per connection, not on every request: its
//! `LIMIT` is in the SQL ([`super::page_statement`]), so PostgreSQL's generic plan costs what the
//! custom one does and the cached plan is kept. With `LIMIT $n` PostgreSQL priced the generic plan
//! as returning a tenth of the table and planned every page anew.
#![allow(clippy::unwrap_used, clippy::panic)]

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use super::scim_groups::{self, GroupPageRequest, GroupSort};
use super::scim_users::{self, StoredUser, UserPageRequest, UserSort};
use crate::db::{PoolSettings, Raw, connect, migrate};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_keep_a_generic_plan_on_postgres() {
    let test_db = testkit::TestDatabase::create(testkit::Backend::Postgres).await;
    // One connection: the page statements and `pg_prepared_statements` are that connection's.
    let settings = PoolSettings {
        max_connections: 1,
        ..Default::default()
    };
    let db = connect(&test_db.url, &settings).await.unwrap();
    migrate(&db).await.unwrap();
    let (_, acme) = super::organizations::create(&db, "Acme", "local")
        .await
        .unwrap();
    let org_id = acme.org_id().0;
    for sql in [
        format!(
            "INSERT INTO scim_users (uid, org_id, user_name, user_name_normalized, active, \
             resource, search, version, created_at, updated_at) \
             SELECT 'u' || g, {org_id}, 'user' || g, 'user' || g, true, '{{}}', '{{}}', 1, now(), \
             now() FROM generate_series(1, 20000) g"
        ),
        format!(
            "INSERT INTO scim_groups (uid, org_id, display_name, display_name_normalized, \
             resource, search, version, created_at, updated_at) \
             SELECT 'g' || g, {org_id}, 'group' || g, 'group' || g, '{{}}', '{{}}', 1, now(), \
             now() FROM generate_series(1, 5000) g"
        ),
        "ANALYZE".to_owned(),
    ] {
        db.raw().execute_unprepared(&sql).await.unwrap();
    }
    let groups = GroupPageRequest {
        condition: None,
        sort: (GroupSort::Id, true),
        offset: 0,
        limit: 100,
        after_id: None,
    };
    let mut after = None;
    for _ in 0..12 {
        let users = UserPageRequest {
            condition: None,
            sort: (UserSort::Id, true),
            offset: 0,
            limit: 100,
            after_id: after,
            skip_from: None,
            total: Some(20_000),
            with_groups: true,
        };
        let (_, page) = scim_users::page::<StoredUser>(&db, &acme, &users)
            .await
            .unwrap();
        assert_eq!(page.len(), 100);
        after = page.last().map(|row| row.user.id);
        let (_, page) = scim_groups::page(&db, &acme, &groups).await.unwrap();
        assert_eq!(page.len(), 100);
    }
    let plans: Vec<(String, i64, i64)> = db
        .raw()
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements",
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.try_get_by_index(0).unwrap(),
                r.try_get_by_index(1).unwrap(),
                r.try_get_by_index(2).unwrap(),
            )
        })
        .collect();
    let find = |table: &str| {
        plans
            .iter()
            .find(|(sql, _, _)| {
                sql.contains(&format!(r#"FROM "{table}" WHERE"#)) && sql.ends_with("LIMIT 100")
            })
            .unwrap_or_else(|| panic!("no page statement of {table} among {plans:?}"))
    };
    for (sql, generic, custom) in [find("scim_users"), find("scim_groups")] {
        // The first five executions are planned for their parameters; after them the generic
        // plan serves (at most one more custom plan while PostgreSQL weighs the two).
        assert!(*custom <= 6, "{custom} custom plans for {sql}");
        assert!(*generic >= 5, "{generic} generic plans for {sql}");
    }
}
