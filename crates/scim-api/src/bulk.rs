//! `POST /Bulk` (RFC 7644 §3.7): operations run one by one through the same services as single
//! requests (each in its own transaction), `bulkId:` references are replaced by the ids the
//! operations that define them created, `failOnErrors` stops the run, and the limits announced in
//! ServiceProviderConfig are enforced with 413.

use std::collections::{BTreeSet, HashMap};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use scim_core::error::ScimError;
use scim_core::patch::PatchRequest;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::ScimApi;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::handlers::{parse_body, resource_id, scim_response};
use usecases::scim::{Ctx, groups, users};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BulkRequest {
    #[serde(default)]
    fail_on_errors: Option<usize>,
    #[serde(rename = "Operations", alias = "operations", default)]
    operations: Vec<Operation>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Operation {
    method: String,
    #[serde(default)]
    bulk_id: Option<String>,
    #[serde(default)]
    path: String,
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    version: Option<String>,
}

/// What one operation produced.
struct Done {
    status: StatusCode,
    location: Option<String>,
    id: Option<String>,
}

/// Replaces every `bulkId:x` string (whole value or path segment) by its created id; `Err` names
/// the first reference that is not resolved yet.
fn resolve(value: &Value, ids: &HashMap<String, String>) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) => match s.strip_prefix("bulkId:") {
            Some(reference) => Value::String(
                ids.get(reference)
                    .cloned()
                    .ok_or_else(|| reference.to_owned())?,
            ),
            None => value.clone(),
        },
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| resolve(v, ids))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), resolve(v, ids)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// Every `bulkId:x` an operation references, in its path or anywhere in its data.
fn references(op: &Operation) -> BTreeSet<String> {
    fn walk(value: &Value, out: &mut BTreeSet<String>) {
        match value {
            Value::String(s) => {
                if let Some(reference) = s.strip_prefix("bulkId:") {
                    out.insert(reference.to_owned());
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            Value::Object(map) => map.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out: BTreeSet<String> = op
        .path
        .split('/')
        .filter_map(|segment| segment.strip_prefix("bulkId:"))
        .map(str::to_owned)
        .collect();
    if let Some(data) = &op.data {
        walk(data, &mut out);
    }
    out
}

/// The operation defining each `bulkId`. RFC 7644 §3.7 requires a bulkId to be unique within a
/// request: two operations sharing one would make every reference to it ambiguous, so the whole
/// request is refused before anything runs.
fn defined_bulk_ids(operations: &[Operation]) -> ApiResult<HashMap<&str, usize>> {
    let mut defined = HashMap::new();
    for (index, op) in operations.iter().enumerate() {
        let Some(bulk_id) = op.bulk_id.as_deref() else {
            continue;
        };
        if let Some(first) = defined.insert(bulk_id, index) {
            return Err(ScimError::invalid_value(format!(
                "bulkId {} is used by Operations[{first}] and Operations[{index}]; each bulkId must be unique within a request",
                serde_json::Value::from(bulk_id)
            ))
            .into());
        }
    }
    Ok(defined)
}

/// Why an operation still waiting when no other can run will never run: its first reference
/// that nothing defines (400), whose operation failed (409), or that is part of, or depends on,
/// a cycle of references (409, RFC 7644 §3.7.1: "MAY stop after a failed attempt and instead
/// return HTTP status code 409 (Conflict)").
fn unresolvable(
    index: usize,
    operations: &[Operation],
    references: &[BTreeSet<String>],
    defined: &HashMap<&str, usize>,
    ids: &HashMap<String, String>,
    ran: &[bool],
) -> ScimError {
    let pending = |i: usize| -> Vec<&String> {
        references
            .get(i)
            .into_iter()
            .flatten()
            .filter(|r| !ids.contains_key(*r))
            .collect()
    };
    let refs = pending(index);
    if let Some(undefined) = refs.iter().find(|r| !defined.contains_key(r.as_str())) {
        return ScimError::invalid_value(format!(
            "the operation references bulkId:{undefined}, which no operation of this request defines"
        ));
    }
    if let Some((reference, definer)) = refs
        .iter()
        .filter_map(|r| Some((r, *defined.get(r.as_str())?)))
        .find(|(_, definer)| ran.get(*definer).copied().unwrap_or(false))
    {
        return ScimError::conflict(format!(
            "bulkId:{reference} was not created: Operations[{definer}] failed or created no resource"
        ));
    }
    // Every reference is to an operation that is itself waiting: follow them until one repeats.
    let mut chain: Vec<usize> = vec![index];
    let mut current = index;
    loop {
        let next = pending(current).iter().find_map(|r| {
            let definer = *defined.get(r.as_str())?;
            (!ran.get(definer).copied().unwrap_or(true)).then_some(definer)
        });
        let Some(next) = next else {
            // `current` waits on something other than a cycle (reported on its own result).
            return ScimError::conflict(format!(
                "the operation depends on Operations[{current}], which cannot run"
            ));
        };
        if let Some(start) = chain.iter().position(|&i| i == next) {
            let cycle: Vec<&str> = chain[start..]
                .iter()
                .chain(std::iter::once(&next))
                .filter_map(|&i| operations.get(i)?.bulk_id.as_deref())
                .collect();
            let cycle = cycle.join(" → ");
            return ScimError::conflict(if start == 0 {
                format!(
                    "circular bulkId references ({cycle}): these operations reference each other's bulkId and are not run"
                )
            } else {
                format!(
                    "the operation depends on circular bulkId references ({cycle}), which are not run"
                )
            });
        }
        chain.push(next);
        current = next;
    }
}

fn resolve_path(path: &str, ids: &HashMap<String, String>) -> Result<String, String> {
    path.split('/')
        .map(|segment| match segment.strip_prefix("bulkId:") {
            Some(reference) => ids
                .get(reference)
                .cloned()
                .ok_or_else(|| reference.to_owned()),
            None => Ok(segment.to_owned()),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(|segments| segments.join("/"))
}

fn data(op: &Operation) -> ApiResult<&Value> {
    op.data
        .as_ref()
        .ok_or_else(|| ScimError::invalid_syntax("the operation has no data").into())
}

fn created(resource: &Value) -> Done {
    Done {
        status: StatusCode::CREATED,
        location: resource
            .pointer("/meta/location")
            .and_then(Value::as_str)
            .map(str::to_owned),
        id: resource
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_owned),
    }
}

fn updated(resource: &Value) -> Done {
    Done {
        status: StatusCode::OK,
        ..created(resource)
    }
}

async fn run(
    ctx: Ctx<'_>,
    op: &Operation,
    path: &str,
    data_value: Option<Value>,
) -> ApiResult<Done> {
    let method = op.method.to_ascii_uppercase();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let if_match = op.version.as_deref();
    let patch = |v: Value| -> ApiResult<PatchRequest> {
        serde_json::from_value(v)
            .map_err(|e| ScimError::invalid_syntax(format!("not a PatchOp request: {e}")).into())
    };
    let data = || -> ApiResult<Value> { data_value.clone().map_or_else(|| data(op).cloned(), Ok) };
    if let [kind @ ("Users" | "Groups"), id] = segments.as_slice() {
        resource_id(kind.trim_end_matches('s'), id)?;
    }
    match (method.as_str(), segments.as_slice()) {
        ("POST", ["Users"]) => Ok(created(&users::create(ctx, data()?).await?)),
        ("POST", ["Groups"]) => Ok(created(&groups::create(ctx, data()?).await?)),
        ("PUT", ["Users", id]) => Ok(updated(&users::replace(ctx, id, &data()?, if_match).await?)),
        ("PUT", ["Groups", id]) => Ok(updated(
            &groups::replace(ctx, id, &data()?, if_match, false).await?,
        )),
        ("PATCH", ["Users", id]) => Ok(updated(
            &users::patch(ctx, id, &patch(data()?)?, if_match).await?,
        )),
        ("PATCH", ["Groups", id]) => Ok(updated(
            &groups::patch(ctx, id, &patch(data()?)?, if_match, false).await?,
        )),
        ("DELETE", ["Users", id]) => {
            users::delete(ctx, id, if_match).await?;
            Ok(Done {
                status: StatusCode::NO_CONTENT,
                location: None,
                id: None,
            })
        }
        ("DELETE", ["Groups", id]) => {
            groups::delete(ctx, id, if_match).await?;
            Ok(Done {
                status: StatusCode::NO_CONTENT,
                location: None,
                id: None,
            })
        }
        _ => Err(ScimError::invalid_path(format!(
            "{} {path} is not a supported bulk operation",
            op.method
        ))
        .into()),
    }
}

fn result_json(op: &Operation, outcome: &Result<Done, ApiError>, base: &str, path: &str) -> Value {
    let mut out = json!({"method": op.method});
    if let Some(bulk_id) = &op.bulk_id {
        out["bulkId"] = json!(bulk_id);
    }
    match outcome {
        Ok(done) => {
            out["status"] = json!(done.status.as_u16().to_string());
            let location = done.location.clone().or_else(|| {
                (op.method.eq_ignore_ascii_case("DELETE")).then(|| format!("{base}{path}"))
            });
            if let Some(location) = location {
                out["location"] = json!(location);
            }
        }
        Err(err) => {
            out["status"] = json!(err.0.status.to_string());
            out["response"] = serde_json::to_value(&err.0).unwrap_or_default();
        }
    }
    out
}

/// `POST /Bulk`.
pub async fn handle(
    api: web::Data<ScimApi>,
    caller: Caller,
    req: HttpRequest,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let settings = &api.settings;
    if body.len() > settings.bulk_max_payload {
        return Err(ScimError::payload_too_large(format!(
            "the bulk request is {} bytes; maxPayloadSize is {}",
            body.len(),
            settings.bulk_max_payload
        ))
        .into());
    }
    let request: BulkRequest = serde_json::from_value(parse_body(&req, &body)?)
        .map_err(|e| ScimError::invalid_syntax(format!("not a BulkRequest: {e}")))?;
    if request.operations.len() > settings.bulk_max_operations {
        return Err(ScimError::payload_too_large(format!(
            "the bulk request has {} operations; maxOperations is {}",
            request.operations.len(),
            settings.bulk_max_operations
        ))
        .into());
    }
    let defined = defined_bulk_ids(&request.operations)?;
    let refs: Vec<BTreeSet<String>> = request.operations.iter().map(references).collect();
    let ctx = caller.ctx(&api);
    let base = ctx.base_url();
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut ran = vec![false; request.operations.len()];
    let mut results: Vec<Option<Value>> = vec![None; request.operations.len()];
    let mut pending: Vec<usize> = (0..request.operations.len()).collect();
    let mut errors = 0;
    // Operations whose bulkId references are not defined yet wait for a later pass; a pass that
    // makes no progress reports what is left as unresolvable.
    while !pending.is_empty() {
        let mut waiting = Vec::new();
        let mut progressed = false;
        for index in pending {
            let op = &request.operations[index];
            // Not before everything it references was created (checked without walking its data).
            if !refs[index].iter().all(|r| ids.contains_key(r)) {
                waiting.push(index);
                continue;
            }
            let resolved = resolve_path(&op.path, &ids).and_then(|path| {
                op.data
                    .as_ref()
                    .map(|d| resolve(d, &ids))
                    .transpose()
                    .map(|d| (path, d))
            });
            let (path, data) = match resolved {
                Ok(ok) => ok,
                Err(_) => {
                    waiting.push(index);
                    continue;
                }
            };
            progressed = true;
            ran[index] = true;
            let outcome = run(ctx, op, &path, data).await;
            if let (Ok(done), Some(bulk_id)) = (&outcome, &op.bulk_id)
                && let Some(id) = &done.id
            {
                ids.insert(bulk_id.clone(), id.clone());
            }
            errors += usize::from(outcome.is_err());
            results[index] = Some(result_json(op, &outcome, &base, &path));
            if request.fail_on_errors.is_some_and(|limit| errors >= limit) {
                break;
            }
        }
        if request.fail_on_errors.is_some_and(|limit| errors >= limit) {
            break;
        }
        if !progressed {
            for index in waiting {
                let op = &request.operations[index];
                let err = unresolvable(index, &request.operations, &refs, &defined, &ids, &ran);
                results[index] = Some(result_json(op, &Err(ApiError(err)), &base, &op.path));
            }
            break;
        }
        pending = waiting;
    }
    let body = json!({
        "schemas": [scim_core::schema::BULK_RESPONSE],
        "Operations": results.into_iter().flatten().collect::<Vec<_>>(),
    });
    Ok(scim_response(StatusCode::OK, &body))
}
