//! The statement of a listing's first page, kept by its shape. An IdP's lookup
//! (`GET /Users?filter=userName eq "…"`, Okta's and Entra's most frequent request) is the first
//! page of a filtered listing, and building its `SELECT` (19 columns, the groups subquery, every
//! identifier quoted character by character) cost about a tenth of the server's CPU per lookup.
//! Its text depends only on the shape of the request, not on the values it compares with, so it
//! is built once per shape and every later page of that shape binds its own values to the kept
//! text.
//!
//! A shape is the listing (which columns it reads, sort, limit, whether groups come inline) and the
//! text of the filter's condition with its values as placeholders. A kept statement binds the
//! organization first and then the condition's values: that order is checked on the statement the
//! shape was first built for, and a shape whose statement binds anything else is never kept (its
//! pages are built every time, as before). So a statement is reused only where its values are the
//! scope's organization and the condition's own, in that order, and the organization bound is
//! always the caller's.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use sea_orm::sea_query::{PostgresQueryBuilder, Query, SqliteQueryBuilder};
use sea_orm::{Condition, DbBackend, Statement, Value, Values};

use crate::OrgScope;

/// How many shapes are kept. The IdPs send a handful; a client inventing ever-new filter shapes
/// empties the map when it is full, so it stays bounded and the next pages of every shape are
/// kept again.
const MAX_SHAPES: usize = 256;

/// What a first page's statement text depends on, besides its condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Listing {
    /// The columns read (the row type).
    pub columns: TypeId,
    /// The sort, written by the caller as a number of its own.
    pub sort: (u8, bool),
    /// Rows asked for (written into the text).
    pub limit: u64,
    /// Whether each row's groups come with it.
    pub inline_groups: bool,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Shape {
    postgres: bool,
    listing: Listing,
    condition: String,
}

/// Kept statement texts by shape; `None`: the shape's statement binds more than the organization
/// and the condition's values, so it is built every time.
static KEPT: LazyLock<Mutex<HashMap<Shape, Option<Arc<str>>>>> = LazyLock::new(Mutex::default);

