//! SCIM Users of an organization. Filterable attributes are columns (set by the caller from the
//! resource); the resource itself is JSON. Updates are compare-and-swap on `version`, which is also
//! the ETag, so two writers never overwrite each other unseen on either database.

use sea_orm::prelude::DateTimeUtc;
use sea_orm::sea_query::{Expr, ExprTrait, PostgresQueryBuilder, Query, QueryStatementBuilder};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait,
    FromQueryResult, Iterable, PaginatorTrait, QueryFilter, QueryOrder, QueryResult, QuerySelect,
    QueryTrait, Select, Statement,
};

use super::{complete_total, first_pages, new_uid, now};
use crate::db::{Conn, Raw};
use crate::entity::scim_user_emails::{self, Entity as UserEmails};
use crate::entity::scim_users::{self, Entity as ScimUsers};
use crate::ids::{AccountId, ScimUserId};
use crate::types::normalize_key;
use crate::{OrgScope, StoreError, StoreResult};

/// A SCIM user row.
pub type ScimUser = scim_users::Model;

/// One email of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailColumn {
    /// `type` (work, home, …).
    pub kind: Option<String>,
    /// The address.
    pub value: String,
    /// Whether it is the primary one.
    pub primary: bool,
}

/// The columns of a user the caller derives from its resource.
#[derive(Debug, Clone)]
pub struct UserColumns {
    /// `userName`, stored as sent.
    pub user_name: String,
    /// `externalId`.
    pub external_id: Option<String>,
    /// `active`.
    pub active: bool,
    /// `name.givenName`.
    pub given_name: Option<String>,
    /// `name.familyName`.
    pub family_name: Option<String>,
    /// `displayName`.
    pub display_name: Option<String>,
    /// Every email.
    pub emails: Vec<EmailColumn>,
    /// The resource as JSON text (without `id` and `meta`, which come from columns).
    pub resource: String,
}

impl EmailColumn {
    /// The address folded: what `emails.value` filters compare.
    pub fn value_normalized(&self) -> String {
        normalize_key(&self.value)
    }
}

/// What a user row stores besides its [`UserColumns`]: the folded forms its indexes compare and
/// its search document. [`insert`] and [`update`] write these, and so does a bulk loader that
/// must write exactly the rows the application would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerivedUserColumns {
    /// `userName` folded: unique per organization.
    pub user_name_normalized: String,
    /// The primary email, else the first one.
    pub primary_email: Option<String>,
    /// That email folded.
    pub primary_email_normalized: Option<String>,
    /// The search document (`crate::search::user`).
    pub search: String,
}

impl UserColumns {
    /// The primary email, else the first one.
    pub fn primary_email(&self) -> Option<&str> {
        self.emails
            .iter()
            .find(|e| e.primary)
            .or_else(|| self.emails.first())
            .map(|e| e.value.as_str())
    }

    /// The columns the row derives from these.
    pub fn derived(&self) -> DerivedUserColumns {
        let primary_email = self.primary_email().map(str::to_owned);
        DerivedUserColumns {
            user_name_normalized: normalize_key(&self.user_name),
            primary_email_normalized: primary_email.as_deref().map(normalize_key),
            primary_email,
            search: crate::search::user(&self.resource),
        }
    }
}

/// A sortable column of users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserSort {
    /// Creation order (the default: stable across pages).
    Id,
    /// `userName`, case-insensitively.
    UserName,
    /// `displayName`.
    DisplayName,
    /// `externalId`.
    ExternalId,
    /// `name.familyName`.
    FamilyName,
    /// `meta.created`.
    Created,
    /// `meta.lastModified`.
    LastModified,
}

