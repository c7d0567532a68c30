//! SCIM filters → SQL. The attributes that have columns (`userName`, `externalId`, `id`,
//! `displayName`, `name.*`, `active`, `meta.created|lastModified`, email rows, group members)
//! compare on them, under their b-tree indexes; every other attribute, core or extension, compares
//! in the stored search document ([`json`]), where PostgreSQL's GIN index serves `eq`. The
//! relations kept as rows compare through them (a user's `groups` by `value` or `display`, a
//! group's `members` by `value`), and `meta.resourceType` is the same for every row of a table.
//! `None` is left only for what no row holds (`meta.location`, `meta.version`, `groups.type`,
//! `members.display`, …): the caller refuses such a filter (`invalidFilter`), it never evaluates
//! an organization in memory.

mod json;

use json::constant;

use chrono::{DateTime, Utc};
use scim_core::filter::{AttrPath, CompValue, CompareOp, Filter};
use scim_core::schema::ResourceSchema;
use scim_core::schema::{GROUP_SCHEMA, USER_SCHEMA};
use sea_orm::sea_query::{Expr, ExprTrait, Func, IntoIden, LikeExpr, Query, SimpleExpr};
use sea_orm::{ColumnTrait, Condition, DbBackend, IntoSimpleExpr};

use crate::OrgScope;
use crate::entity::{scim_group_members, scim_groups, scim_user_emails, scim_users};
use crate::types::normalize_key;

/// How a column compares.
#[derive(Clone, Copy)]
enum Kind {
    /// Stored lower-cased: compare with the lower-cased value; every operator works.
    Normalized,
    /// Case-insensitive, not normalized: `lower(column) = lower(value)`, ASCII values only (SQLite
    /// folds ASCII only).
    Folded,
    /// Case-exact text: `eq`/`ne` only (LIKE's case rules differ between the databases).
    Exact,
    /// A boolean.
    Bool,
    /// A timestamp: ordering comparisons.
    Time,
}

fn lower_name(path: &AttrPath) -> (String, Option<String>) {
    (
        path.attr.to_ascii_lowercase(),
        path.sub_attr.as_ref().map(|s| s.to_ascii_lowercase()),
    )
}

fn core_urn(path: &AttrPath, core: &str) -> bool {
    path.urn
        .as_deref()
        .is_none_or(|u| u.eq_ignore_ascii_case(core))
}

