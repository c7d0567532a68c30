//! Applying one PATCH operation to the working copy: path resolution against the schema,
//! containers for extension attributes, and add/replace/remove on plain, complex, multi-valued
//! and filtered targets.

use serde_json::{Map, Value};

use super::members::MemberChanges;
use super::{PatchOp, PatchOpKind};
use crate::error::ScimError;
use crate::filter::resolve::resolve_element_filter;
use crate::filter::{CompValue, CompareOp, Filter, PatchPath, parse_path};
use crate::schema::{
    AttrLocation, AttrType, AttributeDef, Mutability, ResolvedAttr, ResourceSchema,
    canonical_schema_urn,
};
use crate::value::{coerce, find_key, get_ci, keep_one_primary, remove_ci};

pub(super) struct Engine<'a> {
    pub(super) schema: &'a ResourceSchema,
    pub(super) doc: &'a mut Map<String, Value>,
    pub(super) members: &'a mut MemberChanges,
}

impl Engine<'_> {
    pub(super) fn apply(&mut self, op: &PatchOp) -> Result<(), ScimError> {
        if let Some(path) = op.path.as_deref().filter(|p| !p.trim().is_empty()) {
            if let Some(ext) = self.schema.extension(canonical_schema_urn(path.trim())) {
                let ext_id = ext.id.clone();
                return self.apply_extension(op.op, &ext_id, op.value.clone());
            }
            let path = parse_path(path)?;
            return self.apply_path(op.op, &path, op.value.clone(), false);
        }
        match (op.op, &op.value) {
            (PatchOpKind::Remove, _) => Err(ScimError::no_target(
                "`remove` needs a `path` naming what to remove",
            )),
            (kind, Some(Value::Object(values))) => {
                for (key, value) in values {
                    self.apply_key(kind, key, value.clone())?;
                }
                Ok(())
            }
            _ => Err(ScimError::invalid_value(
                "an add or replace without `path` needs an object value whose keys are attribute names",
            )),
        }
    }

    /// An operation whose path is a whole extension (`urn:…:enterprise:2.0:User`): `remove`
    /// drops it, `replace` sets it to exactly the given object, `add` merges the object in.
    fn apply_extension(
        &mut self,
        kind: PatchOpKind,
        ext_id: &str,
        value: Option<Value>,
    ) -> Result<(), ScimError> {
        if kind != PatchOpKind::Add {
            remove_ci(self.doc, ext_id);
            self.set_schema_listed(ext_id, false);
        }
        match (kind, value) {
            (PatchOpKind::Remove, _) | (_, None | Some(Value::Null)) => Ok(()),
            (_, Some(value @ Value::Object(_))) => self.apply_key(PatchOpKind::Add, ext_id, value),
            (_, Some(other)) => Err(ScimError::invalid_value(format!(
                "the value of `{ext_id}` must be an object of its attributes, got {}",
                crate::value::preview(&other)
            ))),
        }
    }

    /// One key of a path-less value: `userName`, `name.givenName` (dotted, sent by Entra),
    /// `urn:…:User:employeeNumber` (URN-qualified), or an extension URN holding an object.
    fn apply_key(&mut self, kind: PatchOpKind, key: &str, value: Value) -> Result<(), ScimError> {
        if key.eq_ignore_ascii_case("schemas") {
            return Ok(());
        }
        if let Some(ext) = self.schema.extension(canonical_schema_urn(key)) {
            let ext_id = ext.id.clone();
            if let Value::Object(inner) = value {
                for (attr, v) in inner {
                    self.apply_key(kind, &format!("{ext_id}:{attr}"), v)?;
                }
            }
            return Ok(());
        }
        match parse_path(key) {
            Ok(path) => self.apply_path(kind, &path, Some(value), true),
            // A key that is not even a path cannot name a known attribute: unknown, ignored.
            Err(_) => Ok(()),
        }
    }

    fn apply_path(
        &mut self,
        kind: PatchOpKind,
        path: &PatchPath,
        value: Option<Value>,
        pathless: bool,
    ) -> Result<(), ScimError> {
        let schema = self.schema;
        let ap = path.attr_path();
        let sub = ap.sub_attr.as_deref();
        let resolved = match ap.urn.as_deref() {
            Some(urn) => schema.resolve(Some(urn), &ap.attr, sub),
            None => schema
                .resolve(None, &ap.attr, sub)
                .or_else(|| schema.resolve_in_extension(&ap.attr, sub)),
        };
        let Some(resolved) = resolved else {
            return Ok(()); // unknown attribute: ignored (see module docs)
        };
        if resolved.location == AttrLocation::Core
            && resolved.attr.name == "members"
            && schema.core.attribute("members").is_some()
        {
            return self
                .members
                .apply(kind, path, value.as_ref().filter(|v| !v.is_null()));
        }
        let sub_def = match path {
            PatchPath::Filtered {
                sub_attr: Some(s), ..
            } => match resolved.attr.sub_attribute(s) {
                Some(d) => Some(d),
                None => return Ok(()),
            },
            _ => resolved.sub,
        };
        for def in std::iter::once(resolved.attr).chain(sub_def) {
            match def.mutability {
                Mutability::ReadOnly if pathless => return Ok(()),
                Mutability::ReadOnly => {
                    return Err(ScimError::mutability(format!(
                        "`{}` is readOnly and cannot be modified",
                        resolved.qualified_name()
                    )));
                }
                // Write-only values (password) are accepted and never stored.
                Mutability::WriteOnly => return Ok(()),
                _ => {}
            }
        }
        let name = resolved.qualified_name();
        let mut container = self.take_container(resolved);
        let result = match path {
            PatchPath::Attr(_) => match resolved.sub {
                None => op_attr(kind, &mut container, resolved.attr, value, &name),
                Some(sub) => op_sub(kind, &mut container, resolved.attr, sub, value, &name),
            },
            PatchPath::Filtered { filter, .. } => op_filtered(
                kind,
                &mut container,
                resolved.attr,
                filter,
                sub_def,
                value,
                &name,
            ),
        };
        self.put_container(resolved, container);
        result
    }

    /// The object the attribute lives in (the resource, or its extension object), detached.
    fn take_container(&mut self, resolved: ResolvedAttr<'_>) -> Map<String, Value> {
        match resolved.location {
            AttrLocation::Core => std::mem::take(self.doc),
            AttrLocation::Extension(urn) => match remove_ci(self.doc, urn) {
                Some(Value::Object(obj)) => obj,
                _ => Map::new(),
            },
        }
    }

    fn put_container(&mut self, resolved: ResolvedAttr<'_>, container: Map<String, Value>) {
        match resolved.location {
            AttrLocation::Core => *self.doc = container,
            AttrLocation::Extension(urn) => {
                let present = !container.is_empty();
                if present {
                    self.doc.insert(urn.to_owned(), Value::Object(container));
                }
                self.set_schema_listed(urn, present);
            }
        }
    }

    /// Keeps `schemas` listing an extension exactly when the resource carries it.
    fn set_schema_listed(&mut self, urn: &str, listed: bool) {
        let Some(Value::Array(schemas)) = self.doc.get_mut("schemas") else {
            return;
        };
        let has = schemas
            .iter()
            .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)));
        if listed && !has {
            schemas.push(Value::String(urn.to_owned()));
        } else if !listed && has {
            schemas.retain(|s| !s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)));
        }
    }
}

