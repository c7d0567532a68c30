//! Evaluating a filter against a JSON resource, honouring each attribute's `caseExact` and type
//! (dateTime values compare as instants, numbers numerically, booleans only for equality).

use std::cmp::Ordering;

use serde_json::Value;

use super::ast::{AttrPath, CompValue, CompareOp, Filter};
use crate::schema::{AttrType, AttributeDef, ResourceSchema};
use crate::value::{get_ci, is_unassigned, parse_datetime};

/// What the paths of a (sub-)filter are relative to.
#[derive(Clone, Copy)]
pub(crate) enum Scope<'a> {
    /// The whole resource.
    Resource(&'a Value, &'a ResourceSchema),
    /// One value of a multi-valued complex attribute (inside `attr[…]`).
    Element(&'a Value, Option<&'a AttributeDef>),
}

impl Filter {
    /// Whether `resource` matches this filter. Unknown attributes match nothing (but `ne` and
    /// `not` of them match, as absence is "not equal").
    pub fn matches(&self, resource: &Value, schema: &ResourceSchema) -> bool {
        eval(self, Scope::Resource(resource, schema))
    }

    /// Whether one value of a multi-valued complex attribute (whose definition is `parent`)
    /// matches this value filter, as in `emails[type eq "work"]`.
    pub fn matches_element(&self, element: &Value, parent: Option<&AttributeDef>) -> bool {
        eval(self, Scope::Element(element, parent))
    }
}

pub(crate) fn eval(filter: &Filter, scope: Scope<'_>) -> bool {
    match filter {
        Filter::And(l, r) => eval(l, scope) && eval(r, scope),
        Filter::Or(l, r) => eval(l, scope) || eval(r, scope),
        Filter::Not(inner) => !eval(inner, scope),
        Filter::Present(path) => {
            let (values, _) = lookup(scope, path);
            values.iter().any(|v| !is_unassigned(v))
        }
        Filter::Compare { path, op, value } => {
            let (values, def) = lookup(scope, path);
            compare_any(&values, def, *op, value)
        }
        Filter::ValuePath { path, filter } => {
            let (values, def) = lookup(scope, path);
            values
                .iter()
                .any(|el| eval(filter, Scope::Element(el, def)))
        }
    }
}

/// The values a path designates (arrays flattened) and the definition of the path's leaf.
fn lookup<'a>(scope: Scope<'a>, path: &AttrPath) -> (Vec<&'a Value>, Option<&'a AttributeDef>) {
    let (top, def) = match scope {
        Scope::Resource(resource, schema) => {
            let resolved = schema.attribute(path.urn.as_deref(), &path.attr);
            let container = match (&path.urn, resolved.map(|r| r.location)) {
                (Some(urn), Some(crate::schema::AttrLocation::Extension(ext))) => {
                    get_ci(resource, ext).or_else(|| get_ci(resource, urn))
                }
                (Some(urn), None) if !schema.is_core_urn(urn) => get_ci(resource, urn),
                _ => Some(resource),
            };
            (
                container.and_then(|c| get_ci(c, &path.attr)),
                resolved.map(|r| r.attr),
            )
        }
        Scope::Element(element, parent) => {
            let def = parent.and_then(|p| p.sub_attribute(&path.attr));
            (get_ci(element, &path.attr), def)
        }
    };
    let mut values = Vec::new();
    flatten(top, &mut values);
    match &path.sub_attr {
        None => (values, def),
        Some(sub) => {
            let sub_def = def.and_then(|d| d.sub_attribute(sub));
            let mut subs = Vec::new();
            for v in values {
                flatten(get_ci(v, sub), &mut subs);
            }
            (subs, sub_def)
        }
    }
}

fn flatten<'a>(value: Option<&'a Value>, out: &mut Vec<&'a Value>) {
    match value {
        Some(Value::Array(items)) => out.extend(items.iter()),
        Some(v) => out.push(v),
        None => {}
    }
}

fn compare_any(
    values: &[&Value],
    def: Option<&AttributeDef>,
    op: CompareOp,
    literal: &CompValue,
) -> bool {
    // A complex attribute compared directly means its `value` sub-attribute (`emails co "@x"`).
    let value_def = def.and_then(|d| d.sub_attribute("value"));
    let leaf_def = if def.is_some_and(|d| d.attr_type == AttrType::Complex) {
        value_def
    } else {
        def
    };
    let leaves: Vec<&Value> = values
        .iter()
        .filter_map(|v| {
            if v.is_object() {
                get_ci(v, "value")
            } else {
                Some(*v)
            }
        })
        .collect();
    match (op, literal) {
        (CompareOp::Eq, CompValue::Null) => leaves.iter().all(|v| is_unassigned(v)),
        (CompareOp::Ne, CompValue::Null) => leaves.iter().any(|v| !is_unassigned(v)),
        (CompareOp::Ne, _) => !leaves
            .iter()
            .any(|v| compare_one(v, leaf_def, CompareOp::Eq, literal)),
        _ => leaves.iter().any(|v| compare_one(v, leaf_def, op, literal)),
    }
}

fn compare_one(
    value: &Value,
    def: Option<&AttributeDef>,
    op: CompareOp,
    literal: &CompValue,
) -> bool {
    match (value, literal) {
        (Value::String(actual), CompValue::Str(expected)) => {
            if def.is_some_and(|d| d.attr_type == AttrType::DateTime)
                && !op.is_substring()
                && let (Some(a), Some(b)) = (parse_datetime(actual), parse_datetime(expected))
            {
                return ordering_matches(op, a.cmp(&b));
            }
            if def.is_some_and(|d| d.case_exact) {
                compare_str(actual, expected, op)
            } else {
                compare_str(&actual.to_lowercase(), &expected.to_lowercase(), op)
            }
        }
        (Value::Number(actual), CompValue::Number(expected)) if !op.is_substring() => {
            let ord = match (actual.as_i64(), expected.as_i64()) {
                (Some(a), Some(b)) => Some(a.cmp(&b)),
                _ => actual
                    .as_f64()
                    .zip(expected.as_f64())
                    .and_then(|(a, b)| a.partial_cmp(&b)),
            };
            ord.is_some_and(|o| ordering_matches(op, o))
        }
        (Value::Bool(actual), CompValue::Bool(expected)) => {
            op == CompareOp::Eq && actual == expected
        }
        _ => false,
    }
}

fn compare_str(actual: &str, expected: &str, op: CompareOp) -> bool {
    match op {
        CompareOp::Co => actual.contains(expected),
        CompareOp::Sw => actual.starts_with(expected),
        CompareOp::Ew => actual.ends_with(expected),
        _ => ordering_matches(op, actual.cmp(expected)),
    }
}

fn ordering_matches(op: CompareOp, ord: Ordering) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}