/// One page of a user listing.
#[derive(Debug, Clone)]
pub struct UserPageRequest {
    /// A filter translated to SQL (`None`: every user).
    pub condition: Option<Condition>,
    /// Sort column and direction (ascending when true).
    pub sort: (UserSort, bool),
    /// Rows to skip.
    pub offset: u64,
    /// Rows to return.
    pub limit: u64,
    /// Keyset pagination: only ids greater than this (cursor paging, sorted by id).
    pub after_id: Option<ScimUserId>,
    /// A deep page in id order: `offset` counts from this id (inclusive) rather than from the
    /// first user, the id the caller knows to be at a position shortly before the page
    /// ([`position_marks`]).
    pub skip_from: Option<ScimUserId>,
    /// `totalResults`, when the caller has read it already.
    pub total: Option<u64>,
    /// Whether to read each user's groups with it (the `groups` attribute), in the same query.
    pub with_groups: bool,
}

/// A listed user and, when asked for, its groups: (group SCIM id, displayName) in group order.
#[derive(Debug, Clone)]
pub struct ListedUser<U = ScimUser> {
    /// The user's columns a listing reads: [`ScimUser`] (every column, its `search` document
    /// read as empty) or [`StoredUser`].
    pub user: U,
    /// Its groups, when the request asked for them.
    pub groups: Option<Vec<(String, String)>>,
}

/// What SCIM answers a user with: the stored resource and what its `id` and `meta` are made of.
/// A page of the users SCIM lists reads these six columns of each, not the fifteen others (the
/// console's columns and the filters'), which the driver would decode for nothing.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct StoredUser {
    /// Row id.
    pub id: ScimUserId,
    /// SCIM `id`.
    pub uid: String,
    /// The stored resource (JSON text).
    pub resource: String,
    /// The version (the ETag).
    pub version: i64,
    /// `meta.created`.
    pub created_at: DateTimeUtc,
    /// `meta.lastModified`.
    pub updated_at: DateTimeUtc,
}

/// A user's stored resource and `meta`, borrowed from whichever row holds them.
#[derive(Debug, Clone, Copy)]
pub struct StoredUserRef<'a> {
    /// SCIM `id`.
    pub uid: &'a str,
    /// The stored resource (JSON text).
    pub resource: &'a str,
    /// The version (the ETag).
    pub version: i64,
    /// `meta.created`.
    pub created_at: DateTimeUtc,
    /// `meta.lastModified`.
    pub updated_at: DateTimeUtc,
}

/// Both rows that hold a user's resource and `meta` lend them as a [`StoredUserRef`].
macro_rules! lend_stored_user {
    ($($row:ty),*) => {$(
        impl $row {
            /// The stored resource and `meta`, borrowed.
            pub fn stored(&self) -> StoredUserRef<'_> {
                StoredUserRef {
                    uid: &self.uid,
                    resource: &self.resource,
                    version: self.version,
                    created_at: self.created_at,
                    updated_at: self.updated_at,
                }
            }
        }
    )*};
}

lend_stored_user!(StoredUser, scim_users::Model);

/// The columns a listing reads of each user.
pub trait ListedColumns: FromQueryResult + Send + Sync {
    /// The row's id (where the next cursor starts).
    fn id(&self) -> ScimUserId;
    /// `select` reading these columns.
    fn columns(select: Select<ScimUsers>) -> Select<ScimUsers>;
}

impl ListedColumns for ScimUser {
    fn id(&self) -> ScimUserId {
        self.id
    }

    fn columns(select: Select<ScimUsers>) -> Select<ScimUsers> {
        without_search(select)
    }
}

impl ListedColumns for StoredUser {
    fn id(&self) -> ScimUserId {
        self.id
    }

    fn columns(select: Select<ScimUsers>) -> Select<ScimUsers> {
        use scim_users::Column;
        select.select_only().columns([
            Column::Id,
            Column::Uid,
            Column::Resource,
            Column::Version,
            Column::CreatedAt,
            Column::UpdatedAt,
        ])
    }
}

/// The column a listing reads a user's groups into, as JSON `[[uid, displayName], …]`.
const GROUPS_COLUMN: &str = "groups_json";

/// Every column but the search document, which is read back as `''`: a page answers with the
/// resource, and the search document is about as long again, for the database to send and the
/// driver to copy for nothing.
fn without_search(select: Select<ScimUsers>) -> Select<ScimUsers> {
    let columns = scim_users::Column::iter().filter(|c| !matches!(c, scim_users::Column::Search));
    select
        .select_only()
        .columns(columns)
        .column_as(Expr::cust("''"), "search")
}

