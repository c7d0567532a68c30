//! Resolving a parsed filter against a resource type: unknown attributes and impossible
//! operator/type combinations become `invalidFilter`, and the AST is rewritten to canonical form
//! (core URN dropped, names in schema case, `emails eq x` → `emails.value eq x`, literals of the
//! attribute's type), so `store` translates one shape only.

use serde_json::Number;

use super::ast::{AttrPath, CompValue, CompareOp, Filter};
use crate::error::ScimError;
use crate::schema::{AttrLocation, AttrType, AttributeDef, Mutability, ResourceSchema, Returned};
use crate::value::parse_datetime;

#[derive(Clone, Copy)]
enum Ctx<'a> {
    Resource(&'a ResourceSchema),
    Element(&'a AttributeDef),
}

impl Filter {
    /// Checks every attribute against `schema` and returns the canonical form of the filter.
    ///
    /// Rejected with `invalidFilter`: unknown attributes; `password` and other never-returned
    /// attributes (filtering on them would be an oracle for their values); ordering or substring
    /// operators on booleans; substring operators on numbers and dates; dates that do not parse;
    /// a complex attribute compared directly unless it has a `value` sub-attribute.
    pub fn resolve(self, schema: &ResourceSchema) -> Result<Filter, ScimError> {
        resolve(self, Ctx::Resource(schema))
    }
}

fn resolve(filter: Filter, ctx: Ctx<'_>) -> Result<Filter, ScimError> {
    Ok(match filter {
        Filter::And(l, r) => Filter::and(resolve(*l, ctx)?, resolve(*r, ctx)?),
        Filter::Or(l, r) => Filter::or(resolve(*l, ctx)?, resolve(*r, ctx)?),
        Filter::Not(inner) => Filter::not(resolve(*inner, ctx)?),
        Filter::Present(path) => Filter::Present(resolve_path(path, ctx)?.0),
        Filter::Compare { path, op, value } => {
            let (mut path, mut leaf) = resolve_path(path, ctx)?;
            if leaf.attr_type == AttrType::Complex {
                match leaf.sub_attribute("value") {
                    Some(value_def) if path.sub_attr.is_none() && ctx_is_resource(ctx) => {
                        path.sub_attr = Some(value_def.name.clone());
                        leaf = value_def;
                    }
                    _ => {
                        return Err(ScimError::invalid_filter(format!(
                            "`{path}` is complex: compare one of its sub-attributes, such as `{path}.{}`",
                            leaf.sub_attributes
                                .first()
                                .map_or("value", |s| s.name.as_str())
                        )));
                    }
                }
            }
            let value = check_literal(&path, leaf, op, value)?;
            Filter::Compare { path, op, value }
        }
        Filter::ValuePath { path, filter } => {
            let Ctx::Resource(_) = ctx else {
                return Err(ScimError::invalid_filter("value filters cannot be nested"));
            };
            let (path, def) = resolve_path(path, ctx)?;
            if def.attr_type != AttrType::Complex || path.sub_attr.is_some() {
                return Err(ScimError::invalid_filter(format!(
                    "`{path}[…]` needs a complex attribute such as `emails` or `members`"
                )));
            }
            Filter::ValuePath {
                path,
                filter: Box::new(resolve(*filter, Ctx::Element(def))?),
            }
        }
    })
}

fn ctx_is_resource(ctx: Ctx<'_>) -> bool {
    matches!(ctx, Ctx::Resource(_))
}

fn resolve_path<'a>(
    path: AttrPath,
    ctx: Ctx<'a>,
) -> Result<(AttrPath, &'a AttributeDef), ScimError> {
    let (canonical, leaf) = match ctx {
        Ctx::Resource(schema) => {
            let Some(resolved) =
                schema.resolve(path.urn.as_deref(), &path.attr, path.sub_attr.as_deref())
            else {
                return Err(ScimError::invalid_filter(format!(
                    "unknown attribute `{path}` for {} resources",
                    schema.name
                )));
            };
            let urn = match resolved.location {
                AttrLocation::Core => None,
                AttrLocation::Extension(u) => Some(u.to_owned()),
            };
            let canonical = AttrPath {
                urn,
                attr: resolved.attr.name.clone(),
                sub_attr: resolved.sub.map(|s| s.name.clone()),
            };
            (canonical, resolved.sub.unwrap_or(resolved.attr))
        }
        Ctx::Element(parent) => {
            let sub = match (&path.urn, &path.sub_attr) {
                (None, None) => parent.sub_attribute(&path.attr),
                _ => None,
            };
            let Some(sub) = sub else {
                return Err(ScimError::invalid_filter(format!(
                    "`{path}` is not a sub-attribute of `{}`",
                    parent.name
                )));
            };
            (AttrPath::new(sub.name.clone()), sub)
        }
    };
    if leaf.returned == Returned::Never || leaf.mutability == Mutability::WriteOnly {
        return Err(ScimError::invalid_filter(format!(
            "`{canonical}` cannot be used in a filter"
        )));
    }
    Ok((canonical, leaf))
}

fn check_literal(
    path: &AttrPath,
    def: &AttributeDef,
    op: CompareOp,
    value: CompValue,
) -> Result<CompValue, ScimError> {
    let bad = |why: &str| {
        Err(ScimError::invalid_filter(format!(
            "`{path} {op} {value}`: {why}"
        )))
    };
    if value == CompValue::Null {
        return if matches!(op, CompareOp::Eq | CompareOp::Ne) {
            Ok(value)
        } else {
            bad("null can only be compared with eq or ne")
        };
    }
    match def.attr_type {
        AttrType::Boolean => {
            if op != CompareOp::Eq && op != CompareOp::Ne {
                return bad("a boolean attribute supports only eq, ne and pr");
            }
            match &value {
                CompValue::Bool(_) => Ok(value),
                CompValue::Str(s) if s.eq_ignore_ascii_case("true") => Ok(CompValue::Bool(true)),
                CompValue::Str(s) if s.eq_ignore_ascii_case("false") => Ok(CompValue::Bool(false)),
                _ => bad("expected true or false"),
            }
        }
        AttrType::Integer | AttrType::Decimal => {
            if op.is_substring() {
                return bad("co, sw and ew apply to strings only");
            }
            match &value {
                CompValue::Number(_) => Ok(value),
                CompValue::Str(s) => {
                    match s.trim().parse::<f64>().ok().and_then(Number::from_f64) {
                        Some(n) => Ok(CompValue::Number(n)),
                        None => bad("expected a number"),
                    }
                }
                _ => bad("expected a number"),
            }
        }
        AttrType::DateTime => {
            if op.is_substring() {
                return bad("co, sw and ew do not apply to dates");
            }
            match &value {
                CompValue::Str(s) if parse_datetime(s).is_some() => Ok(value),
                _ => bad("expected a dateTime string such as \"2011-05-13T04:42:34Z\""),
            }
        }
        AttrType::String | AttrType::Reference | AttrType::Binary | AttrType::Complex => {
            match &value {
                CompValue::Str(_) => Ok(value),
                CompValue::Number(n) => Ok(CompValue::Str(n.to_string())),
                _ => bad("expected a string"),
            }
        }
    }
}

/// Resolves a value filter (`emails[…]`'s inside) against the multi-valued attribute `parent`.
pub(crate) fn resolve_element_filter(
    filter: Filter,
    parent: &AttributeDef,
) -> Result<Filter, ScimError> {
    resolve(filter, Ctx::Element(parent))
}
