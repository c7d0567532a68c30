//! Listing and searching: query parameters as IdPs write them, filters run in the database
//! (`store::scim_filter`; only a user's `groups` other than by id, a group's `members` other than
//! by `value` and `meta.resourceType|location|version` are evaluated over the rows in memory),
//! stable paging by `startIndex`/`count` or RFC 9865 cursors, and projection.

use std::collections::HashMap;

use scim_core::error::ScimError;
use scim_core::filter::{Filter, parse_filter};
use scim_core::list::JsonText;
use scim_core::projection::Projection;
use scim_core::schema::ResourceSchema;
use serde_json::Value;
use store::ids::{ScimGroupId, ScimUserId};
use store::repo::resource_counts;
use store::repo::scim_groups::{self, GroupPageRequest, GroupSort};
use store::repo::scim_users::{self, StoredUser, UserPageRequest, UserSort};
use store::{Conn, scim_filter};

use super::Ctx;

use super::resource::{user_json, user_resource};

/// The parameters of a list or `.search` request.
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    /// `filter`.
    pub filter: Option<String>,
    /// `startIndex` (1-based).
    pub start_index: Option<i64>,
    /// `count`.
    pub count: Option<i64>,
    /// `sortBy`.
    pub sort_by: Option<String>,
    /// `sortOrder`.
    pub sort_order: Option<String>,
    /// `attributes`.
    pub attributes: Option<String>,
    /// `excludedAttributes`.
    pub excluded_attributes: Option<String>,
    /// RFC 9865 `cursor` (empty: the first page of a cursor-paged query).
    pub cursor: Option<String>,
}

impl ListRequest {
    /// From a query string's parameters, names matched case-insensitively; unknown parameters
    /// (such as Entra's `aadOptscim062020`) are ignored.
    pub fn from_query(params: &HashMap<String, String>) -> crate::Result<Self> {
        let mut request = Self::default();
        for (key, value) in params {
            let value = Some(value.clone());
            match key.to_ascii_lowercase().as_str() {
                "filter" => request.filter = value,
                "startindex" => {
                    request.start_index = Some(parse_int("startIndex", value.as_deref())?)
                }
                "count" => request.count = Some(parse_int("count", value.as_deref())?),
                "sortby" => request.sort_by = value,
                "sortorder" => request.sort_order = value,
                "attributes" => request.attributes = value,
                "excludedattributes" => request.excluded_attributes = value,
                "cursor" => request.cursor = value,
                _ => {}
            }
        }
        Ok(request)
    }

    /// From a `.search` body (`SearchRequest`).
    pub fn from_search(body: &Value) -> crate::Result<Self> {
        let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
        let list = |key: &str| match body.get(key) {
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        let int = |key: &str| -> crate::Result<Option<i64>> {
            match body.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v.as_i64().map(Some).ok_or_else(|| {
                    ScimError::invalid_value(format!("{key} must be an integer")).into()
                }),
            }
        };
        Ok(Self {
            filter: text("filter"),
            start_index: int("startIndex")?,
            count: int("count")?,
            sort_by: text("sortBy"),
            sort_order: text("sortOrder"),
            attributes: list("attributes"),
            excluded_attributes: list("excludedAttributes"),
            cursor: text("cursor"),
        })
    }

    /// The projection these parameters ask for.
    pub fn projection(&self, schema: &ResourceSchema) -> crate::Result<Projection> {
        Ok(Projection::from_params(
            self.attributes.as_deref(),
            self.excluded_attributes.as_deref(),
            schema,
        )?)
    }
}

fn parse_int(name: &str, value: Option<&str>) -> crate::Result<i64> {
    value
        .unwrap_or_default()
        .trim()
        .parse()
        .map_err(|_| ScimError::invalid_value(format!("{name} must be an integer")).into())
}

/// The page a request asks for: `startIndex` below 1 means 1, a negative `count` means 0, and
/// `count` is capped at the server's maximum.
fn window(request: &ListRequest, default_count: u64, max: u64) -> (u64, u64) {
    let start = request.start_index.unwrap_or(1).max(1);
    let count = request
        .count
        .map_or(default_count, |c| u64::try_from(c.max(0)).unwrap_or(0))
        .min(max);
    (u64::try_from(start).unwrap_or(1), count)
}