fn set(obj: &mut Map<String, Value>, def: &AttributeDef, value: Option<Value>) {
    remove_ci(obj, &def.name);
    if let Some(v) = value {
        obj.insert(def.name.clone(), v);
    }
}

/// Keys of a raw complex value explicitly set to null: they unassign those sub-attributes.
fn null_keys(def: &AttributeDef, value: &Option<Value>) -> Vec<String> {
    match value {
        Some(Value::Object(obj)) => obj
            .iter()
            .filter(|(_, v)| v.is_null())
            .filter_map(|(k, _)| def.sub_attribute(k).map(|s| s.name.clone()))
            .collect(),
        _ => Vec::new(),
    }
}

fn op_attr(
    kind: PatchOpKind,
    obj: &mut Map<String, Value>,
    def: &AttributeDef,
    value: Option<Value>,
    name: &str,
) -> Result<(), ScimError> {
    if kind == PatchOpKind::Remove {
        match value.filter(|v| !v.is_null()) {
            Some(v) if def.multi_valued => {
                let targets = coerce(def, v, name)?;
                let targets = match targets {
                    Some(Value::Array(t)) => t,
                    _ => Vec::new(),
                };
                if let Some(Value::Array(items)) =
                    find_key(obj, &def.name).and_then(|k| obj.get_mut(&k))
                {
                    items.retain(|item| !targets.iter().any(|t| same_value(def, item, t)));
                    if items.is_empty() {
                        remove_ci(obj, &def.name);
                    }
                }
            }
            _ => {
                remove_ci(obj, &def.name);
            }
        }
        return Ok(());
    }
    let nulls = null_keys(def, &value);
    let meaningful = value.as_ref().is_some_and(|v| !all_unassigned(v));
    let coerced = match value {
        Some(v) => coerce(def, v, name)?,
        None => None,
    };
    let Some(new) = coerced else {
        if def.attr_type == AttrType::Complex && !def.multi_valued && !nulls.is_empty() {
            return op_clear_subs(obj, def, &nulls);
        }
        if meaningful {
            return Err(nothing_to_store(name));
        }
        set(obj, def, None);
        return Ok(());
    };
    if def.multi_valued {
        let merged = match (kind, remove_ci(obj, &def.name), new) {
            (PatchOpKind::Add, Some(Value::Array(mut existing)), Value::Array(added)) => {
                for item in added {
                    if !existing.contains(&item) {
                        existing.push(item);
                    }
                }
                keep_one_primary(&mut existing, true);
                existing
            }
            (_, _, Value::Array(items)) => items,
            (_, _, other) => vec![other],
        };
        set(
            obj,
            def,
            if merged.is_empty() {
                None
            } else {
                Some(Value::Array(merged))
            },
        );
    } else if let (Value::Object(new_subs), AttrType::Complex) = (&new, def.attr_type) {
        // RFC 7644 §3.5.2.1/.3: add and replace on a complex attribute merge sub-attributes.
        let mut current = match remove_ci(obj, &def.name) {
            Some(Value::Object(o)) => o,
            _ => Map::new(),
        };
        for (k, v) in new_subs {
            current.insert(k.clone(), v.clone());
        }
        for k in &nulls {
            current.remove(k);
        }
        set(
            obj,
            def,
            if current.is_empty() {
                None
            } else {
                Some(Value::Object(current))
            },
        );
    } else {
        set(obj, def, Some(new));
    }
    Ok(())
}