fn escape_like(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn like(pattern: String) -> LikeExpr {
    LikeExpr::new(pattern).escape('\\')
}

fn compare(column: SimpleExpr, kind: Kind, op: CompareOp, value: &CompValue) -> Option<Condition> {
    let expr = match kind {
        Kind::Bool => {
            let CompValue::Bool(b) = value else {
                return None;
            };
            match op {
                CompareOp::Eq => column.eq(*b),
                CompareOp::Ne => column.ne(*b),
                _ => return None,
            }
        }
        Kind::Time => {
            let CompValue::Str(s) = value else {
                return None;
            };
            let at: DateTime<Utc> = DateTime::parse_from_rfc3339(s).ok()?.with_timezone(&Utc);
            match op {
                CompareOp::Eq => column.eq(at),
                CompareOp::Ne => column.ne(at),
                CompareOp::Gt => column.gt(at),
                CompareOp::Ge => column.gte(at),
                CompareOp::Lt => column.lt(at),
                CompareOp::Le => column.lte(at),
                _ => return None,
            }
        }
        Kind::Exact => {
            let CompValue::Str(s) = value else {
                return None;
            };
            match op {
                CompareOp::Eq => column.eq(s.as_str()),
                CompareOp::Ne => column.clone().ne(s.as_str()).or(column.is_null()),
                _ => return None,
            }
        }
        Kind::Normalized | Kind::Folded => {
            let CompValue::Str(s) = value else {
                return None;
            };
            if matches!(kind, Kind::Folded) && !s.is_ascii() {
                return None;
            }
            let v = normalize_key(s);
            let column = match kind {
                Kind::Folded => Func::lower(column).into(),
                _ => column,
            };
            match op {
                CompareOp::Eq => column.eq(v),
                CompareOp::Ne => column.clone().ne(v).or(column.is_null()),
                CompareOp::Co => column.like(like(format!("%{}%", escape_like(&v)))),
                CompareOp::Sw => column.like(like(format!("{}%", escape_like(&v)))),
                CompareOp::Ew => column.like(like(format!("%{}", escape_like(&v)))),
                // Ordering of text differs by collation between the databases.
                _ => return None,
            }
        }
    };
    Some(Condition::all().add(expr))
}

fn present(column: SimpleExpr) -> Condition {
    Condition::all().add(column.is_not_null())
}

/// Whether the column named by `user_column`/`group_column` can hold NULL (a comparison on it is
/// then NULL, which `not` would not invert).
fn nullable_column(path: &AttrPath) -> bool {
    !matches!(
        lower_name(path),
        (ref a, None) if a == "username" || a == "id" || a == "active"
    ) && !matches!(lower_name(path), (ref a, Some(_)) if a == "meta")
}

fn user_column(path: &AttrPath) -> Option<(SimpleExpr, Kind)> {
    if !core_urn(path, USER_SCHEMA) {
        return None;
    }
    let col = |c: scim_users::Column| c.into_simple_expr();
    Some(match lower_name(path) {
        (a, None) if a == "username" => (
            col(scim_users::Column::UserNameNormalized),
            Kind::Normalized,
        ),
        (a, None) if a == "externalid" => (col(scim_users::Column::ExternalId), Kind::Exact),
        (a, None) if a == "id" => (col(scim_users::Column::Uid), Kind::Exact),
        (a, None) if a == "active" => (col(scim_users::Column::Active), Kind::Bool),
        (a, None) if a == "displayname" => (col(scim_users::Column::DisplayName), Kind::Folded),
        (a, Some(s)) if a == "name" && s == "givenname" => {
            (col(scim_users::Column::GivenName), Kind::Folded)
        }
        (a, Some(s)) if a == "name" && s == "familyname" => {
            (col(scim_users::Column::FamilyName), Kind::Folded)
        }
        (a, Some(s)) if a == "meta" && s == "created" => {
            (col(scim_users::Column::CreatedAt), Kind::Time)
        }
        (a, Some(s)) if a == "meta" && s == "lastmodified" => {
            (col(scim_users::Column::UpdatedAt), Kind::Time)
        }
        _ => return None,
    })
}

fn email_column(sub: &str) -> Option<(SimpleExpr, Kind)> {
    let col = |c: scim_user_emails::Column| c.into_simple_expr();
    Some(match sub.to_ascii_lowercase().as_str() {
        "value" => (
            col(scim_user_emails::Column::ValueNormalized),
            Kind::Normalized,
        ),
        "type" => (col(scim_user_emails::Column::Kind), Kind::Folded),
        "primary" => (col(scim_user_emails::Column::IsPrimary), Kind::Bool),
        _ => return None,
    })
}

fn is_emails(path: &AttrPath) -> bool {
    core_urn(path, USER_SCHEMA) && path.attr.eq_ignore_ascii_case("emails")
}

/// A filter inside `emails[…]`, over the emails table.
fn email_condition(filter: &Filter) -> Option<Condition> {
    match filter {
        Filter::Compare { path, op, value } if path.sub_attr.is_none() => {
            let (column, kind) = email_column(&path.attr)?;
            compare(column, kind, *op, value)
        }
        Filter::Present(path) if path.sub_attr.is_none() => {
            Some(present(email_column(&path.attr)?.0))
        }
        Filter::And(l, r) => Some(
            Condition::all()
                .add(email_condition(l)?)
                .add(email_condition(r)?),
        ),
        Filter::Or(l, r) => Some(
            Condition::any()
                .add(email_condition(l)?)
                .add(email_condition(r)?),
        ),
        _ => None,
    }
}

fn has_email(scope: &OrgScope, condition: Condition) -> Condition {
    crate::repo::scim_users::has_email(scope, condition)
}

/// Whether the search document holds what `filter` names at the resource level (it lacks `id`,
/// `meta` and the relations kept as rows, `groups` and `members`).
fn in_document(filter: &Filter) -> bool {
    let stored = |path: &AttrPath| {
        !["id", "meta", "groups", "members"]
            .iter()
            .any(|a| path.attr.eq_ignore_ascii_case(a))
    };
    match filter {
        Filter::And(l, r) | Filter::Or(l, r) => in_document(l) && in_document(r),
        Filter::Not(inner) => in_document(inner),
        Filter::Present(path) | Filter::Compare { path, .. } | Filter::ValuePath { path, .. } => {
            stored(path)
        }
    }
}

fn backend(postgres: bool) -> DbBackend {
    if postgres {
        DbBackend::Postgres
    } else {
        DbBackend::Sqlite
    }
}

/// How a translation may use columns: under `not`, only columns that are never NULL.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Columns {
    Any,
    NotNull,
}