/// A user's columns plus its groups as JSON text.
struct RowWithGroups<U>(U, Option<String>);

impl<U: FromQueryResult> FromQueryResult for RowWithGroups<U> {
    fn from_query_result(res: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        Ok(Self(
            U::from_query_result(res, pre)?,
            res.try_get(pre, GROUPS_COLUMN)?,
        ))
    }
}

/// A correlated subquery aggregating a user's groups into JSON, so a page of users and their
/// groups is one round trip. Its member rows are those of the user's own organization, which the
/// outer query's scope fixed: comparing with the row's `org_id` rather than binding the
/// organization again keeps the SQL free of placeholders, which sea-query would otherwise
/// tokenize and renumber on every request.
fn groups_subquery(backend: DbBackend) -> Expr {
    let sql = match backend {
        DbBackend::Postgres => {
            r#"(SELECT json_agg(json_build_array(g."uid", g."display_name") ORDER BY g."id")::text
                FROM "scim_group_members" m JOIN "scim_groups" g ON g."id" = m."group_id"
                WHERE m."user_id" = "scim_users"."id" AND m."org_id" = "scim_users"."org_id")"#
        }
        _ => {
            r#"(SELECT json_group_array(json_array(x."uid", x."display_name")) FROM
                (SELECT g."uid", g."display_name" FROM "scim_group_members" m
                 JOIN "scim_groups" g ON g."id" = m."group_id"
                 WHERE m."user_id" = "scim_users"."id" AND m."org_id" = "scim_users"."org_id"
                 ORDER BY g."id") x)"#
        }
    };
    Expr::cust(sql)
}

fn parse_groups(json: Option<&str>) -> StoreResult<Vec<(String, String)>> {
    match json {
        None => Ok(Vec::new()),
        Some(text) => serde_json::from_str(text).map_err(|e| {
            StoreError::Database(DbErr::Custom(format!("unreadable groups of a user: {e}")))
        }),
    }
}

fn email_rows(
    scope: &OrgScope,
    user_id: ScimUserId,
    emails: &[EmailColumn],
) -> Vec<scim_user_emails::ActiveModel> {
    emails
        .iter()
        .map(|e| scim_user_emails::ActiveModel {
            org_id: Set(scope.org_id()),
            user_id: Set(user_id),
            kind: Set(e.kind.clone()),
            value: Set(e.value.clone()),
            value_normalized: Set(e.value_normalized()),
            is_primary: Set(e.primary),
            ..Default::default()
        })
        .collect()
}

async fn write_emails(
    conn: &impl Conn,
    scope: &OrgScope,
    user_id: ScimUserId,
    columns: &UserColumns,
) -> StoreResult<()> {
    scope
        .delete_many::<UserEmails>()
        .filter(scim_user_emails::Column::UserId.eq(user_id))
        .exec(conn.raw())
        .await?;
    insert_emails(conn, scope, user_id, columns).await
}

/// Bound values of one email row (org_id, user_id, kind, value, value_normalized, is_primary).
const EMAIL_COLUMNS: usize = 6;

/// Inserts the email rows of a user that has none yet, in statements of bounded size.
async fn insert_emails(
    conn: &impl Conn,
    scope: &OrgScope,
    user_id: ScimUserId,
    columns: &UserColumns,
) -> StoreResult<()> {
    for chunk in columns.emails.chunks(super::rows_per_insert(EMAIL_COLUMNS)) {
        UserEmails::insert_many(email_rows(scope, user_id, chunk))
            .exec(conn.raw())
            .await?;
    }
    Ok(())
}