/// Whether every leaf of a client value is unassigned (RFC 7643 §2.5): `null`, `""`, `[]`, `{}`,
/// or arrays and objects of only those, such as `[{"$ref": null, "value": null}]`.
fn all_unassigned(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.iter().all(all_unassigned),
        Value::Object(obj) => obj.values().all(all_unassigned),
        _ => false,
    }
}

/// An add or replace whose value held something, but nothing this attribute stores (only unknown
/// or read-only sub-attributes): refused, so a write is never acknowledged and dropped.
fn nothing_to_store(name: &str) -> ScimError {
    ScimError::invalid_value(format!(
        "the value has nothing `{name}` can store: no known, writable sub-attribute with a value"
    ))
}

fn op_clear_subs(
    obj: &mut Map<String, Value>,
    def: &AttributeDef,
    subs: &[String],
) -> Result<(), ScimError> {
    if let Some(Value::Object(current)) = find_key(obj, &def.name).and_then(|k| obj.get_mut(&k)) {
        for s in subs {
            remove_ci(current, s);
        }
        if current.is_empty() {
            remove_ci(obj, &def.name);
        }
    }
    Ok(())
}

/// Whether two values of a multi-valued attribute are the same value: equal `value`
/// sub-attributes (case per `caseExact`) for complex attributes, equality otherwise.
fn same_value(def: &AttributeDef, a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    let value_def = def.sub_attribute("value");
    match (get_ci(a, "value"), get_ci(b, "value"), value_def) {
        (Some(Value::String(x)), Some(Value::String(y)), Some(vd)) => {
            if vd.case_exact {
                x == y
            } else {
                x.to_lowercase() == y.to_lowercase()
            }
        }
        (Some(x), Some(y), _) => x == y,
        _ => false,
    }
}

