//! The SCIM request log: one row per SCIM request of an organization, refused ones included.
//!
//! Rows arrive in batches from the request-log worker, which serves the whole replica: a batch
//! mixes organizations, and a request refused before its credential proved anything (a bad
//! token) names its organization only by the UID in its path. [`insert_batch`] therefore takes
//! either a proven [`OrgScope`] or that UID, and keeps the UID's rows only when such an
//! organization exists here. [`prune_before`] and [`organizations_over`] are the janitor's,
//! region-wide; [`newest_past_cap`] and [`delete_through`] keep one organization within its cap.
//! These are the documented exceptions to "every query starts from an `OrgScope`": they only
//! append and delete log rows; every read is scoped.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{ArrayType, Expr, ExprTrait, Func, LikeExpr, Value};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
};

use super::feed::statement;
use super::{escape_like, rows_per_insert};
use crate::db::{Conn, Raw};
use crate::entity::organizations::{self, Entity as Organizations};
use crate::entity::scim_request_log::{self, Entity as RequestLog};
use crate::ids::{OrgId, RequestLogId};
use crate::types::normalize_key;
use crate::{OrgScope, StoreResult};

/// A logged request.
pub type LoggedRequest = scim_request_log::Model;

/// The organization a request is logged against.
#[derive(Debug, Clone)]
pub enum LogOrg {
    /// Its credential proved the organization.
    Proven(OrgScope),
    /// Refused before any proof: the organization named in the path, kept only if it exists.
    Named(String),
}

/// A request to log, already redacted and truncated.
#[derive(Debug, Clone)]
pub struct NewLoggedRequest {
    /// Whose log.
    pub org: LogOrg,
    /// The request id (`X-Request-Id`).
    pub request_id: Option<String>,
    /// The HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// The answer's status.
    pub status: u16,
    /// How long the answer took, in microseconds.
    pub duration_us: i64,
    /// `api_token` or `installation`, when the credential was accepted.
    pub credential_kind: Option<String>,
    /// The credential's public id.
    pub credential_id: Option<String>,
    /// The client address.
    pub client_ip: Option<String>,
    /// The userName the request was about.
    pub user_name: Option<String>,
    /// The externalId the request was about.
    pub external_id: Option<String>,
    /// The request body.
    pub request_body: Option<String>,
    /// The response body.
    pub response_body: Option<String>,
    /// When the request arrived.
    pub at: DateTime<Utc>,
}

/// Columns of one row, for the chunk size of a multi-row insert.
const COLUMNS: usize = 15;
/// The most text one `INSERT` carries (past its first row). The driver encodes a statement into
/// its connection's buffer and never shrinks it: a batch written as one statement of 8 MiB left
/// the connection that carried it holding 8 MiB for good.
const MAX_INSERT_TEXT_BYTES: usize = 1024 * 1024;
/// The longest organization UID looked up (longer ones name no organization).
const MAX_UID_BYTES: usize = 128;

/// Writes a batch; rows naming an organization that does not exist here are dropped. Returns
/// how many rows were written for each organization.
pub async fn insert_batch(
    conn: &impl Conn,
    rows: Vec<NewLoggedRequest>,
) -> StoreResult<HashMap<OrgId, u64>> {
    let named: Vec<&str> = rows
        .iter()
        .filter_map(|r| match &r.org {
            LogOrg::Named(uid) if !uid.contains('\0') && uid.len() <= MAX_UID_BYTES => {
                Some(uid.as_str())
            }
            _ => None,
        })
        .collect();
    let known: HashMap<String, OrgId> = if named.is_empty() {
        HashMap::new()
    } else {
        Organizations::find()
            .filter(organizations::Column::Uid.is_in(named))
            .filter(organizations::Column::DeletedAt.is_null())
            .all(conn.raw())
            .await?
            .into_iter()
            .map(|org| (org.uid, org.id))
            .collect()
    };
    let postgres = conn.raw().get_database_backend() == DbBackend::Postgres;
    let mut written = HashMap::new();
    let mut chunk = Vec::new();
    let mut chunk_bytes = 0;
    for r in rows {
        let org_id = match &r.org {
            LogOrg::Proven(scope) => scope.org_id(),
            LogOrg::Named(uid) => match known.get(uid) {
                Some(id) => *id,
                None => continue,
            },
        };
        let bytes = r.text_bytes();
        let rows_full = !postgres && chunk.len() >= rows_per_insert(COLUMNS);
        if !chunk.is_empty() && (rows_full || chunk_bytes + bytes > MAX_INSERT_TEXT_BYTES) {
            insert_chunk(conn, std::mem::take(&mut chunk), postgres).await?;
            chunk_bytes = 0;
        }
        chunk_bytes += bytes;
        chunk.push((org_id, r));
        *written.entry(org_id).or_insert(0) += 1;
    }
    if !chunk.is_empty() {
        insert_chunk(conn, chunk, postgres).await?;
    }
    Ok(written)
}

