//! Filters over the search document (`scim_core::search`), for every attribute that has no column
//! of its own: the database evaluates them as the in-memory evaluator would (`Filter::matches`).
//!
//! PostgreSQL: `eq` on a string is containment (`search::jsonb @> '{…}'`), served by the GIN index
//! `jsonb_path_ops` over the document; everything else reads the attribute's values with
//! `jsonb_path_query` (lax, arrays unwrapped), bounded by the statement timeout of the query.
//! SQLite: the same values through `json_each`. Strings compare by code point on both (`COLLATE
//! "C"` on PostgreSQL, SQLite's binary collation), as Rust's `str` does.

use scim_core::filter::{AttrPath, CompValue, CompareOp, Filter};
use scim_core::schema::{AttrLocation, AttrType, AttributeDef, ResourceSchema};
use scim_core::search::fold_literal;
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{Condition, DbBackend, Value};
use serde_json::{Map, Value as Json};

/// Where the values of a path are read from.
#[derive(Clone, Copy)]
pub(crate) enum Doc<'a> {
    /// The search document of the row (`"table"."search"`).
    Root(&'a str),
    /// One element of a multi-valued attribute inside `attr[…]`, at nesting `depth`.
    Element(usize),
}

/// One step of a path into the document: the canonical key and whether its value is an array.
struct Step {
    key: String,
    multi: bool,
}

/// A path resolved against the schema: the steps, and the definition of the compared leaf.
struct Resolved<'a> {
    steps: Vec<Step>,
    leaf: &'a AttributeDef,
}

/// A condition that is always (`true`) or never (`false`) met.
pub(super) fn constant(value: bool) -> Condition {
    Condition::all().add(Expr::cust(if value { "1 = 1" } else { "1 = 0" }))
}

fn not(condition: Condition) -> Condition {
    Condition::all().not().add(condition)
}

/// Custom SQL with `?` for each value, numbered for PostgreSQL.
fn sql(backend: DbBackend, template: &str, values: Vec<Value>) -> SimpleExpr {
    let text = if backend == DbBackend::Postgres {
        let mut out = String::with_capacity(template.len() + 8);
        let mut n = 0;
        for c in template.chars() {
            if c == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(c);
            }
        }
        out
    } else {
        template.to_owned()
    };
    Expr::cust_with_values(text, values)
}

fn quote_key(key: &str) -> String {
    // Canonical attribute names and URNs: letters, digits, `:`, `.`, `_`, `-` — nothing to escape.
    format!("\"{key}\"")
}

/// Resolves a path at the resource level: the steps (extension, attribute, sub-attribute; a complex
/// attribute compared directly means its `value`), or `None` for an attribute the document does not
/// hold (unknown attributes match nothing).
fn resolve<'a>(schema: &'a ResourceSchema, path: &AttrPath, compare: bool) -> Option<Resolved<'a>> {
    let resolved = schema.attribute(path.urn.as_deref(), &path.attr)?;
    let mut steps = Vec::new();
    if let AttrLocation::Extension(urn) = resolved.location {
        steps.push(Step {
            key: urn.to_owned(),
            multi: false,
        });
    }
    let attr = resolved.attr;
    steps.push(Step {
        key: attr.name.clone(),
        multi: attr.multi_valued,
    });
    let leaf = match &path.sub_attr {
        Some(sub) => Some(attr.sub_attribute(sub)?),
        None if compare && attr.attr_type == AttrType::Complex => attr.sub_attribute("value"),
        None => None,
    };
    match leaf {
        Some(sub) => {
            steps.push(Step {
                key: sub.name.clone(),
                multi: sub.multi_valued,
            });
            Some(Resolved { steps, leaf: sub })
        }
        None if attr.attr_type == AttrType::Complex && compare => None,
        None => Some(Resolved { steps, leaf: attr }),
    }
}

/// Resolves a path inside one element of the multi-valued attribute `parent`.
fn resolve_in_element<'a>(parent: &'a AttributeDef, path: &AttrPath) -> Option<Resolved<'a>> {
    if path.urn.is_some() || path.sub_attr.is_some() {
        return None;
    }
    let sub = parent.sub_attribute(&path.attr)?;
    Some(Resolved {
        steps: vec![Step {
            key: sub.name.clone(),
            multi: sub.multi_valued,
        }],
        leaf: sub,
    })
}