fn ascending(request: &ListRequest) -> bool {
    !request
        .sort_order
        .as_deref()
        .is_some_and(|o| o.eq_ignore_ascii_case("descending"))
}

fn parsed_filter(request: &ListRequest) -> crate::Result<Option<Filter>> {
    request
        .filter
        .as_deref()
        .filter(|f| !f.trim().is_empty())
        .map(parse_filter)
        .transpose()
        .map_err(Into::into)
}

/// One page of resources, already projected.
#[derive(Debug)]
pub struct Page {
    /// Matching resources in all pages.
    pub total: u64,
    /// 1-based index of the first resource of this page (index paging).
    pub start_index: Option<u64>,
    /// The cursor of the next page (cursor paging; absent on the last page).
    pub next_cursor: Option<String>,
    /// This page, each resource written as it is answered.
    pub resources: Vec<JsonText>,
}

impl Page {
    /// The page's resources as values.
    pub fn values(&self) -> Vec<Value> {
        self.resources.iter().map(JsonText::to_value).collect()
    }
}

/// Where a page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    /// 0-based offset into the ordered results.
    Offset(u64),
    /// After this row id (keyset: stable while rows are added or removed).
    AfterId(i64),
}

/// How the request pages: by `startIndex`, or by cursor.
#[derive(Debug, Clone, Copy)]
struct Paging {
    position: Position,
    count: u64,
    cursor: bool,
}

impl Paging {
    fn offset(&self) -> u64 {
        match self.position {
            Position::Offset(offset) => offset,
            Position::AfterId(_) => 0,
        }
    }

    fn after_id(&self) -> Option<i64> {
        match self.position {
            Position::AfterId(id) => Some(id),
            Position::Offset(_) => None,
        }
    }
}

/// One list request of one resource type: where its cursors come from and go to.
#[derive(Clone, Copy)]
struct Listing<'a> {
    ctx: Ctx<'a>,
    kind: &'static str,
    request: &'a ListRequest,
}

impl Listing<'_> {
    /// The fingerprint a cursor is bound to: organization, resource type, filter and sort.
    fn context(&self) -> String {
        let request = self.request;
        store::secret::sha256_hex(&format!(
            "{}|{}|{}|{}|{}",
            self.ctx.scope().org_uid(),
            self.kind,
            request.filter.as_deref().unwrap_or_default(),
            request.sort_by.as_deref().unwrap_or_default(),
            request.sort_order.as_deref().unwrap_or_default(),
        ))
    }

    /// How the request pages; `keyset` when rows are read in id order, so a cursor can carry
    /// the last id rather than an offset.
    fn paging(&self, keyset: bool) -> crate::Result<Paging> {
        let settings = &self.ctx.settings;
        let (start, count) = window(self.request, settings.default_count, settings.max_results);
        let Some(cursor) = self.request.cursor.as_deref().map(str::trim) else {
            return Ok(Paging {
                position: Position::Offset(start - 1),
                count,
                cursor: false,
            });
        };
        let malformed = || ScimError::invalid_cursor("the cursor is malformed");
        let position = if cursor.is_empty() {
            if keyset {
                Position::AfterId(0)
            } else {
                Position::Offset(0)
            }
        } else {
            let payload =
                settings
                    .cursor
                    .decode_for(cursor, &self.context(), chrono::Utc::now())?;
            match payload.position.split_once(':') {
                Some(("id", id)) => Position::AfterId(id.parse().map_err(|_| malformed())?),
                Some(("off", offset)) => Position::Offset(offset.parse().map_err(|_| malformed())?),
                _ => return Err(malformed().into()),
            }
        };
        Ok(Paging {
            position,
            count,
            cursor: true,
        })
    }

    /// Finishes a page: the next cursor when cursor paging and more results follow.
    fn finish(
        &self,
        paging: Paging,
        total: u64,
        resources: Vec<JsonText>,
        last_id: Option<i64>,
        more: bool,
    ) -> Page {
        if !paging.cursor {
            return Page {
                total,
                start_index: Some(paging.offset() + 1),
                next_cursor: None,
                resources,
            };
        }
        let next = more.then(|| {
            let position = match (paging.position, last_id) {
                (Position::AfterId(_), Some(id)) => format!("id:{id}"),
                _ => format!("off:{}", paging.offset() + resources.len() as u64),
            };
            let payload = scim_core::cursor::CursorPayload {
                position,
                context: self.context(),
            };
            let settings = &self.ctx.settings;
            settings.cursor.encode(&payload, settings.cursor_ttl)
        });
        Page {
            total,
            start_index: None,
            next_cursor: next,
            resources,
        }
    }
}

