//! The PATCH engine (RFC 7644 §3.5.2), applied atomically to a copy of the resource, tolerant of
//! what Okta, Entra ID and OneLogin send, and returning a [`ChangeSet`] so group membership is
//! written as row inserts/deletes without loading the group.
//!
//! Policies (documented once, applied everywhere):
//! - **Unknown attributes** (not in the resource type's schemas), in a `path` or in a path-less
//!   value, are ignored: IdPs send attributes the admin has not mapped yet, and failing the whole
//!   provisioning run for them helps nobody. Malformed paths are still `invalidPath`.
//! - **readOnly** attributes (`id`, `meta`, `groups`) in a path-less value are ignored; naming one
//!   in `path` is a `mutability` error. Changing an **immutable** attribute that has a value is a
//!   `mutability` error. Removing a **required** attribute is `invalidValue`.
//! - **writeOnly** attributes (`password`) are accepted and discarded: scimgate never stores them.
//! - Setting a value to `null` or `[]` unassigns it (RFC 7643 §2.5).
//! - `remove` of a filter that matches nothing is a no-op (idempotent retries);
//!   `add`/`replace` of a filter that matches nothing creates the value from the filter's
//!   `eq` comparisons (`emails[type eq "work"].value`).

mod members;
mod ops;

use std::collections::BTreeSet;

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::schema::{Mutability, ResourceSchema};

/// A PATCH request body (`urn:ietf:params:scim:api:messages:2.0:PatchOp`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PatchRequest {
    /// Message schemas; not enforced, as some clients omit them.
    #[serde(default)]
    pub schemas: Vec<String>,
    /// The operations, applied in order. An empty list is a no-op.
    #[serde(rename = "Operations", alias = "operations", default)]
    pub operations: Vec<PatchOp>,
}

/// One PATCH operation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PatchOp {
    /// `add`, `replace` or `remove`, in any case (Entra sends `Add`, `Replace`, `Remove`).
    pub op: PatchOpKind,
    /// Attribute path; absent means the resource itself.
    #[serde(default)]
    pub path: Option<String>,
    /// The value; `null` and absent are the same (unassign).
    #[serde(default)]
    pub value: Option<Value>,
}

/// The operation kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOpKind {
    /// `add`.
    Add,
    /// `replace`.
    Replace,
    /// `remove`.
    Remove,
}

impl PatchOpKind {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Replace => "replace",
            Self::Remove => "remove",
        }
    }
}

impl<'de> Deserialize<'de> for PatchOpKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.to_ascii_lowercase().as_str() {
            "add" => Ok(Self::Add),
            "replace" => Ok(Self::Replace),
            "remove" => Ok(Self::Remove),
            _ => Err(serde::de::Error::custom(format!(
                "unknown PATCH op {s:?}: expected add, replace or remove"
            ))),
        }
    }
}

impl PatchRequest {
    /// Parses a request body, mapping JSON errors to `invalidSyntax` with serde's explanation.
    pub fn from_json(body: &[u8]) -> Result<Self, ScimError> {
        serde_json::from_slice(body)
            .map_err(|e| ScimError::invalid_syntax(format!("invalid PATCH request: {e}")))
    }
}

/// What a PATCH changed, so the store can write rows instead of documents.
///
/// Member changes are to be applied in this order: if `members_cleared`, delete every membership
/// row; then delete `members_removed`; then insert `members_added`. The two lists never share
/// an id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeSet {
    /// Attributes whose value changed: top-level names (`name`, `emails`) and, for extension
    /// attributes, `urn:…:attr`. `members` is never listed here.
    pub attributes: BTreeSet<String>,
    /// Member ids (the `value` strings) to add, in request order, without duplicates.
    pub members_added: Vec<String>,
    /// Member ids to remove.
    pub members_removed: Vec<String>,
    /// Whether every existing member is removed first (`replace members`, `remove members`).
    pub members_cleared: bool,
    /// The `display` the client sent for added members, by member id.
    pub member_displays: std::collections::BTreeMap<String, String>,
}

impl ChangeSet {
    /// Whether the PATCH changed nothing (no new version, no event).
    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty()
            && self.members_added.is_empty()
            && self.members_removed.is_empty()
            && !self.members_cleared
    }
}

/// The result of a successful PATCH.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOutcome {
    /// The new resource (for groups, still without `members`).
    pub resource: Value,
    /// What changed.
    pub changes: ChangeSet,
}