/// Translates a filter on Users of the organization `scope` for PostgreSQL (`postgres`) or SQLite;
/// `None` when some part is neither a column nor in the search document (see the module's
/// documentation).
pub fn user_condition(filter: &Filter, scope: &OrgScope, postgres: bool) -> Option<Condition> {
    let json = json::Translator {
        backend: backend(postgres),
        schema: ResourceSchema::user(),
        table: "scim_users",
    };
    users(filter, scope, &json, Columns::Any)
}

fn users(
    filter: &Filter,
    scope: &OrgScope,
    json: &json::Translator<'_>,
    columns: Columns,
) -> Option<Condition> {
    let by_column = match filter {
        // `ne` means "no email is equal", which the document answers.
        Filter::Compare { path, op, value } if is_emails(path) && *op != CompareOp::Ne => {
            email_column(path.sub_attr.as_deref().unwrap_or("value"))
                .and_then(|(column, kind)| compare(column, kind, *op, value))
                .map(|c| has_email(scope, c))
        }
        // A relation or a constant is never NULL: these stand under `not` too.
        Filter::Compare { path, op, value } if is_relation(path, USER_SCHEMA, "groups") => {
            related(Relation::GroupsOfUser, path, *op, value)
        }
        Filter::Present(path) if is_relation(path, USER_SCHEMA, "groups") => {
            related_present(Relation::GroupsOfUser, path)
        }
        Filter::Compare { path, op, value } if is_resource_type(path, USER_SCHEMA) => {
            Some(resource_type(*op, value, "User"))
        }
        Filter::Present(path) if is_resource_type(path, USER_SCHEMA) => Some(constant(true)),
        Filter::Compare { path, .. } | Filter::Present(path)
            if columns == Columns::NotNull && nullable_column(path) =>
        {
            None
        }
        Filter::Compare { path, op, value } => {
            user_column(path).and_then(|(column, kind)| compare(column, kind, *op, value))
        }
        Filter::Present(path) if is_emails(path) => Some(has_email(scope, Condition::all())),
        Filter::Present(path) => user_column(path).map(|(column, _)| present(column)),
        Filter::ValuePath { path, filter } if is_emails(path) && path.sub_attr.is_none() => {
            email_condition(filter).map(|c| has_email(scope, c))
        }
        Filter::And(l, r) => {
            return Some(
                Condition::all()
                    .add(users(l, scope, json, columns)?)
                    .add(users(r, scope, json, columns)?),
            );
        }
        Filter::Or(l, r) => {
            return Some(
                Condition::any()
                    .add(users(l, scope, json, columns)?)
                    .add(users(r, scope, json, columns)?),
            );
        }
        Filter::Not(inner) => {
            return Some(
                Condition::all()
                    .not()
                    .add(users(inner, scope, json, Columns::NotNull)?),
            );
        }
        _ => None,
    };
    by_column.or_else(|| in_document(filter).then(|| json.filter(filter)))
}