/// Inserts a user linked to `account_id`. A `userName` already used in the organization (in any
/// letter case) is [`StoreError::Conflict`]`("userName")`; an account already linked to another
/// user of the organization is `Conflict("account")`.
pub async fn insert(
    conn: &impl Conn,
    scope: &OrgScope,
    account_id: Option<AccountId>,
    columns: &UserColumns,
) -> StoreResult<ScimUser> {
    let at = now();
    let derived = columns.derived();
    let row = scim_users::ActiveModel {
        uid: Set(new_uid()),
        org_id: Set(scope.org_id()),
        account_id: Set(account_id),
        user_name: Set(columns.user_name.clone()),
        user_name_normalized: Set(derived.user_name_normalized),
        external_id: Set(columns.external_id.clone()),
        active: Set(columns.active),
        given_name: Set(columns.given_name.clone()),
        family_name: Set(columns.family_name.clone()),
        display_name: Set(columns.display_name.clone()),
        primary_email_normalized: Set(derived.primary_email_normalized),
        primary_email: Set(derived.primary_email),
        resource: Set(columns.resource.clone()),
        search: Set(derived.search),
        version: Set(1),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    };
    let conflict = |e: DbErr| {
        let text = e.to_string();
        match StoreError::from_db_unique(e, "userName") {
            StoreError::Conflict(_) if text.contains("account") => StoreError::Conflict("account"),
            other => other,
        }
    };
    if conn.raw().get_database_backend() == DbBackend::Postgres && !columns.emails.is_empty() {
        return insert_with_emails_on_postgres(conn, row, columns)
            .await
            .map_err(conflict);
    }
    let user = ScimUsers::insert(row)
        .exec_with_returning(conn.raw())
        .await
        .map_err(conflict)?;
    // A new user has no email rows to replace.
    insert_emails(conn, scope, user.id, columns).await?;
    Ok(user)
}

/// The user row and its email rows in one statement (one round trip on the hot path of
/// provisioning): the sea-query insert of the user becomes a CTE whose returned id the email rows,
/// passed as one JSON array, are inserted with.
async fn insert_with_emails_on_postgres(
    conn: &impl Conn,
    row: scim_users::ActiveModel,
    columns: &UserColumns,
) -> Result<ScimUser, DbErr> {
    let mut user_insert = ScimUsers::insert(row).into_query();
    user_insert.returning_all();
    let (user_sql, mut values) = user_insert.build(PostgresQueryBuilder);
    let emails: Vec<serde_json::Value> = columns
        .emails
        .iter()
        .map(|e| {
            serde_json::json!({"kind": e.kind, "value": e.value,
                "value_normalized": e.value_normalized(), "is_primary": e.primary})
        })
        .collect();
    values.0.push(sea_orm::Value::from(
        serde_json::Value::Array(emails).to_string(),
    ));
    let emails_param = values.0.len();
    let sql = format!(
        r#"WITH new_user AS ({user_sql}),
        new_emails AS (
            INSERT INTO "scim_user_emails"
                ("org_id", "user_id", "kind", "value", "value_normalized", "is_primary")
            SELECT u."org_id", u."id", e."kind", e."value", e."value_normalized", e."is_primary"
            FROM new_user u, jsonb_to_recordset(${emails_param}::jsonb)
                AS e("kind" text, "value" text, "value_normalized" text, "is_primary" boolean))
        SELECT * FROM new_user"#
    );
    ScimUser::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .one(conn.raw())
    .await?
    .ok_or(DbErr::RecordNotInserted)
}

/// A user of the organization by its SCIM id.
pub async fn get(conn: &impl Conn, scope: &OrgScope, uid: &str) -> StoreResult<Option<ScimUser>> {
    Ok(scope
        .select::<ScimUsers>()
        .filter(scim_users::Column::Uid.eq(uid))
        .one(conn.raw())
        .await?)
}

/// A user of the organization by its SCIM id, its row locked until the transaction ends
/// (`SELECT … FOR UPDATE` on PostgreSQL), so concurrent writers of one user queue instead of
/// racing the compare-and-swap. SQLite has no row locks and needs none: its write transactions
/// already run one at a time.
pub async fn get_for_update(
    conn: &impl Conn,
    scope: &OrgScope,
    uid: &str,
) -> StoreResult<Option<ScimUser>> {
    Ok(scope
        .select::<ScimUsers>()
        .filter(scim_users::Column::Uid.eq(uid))
        .lock_exclusive()
        .one(conn.raw())
        .await?)
}