/// Writes one chunk of rows in one statement. On PostgreSQL that statement is always the same
/// text, whatever the chunk's size: each column travels as one array, so the statement is
/// prepared once per connection and planned once, where a multi-row `VALUES` of this many rows
/// and parameters would be a new statement to parse and plan for every count of rows (and this
/// statement logs every SCIM request the server serves).
async fn insert_chunk(
    conn: &impl Conn,
    chunk: Vec<(OrgId, NewLoggedRequest)>,
    postgres: bool,
) -> StoreResult<()> {
    if postgres {
        conn.raw().execute_raw(unnest_insert(chunk)).await?;
    } else {
        RequestLog::insert_many(chunk.into_iter().map(|(org_id, r)| row(org_id, r)))
            .exec(conn.raw())
            .await?;
    }
    Ok(())
}

/// The columns of [`unnest_insert`] that are never NULL, with their arrays' element types, in
/// the order [`unnest_insert`] binds them.
const NOT_NULL: [(&str, &str); 6] = [
    ("org_id", "int8"),
    ("method", "text"),
    ("path", "text"),
    ("status", "int4"),
    ("duration_us", "int8"),
    ("created_at", "timestamptz"),
];

/// The nullable text columns of [`unnest_insert`], in the order of their bits in its `nulls`
/// array: the driver binds a text array only without NULL elements, so a row's missing values
/// travel as empty strings and one bit each.
const NULLABLE: [&str; 9] = [
    "request_id",
    "credential_kind",
    "credential_id",
    "client_ip",
    "user_name_normalized",
    "user_name",
    "external_id",
    "request_body",
    "response_body",
];

/// `INSERT … SELECT … FROM unnest(arrays)` of a chunk (PostgreSQL).
fn unnest_insert(chunk: Vec<(OrgId, NewLoggedRequest)>) -> Statement {
    let rows = chunk.len();
    let mut org_ids = Vec::with_capacity(rows);
    let mut methods = Vec::with_capacity(rows);
    let mut paths = Vec::with_capacity(rows);
    let mut statuses = Vec::with_capacity(rows);
    let mut durations = Vec::with_capacity(rows);
    let mut created = Vec::with_capacity(rows);
    let mut nulls = Vec::with_capacity(rows);
    let mut nullable: [Vec<Value>; NULLABLE.len()] =
        std::array::from_fn(|_| Vec::with_capacity(rows));
    for (org_id, r) in chunk {
        org_ids.push(Value::BigInt(Some(org_id.0)));
        statuses.push(Value::Int(Some(i32::from(r.status))));
        durations.push(Value::BigInt(Some(r.duration_us)));
        created.push(Value::ChronoDateTimeUtc(Some(r.at)));
        let user_name_normalized = r.user_name.as_deref().map(normalize_key);
        let values = [
            r.request_id,
            r.credential_kind,
            r.credential_id,
            r.client_ip,
            user_name_normalized,
            r.user_name,
            r.external_id,
            r.request_body,
            r.response_body,
        ];
        let mut missing = 0i32;
        for (bit, (column, value)) in nullable.iter_mut().zip(values).enumerate() {
            if value.is_none() {
                missing |= 1 << bit;
            }
            column.push(Value::String(Some(value.unwrap_or_default())));
        }
        nulls.push(Value::Int(Some(missing)));
        methods.push(Value::String(Some(r.method)));
        paths.push(Value::String(Some(r.path)));
    }
    let array = |ty: ArrayType, values: Vec<Value>| Value::Array(ty, Some(Box::new(values)));
    let mut values = vec![
        array(ArrayType::BigInt, org_ids),
        array(ArrayType::String, methods),
        array(ArrayType::String, paths),
        array(ArrayType::Int, statuses),
        array(ArrayType::BigInt, durations),
        array(ArrayType::ChronoDateTimeUtc, created),
        array(ArrayType::Int, nulls),
    ];
    values.extend(
        nullable
            .into_iter()
            .map(|column| array(ArrayType::String, column)),
    );
    Statement::from_sql_and_values(DbBackend::Postgres, unnest_sql(), values)
}

