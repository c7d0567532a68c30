//! `POST /Bulk` (RFC 7644 §3.7): operations run one by one through the same services as single
//! requests (each in its own transaction), `bulkId:` references are replaced by the ids the
//! operations that define them created, `failOnErrors` stops the run, and the limits announced in
//! ServiceProviderConfig are enforced with 413.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use scim_core::error::ScimError;
use scim_core::patch::PatchRequest;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::ScimApi;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::handlers::{parse_body, scim_response};
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
    let ctx = caller.ctx(&api);
    let base = ctx.base_url();
    let mut ids: HashMap<String, String> = HashMap::new();
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
                let err = ApiError(ScimError::invalid_value(
                    "the operation references a bulkId that no operation defines",
                ));
                results[index] = Some(result_json(op, &Err(err), &base, &op.path));
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