fn group_column(path: &AttrPath) -> Option<(SimpleExpr, Kind)> {
    if !core_urn(path, GROUP_SCHEMA) {
        return None;
    }
    let col = |c: scim_groups::Column| c.into_simple_expr();
    Some(match lower_name(path) {
        (a, None) if a == "displayname" => (
            col(scim_groups::Column::DisplayNameNormalized),
            Kind::Normalized,
        ),
        (a, None) if a == "externalid" => (col(scim_groups::Column::ExternalId), Kind::Exact),
        (a, None) if a == "id" => (col(scim_groups::Column::Uid), Kind::Exact),
        (a, Some(s)) if a == "meta" && s == "created" => {
            (col(scim_groups::Column::CreatedAt), Kind::Time)
        }
        (a, Some(s)) if a == "meta" && s == "lastmodified" => {
            (col(scim_groups::Column::UpdatedAt), Kind::Time)
        }
        _ => return None,
    })
}

/// Groups having a member whose SCIM id is `user_uid`.
fn has_member(user_uid: &str) -> Condition {
    let subquery = Query::select()
        .column((
            scim_group_members::Entity,
            scim_group_members::Column::GroupId,
        ))
        .from(scim_group_members::Entity)
        .inner_join(
            scim_users::Entity,
            Expr::col((scim_users::Entity, scim_users::Column::Id)).equals((
                scim_group_members::Entity,
                scim_group_members::Column::UserId,
            )),
        )
        .and_where(Expr::col((scim_users::Entity, scim_users::Column::Uid)).eq(user_uid))
        .to_owned();
    Condition::all().add(scim_groups::Column::Id.in_subquery(subquery))
}

/// A relation kept as rows of `scim_group_members`.
#[derive(Clone, Copy)]
enum Relation {
    /// A user's `groups`: the groups it is a member of.
    GroupsOfUser,
    /// A group's `members`: its users.
    MembersOfGroup,
}

fn is_relation(path: &AttrPath, core: &str, attr: &str) -> bool {
    core_urn(path, core) && path.attr.eq_ignore_ascii_case(attr)
}

fn is_resource_type(path: &AttrPath, core: &str) -> bool {
    core_urn(path, core)
        && path.attr.eq_ignore_ascii_case("meta")
        && path
            .sub_attr
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("resourceType"))
}

/// `meta.resourceType` is `name` for every row: the comparison is a constant (case-exact, as the
/// schema defines it).
fn resource_type(op: CompareOp, value: &CompValue, name: &str) -> Condition {
    let CompValue::Str(v) = value else {
        return constant(op == CompareOp::Ne);
    };
    constant(match op {
        CompareOp::Eq => name == v,
        CompareOp::Ne => name != v,
        CompareOp::Co => name.contains(v.as_str()),
        CompareOp::Sw => name.starts_with(v.as_str()),
        CompareOp::Ew => name.ends_with(v.as_str()),
        CompareOp::Gt => name > v.as_str(),
        CompareOp::Ge => name >= v.as_str(),
        CompareOp::Lt => name < v.as_str(),
        CompareOp::Le => name <= v.as_str(),
    })
}

/// The column of the other side that a sub-attribute of the relation compares on.
fn related_column(relation: Relation, path: &AttrPath) -> Option<(SimpleExpr, Kind)> {
    let sub = path
        .sub_attr
        .as_deref()
        .unwrap_or("value")
        .to_ascii_lowercase();
    Some(match (relation, sub.as_str()) {
        (Relation::GroupsOfUser, "value") => (
            Expr::col((scim_groups::Entity, scim_groups::Column::Uid)),
            Kind::Exact,
        ),
        (Relation::GroupsOfUser, "display") => (
            Expr::col((
                scim_groups::Entity,
                scim_groups::Column::DisplayNameNormalized,
            )),
            Kind::Normalized,
        ),
        (Relation::MembersOfGroup, "value") => (
            Expr::col((scim_users::Entity, scim_users::Column::Uid)),
            Kind::Exact,
        ),
        _ => return None,
    })
}