/// The text of [`unnest_insert`]'s statement (built once): its arrays in parameter order — the
/// [`NOT_NULL`] columns, the `nulls` bits, then the [`NULLABLE`] columns.
fn unnest_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let arrays = NOT_NULL
            .into_iter()
            .chain([("nulls", "int4")])
            .chain(NULLABLE.map(|column| (column, "text")));
        let (names, types): (Vec<&str>, Vec<&str>) = arrays.unzip();
        let placeholders: Vec<String> = types
            .iter()
            .enumerate()
            .map(|(i, ty)| format!("${}::{ty}[]", i + 1))
            .collect();
        let columns = NOT_NULL
            .map(|(column, _)| column)
            .into_iter()
            .chain(NULLABLE);
        let selected = NOT_NULL
            .map(|(column, _)| format!("t.{column}"))
            .into_iter()
            .chain(NULLABLE.iter().enumerate().map(|(bit, column)| {
                format!("CASE WHEN t.nulls & {} = 0 THEN t.{column} END", 1 << bit)
            }));
        format!(
            "INSERT INTO scim_request_log ({}) SELECT {} FROM unnest({}) AS t({})",
            columns.collect::<Vec<_>>().join(", "),
            selected.collect::<Vec<_>>().join(", "),
            placeholders.join(", "),
            names.join(", "),
        )
    })
}

impl NewLoggedRequest {
    /// The text this row sends to the database (its bodies, path and short fields).
    fn text_bytes(&self) -> usize {
        let optional = |field: &Option<String>| field.as_ref().map_or(0, String::len);
        self.path.len()
            + self.method.len()
            + optional(&self.request_body)
            + optional(&self.response_body)
            + optional(&self.request_id)
            + optional(&self.credential_id)
            + optional(&self.user_name)
            + optional(&self.external_id)
    }
}

fn row(org_id: OrgId, r: NewLoggedRequest) -> scim_request_log::ActiveModel {
    scim_request_log::ActiveModel {
        org_id: Set(org_id),
        request_id: Set(r.request_id),
        method: Set(r.method),
        path: Set(r.path),
        status: Set(i32::from(r.status)),
        duration_us: Set(r.duration_us),
        credential_kind: Set(r.credential_kind),
        credential_id: Set(r.credential_id),
        client_ip: Set(r.client_ip),
        user_name_normalized: Set(r.user_name.as_deref().map(normalize_key)),
        user_name: Set(r.user_name),
        external_id: Set(r.external_id),
        request_body: Set(r.request_body),
        response_body: Set(r.response_body),
        created_at: Set(r.at),
        ..Default::default()
    }
}

/// A class of answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    /// 200–299.
    Success,
    /// 400–499.
    ClientError,
    /// 500–599.
    ServerError,
    /// 401 and 403: the credential or the organization's switch refused the request.
    Refused,
}