/// The statement of the first page of `listing` in `scope`, filtered by `condition`: the kept one
/// for its shape with this page's values, or `build()`'s (kept for the next page of the shape when
/// its values are the organization and the condition's).
pub(crate) fn statement(
    backend: DbBackend,
    scope: &OrgScope,
    listing: Listing,
    condition: Option<&Condition>,
    build: impl FnOnce() -> Statement,
) -> Statement {
    let postgres = backend == DbBackend::Postgres;
    let (condition_text, condition_values) = match condition {
        None => (String::new(), Values(Vec::new())),
        Some(condition) => {
            let select = Query::select().cond_where(condition.clone()).to_owned();
            if postgres {
                select.build(PostgresQueryBuilder)
            } else {
                select.build(SqliteQueryBuilder)
            }
        }
    };
    let mut values = Vec::with_capacity(condition_values.0.len() + 1);
    values.push(Value::from(scope.org_id()));
    values.extend(condition_values.0);
    let shape = Shape {
        postgres,
        listing,
        condition: condition_text,
    };
    let kept = KEPT
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&shape)
        .cloned();
    match kept {
        Some(Some(sql)) => Statement::from_sql_and_values(backend, sql.as_ref(), values),
        Some(None) => build(),
        None => {
            let statement = build();
            let binds_scope_and_condition = statement
                .values
                .as_ref()
                .is_some_and(|built| built.0 == values);
            let mut kept = KEPT.lock().unwrap_or_else(PoisonError::into_inner);
            if kept.len() >= MAX_SHAPES {
                kept.clear();
            }
            kept.insert(
                shape,
                binds_scope_and_condition.then(|| Arc::from(statement.sql.as_str())),
            );
            statement
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use std::cell::Cell;

    use sea_orm::{ColumnTrait, QueryFilter, QueryTrait};

    use super::*;
    use crate::entity::scim_users::{self, Entity as ScimUsers};
    use crate::ids::OrgId;

    struct TestColumns;

    fn listing(limit: u64) -> Listing {
        Listing {
            columns: TypeId::of::<TestColumns>(),
            sort: (0, true),
            limit,
            inline_groups: false,
        }
    }

    fn scope(id: i64) -> OrgScope {
        OrgScope::new(OrgId(id), format!("org-{id}"))
    }

    fn by_name(name: &str) -> Condition {
        Condition::all().add(scim_users::Column::UserNameNormalized.eq(name))
    }

    /// What building the page would give: the organization's users matching `condition`.
    fn built(backend: DbBackend, scope: &OrgScope, condition: &Condition) -> Statement {
        scope
            .select::<ScimUsers>()
            .filter(condition.clone())
            .build(backend)
    }

    #[test]
    fn a_shape_is_built_once_and_each_page_binds_its_organization_and_values() {
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            let builds = Cell::new(0);
            let page = |scope: &OrgScope, name: &str| {
                let condition = by_name(name);
                statement(backend, scope, listing(2), Some(&condition), || {
                    builds.set(builds.get() + 1);
                    built(backend, scope, &condition)
                })
            };
            let first = page(&scope(1), "alice");
            let second = page(&scope(2), "bob");
            assert_eq!(
                builds.get(),
                1,
                "built for the first page of the shape only"
            );
            let expected = built(backend, &scope(2), &by_name("bob"));
            assert_eq!(second.sql, expected.sql);
            assert_eq!(second.sql, first.sql);
            assert_eq!(
                second.values, expected.values,
                "its own organization and value"
            );
        }
    }

    #[test]
    fn a_shape_binding_other_values_is_built_every_time() {
        let builds = Cell::new(0);
        for name in ["alice", "bob"] {
            let condition = by_name(name);
            let page = statement(
                DbBackend::Postgres,
                &scope(1),
                listing(3),
                Some(&condition),
                || {
                    builds.set(builds.get() + 1);
                    // A value outside the condition: the kept text could not be reused safely.
                    scope(1)
                        .select::<ScimUsers>()
                        .filter(condition.clone())
                        .filter(scim_users::Column::Active.eq(true))
                        .build(DbBackend::Postgres)
                },
            );
            assert_eq!(
                page.values.unwrap().0.last(),
                Some(&Value::from(true)),
                "{name}"
            );
        }
        assert_eq!(builds.get(), 2);
    }

    /// The IdPs' lookups, as `scim_users::page` asks for them (every stored column, the groups
    /// inline), bind only the organization and the condition's values: their shapes are kept,
    /// and the kept statement is the one a build gives for another organization and value.
    #[test]
    fn the_idps_lookups_are_kept() {
        use crate::repo::scim_users::{
            StoredUser, UserPageRequest, UserSort, page_statement, page_statement_of,
        };
        let lookups = [
            [r#"userName eq "Alice@Example.com""#, r#"userName eq "bob""#],
            [r#"externalId eq "00u1abc""#, r#"externalId eq "00u2def""#],
            [
                r#"emails[type eq "work" and value eq "alice@example.com"]"#,
                r#"emails[type eq "work" and value eq "bob@example.com"]"#,
            ],
        ];
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            for pair in lookups {
                let kept_before = KEPT.lock().unwrap().values().flatten().count();
                for (id, filter) in [(1, pair[0]), (2, pair[1])] {
                    let scope = scope(id);
                    let request = UserPageRequest {
                        condition: crate::scim_filter::user_condition(
                            &scim_core::filter::parse_filter(filter).unwrap(),
                            &scope,
                            backend == DbBackend::Postgres,
                        ),
                        sort: (UserSort::Id, true),
                        offset: 0,
                        limit: 101,
                        after_id: None,
                        skip_from: None,
                        total: None,
                        with_groups: true,
                    };
                    let served = page_statement_of::<StoredUser>(backend, &scope, &request);
                    let built = page_statement::<StoredUser>(&scope, &request, backend, true);
                    assert_eq!((&served.sql, &served.values), (&built.sql, &built.values));
                }
                let kept_after = KEPT.lock().unwrap().values().flatten().count();
                assert_eq!(kept_after, kept_before + 1, "{backend:?}: {pair:?} kept");
            }
        }
    }

    #[test]
    fn shapes_differ_by_condition_and_listing() {
        let builds = Cell::new(0);
        let page = |limit: u64, condition: Condition| {
            statement(
                DbBackend::Postgres,
                &scope(1),
                listing(limit),
                Some(&condition),
                || {
                    builds.set(builds.get() + 1);
                    built(DbBackend::Postgres, &scope(1), &condition)
                },
            )
        };
        let by_external_id = || Condition::all().add(scim_users::Column::ExternalId.eq("ext-1"));
        page(4, by_name("alice"));
        page(5, by_name("alice"));
        let other = page(4, by_external_id());
        assert_eq!(builds.get(), 3, "each a shape of its own");
        assert!(other.sql.contains("external_id"), "{}", other.sql);
        page(4, by_external_id());
        assert_eq!(builds.get(), 3);
    }
}