fn user_sort(sort_by: Option<&str>) -> UserSort {
    match sort_by.map(str::to_ascii_lowercase).as_deref() {
        Some("username") => UserSort::UserName,
        Some("displayname") => UserSort::DisplayName,
        Some("externalid") => UserSort::ExternalId,
        Some("name.familyname") => UserSort::FamilyName,
        Some("meta.created") => UserSort::Created,
        Some("meta.lastmodified") => UserSort::LastModified,
        _ => UserSort::Id,
    }
}

fn group_sort(sort_by: Option<&str>) -> GroupSort {
    match sort_by.map(str::to_ascii_lowercase).as_deref() {
        Some("displayname") => GroupSort::DisplayName,
        Some("externalid") => GroupSort::ExternalId,
        Some("meta.created") => GroupSort::Created,
        Some("meta.lastmodified") => GroupSort::LastModified,
        _ => GroupSort::Id,
    }
}

/// `GET /Users` and `POST /Users/.search`.
pub async fn users(ctx: Ctx<'_>, request: &ListRequest) -> crate::Result<Page> {
    let schema = ResourceSchema::user();
    let projection = request.projection(schema)?;
    let filter = parsed_filter(request)?;
    let base = ctx.base_url();
    let db = ctx.core.db();
    let scope = ctx.scope();
    let with_groups = projection.wants_attribute("groups");
    let listing = Listing {
        ctx,
        kind: "Users",
        request,
    };
    let sort = (user_sort(request.sort_by.as_deref()), ascending(request));

    let condition = match &filter {
        None => None,
        Some(f) => Some(
            scim_filter::user_condition(f, scope, db.is_postgres())
                .ok_or_else(|| unsupported(f))?,
        ),
    };
    let in_id_order = sort.0 == UserSort::Id && sort.1;
    let paging = listing.paging(in_id_order)?;
    let mut page_request = UserPageRequest {
        condition,
        sort,
        offset: paging.offset(),
        // One row more than asked tells whether another page follows.
        limit: paging.count + 1,
        after_id: paging.after_id().map(ScimUserId),
        skip_from: None,
        total: None,
        with_groups,
    };
    // A deep page of every user in id order (an IdP's import by `startIndex`) starts from the
    // nearest position this replica has marked.
    if page_request.condition.is_none()
        && in_id_order
        && page_request.after_id.is_none()
        && page_request.offset >= ctx.settings.mark_every
    {
        let counts = resource_counts::counts(db, scope, resource_counts::Kind::Users).await?;
        let start = ctx
            .core
            .positions()
            .start(
                db,
                scope,
                counts,
                page_request.offset,
                ctx.settings.mark_every,
            )
            .await?;
        if let Some(start) = start {
            page_request.skip_from = Some(start.from);
            page_request.offset = start.offset;
            page_request.total = Some(counts.total);
        }
    }
    let (total, mut rows) = match filter.as_ref().and_then(|f| bound(ctx, f)) {
        None => scim_users::page::<StoredUser>(db, scope, &page_request).await?,
        Some(limit) => {
            let txn = store::db::begin_bounded(db, limit).await?;
            let page = scim_users::page::<StoredUser>(&txn, scope, &page_request)
                .await
                .map_err(|e| timed_out(e, limit))?;
            txn.commit().await?;
            page
        }
    };
    let more = rows.len() as u64 > paging.count;
    rows.truncate(usize::try_from(paging.count).unwrap_or(usize::MAX));
    // What Okta's and Entra's imports and lookups ask for, every stored attribute, is spliced
    // from the stored text; a projection is applied to the parsed resource.
    let everything = projection.returns_everything_stored();
    let resources = rows
        .iter()
        .map(|row| {
            let groups = row.groups.as_deref();
            if everything {
                return user_json(row.user.stored(), &base, groups);
            }
            JsonText::of(
                &projection.apply(&user_resource(row.user.stored(), &base, groups), schema),
            )
        })
        .collect();
    let last_id = rows.last().map(|r| r.user.id.0);
    Ok(listing.finish(paging, total, resources, last_id, more))
}

