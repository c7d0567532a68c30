//! Group membership in PATCH. The store keeps members as rows, so the resource given to the
//! engine has no `members`; member operations only accumulate ids in a change set whose cost is
//! independent of the group's size.

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

use super::{ChangeSet, PatchOpKind};
use crate::error::ScimError;
use crate::filter::{CompValue, CompareOp, Filter, PatchPath};
use crate::value::{get_ci, preview};

/// Accumulated member changes, kept consistent across operations of one request.
#[derive(Debug, Default)]
pub(super) struct MemberChanges {
    cleared: bool,
    added: Vec<String>,
    added_set: HashSet<String>,
    removed: Vec<String>,
    removed_set: HashSet<String>,
    displays: BTreeMap<String, String>,
}

impl MemberChanges {
    fn clear(&mut self) {
        *self = Self {
            cleared: true,
            ..Self::default()
        };
    }

    fn add(&mut self, (id, display): (String, Option<String>)) {
        if let Some(display) = display {
            self.displays.insert(id.clone(), display);
        }
        if self.removed_set.remove(&id) {
            self.removed.retain(|r| r != &id);
        }
        if self.added_set.insert(id.clone()) {
            self.added.push(id);
        }
    }

    fn remove(&mut self, id: String) {
        if self.added_set.remove(&id) {
            self.added.retain(|a| a != &id);
        }
        // After a clear every old row is gone already; only un-adding matters.
        if !self.cleared && self.removed_set.insert(id.clone()) {
            self.removed.push(id);
        }
    }

    pub(super) fn into_change_set(mut self) -> ChangeSet {
        self.displays.retain(|id, _| self.added_set.contains(id));
        ChangeSet {
            member_displays: self.displays,
            members_added: self.added,
            members_removed: self.removed,
            members_cleared: self.cleared,
            ..ChangeSet::default()
        }
    }

    /// Applies one operation whose path (or path-less value key) targets `members`.
    pub(super) fn apply(
        &mut self,
        kind: PatchOpKind,
        path: &PatchPath,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        match path {
            PatchPath::Attr(p) if p.sub_attr.is_some() => Err(ScimError::invalid_path(format!(
                "`{p}` cannot be modified: add or remove whole members instead"
            ))),
            PatchPath::Attr(_) => match (kind, value) {
                (PatchOpKind::Add, Some(v)) => {
                    for id in member_ids(v)? {
                        self.add(id);
                    }
                    Ok(())
                }
                (PatchOpKind::Add, None) => Err(ScimError::invalid_value(
                    "`add` on members needs a value: a list of {\"value\": \"<member id>\"}",
                )),
                (PatchOpKind::Replace, v) => {
                    self.clear();
                    for id in v.map(member_ids).transpose()?.unwrap_or_default() {
                        self.add(id);
                    }
                    Ok(())
                }
                (PatchOpKind::Remove, None) => {
                    self.clear();
                    Ok(())
                }
                (PatchOpKind::Remove, Some(v)) => {
                    let ids = member_ids(v)?;
                    if ids.is_empty() {
                        // `"value": []` reads as "remove none", never as "remove all".
                        return Ok(());
                    }
                    for (id, _) in ids {
                        self.remove(id);
                    }
                    Ok(())
                }
            },
            PatchPath::Filtered {
                filter, sub_attr, ..
            } => {
                if kind != PatchOpKind::Remove || sub_attr.is_some() {
                    return Err(ScimError::invalid_path(
                        "a filtered members path is supported only for `remove` of whole members, e.g. members[value eq \"<id>\"]",
                    ));
                }
                let mut ids = Vec::new();
                filter_ids(filter, &mut ids)?;
                for id in ids {
                    self.remove(id);
                }
                Ok(())
            }
        }
    }
}

/// Members from `[{"value": "id", "display": "…"}, …]`; also a single object, bare id strings,
/// and numbers. The `display` a client sends is kept with the member.
pub(crate) fn member_ids(value: &Value) -> Result<Vec<(String, Option<String>)>, ScimError> {
    let items: &[Value] = match value {
        Value::Array(items) => items,
        Value::Null => &[],
        single => std::slice::from_ref(single),
    };
    items
        .iter()
        .map(|item| {
            let display = get_ci(item, "display")
                .and_then(Value::as_str)
                .map(str::to_owned);
            // The display is written to the membership row: the same bounds as any stored string.
            if let Some(display) = &display {
                crate::limits::check_text("members.display", display)?;
            }
            Ok((member_id(item)?, display))
        })
        .collect()
}

fn member_id(item: &Value) -> Result<String, ScimError> {
    let raw = match item {
        Value::Object(_) => get_ci(item, "value"),
        other => Some(other),
    };
    let id = match raw {
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    if id.is_empty() {
        return Err(ScimError::invalid_value(format!(
            "each member needs a non-empty `value` (the member's id), got {}",
            preview(item)
        )));
    }
    crate::limits::check_member_id(&id)?;
    Ok(id)
}

/// Ids named by `value eq "id"`, possibly joined with `or`. Anything else is refused: matching on
/// other member attributes would need the whole membership loaded.
fn filter_ids(filter: &Filter, out: &mut Vec<String>) -> Result<(), ScimError> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::Str(id),
        } if path.urn.is_none()
            && path.sub_attr.is_none()
            && path.attr.eq_ignore_ascii_case("value") =>
        {
            crate::limits::check_member_id(id)?;
            out.push(id.clone());
            Ok(())
        }
        Filter::Or(l, r) => {
            filter_ids(l, out)?;
            filter_ids(r, out)
        }
        other => Err(ScimError::invalid_filter(format!(
            "members filters support only `value eq \"<id>\"` (optionally joined with `or`), or a value list \
             such as {{\"op\":\"remove\",\"path\":\"members\",\"value\":[{{\"value\":\"<id>\"}}]}}; got `{other}`"
        ))),
    }
}
