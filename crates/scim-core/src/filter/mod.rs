//! SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2): parse to an AST, print it back,
//! resolve it against a resource schema, and evaluate it against a resource.
//!
//! `parse_filter` is schema-agnostic (names get the built-in schemas' canonical case);
//! `parse_filter_for` also checks every attribute against a resource type and rewrites the AST
//! into the canonical form `store` translates to SQL.

mod ast;
mod eval;
mod parser;
mod printer;
pub(crate) mod resolve;

pub use ast::{AttrPath, CompValue, CompareOp, Filter, PatchPath};
pub use parser::{MAX_FILTER_LEN, MAX_FILTER_NODES, MAX_NESTING};

use crate::error::ScimError;
use crate::schema::ResourceSchema;

/// Parses a filter such as `userName eq "bjensen" and emails[type eq "work"]`.
///
/// Errors are `invalidFilter` naming the position and what was expected there.
pub fn parse_filter(input: &str) -> Result<Filter, ScimError> {
    parser::parse_filter_text(input).map_err(|(pos, expected)| {
        ScimError::invalid_filter(describe(input, pos, &expected, "filter"))
    })
}

/// Parses a filter and resolves it against `schema` (see [`Filter::resolve`]).
pub fn parse_filter_for(input: &str, schema: &ResourceSchema) -> Result<Filter, ScimError> {
    parse_filter(input)?.resolve(schema)
}

/// Parses a PATCH path: `attrPath` (`name.givenName`, `urn:…:User:manager`) or
/// `valuePath[.subAttr]` (`emails[type eq "work"].value`). Errors are `invalidPath`.
pub fn parse_path(input: &str) -> Result<PatchPath, ScimError> {
    parser::parse_path_text(input)
        .map_err(|(pos, expected)| ScimError::invalid_path(describe(input, pos, &expected, "path")))
}

/// "invalid filter at character 13 (near `xx "a"`): expected …".
fn describe(input: &str, byte_pos: usize, expected: &str, what: &str) -> String {
    let pos = input
        .get(..byte_pos)
        .map_or(byte_pos, |s| s.chars().count());
    let rest = input.get(byte_pos..).unwrap_or("");
    let near = if rest.is_empty() {
        "at the end".to_owned()
    } else {
        let snippet: String = rest.chars().take(20).collect();
        let snippet = serde_json::to_string(&snippet).unwrap_or_default();
        format!("near {snippet}")
    };
    format!("invalid {what} at character {pos} ({near}): expected {expected}")
}

#[cfg(test)]
mod tests;