/// `GET /Groups` and `POST /Groups/.search`. Members are loaded only when the projection wants
/// them, so `excludedAttributes=members` never touches the member rows.
pub async fn groups(ctx: Ctx<'_>, request: &ListRequest) -> crate::Result<Page> {
    let schema = ResourceSchema::group();
    let projection = request.projection(schema)?;
    let filter = parsed_filter(request)?;
    let with_members = projection.wants_attribute("members");
    let (db, scope) = (ctx.core.db(), ctx.scope());
    let listing = Listing {
        ctx,
        kind: "Groups",
        request,
    };
    let sort = (group_sort(request.sort_by.as_deref()), ascending(request));

    let condition = match &filter {
        None => None,
        Some(f) => {
            Some(scim_filter::group_condition(f, db.is_postgres()).ok_or_else(|| unsupported(f))?)
        }
    };
    let paging = listing.paging(sort.0 == GroupSort::Id && sort.1)?;
    let page_request = GroupPageRequest {
        condition,
        sort,
        offset: paging.offset(),
        limit: paging.count + 1,
        after_id: paging.after_id().map(ScimGroupId),
    };
    let (total, mut rows) = match filter.as_ref().and_then(|f| bound(ctx, f)) {
        None => scim_groups::page(db, scope, &page_request).await?,
        Some(limit) => {
            let txn = store::db::begin_bounded(db, limit).await?;
            let page = scim_groups::page(&txn, scope, &page_request)
                .await
                .map_err(|e| timed_out(e, limit))?;
            txn.commit().await?;
            page
        }
    };
    let more = rows.len() as u64 > paging.count;
    rows.truncate(usize::try_from(paging.count).unwrap_or(usize::MAX));
    let mut resources = Vec::with_capacity(rows.len());
    for row in &rows {
        let resource = super::groups::render(ctx, row, with_members).await?;
        resources.push(JsonText::of(&projection.apply(&resource, schema)));
    }
    let last_id = rows.last().map(|r| r.id.0);
    Ok(listing.finish(paging, total, resources, last_id, more))
}

/// A filter naming something no row holds (`meta.location`, `meta.version`, a group member's
/// `display`, …) is refused rather than evaluated over the organization in memory (RFC 7644
/// §3.4.2.2: "the specified attribute and filter comparison combination is not supported").
fn unsupported(filter: &Filter) -> crate::Error {
    ScimError::invalid_filter(format!(
        "the filter {filter} compares an attribute this server does not filter on (meta.location, \
         meta.version, a group's members other than by value, a user's groups other than by \
         value or display)"
    ))
    .into()
}

/// The time limit of a filter that no index serves: anything but `eq`, `and` and `or` of them
/// (`co`, `sw`, `ew`, ordering, `ne`, `not`, `pr`, value paths) may read every row of a large
/// organization, so it runs under `scim.filter_timeout_ms`. The IdPs' own lookups (`userName eq`,
/// `externalId eq`, `displayName eq`) never do.
fn bound(ctx: Ctx<'_>, filter: &Filter) -> Option<std::time::Duration> {
    fn indexed(filter: &Filter) -> bool {
        match filter {
            Filter::Compare { op, .. } => *op == scim_core::filter::CompareOp::Eq,
            Filter::And(l, r) | Filter::Or(l, r) => indexed(l) && indexed(r),
            Filter::Not(_) | Filter::Present(_) | Filter::ValuePath { .. } => false,
        }
    }
    (!indexed(filter)).then(|| ctx.core.settings().scim_filter_timeout)
}

/// A statement cut short by the time limit is the request's doing: `400 tooMany`.
fn timed_out(err: store::StoreError, limit: std::time::Duration) -> crate::Error {
    match err {
        store::StoreError::TimedOut => ScimError::too_many(format!(
            "the filter needs more than {} ms of database time in this organization; narrow it \
             (eq on userName, externalId, displayName or any attribute is served by an index)",
            limit.as_millis()
        ))
        .into(),
        other => other.into(),
    }
}