/// The translator of one resource type on one backend.
pub(crate) struct Translator<'a> {
    pub backend: DbBackend,
    pub schema: &'a ResourceSchema,
    pub table: &'a str,
}

impl Translator<'_> {
    fn doc(&self, doc: Doc<'_>) -> String {
        match (doc, self.backend) {
            (Doc::Root(table), DbBackend::Postgres) => format!("(\"{table}\".\"search\")::jsonb"),
            (Doc::Root(table), _) => format!("\"{table}\".\"search\""),
            (Doc::Element(depth), DbBackend::Postgres) => format!("el{depth}.v"),
            (Doc::Element(depth), _) => format!("el{depth}.value"),
        }
    }

    /// `EXISTS (… every value at `steps` … WHERE predicate)`; the predicate names the value `l.v`
    /// (PostgreSQL, jsonb) or `l.value` / `l.type` (SQLite).
    fn any_value(&self, doc: Doc<'_>, steps: &[Step], predicate: &str) -> String {
        let source = self.doc(doc);
        if self.backend == DbBackend::Postgres {
            let path: String = steps
                .iter()
                .map(|s| format!(".{}[*]", quote_key(&s.key)))
                .collect();
            return format!(
                "EXISTS (SELECT 1 FROM jsonb_path_query({source}, '${path}') AS l(v) WHERE {predicate})"
            );
        }
        // SQLite: one json_each per array on the way; plain keys join into one JSON path.
        let mut from = Vec::new();
        let mut current = source;
        let mut path = String::from("$");
        for (i, step) in steps.iter().enumerate() {
            path.push('.');
            path.push_str(&quote_key(&step.key));
            let last = i + 1 == steps.len();
            if step.multi && !last {
                let alias = format!("a{i}");
                from.push(format!("json_each({current}, '{path}') AS {alias}"));
                current =
                    format!("(CASE {alias}.type WHEN 'object' THEN {alias}.value ELSE '{{}}' END)");
                path = String::from("$");
            }
        }
        from.push(format!("json_each({current}, '{path}') AS l"));
        format!(
            "EXISTS (SELECT 1 FROM {} WHERE {predicate})",
            from.join(", ")
        )
    }

    /// Whether some value at `steps` is assigned (not null, `""`, `[]` or an object of those).
    fn present(&self, doc: Doc<'_>, steps: &[Step]) -> Condition {
        let predicate = if self.backend == DbBackend::Postgres {
            "CASE jsonb_typeof(l.v) WHEN 'null' THEN false \
             WHEN 'string' THEN (l.v #>> '{}') <> '' \
             WHEN 'array' THEN jsonb_array_length(l.v) > 0 \
             WHEN 'object' THEN EXISTS (SELECT 1 FROM jsonb_each(l.v) AS m(k, v) WHERE NOT ( \
                 jsonb_typeof(m.v) = 'null' \
                 OR (jsonb_typeof(m.v) = 'string' AND (m.v #>> '{}') = '') \
                 OR (jsonb_typeof(m.v) = 'array' AND jsonb_array_length(m.v) = 0) \
                 OR m.v = '{}'::jsonb)) \
             ELSE true END"
        } else {
            // SQLite: json_each over a single-valued complex attribute yields its members, so
            // "a member is assigned" is "the object is assigned" there too.
            "NOT (l.type = 'null' OR (l.type = 'text' AND l.value = '') \
             OR (l.type = 'array' AND json_array_length(l.value) = 0) \
             OR (l.type = 'object' AND NOT EXISTS (SELECT 1 FROM json_each(l.value) AS m WHERE NOT ( \
                 m.type = 'null' OR (m.type = 'text' AND m.value = '') \
                 OR (m.type = 'array' AND json_array_length(m.value) = 0) \
                 OR (m.type = 'object' AND m.value = '{}')))))"
        };
        let text = self.any_value(doc, steps, predicate);
        Condition::all().add(Expr::cust(text))
    }

    /// Containment of `{steps…: literal}` in the document (PostgreSQL, GIN-indexed).
    fn contains(&self, doc: Doc<'_>, steps: &[Step], literal: Json) -> Condition {
        let mut value = literal;
        for step in steps.iter().rev() {
            if step.multi {
                value = Json::Array(vec![value]);
            }
            let mut object = Map::new();
            object.insert(step.key.clone(), value);
            value = Json::Object(object);
        }
        let template = format!("{} @> CAST(? AS jsonb)", self.doc(doc));
        Condition::all().add(sql(self.backend, &template, vec![value.to_string().into()]))
    }

    /// A string comparison of some value at `steps` with `literal` (already folded).
    fn compare_str(
        &self,
        doc: Doc<'_>,
        steps: &[Step],
        op: CompareOp,
        literal: String,
    ) -> Condition {
        let pg = self.backend == DbBackend::Postgres;
        if op == CompareOp::Eq && pg && matches!(doc, Doc::Root(_)) {
            return self.contains(doc, steps, Json::String(literal));
        }
        let (is_text, text) = if pg {
            ("jsonb_typeof(l.v) = 'string'", "(l.v #>> '{}')")
        } else {
            ("l.type = 'text'", "l.value")
        };
        let collate = if pg { " COLLATE \"C\"" } else { "" };
        let (predicate, values): (String, Vec<Value>) = match op {
            CompareOp::Co | CompareOp::Sw | CompareOp::Ew if literal.is_empty() => {
                (is_text.to_owned(), vec![])
            }
            CompareOp::Co if pg => (
                format!("{is_text} AND strpos({text}, ?) > 0"),
                vec![literal.into()],
            ),
            CompareOp::Co => (
                format!("{is_text} AND instr({text}, ?) > 0"),
                vec![literal.into()],
            ),
            CompareOp::Sw if pg => (
                format!("{is_text} AND starts_with({text}, ?)"),
                vec![literal.into()],
            ),
            CompareOp::Sw => (
                format!("{is_text} AND substr({text}, 1, length(?)) = ?"),
                vec![literal.clone().into(), literal.into()],
            ),
            CompareOp::Ew if pg => (
                format!("{is_text} AND right({text}, char_length(?)) = ?"),
                vec![literal.clone().into(), literal.into()],
            ),
            CompareOp::Ew => (
                format!("{is_text} AND substr({text}, -length(?)) = ?"),
                vec![literal.clone().into(), literal.into()],
            ),
            CompareOp::Eq | CompareOp::Ne => {
                (format!("{is_text} AND {text} = ?"), vec![literal.into()])
            }
            CompareOp::Gt => (
                format!("{is_text} AND {text}{collate} > ?"),
                vec![literal.into()],
            ),
            CompareOp::Ge => (
                format!("{is_text} AND {text}{collate} >= ?"),
                vec![literal.into()],
            ),
            CompareOp::Lt => (
                format!("{is_text} AND {text}{collate} < ?"),
                vec![literal.into()],
            ),
            CompareOp::Le => (
                format!("{is_text} AND {text}{collate} <= ?"),
                vec![literal.into()],
            ),
        };
        let template = self.any_value(doc, steps, &predicate);
        Condition::all().add(sql(self.backend, &template, values))
    }

    fn compare_bool(&self, doc: Doc<'_>, steps: &[Step], value: bool) -> Condition {
        if self.backend == DbBackend::Postgres && matches!(doc, Doc::Root(_)) {
            return self.contains(doc, steps, Json::Bool(value));
        }
        let predicate = match (self.backend, value) {
            (DbBackend::Postgres, true) => "l.v = 'true'::jsonb",
            (DbBackend::Postgres, false) => "l.v = 'false'::jsonb",
            (_, true) => "l.type = 'true'",
            (_, false) => "l.type = 'false'",
        };
        Condition::all().add(Expr::cust(self.any_value(doc, steps, predicate)))
    }

    /// A comparison of the values at a resolved path, as `Filter::matches` does it.
    fn compare(
        &self,
        doc: Doc<'_>,
        resolved: Option<Resolved<'_>>,
        op: CompareOp,
        value: &CompValue,
    ) -> Condition {
        let Some(Resolved { steps, leaf }) = resolved else {
            // Nothing there: only "not equal" (and `eq null`) hold.
            return constant(
                op == CompareOp::Ne && !matches!(value, CompValue::Null)
                    || op == CompareOp::Eq && matches!(value, CompValue::Null),
            );
        };
        let positive = match op {
            CompareOp::Ne => CompareOp::Eq,
            other => other,
        };
        let matched = match value {
            CompValue::Null => {
                return match op {
                    CompareOp::Eq => not(self.present(doc, &steps)),
                    CompareOp::Ne => self.present(doc, &steps),
                    _ => constant(false),
                };
            }
            CompValue::Str(s) => {
                self.compare_str(doc, &steps, positive, fold_literal(s, Some(leaf)))
            }
            CompValue::Bool(b) if positive == CompareOp::Eq => self.compare_bool(doc, &steps, *b),
            // Booleans only compare for equality; no stored attribute is a number.
            CompValue::Bool(_) | CompValue::Number(_) => constant(false),
        };
        if op == CompareOp::Ne {
            not(matched)
        } else {
            matched
        }
    }

    /// Translates a filter at the resource level (`Doc::Root`).
    pub(crate) fn filter(&self, filter: &Filter) -> Condition {
        self.translate(filter, Doc::Root(self.table), None, 0)
    }

    fn translate(
        &self,
        filter: &Filter,
        doc: Doc<'_>,
        parent: Option<&AttributeDef>,
        depth: usize,
    ) -> Condition {
        let resolve_at = |path: &AttrPath, compare: bool| match parent {
            Some(parent) => resolve_in_element(parent, path),
            None => resolve(self.schema, path, compare),
        };
        match filter {
            Filter::And(l, r) => Condition::all()
                .add(self.translate(l, doc, parent, depth))
                .add(self.translate(r, doc, parent, depth)),
            Filter::Or(l, r) => Condition::any()
                .add(self.translate(l, doc, parent, depth))
                .add(self.translate(r, doc, parent, depth)),
            Filter::Not(inner) => not(self.translate(inner, doc, parent, depth)),
            Filter::Present(path) => match resolve_at(path, false) {
                Some(resolved) => self.present(doc, &resolved.steps),
                None => constant(false),
            },
            Filter::Compare { path, op, value } => {
                self.compare(doc, resolve_at(path, true), *op, value)
            }
            Filter::ValuePath { path, filter } => {
                let Some(resolved) = (match parent {
                    Some(_) => None,
                    None => resolve(self.schema, path, false),
                }) else {
                    return constant(false);
                };
                if path.sub_attr.is_some() {
                    return constant(false);
                }
                let element = Doc::Element(depth + 1);
                let inner = self.translate(filter, element, Some(resolved.leaf), depth + 1);
                let (inner_sql, values) = condition_sql(self.backend, inner);
                let source = self.doc(doc);
                let path: String = resolved
                    .steps
                    .iter()
                    .map(|s| format!(".{}", quote_key(&s.key)))
                    .collect();
                let alias = format!("el{}", depth + 1);
                let text = if self.backend == DbBackend::Postgres {
                    let path: String = resolved
                        .steps
                        .iter()
                        .map(|s| format!(".{}[*]", quote_key(&s.key)))
                        .collect();
                    format!(
                        "EXISTS (SELECT 1 FROM jsonb_path_query({source}, '${path}') AS {alias}(v) \
                         WHERE jsonb_typeof({alias}.v) = 'object' AND ({inner_sql}))"
                    )
                } else {
                    format!(
                        "EXISTS (SELECT 1 FROM json_each({source}, '${path}') AS {alias} \
                         WHERE {alias}.type = 'object' AND ({inner_sql}))"
                    )
                };
                Condition::all().add(Expr::cust_with_values(text, values))
            }
        }
    }
}

/// Renders a condition as SQL text with its values, to nest it in custom SQL.
fn condition_sql(backend: DbBackend, condition: Condition) -> (String, Vec<Value>) {
    use sea_orm::sea_query::{PostgresQueryBuilder, Query, SqliteQueryBuilder};
    let query = Query::select()
        .expr(Expr::cust("1"))
        .cond_where(condition)
        .to_owned();
    let (text, values) = match backend {
        DbBackend::Postgres => query.build(PostgresQueryBuilder),
        _ => query.build(SqliteQueryBuilder),
    };
    let text = text
        .split_once(" WHERE ")
        .map_or_else(|| "1 = 1".to_owned(), |(_, w)| w.to_owned());
    (text, values.0)
}