fn op_sub(
    kind: PatchOpKind,
    obj: &mut Map<String, Value>,
    parent: &AttributeDef,
    sub: &AttributeDef,
    value: Option<Value>,
    name: &str,
) -> Result<(), ScimError> {
    let key = find_key(obj, &parent.name);
    if parent.multi_valued {
        if kind != PatchOpKind::Remove {
            return Err(ScimError::invalid_path(format!(
                "`{name}` is ambiguous on a multi-valued attribute: select values with a filter, e.g. {}[type eq \"work\"].{}",
                parent.name, sub.name
            )));
        }
        if let Some(Value::Array(items)) = key.and_then(|k| obj.get_mut(&k)) {
            for item in items.iter_mut() {
                if let Value::Object(o) = item {
                    remove_ci(o, &sub.name);
                }
            }
            items.retain(|i| i.as_object().is_none_or(|o| !o.is_empty()));
        }
        clean_empty(obj, parent);
        return Ok(());
    }
    let coerced = match (kind, value) {
        (PatchOpKind::Remove, _) | (_, None) => None,
        (_, Some(v)) => coerce(sub, v, name)?,
    };
    let mut current = match key.and_then(|k| obj.remove(&k)) {
        Some(Value::Object(o)) => o,
        _ => Map::new(),
    };
    remove_ci(&mut current, &sub.name);
    if let Some(v) = coerced {
        current.insert(sub.name.clone(), v);
    }
    if !current.is_empty() {
        obj.insert(parent.name.clone(), Value::Object(current));
    }
    Ok(())
}

fn clean_empty(obj: &mut Map<String, Value>, def: &AttributeDef) {
    if let Some(k) = find_key(obj, &def.name)
        && obj
            .get(&k)
            .is_some_and(|v| v.as_array().is_some_and(Vec::is_empty))
    {
        obj.remove(&k);
    }
}

#[allow(clippy::too_many_arguments)]
fn op_filtered(
    kind: PatchOpKind,
    obj: &mut Map<String, Value>,
    def: &AttributeDef,
    filter: &Filter,
    sub: Option<&AttributeDef>,
    value: Option<Value>,
    name: &str,
) -> Result<(), ScimError> {
    if def.attr_type != AttrType::Complex || !def.multi_valued {
        return Err(ScimError::invalid_path(format!(
            "`{name}[…]`: a value filter needs a multi-valued complex attribute such as emails"
        )));
    }
    let filter = resolve_element_filter(filter.clone(), def)?;
    let mut items = match remove_ci(obj, &def.name) {
        Some(Value::Array(items)) => items,
        Some(single @ Value::Object(_)) => vec![single],
        _ => Vec::new(),
    };
    let matched: Vec<usize> = (0..items.len())
        .filter(|&i| {
            items
                .get(i)
                .is_some_and(|el| filter.matches_element(el, Some(def)))
        })
        .collect();
    let result = edit_items(kind, &mut items, &matched, def, &filter, sub, value, name);
    if !items.is_empty() {
        obj.insert(def.name.clone(), Value::Array(items));
    }
    result
}