/// Replaces a user's columns if its version is still `expected_version`; the version goes up by
/// one. [`StoreError::VersionMismatch`] when someone else wrote first.
pub async fn update(
    conn: &impl Conn,
    scope: &OrgScope,
    user: &ScimUser,
    columns: &UserColumns,
) -> StoreResult<ScimUser> {
    let derived = columns.derived();
    let at = now();
    let result = scope
        .update_many::<ScimUsers>()
        .col_expr(
            scim_users::Column::UserName,
            Expr::value(columns.user_name.clone()),
        )
        .col_expr(
            scim_users::Column::UserNameNormalized,
            Expr::value(derived.user_name_normalized),
        )
        .col_expr(
            scim_users::Column::ExternalId,
            Expr::value(columns.external_id.clone()),
        )
        .col_expr(scim_users::Column::Active, Expr::value(columns.active))
        .col_expr(
            scim_users::Column::GivenName,
            Expr::value(columns.given_name.clone()),
        )
        .col_expr(
            scim_users::Column::FamilyName,
            Expr::value(columns.family_name.clone()),
        )
        .col_expr(
            scim_users::Column::DisplayName,
            Expr::value(columns.display_name.clone()),
        )
        .col_expr(
            scim_users::Column::PrimaryEmailNormalized,
            Expr::value(derived.primary_email_normalized),
        )
        .col_expr(
            scim_users::Column::PrimaryEmail,
            Expr::value(derived.primary_email),
        )
        .col_expr(
            scim_users::Column::Resource,
            Expr::value(columns.resource.clone()),
        )
        .col_expr(scim_users::Column::Search, Expr::value(derived.search))
        .col_expr(scim_users::Column::Version, Expr::value(user.version + 1))
        .col_expr(scim_users::Column::UpdatedAt, Expr::value(at))
        .filter(scim_users::Column::Id.eq(user.id))
        .filter(scim_users::Column::Version.eq(user.version))
        .exec(conn.raw())
        .await
        .map_err(|e| StoreError::from_db_unique(e, "userName"))?;
    if result.rows_affected == 0 {
        return Err(StoreError::VersionMismatch);
    }
    write_emails(conn, scope, user.id, columns).await?;
    get(conn, scope, &user.uid)
        .await?
        .ok_or(StoreError::NotFound("user"))
}

/// Deletes a user (its emails and group memberships go with it). Returns the deleted row.
pub async fn delete(
    conn: &impl Conn,
    scope: &OrgScope,
    uid: &str,
) -> StoreResult<Option<ScimUser>> {
    let Some(user) = get(conn, scope, uid).await? else {
        return Ok(None);
    };
    scope
        .delete_many::<ScimUsers>()
        .filter(scim_users::Column::Id.eq(user.id))
        .exec(conn.raw())
        .await?;
    Ok(Some(user))
}

fn sort_column(sort: UserSort) -> scim_users::Column {
    match sort {
        UserSort::Id => scim_users::Column::Id,
        UserSort::UserName => scim_users::Column::UserNameNormalized,
        UserSort::DisplayName => scim_users::Column::DisplayName,
        UserSort::ExternalId => scim_users::Column::ExternalId,
        UserSort::FamilyName => scim_users::Column::FamilyName,
        UserSort::Created => scim_users::Column::CreatedAt,
        UserSort::LastModified => scim_users::Column::UpdatedAt,
    }
}