/// Most operations one request may carry; bounds the work of a single request.
pub const MAX_OPERATIONS: usize = 10_000;

/// Applies `request` to a copy of `resource`. On any error nothing is applied: the caller's
/// resource is untouched and the error names the failing operation.
pub fn apply_patch(
    schema: &ResourceSchema,
    resource: &Value,
    request: &PatchRequest,
) -> Result<PatchOutcome, ScimError> {
    let Value::Object(original) = resource else {
        return Err(ScimError::invalid_value(
            "the resource to patch must be a JSON object",
        ));
    };
    if request.operations.len() > MAX_OPERATIONS {
        return Err(ScimError::too_many(format!(
            "a PATCH request may carry at most {MAX_OPERATIONS} operations, this one has {}",
            request.operations.len()
        )));
    }
    let mut doc = original.clone();
    let mut members = members::MemberChanges::default();
    for (index, op) in request.operations.iter().enumerate() {
        let mut engine = ops::Engine {
            schema,
            doc: &mut doc,
            members: &mut members,
        };
        check_op_strings(op)
            .and_then(|()| engine.apply(op))
            .map_err(|mut e| {
                let path = op
                    .path
                    .as_deref()
                    .map(|p| match p.contains(char::is_control) {
                        // A NUL or other control character is shown escaped, never raw.
                        true => format!(" {}", p.escape_debug()),
                        false => format!(" {p}"),
                    })
                    .unwrap_or_default();
                e.detail = format!(
                    "Operations[{index}] ({}{path}): {}",
                    op.op.as_str(),
                    e.detail
                );
                e
            })?;
    }
    check_invariants(schema, original, &doc)?;
    crate::limits::check_patched(schema, original, &doc)?;
    let mut changes = members.into_change_set();
    changes.attributes = changed_attributes(schema, original, &doc);
    Ok(PatchOutcome {
        resource: Value::Object(doc),
        changes,
    })
}

/// Refuses a NUL character anywhere in an operation's value, even under an attribute the engine
/// would ignore: no string of a request that can carry one is ever written.
fn check_op_strings(op: &PatchOp) -> Result<(), ScimError> {
    let path = op.path.as_deref().map(str::trim).filter(|p| !p.is_empty());
    match (path, &op.value) {
        (_, None) => Ok(()),
        (Some(path), Some(value)) => crate::limits::check_no_nul(path, value),
        // A path-less value names attributes by its keys: report `name.givenName`, not `value.…`.
        (None, Some(Value::Object(values))) => values.iter().try_for_each(|(key, value)| {
            crate::limits::check_no_nul(key, &Value::String(key.clone()))?;
            crate::limits::check_no_nul(key, value)
        }),
        (None, Some(value)) => crate::limits::check_no_nul("value", value),
    }
}

/// Required attributes stay assigned; immutable attributes keep their value once assigned.
fn check_invariants(
    schema: &ResourceSchema,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> Result<(), ScimError> {
    for attr in &schema.core.attributes {
        let old = before.get(&attr.name);
        let new = after.get(&attr.name);
        if attr.required && old.is_some() && new.is_none() {
            return Err(ScimError::invalid_value(format!(
                "`{}` is required and cannot be removed",
                attr.name
            )));
        }
        if attr.mutability == Mutability::Immutable && old.is_some() && old != new {
            return Err(ScimError::mutability(format!(
                "`{}` is immutable and already has a value",
                attr.name
            )));
        }
    }
    Ok(())
}

fn changed_attributes(
    schema: &ResourceSchema,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> BTreeSet<String> {
    let mut changed = BTreeSet::new();
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for key in keys {
        if key == "schemas" || before.get(key) == after.get(key) {
            continue;
        }
        match schema.extension(key) {
            Some(ext) => {
                let empty = Map::new();
                let old = before.get(key).and_then(Value::as_object).unwrap_or(&empty);
                let new = after.get(key).and_then(Value::as_object).unwrap_or(&empty);
                let inner: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
                for attr in inner {
                    if old.get(attr) != new.get(attr) {
                        changed.insert(format!("{}:{attr}", ext.id));
                    }
                }
            }
            None => {
                changed.insert(key.clone());
            }
        }
    }
    changed
}

#[cfg(test)]
mod tests;