#[allow(clippy::too_many_arguments)]
fn edit_items(
    kind: PatchOpKind,
    items: &mut Vec<Value>,
    matched: &[usize],
    def: &AttributeDef,
    filter: &Filter,
    sub: Option<&AttributeDef>,
    value: Option<Value>,
    name: &str,
) -> Result<(), ScimError> {
    if kind == PatchOpKind::Remove {
        match sub {
            None => {
                let mut index = 0;
                items.retain(|_| {
                    index += 1;
                    !matched.contains(&(index - 1))
                });
            }
            Some(s) => {
                for &i in matched {
                    if let Some(Value::Object(o)) = items.get_mut(i) {
                        remove_ci(o, &s.name);
                    }
                }
            }
        }
        return Ok(());
    }
    let meaningful = value.as_ref().is_some_and(|v| !all_unassigned(v));
    let new: Option<Value> = match (sub, value) {
        (_, None) => None,
        (Some(s), Some(v)) => coerce(s, v, &format!("{name}.{}", s.name))?,
        (None, Some(v)) => match coerce(def, v, name)? {
            Some(Value::Array(mut one)) if one.len() == 1 => Some(one.remove(0)),
            None => None,
            Some(_) => {
                return Err(ScimError::invalid_value(format!(
                    "a filtered path without sub-attribute takes one object as value, for `{name}`"
                )));
            }
        },
    };
    if new.is_none() && meaningful {
        return Err(nothing_to_store(name));
    }
    let mut touched = matched.to_vec();
    if matched.is_empty() {
        let Some(new) = new else { return Ok(()) };
        let Some(mut element) = equalities(filter) else {
            return Err(ScimError::no_target(format!(
                "no value of `{name}` matches `{filter}`, and the filter is not a plain `eq` (joined with `and`) from which a new value could be built"
            )));
        };
        match (sub, new) {
            (Some(s), v) => {
                element.insert(s.name.clone(), v);
            }
            (None, Value::Object(o)) => element.extend(o),
            (None, _) => {}
        }
        items.push(Value::Object(element));
        touched = vec![items.len() - 1];
    } else {
        for &i in matched {
            let Some(item) = items.get_mut(i) else {
                continue;
            };
            match (sub, &new, kind) {
                (Some(s), Some(v), _) => {
                    if let Value::Object(o) = item {
                        remove_ci(o, &s.name);
                        o.insert(s.name.clone(), v.clone());
                    }
                }
                (Some(s), None, _) => {
                    if let Value::Object(o) = item {
                        remove_ci(o, &s.name);
                    }
                }
                (None, Some(v), PatchOpKind::Replace) => *item = v.clone(),
                (None, Some(Value::Object(subs)), _) => {
                    if let Value::Object(o) = item {
                        for (k, v) in subs {
                            o.insert(k.clone(), v.clone());
                        }
                    }
                }
                (None, _, _) => {}
            }
        }
    }
    enforce_primary(items, &touched);
    Ok(())
}

/// RFC 7644 §3.5.2: setting `primary: true` on a value sets it to false on every other value.
fn enforce_primary(items: &mut [Value], winners: &[usize]) {
    let winner_primary = winners.iter().any(|&i| {
        items
            .get(i)
            .is_some_and(|v| get_ci(v, "primary") == Some(&Value::Bool(true)))
    });
    if !winner_primary {
        keep_one_primary(items, false);
        return;
    }
    for (i, item) in items.iter_mut().enumerate() {
        if !winners.contains(&i)
            && let Value::Object(o) = item
            && o.get("primary") == Some(&Value::Bool(true))
        {
            o.insert("primary".to_owned(), Value::Bool(false));
        }
    }
}

/// The value a filter of `eq` comparisons joined by `and` describes: `type eq "work"` →
/// `{"type": "work"}`. `None` for any other filter.
fn equalities(filter: &Filter) -> Option<Map<String, Value>> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.sub_attr.is_none() => {
            let v = match value {
                CompValue::Str(s) => Value::String(s.clone()),
                CompValue::Number(n) => Value::Number(n.clone()),
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Null => return None,
            };
            Some(Map::from_iter([(path.attr.clone(), v)]))
        }
        Filter::And(l, r) => {
            let mut m = equalities(l)?;
            m.extend(equalities(r)?);
            Some(m)
        }
        _ => None,
    }
}