/// Counts the users matching `condition` and returns one page of them, in a stable order (the
/// sort column, then id), with their groups when asked for.
pub async fn page<U: ListedColumns + 'static>(
    conn: &impl Conn,
    scope: &OrgScope,
    request: &UserPageRequest,
) -> StoreResult<(u64, Vec<ListedUser<U>>)> {
    let backend = conn.raw().get_database_backend();
    let inline_groups = groups_inline(request);
    let statement = page_statement_of::<U>(backend, scope, request);
    let mut rows = if inline_groups {
        RowWithGroups::<U>::find_by_statement(statement)
            .all(conn.raw())
            .await?
            .into_iter()
            .map(|RowWithGroups(user, groups)| {
                Ok(ListedUser {
                    user,
                    groups: Some(parse_groups(groups.as_deref())?),
                })
            })
            .collect::<StoreResult<Vec<_>>>()?
    } else {
        U::find_by_statement(statement)
            .all(conn.raw())
            .await?
            .into_iter()
            .map(|user| ListedUser { user, groups: None })
            .collect()
    };
    if request.with_groups && !inline_groups {
        let ids: Vec<ScimUserId> = rows.iter().map(|r| r.user.id()).collect();
        let mut groups = super::scim_groups::groups_of_users(conn, scope, &ids).await?;
        for row in &mut rows {
            row.groups = Some(groups.remove(&row.user.id()).unwrap_or_default());
        }
    }
    let from_start = request.after_id.or(request.skip_from);
    let complete = complete_total(request.offset, from_start, request.limit, rows.len());
    let total = match request.total.or(complete) {
        Some(total) => total,
        None if request.condition.is_none() => {
            super::resource_counts::get(conn, scope, super::resource_counts::Kind::Users).await?
        }
        None => matching(scope, request).count(conn.raw()).await?,
    };
    Ok((total, rows))
}

/// The organization's users matching the request's condition.
fn matching(scope: &OrgScope, request: &UserPageRequest) -> Select<ScimUsers> {
    let users = scope.select::<ScimUsers>();
    match &request.condition {
        Some(condition) => users.filter(condition.clone()),
        None => users,
    }
}

/// Whether a page's groups come with its rows. Only when no row is skipped: PostgreSQL evaluates a
/// select-list subquery for every row an OFFSET skips, so a deep page reads them in a second query
/// instead.
fn groups_inline(request: &UserPageRequest) -> bool {
    request.with_groups && request.offset == 0
}

/// The statement reading a page of users: for a first page, the text kept for its shape
/// ([`first_pages`]) with this page's values; else built.
pub(super) fn page_statement_of<U: ListedColumns + 'static>(
    backend: DbBackend,
    scope: &OrgScope,
    request: &UserPageRequest,
) -> Statement {
    let inline_groups = groups_inline(request);
    let first_page =
        request.offset == 0 && request.after_id.is_none() && request.skip_from.is_none();
    if !first_page {
        return page_statement::<U>(scope, request, backend, inline_groups);
    }
    let listing = first_pages::Listing {
        columns: std::any::TypeId::of::<U>(),
        sort: (request.sort.0 as u8, request.sort.1),
        limit: request.limit,
        inline_groups,
    };
    first_pages::statement(backend, scope, listing, request.condition.as_ref(), || {
        page_statement::<U>(scope, request, backend, inline_groups)
    })
}

/// The statement reading a page of users, built.
pub(super) fn page_statement<U: ListedColumns>(
    scope: &OrgScope,
    request: &UserPageRequest,
    backend: DbBackend,
    inline_groups: bool,
) -> Statement {
    let mut query = U::columns(matching(scope, request));
    if let Some(after) = request.after_id {
        query = query.filter(scim_users::Column::Id.gt(after));
    }
    if let Some(from) = request.skip_from {
        query = query.filter(scim_users::Column::Id.gte(from));
    }
    let (sort, ascending) = request.sort;
    let column = sort_column(sort);
    query = if ascending {
        query.order_by_asc(column)
    } else {
        query.order_by_desc(column)
    };
    if sort != UserSort::Id {
        query = query.order_by_asc(scim_users::Column::Id);
    }
    // A deep page in id order (how Okta and Entra page through an import with `startIndex`)
    // starts at the id found by skipping over the (org_id, id) index alone — an index-only scan
    // — instead of an OFFSET that visits every skipped row in the table.
    let deep_in_id_order =
        request.offset > 0 && request.after_id.is_none() && sort == UserSort::Id && ascending;
    if deep_in_id_order {
        let mut skipped = matching(scope, request);
        if let Some(from) = request.skip_from {
            skipped = skipped.filter(scim_users::Column::Id.gte(from));
        }
        let first = skipped
            .select_only()
            .column(scim_users::Column::Id)
            .order_by_asc(scim_users::Column::Id)
            .offset(super::skip(request.offset))
            .limit(1)
            .into_query();
        query = query.filter(
            Expr::col((ScimUsers, scim_users::Column::Id)).gte(Expr::SubQuery(
                None,
                Box::new(first.into_sub_query_statement()),
            )),
        );
    }
    if inline_groups {
        query = query.column_as(groups_subquery(backend), GROUPS_COLUMN);
    }
    // A deep page in id order skipped its rows in the subquery above.
    let offset = if deep_in_id_order { 0 } else { request.offset };
    super::page_statement(query, backend, offset, request.limit)
}