/// What a search of the log asks for; every field narrows it.
#[derive(Debug, Clone, Default)]
pub struct RequestLogFilter {
    /// One class of answers.
    pub status: Option<StatusClass>,
    /// One HTTP method (upper case).
    pub method: Option<String>,
    /// Text the path or a body contains (case-insensitive).
    pub text: Option<String>,
    /// The userName (case-insensitive) or externalId the request was about.
    pub user: Option<String>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// Before.
    pub until: Option<DateTime<Utc>>,
}

/// The organization's newest logged requests matching `filter`, older than `before` when given.
pub async fn search(
    conn: &impl Conn,
    scope: &OrgScope,
    filter: &RequestLogFilter,
    before: Option<RequestLogId>,
    limit: u64,
) -> StoreResult<Vec<LoggedRequest>> {
    use scim_request_log::Column;
    let mut query = scope.select::<RequestLog>();
    if let Some(before) = before {
        query = query.filter(Column::Id.lt(before));
    }
    if let Some(class) = filter.status {
        query = query.filter(match class {
            StatusClass::Success => Column::Status.between(200, 299),
            StatusClass::ClientError => Column::Status.between(400, 499),
            StatusClass::ServerError => Column::Status.between(500, 599),
            StatusClass::Refused => Column::Status.is_in([401, 403]),
        });
    }
    if let Some(method) = filter.method.as_deref() {
        query = query.filter(Column::Method.eq(method));
    }
    if let Some(text) = filter.text.as_deref().filter(|t| !t.is_empty()) {
        let pattern = format!("%{}%", escape_like(&text.to_lowercase()));
        let like = |column: Column| {
            Expr::expr(Func::lower(Expr::col(column)))
                .like(LikeExpr::new(pattern.clone()).escape('\\'))
        };
        query = query.filter(
            Condition::any()
                .add(like(Column::Path))
                .add(like(Column::RequestBody))
                .add(like(Column::ResponseBody)),
        );
    }
    if let Some(user) = filter.user.as_deref().filter(|u| !u.is_empty()) {
        query = query.filter(
            Condition::any()
                .add(Column::UserNameNormalized.eq(normalize_key(user)))
                .add(Column::ExternalId.eq(user)),
        );
    }
    if let Some(since) = filter.since {
        query = query.filter(Column::CreatedAt.gte(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(Column::CreatedAt.lt(until));
    }
    Ok(query
        .order_by_desc(Column::Id)
        .limit(limit)
        .all(conn.raw())
        .await?)
}

/// How many of the organization's logged requests since `since` were answered with an error:
/// (refused with 401/403, other 4xx, 5xx).
pub async fn errors_since(
    conn: &impl Conn,
    scope: &OrgScope,
    since: DateTime<Utc>,
) -> StoreResult<(u64, u64, u64)> {
    use scim_request_log::Column;
    let count = |condition: Condition| {
        scope
            .select::<RequestLog>()
            .filter(Column::CreatedAt.gte(since))
            .filter(condition)
            .count(conn.raw())
    };
    let refused = count(Condition::all().add(Column::Status.is_in([401, 403]))).await?;
    let client = count(
        Condition::all()
            .add(Column::Status.between(400, 499))
            .add(Column::Status.is_not_in([401, 403])),
    )
    .await?;
    let server = count(Condition::all().add(Column::Status.between(500, 599))).await?;
    Ok((refused, client, server))
}

/// One logged request of the organization.
pub async fn get(
    conn: &impl Conn,
    scope: &OrgScope,
    id: RequestLogId,
) -> StoreResult<Option<LoggedRequest>> {
    Ok(scope
        .select::<RequestLog>()
        .filter(scim_request_log::Column::Id.eq(id))
        .one(conn.raw())
        .await?)
}

/// Deletes rows logged before `before`, at most `limit`, oldest first (the janitor's retention,
/// region-wide). Returns how many went.
pub async fn prune_before(conn: &impl Conn, before: DateTime<Utc>, limit: u64) -> StoreResult<u64> {
    let raw = conn.raw();
    let backend = raw.get_database_backend();
    Ok(raw
        .execute_raw(statement(
            backend,
            "DELETE FROM scim_request_log WHERE id IN \
             (SELECT id FROM scim_request_log WHERE created_at < ? ORDER BY created_at LIMIT ?)",
            vec![before.into(), (limit as i64).into()],
        ))
        .await?
        .rows_affected())
}

/// The organizations with more than `max_rows` rows (the janitor's, region-wide: it counts every
/// organization's rows).
pub async fn organizations_over(conn: &impl Conn, max_rows: u64) -> StoreResult<Vec<OrgId>> {
    let raw = conn.raw();
    let over = raw
        .query_all_raw(statement(
            raw.get_database_backend(),
            "SELECT org_id FROM scim_request_log GROUP BY org_id HAVING COUNT(*) > ?",
            vec![(max_rows as i64).into()],
        ))
        .await?;
    over.iter()
        .map(|row| Ok(OrgId(row.try_get("", "org_id")?)))
        .collect()
}

/// The newest of one organization's rows past a cap of `max_rows` (the row just older than its
/// newest `max_rows`), when it has more than that. Reads `max_rows + 1` entries of the `(org_id,
/// id)` index, and their rows where the table's visibility map does not cover them.
pub async fn newest_past_cap(
    conn: &impl Conn,
    org_id: OrgId,
    max_rows: u64,
) -> StoreResult<Option<RequestLogId>> {
    Ok(RequestLog::find()
        .select_only()
        .column(scim_request_log::Column::Id)
        .filter(scim_request_log::Column::OrgId.eq(org_id))
        .order_by_desc(scim_request_log::Column::Id)
        .offset(max_rows)
        .limit(1)
        .into_tuple::<RequestLogId>()
        .one(conn.raw())
        .await?)
}

/// Deletes at most `limit` of one organization's rows up to `newest_past_cap` (from
/// [`newest_past_cap`]), oldest first. Returns how many went.
pub async fn delete_through(
    conn: &impl Conn,
    org_id: OrgId,
    newest_past_cap: RequestLogId,
    limit: u64,
) -> StoreResult<u64> {
    let raw = conn.raw();
    Ok(raw
        .execute_raw(statement(
            raw.get_database_backend(),
            "DELETE FROM scim_request_log WHERE id IN (SELECT id FROM scim_request_log \
             WHERE org_id = ? AND id <= ? ORDER BY id LIMIT ?)",
            vec![
                org_id.0.into(),
                newest_past_cap.0.into(),
                (limit as i64).into(),
            ],
        ))
        .await?
        .rows_affected())
}

#[cfg(test)]
mod unnest_tests {
    #[test]
    fn the_array_insert_binds_each_column_in_order_and_reads_null_bits() {
        let nullable = super::NULLABLE
            .iter()
            .enumerate()
            .map(|(bit, c)| format!("CASE WHEN t.nulls & {} = 0 THEN t.{c} END", 1 << bit))
            .collect::<Vec<_>>()
            .join(", ");
        let text_arrays = (8..=16)
            .map(|n| format!("${n}::text[]"))
            .collect::<Vec<_>>()
            .join(", ");
        let names = super::NULLABLE.join(", ");
        assert_eq!(
            super::unnest_sql(),
            format!(
                "INSERT INTO scim_request_log (org_id, method, path, status, duration_us, \
                 created_at, {names}) SELECT t.org_id, t.method, t.path, t.status, \
                 t.duration_us, t.created_at, {nullable} FROM unnest($1::int8[], $2::text[], \
                 $3::text[], $4::int4[], $5::int8[], $6::timestamptz[], $7::int4[], \
                 {text_arrays}) AS t(org_id, method, path, status, duration_us, created_at, \
                 nulls, {names})"
            )
        );
        assert!(
            super::unnest_sql().contains("CASE WHEN t.nulls & 256 = 0 THEN t.response_body END")
        );
    }
}
