//! The filters identity providers send are served by an index on PostgreSQL: `EXPLAIN` of each
//! filter's condition (with sequential scans priced out, so the plan shows whether an index can
//! serve it at all) names the index. `userName`, `externalId` and email values have b-tree
//! indexes of their own; any other attribute, core or extension, uses the GIN index over the
//! search document.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::panic)]

mod common;

use sea_orm::sea_query::{Alias, Expr, ExprTrait, PostgresQueryBuilder, Query};
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use testkit::{Backend, backend_tests};

async fn plan(url: &str, table: &str, org_id: i64, condition: sea_orm::Condition) -> String {
    let (sql, values) = Query::select()
        .expr(Expr::col((Alias::new(table), Alias::new("id"))))
        .from(Alias::new(table))
        .and_where(Expr::col((Alias::new(table), Alias::new("org_id"))).eq(org_id))
        .cond_where(condition)
        .build(PostgresQueryBuilder);
    let db = Database::connect(url).await.unwrap();
    // Enough rows, with statistics, that the plan reflects the indexes rather than an empty table.
    let seeded = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT count(*) FROM scim_users",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap();
    if seeded == 0 {
        for sql in [
            format!(
                "INSERT INTO scim_users (uid, org_id, user_name, user_name_normalized, external_id, \
                 active, resource, search, version, created_at, updated_at) \
                 SELECT 'u' || g, {org_id}, 'user' || g, 'user' || g, 'ext' || g, true, '{{}}', \
                 json_build_object('title', 't' || (g % 500), \
                   'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User', \
                   json_build_object('employeeNumber', g::text, 'department', 'd' || (g % 300)))::text, \
                 1, now(), now() FROM generate_series(1, 20000) g"
            ),
            format!(
                "INSERT INTO scim_user_emails (org_id, user_id, kind, value, value_normalized, is_primary) \
                 SELECT {org_id}, id, 'work', user_name || '@x.example', user_name || '@x.example', true \
                 FROM scim_users"
            ),
            format!(
                "INSERT INTO scim_groups (uid, org_id, display_name, display_name_normalized, resource, \
                 search, version, created_at, updated_at) \
                 SELECT 'g' || g, {org_id}, 'group' || g, 'group' || g, '{{}}', '{{}}', 1, now(), now() \
                 FROM generate_series(1, 5000) g"
            ),
            "ANALYZE".to_owned(),
        ] {
            db.execute_unprepared(&sql).await.unwrap();
        }
    }
    let txn = sea_orm::TransactionTrait::begin(&db).await.unwrap();
    txn.execute_unprepared("SET LOCAL enable_seqscan = off")
        .await
        .unwrap();
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("EXPLAIN {sql}"),
            values,
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

async fn idp_filters_use_an_index(backend: Backend) {
    if backend != Backend::Postgres {
        return; // EXPLAIN plans are PostgreSQL's; SQLite answers the same (see the usecases tests).
    }
    let (test_db, db) = common::open(backend).await;
    let acme = common::org(&db, "Acme").await;
    let org_id = acme.org_id().0;
    let users = |filter: &str| {
        store::scim_filter::user_condition(
            &scim_core::filter::parse_filter(filter).unwrap(),
            &acme,
            true,
        )
        .unwrap()
    };
    let cases = [
        (
            r#"userName eq "bjensen@example.com""#,
            "ux_scim_users_org_user_name",
        ),
        (
            r#"externalId eq "00u1abcd""#,
            "ix_scim_users_org_external_id",
        ),
        (
            r#"emails[type eq "work"].value eq "bjensen@example.com""#,
            "ix_scim_user_emails_org_value",
        ),
        (r#"title eq "Engineer""#, "ix_scim_users_search"),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1001""#,
            "ix_scim_users_search",
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Sales""#,
            "ix_scim_users_search",
        ),
    ];
    for (filter, index) in cases {
        let plan = plan(&test_db.url, "scim_users", org_id, users(filter)).await;
        assert!(plan.contains(index), "{filter} should use {index}:\n{plan}");
    }
    let group = store::scim_filter::group_condition(
        &scim_core::filter::parse_filter(r#"displayName eq "Engineering""#).unwrap(),
        true,
    )
    .unwrap();
    let plan = plan(&test_db.url, "scim_groups", org_id, group).await;
    assert!(
        plan.contains("ux_scim_groups_org_display_name"),
        "displayName eq should use its index:\n{plan}"
    );
}

backend_tests!(idp_filters_use_an_index);