/// The ids at positions 0, `every`, 2·`every`, … of the organization's users in id order, read
/// in one pass over the `(org_id, id)` index.
pub async fn position_marks(
    conn: &impl Conn,
    scope: &OrgScope,
    every: u64,
) -> StoreResult<Vec<ScimUserId>> {
    let raw = conn.raw();
    let every = i64::try_from(Ord::max(every, 1)).unwrap_or(i64::MAX);
    let rows = raw
        .query_all_raw(super::feed::statement(
            raw.get_database_backend(),
            "SELECT id FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY id) - 1 AS position \
             FROM scim_users WHERE org_id = ?) ranked WHERE position % ? = 0 ORDER BY id",
            vec![scope.org_id().0.into(), every.into()],
        ))
        .await?;
    rows.iter()
        .map(|row| Ok(ScimUserId(row.try_get::<i64>("", "id")?)))
        .collect()
}

/// Streams every user of the organization in id order, `batch` rows at a time (for filters that
/// cannot be translated to SQL).
pub async fn batch_after(
    conn: &impl Conn,
    scope: &OrgScope,
    after_id: ScimUserId,
    batch: u64,
) -> StoreResult<Vec<ScimUser>> {
    Ok(scope
        .select::<ScimUsers>()
        .filter(scim_users::Column::Id.gt(after_id))
        .order_by_asc(scim_users::Column::Id)
        .limit(batch)
        .all(conn.raw())
        .await?)
}

/// Users of the organization by internal ids.
pub async fn by_ids(
    conn: &impl Conn,
    scope: &OrgScope,
    ids: &[ScimUserId],
) -> StoreResult<Vec<ScimUser>> {
    let mut users = Vec::with_capacity(ids.len());
    // The IN list in bounded chunks; the result is re-sorted, as one query would have.
    for chunk in ids.chunks(super::MAX_PARAMS / 2) {
        users.extend(
            scope
                .select::<ScimUsers>()
                .filter(scim_users::Column::Id.is_in(chunk.iter().copied()))
                .all(conn.raw())
                .await?,
        );
    }
    users.sort_by_key(|u| u.id);
    Ok(users)
}

/// The condition "has an email matching `email_condition`" (a condition on `scim_user_emails`), for
/// `emails.value` and `emails[type eq "work"].value` filters.
pub fn has_email(scope: &OrgScope, email_condition: Condition) -> Condition {
    // Scoped like every tenant query; it is also what lets the (org_id, value) index serve it.
    let subquery = Query::select()
        .column(scim_user_emails::Column::UserId)
        .from(UserEmails)
        .cond_where(
            Condition::all()
                .add(scim_user_emails::Column::OrgId.eq(scope.org_id()))
                .add(email_condition),
        )
        .to_owned();
    Condition::all().add(scim_users::Column::Id.in_subquery(subquery))
}

/// Links a user to its SaaS account (a user created without an email gets one when an email
/// arrives). An account already linked to another user of the organization is a conflict.
pub async fn link_account(
    conn: &impl Conn,
    scope: &OrgScope,
    user_id: ScimUserId,
    account_id: AccountId,
) -> StoreResult<()> {
    scope
        .update_many::<ScimUsers>()
        .col_expr(scim_users::Column::AccountId, Expr::value(account_id))
        .filter(scim_users::Column::Id.eq(user_id))
        .exec(conn.raw())
        .await
        .map_err(|e| StoreError::from_db_unique(e, "account"))?;
    Ok(())
}
