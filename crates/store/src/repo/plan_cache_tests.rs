//! A page of a large organization is planned once per connection, not on every request: its
//! `LIMIT` is in the SQL ([`super::page_statement`]), so PostgreSQL's generic plan costs what the
//! custom one does and the cached plan is kept. With `LIMIT $n` PostgreSQL priced the generic plan
//! as returning a tenth of the table and planned every page anew.
#![allow(clippy::unwrap_used, clippy::panic)]

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use super::scim_groups::{self, GroupPageRequest, GroupSort};
use super::scim_users::{self, StoredUser, UserPageRequest, UserSort};
use crate::db::{PoolSettings, Raw, connect, migrate};

/// A migrated PostgreSQL database with one organization, served by one connection: the
/// statements the test runs, `pg_prepared_statements` and `EXPLAIN EXECUTE` are that connection's.
async fn one_connection() -> (testkit::TestDatabase, crate::Database, crate::OrgScope) {
    let test_db = testkit::TestDatabase::create(testkit::Backend::Postgres).await;
    let settings = PoolSettings {
        max_connections: 1,
        ..Default::default()
    };
    let db = connect(&test_db.url, &settings).await.unwrap();
    migrate(&db).await.unwrap();
    let (_, acme) = super::organizations::create(&db, "Acme", "local")
        .await
        .unwrap();
    (test_db, db, acme)
}

/// One statement the connection has prepared (`pg_prepared_statements`).
struct Prepared {
    name: String,
    statement: String,
    generic_plans: i64,
    custom_plans: i64,
}

/// The statements the database's one connection has prepared.
async fn prepared_statements(db: &crate::Database) -> Vec<Prepared> {
    db.raw()
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT name, statement, generic_plans, custom_plans FROM pg_prepared_statements",
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| Prepared {
            name: r.try_get("", "name").unwrap(),
            statement: r.try_get("", "statement").unwrap(),
            generic_plans: r.try_get("", "generic_plans").unwrap(),
            custom_plans: r.try_get("", "custom_plans").unwrap(),
        })
        .collect()
}

/// Users `u1…u{users}` and groups `g1…g{groups}` in the organization, written directly.
async fn fill(db: &crate::Database, org_id: i64, users: u32, groups: u32) {
    for sql in [
        format!(
            "INSERT INTO scim_users (uid, org_id, user_name, user_name_normalized, active, \
             resource, search, version, created_at, updated_at) \
             SELECT 'u' || g, {org_id}, 'user' || g, 'user' || g, true, '{{}}', '{{}}', 1, now(), \
             now() FROM generate_series(1, {users}) g"
        ),
        format!(
            "INSERT INTO scim_groups (uid, org_id, display_name, display_name_normalized, \
             resource, search, version, created_at, updated_at) \
             SELECT 'g' || g, {org_id}, 'group' || g, 'group' || g, '{{}}', '{{}}', 1, now(), \
             now() FROM generate_series(1, {groups}) g"
        ),
    ] {
        db.raw().execute_unprepared(&sql).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_keep_a_generic_plan_on_postgres() {
    let (_test_db, db, acme) = one_connection().await;
    let org_id = acme.org_id().0;
    fill(&db, org_id, 20_000, 5_000).await;
    db.raw().execute_unprepared("ANALYZE").await.unwrap();
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
    let plans: Vec<(String, i64, i64)> = prepared_statements(&db)
        .await
        .into_iter()
        .map(|p| (p.statement, p.generic_plans, p.custom_plans))
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

/// A one-member add or remove of a group keeps an index's plan as the members' table grows from
/// a few pages, in a keyed write ([`crate::db::begin_write_keyed`]). In a plain write the generic
/// plan PostgreSQL settles on while the table is tiny (and analyzed so) is a sequential scan, and
/// it is kept (here with autovacuum off on the table, so no `ANALYZE` replans it) while the table
/// grows to 20,000 rows: each add and remove then reads the whole table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_statements_keep_an_index_plan_as_the_table_grows() {
    for keyed in [false, true] {
        let plans = membership_plans_after_growth(keyed).await;
        for (statement, plan) in &plans {
            if keyed {
                assert!(
                    !plan.contains("Seq Scan") && plan.contains("Index"),
                    "{statement}\n{plan}"
                );
            } else {
                assert!(plan.contains("Seq Scan"), "{statement}\n{plan}");
            }
        }
    }
}

/// The plans (`EXPLAIN EXECUTE` on the one connection that prepared them) of the membership
/// check and the membership delete, after eight one-member adds and removes on a table of a
/// few rows, in keyed or plain write transactions, and the table's growth to 20,000 rows.
async fn membership_plans_after_growth(keyed: bool) -> Vec<(String, String)> {
    let (_test_db, db, acme) = one_connection().await;
    let org_id = acme.org_id().0;
    let run = async |sql: &str| db.raw().execute_unprepared(sql).await.unwrap();
    run("ALTER TABLE scim_group_members SET (autovacuum_enabled = false)").await;
    fill(&db, org_id, 20_003, 2).await;
    let group_id = async |uid: &str| scim_groups::get(&db, &acme, uid).await.unwrap().unwrap().id;
    let (small, large) = (group_id("g1").await, group_id("g2").await);
    for uid in ["u1", "u2"] {
        let txn = crate::db::begin_write(&db).await.unwrap();
        scim_groups::add_members(&txn, &acme, small, &[uid.to_owned()], &Default::default())
            .await
            .unwrap();
        txn.commit().await.unwrap();
    }
    // Its statistics are those of a table of two rows (autovacuum analyzes a new table soon).
    run("ANALYZE scim_group_members").await;
    let begin = async || {
        if keyed {
            crate::db::begin_write_keyed(&db).await.unwrap()
        } else {
            crate::db::begin_write(&db).await.unwrap()
        }
    };
    for _ in 0..8 {
        let member = ["u3".to_owned()];
        let txn = begin().await;
        scim_groups::add_members(&txn, &acme, small, &member, &Default::default())
            .await
            .unwrap();
        txn.commit().await.unwrap();
        let txn = begin().await;
        scim_groups::remove_members(&txn, &acme, small, &member)
            .await
            .unwrap();
        txn.commit().await.unwrap();
    }
    run(&format!(
        "INSERT INTO scim_group_members (org_id, group_id, user_id, created_at) \
         SELECT {org_id}, {}, id, now() FROM scim_users WHERE org_id = {org_id} AND id > 3",
        large.0
    ))
    .await;
    let prepared: Vec<(String, String)> = prepared_statements(&db)
        .await
        .into_iter()
        .filter(|p| {
            p.statement
                .starts_with(r#"SELECT "scim_group_members"."user_id" FROM"#)
                || p.statement
                    .starts_with(r#"DELETE FROM "scim_group_members""#)
        })
        .map(|p| (p.name, p.statement))
        .collect();
    assert_eq!(prepared.len(), 2, "the check and the delete: {prepared:?}");
    let mut plans = Vec::new();
    for (name, statement) in prepared {
        let rows = db
            .raw()
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                format!("EXPLAIN EXECUTE {name}({org_id}, {}, 3)", small.0),
            ))
            .await
            .unwrap();
        let plan = rows
            .iter()
            .map(|r| r.try_get_by_index::<String>(0).unwrap())
            .collect::<Vec<_>>()
            .join("\n");
        plans.push((statement, plan));
    }
    crate::db::close(db).await.unwrap();
    plans
}