/// Rows having at least one related row matching `condition` on the other side.
fn having_related(relation: Relation, condition: Condition) -> Condition {
    let members = scim_group_members::Entity;
    let (own, other, other_table, other_id) = match relation {
        Relation::GroupsOfUser => (
            scim_group_members::Column::UserId,
            scim_group_members::Column::GroupId,
            scim_groups::Entity.into_iden(),
            scim_groups::Column::Id.into_iden(),
        ),
        Relation::MembersOfGroup => (
            scim_group_members::Column::GroupId,
            scim_group_members::Column::UserId,
            scim_users::Entity.into_iden(),
            scim_users::Column::Id.into_iden(),
        ),
    };
    let subquery = Query::select()
        .column((members, own))
        .from(members)
        .inner_join(
            other_table.clone(),
            Expr::col((other_table, other_id)).equals((members, other)),
        )
        .cond_where(condition)
        .to_owned();
    let id = match relation {
        Relation::GroupsOfUser => scim_users::Column::Id.into_simple_expr(),
        Relation::MembersOfGroup => scim_groups::Column::Id.into_simple_expr(),
    };
    Condition::all().add(id.in_subquery(subquery))
}

/// A comparison on a relation: some related row matches (`ne`: none equals, as for emails).
fn related(
    relation: Relation,
    path: &AttrPath,
    op: CompareOp,
    value: &CompValue,
) -> Option<Condition> {
    let (column, kind) = related_column(relation, path)?;
    if op == CompareOp::Ne {
        let equal = compare(column, kind, CompareOp::Eq, value)?;
        return Some(Condition::all().not().add(having_related(relation, equal)));
    }
    Some(having_related(relation, compare(column, kind, op, value)?))
}

fn related_present(relation: Relation, path: &AttrPath) -> Option<Condition> {
    let (column, _) = related_column(relation, path)?;
    Some(having_related(relation, present(column)))
}

fn is_members(path: &AttrPath) -> bool {
    core_urn(path, GROUP_SCHEMA) && path.attr.eq_ignore_ascii_case("members")
}

/// Translates a filter on Groups for PostgreSQL (`postgres`) or SQLite; `None` when some part is
/// neither a column nor in the search document.
pub fn group_condition(filter: &Filter, postgres: bool) -> Option<Condition> {
    let json = json::Translator {
        backend: backend(postgres),
        schema: ResourceSchema::group(),
        table: "scim_groups",
    };
    groups(filter, &json, Columns::Any)
}

fn groups(filter: &Filter, json: &json::Translator<'_>, columns: Columns) -> Option<Condition> {
    let by_column = match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::Str(uid),
        } if is_members(path)
            && path
                .sub_attr
                .as_deref()
                .is_none_or(|s| s.eq_ignore_ascii_case("value")) =>
        {
            Some(has_member(uid))
        }
        Filter::ValuePath { path, filter } if is_members(path) => match filter.as_ref() {
            Filter::Compare {
                path: inner,
                op: CompareOp::Eq,
                value: CompValue::Str(uid),
            } if inner.attr.eq_ignore_ascii_case("value") => Some(has_member(uid)),
            _ => None,
        },
        // A relation or a constant is never NULL: these stand under `not` too.
        Filter::Compare { path, op, value } if is_members(path) => {
            related(Relation::MembersOfGroup, path, *op, value)
        }
        Filter::Present(path) if is_members(path) => {
            related_present(Relation::MembersOfGroup, path)
        }
        Filter::Compare { path, op, value } if is_resource_type(path, GROUP_SCHEMA) => {
            Some(resource_type(*op, value, "Group"))
        }
        Filter::Present(path) if is_resource_type(path, GROUP_SCHEMA) => Some(constant(true)),
        Filter::Compare { path, .. } | Filter::Present(path)
            if columns == Columns::NotNull && nullable_column(path) =>
        {
            None
        }
        Filter::Compare { path, op, value } => {
            group_column(path).and_then(|(column, kind)| compare(column, kind, *op, value))
        }
        Filter::Present(path) => group_column(path).map(|(column, _)| present(column)),
        Filter::And(l, r) => {
            return Some(
                Condition::all()
                    .add(groups(l, json, columns)?)
                    .add(groups(r, json, columns)?),
            );
        }
        Filter::Or(l, r) => {
            return Some(
                Condition::any()
                    .add(groups(l, json, columns)?)
                    .add(groups(r, json, columns)?),
            );
        }
        Filter::Not(inner) => {
            return Some(
                Condition::all()
                    .not()
                    .add(groups(inner, json, Columns::NotNull)?),
            );
        }
        _ => None,
    };
    by_column.or_else(|| in_document(filter).then(|| json.filter(filter)))
}
