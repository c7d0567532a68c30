//! The RFC 7644 §3.4.2.2 filter grammar and the §3.5.2 PATCH path grammar, written with winnow.
//!
//! Leniencies, all seen from real clients: operators, `and`/`or`/`not` and `true`/`false`/`null`
//! in any case; any run of ASCII whitespace where the RFC says one SP; `not(` or `not (`.
//! Nesting and size are bounded so no input can exhaust the stack.

use winnow::ascii::Caseless;
use winnow::combinator::{cut_err, eof, not, opt, terminated};
use winnow::error::{ContextError, ErrMode};
use winnow::prelude::*;
use winnow::stream::Stream;
use winnow::token::{literal, one_of, take_while};

use super::ast::{AttrPath, CompValue, CompareOp, Filter, PatchPath};
use crate::schema::{canonical_name, canonical_schema_urn, split_urn};

type Error = ContextError<&'static str>;
type PResult<T> = ModalResult<T, Error>;

/// Longest filter or path accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 8192;
/// Deepest nesting of parentheses, `not (…)` and value filters.
pub const MAX_NESTING: usize = 32;
/// Most AST nodes a filter may have (comparisons plus logical operators).
pub const MAX_FILTER_NODES: usize = 512;

#[derive(Clone, Copy)]
struct Ctx {
    depth: usize,
    /// Inside `attr[…]`: paths are relative and value filters cannot nest.
    in_value: bool,
}

impl Ctx {
    fn deeper(self, in_value: bool) -> Self {
        Self {
            depth: self.depth + 1,
            in_value: self.in_value || in_value,
        }
    }
}

fn cut(expected: &'static str) -> ErrMode<Error> {
    let mut e = Error::new();
    e.push(expected);
    ErrMode::Cut(e)
}

fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '$'
}

fn is_path_char(c: char) -> bool {
    is_name_char(c) || c == '.' || c == ':'
}

fn ws0(i: &mut &str) -> PResult<()> {
    take_while(0.., is_ws).void().parse_next(i)
}

fn ws1(i: &mut &str) -> PResult<()> {
    take_while(1.., is_ws).void().parse_next(i)
}

/// A case-insensitive keyword not followed by a name character (so `or` never matches `orange`).
fn keyword<'i>(kw: &'static str) -> impl Parser<&'i str, (), ErrMode<Error>> {
    terminated(literal(Caseless(kw)), not(one_of(is_name_char))).void()
}

/// `valFilter`/`FILTER`: `or` binds loosest, left-associative.
fn or_expr(i: &mut &str, ctx: Ctx) -> PResult<Filter> {
    let mut left = and_expr(i, ctx)?;
    while logical_keyword(i, "or")? {
        let right = cut_err(|i: &mut &str| and_expr(i, ctx))
            .context("a filter expression after `or`")
            .parse_next(i)?;
        left = Filter::or(left, right);
    }
    Ok(left)
}

fn and_expr(i: &mut &str, ctx: Ctx) -> PResult<Filter> {
    let mut left = unary(i, ctx)?;
    while logical_keyword(i, "and")? {
        let right = cut_err(|i: &mut &str| unary(i, ctx))
            .context("a filter expression after `and`")
            .parse_next(i)?;
        left = Filter::and(left, right);
    }
    Ok(left)
}

/// Consumes ` and ` / ` or ` (with whitespace on both sides) if present.
fn logical_keyword(i: &mut &str, kw: &'static str) -> PResult<bool> {
    let start = i.checkpoint();
    match (ws1, keyword(kw)).parse_next(i) {
        Ok(_) => {
            cut_err(ws1)
                .context("a space after the logical operator")
                .parse_next(i)?;
            Ok(true)
        }
        Err(ErrMode::Backtrack(_)) => {
            i.reset(&start);
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

fn unary(i: &mut &str, ctx: Ctx) -> PResult<Filter> {
    if ctx.depth >= MAX_NESTING {
        return Err(cut(
            "at most 32 levels of nested parentheses, `not` and value filters",
        ));
    }
    let start = i.checkpoint();
    if (keyword("not"), ws0, '(').parse_next(i).is_ok() {
        let inner = grouped_rest(i, ctx.deeper(false))?;
        return Ok(Filter::not(inner));
    }
    i.reset(&start);
    let open: PResult<char> = '('.parse_next(i);
    if open.is_ok() {
        return grouped_rest(i, ctx.deeper(false));
    }
    i.reset(&start);
    attr_exp(i, ctx)
}

/// The rest of `( FILTER )` after the opening parenthesis.
fn grouped_rest(i: &mut &str, ctx: Ctx) -> PResult<Filter> {
    ws0(i)?;
    let inner = cut_err(|i: &mut &str| or_expr(i, ctx))
        .context("a filter expression")
        .parse_next(i)?;
    ws0(i)?;
    cut_err(')')
        .void()
        .context("`)`, `and` or `or`")
        .parse_next(i)?;
    Ok(inner)
}

fn attr_exp(i: &mut &str, ctx: Ctx) -> PResult<Filter> {
    let path = attr_path(i, ctx.in_value)?;
    if i.starts_with('[') {
        if ctx.in_value {
            return Err(cut("a comparison: value filters cannot be nested"));
        }
        if path.sub_attr.is_some() {
            return Err(cut(
                "a value filter on the attribute itself, not on a sub-attribute",
            ));
        }
        let filter = value_filter(i, ctx)?;
        // Not in the RFC grammar but sent by real clients (and documented by Microsoft):
        // `emails[type eq "work"].value eq "x"`, read as `emails[type eq "work" and value eq "x"]`.
        let filter = match i.strip_prefix('.') {
            Some(rest) if rest.starts_with(is_name_char) => {
                *i = rest;
                let sub: &str = take_while(1.., is_name_char).parse_next(i)?;
                let sub_path = build_attr_path(sub, true)
                    .ok_or_else(|| cut("a sub-attribute name such as `value`"))?;
                Filter::and(filter, comparison(i, sub_path)?)
            }
            _ => filter,
        };
        return Ok(Filter::ValuePath {
            path,
            filter: Box::new(filter),
        });
    }
    comparison(i, path)
}

/// ` op value` or ` pr` after an attribute path.
fn comparison(i: &mut &str, path: AttrPath) -> PResult<Filter> {
    cut_err(ws1)
        .context("a space and a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)")
        .parse_next(i)?;
    let op = cut_err(operator)
        .context("a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)")
        .parse_next(i)?;
    let Some(op) = op else {
        return Ok(Filter::Present(path));
    };
    cut_err(ws1)
        .context("a space and a value after the operator")
        .parse_next(i)?;
    let value = comp_value(i)?;
    Ok(Filter::Compare { path, op, value })
}

/// `[ valFilter ]`, starting at the `[`.
fn value_filter(i: &mut &str, ctx: Ctx) -> PResult<Filter> {
    let _: char = '['.parse_next(i)?;
    let inner_ctx = ctx.deeper(true);
    if inner_ctx.depth >= MAX_NESTING {
        return Err(cut(
            "at most 32 levels of nested parentheses, `not` and value filters",
        ));
    }
    ws0(i)?;
    let filter = cut_err(|i: &mut &str| or_expr(i, inner_ctx))
        .context("a value filter")
        .parse_next(i)?;
    ws0(i)?;
    cut_err(']')
        .void()
        .context("`]`, `and` or `or`")
        .parse_next(i)?;
    Ok(filter)
}

/// `pr` (→ `None`) or a comparison operator.
fn operator(i: &mut &str) -> PResult<Option<CompareOp>> {
    if keyword("pr").parse_next(i).is_ok() {
        return Ok(None);
    }
    for op in CompareOp::ALL {
        if keyword(op.as_str()).parse_next(i).is_ok() {
            return Ok(Some(op));
        }
    }
    Err(ErrMode::Backtrack(Error::new()))
}

/// `[URI ":"] ATTRNAME ["." subAttr]`, names put in canonical case.
fn attr_path(i: &mut &str, relative: bool) -> PResult<AttrPath> {
    let start = i.checkpoint();
    let token: &str = take_while(1.., is_path_char)
        .context("an attribute path, `(` or `not`")
        .parse_next(i)?;
    match build_attr_path(token, relative) {
        Some(path) => Ok(path),
        None => {
            i.reset(&start);
            Err(cut(if relative {
                "a sub-attribute name such as `type` or `value`"
            } else {
                "an attribute path such as `userName`, `name.givenName` or `urn:…:User:employeeNumber`"
            }))
        }
    }
}

fn is_attr_name(s: &str) -> bool {
    let mut chars = s.chars();
    let first_ok = match chars.next() {
        Some('$') => chars.next().is_some_and(|c| c.is_ascii_alphabetic()),
        Some(c) => c.is_ascii_alphabetic(),
        None => false,
    };
    first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub(crate) fn canonical(name: &str) -> String {
    canonical_name(name).unwrap_or(name).to_owned()
}

fn build_attr_path(token: &str, relative: bool) -> Option<AttrPath> {
    let (urn, rest) = split_urn(token);
    if relative && urn.is_some() {
        return None;
    }
    if urn.is_some_and(|u| u.len() <= 4) {
        return None;
    }
    let (attr, sub) = match rest.split_once('.') {
        Some((a, s)) => (a, Some(s)),
        None => (rest, None),
    };
    if !is_attr_name(attr) || sub.is_some_and(|s| !is_attr_name(s)) {
        return None;
    }
    Some(AttrPath {
        urn: urn.map(|u| canonical_schema_urn(u).to_owned()),
        attr: canonical(attr),
        sub_attr: sub.map(canonical),
    })
}

fn comp_value(i: &mut &str) -> PResult<CompValue> {
    if i.starts_with('"') {
        return json_string(i).map(CompValue::Str);
    }
    if i.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        return json_number(i);
    }
    for (kw, value) in [
        ("true", CompValue::Bool(true)),
        ("false", CompValue::Bool(false)),
        ("null", CompValue::Null),
    ] {
        if keyword(kw).parse_next(i).is_ok() {
            return Ok(value);
        }
    }
    Err(cut(
        "a value: a JSON string in double quotes, a number, true, false or null",
    ))
}

fn json_string(i: &mut &str) -> PResult<String> {
    let whole: &str = i;
    let bytes = whole.as_bytes();
    let mut pos = 1;
    loop {
        match bytes.get(pos) {
            None => return Err(cut("a closing `\"` to end the string")),
            Some(b'\\') => pos += 2,
            Some(b'"') => break,
            Some(_) => pos += 1,
        }
    }
    // `pos` indexes an ASCII quote, so both slices fall on character boundaries.
    let literal = whole
        .get(..=pos)
        .ok_or_else(|| cut("a valid JSON string"))?;
    let decoded: String = serde_json::from_str(literal)
        .map_err(|_| cut("a valid JSON string (escapes \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX, no raw control characters)"))?;
    // `\u0000` decodes to NUL, which PostgreSQL cannot compare or store: refused like a raw one.
    if decoded.contains('\0') {
        return Err(cut("a string without NUL characters (\\u0000)"));
    }
    *i = whole.get(pos + 1..).unwrap_or("");
    Ok(decoded)
}

fn json_number(i: &mut &str) -> PResult<CompValue> {
    let digits = |i: &mut &str| {
        take_while(1.., |c: char| c.is_ascii_digit())
            .void()
            .parse_next(i)
    };
    let text: &str = (
        opt('-').void(),
        digits,
        opt(('.', digits)),
        opt((one_of(['e', 'E']), opt(one_of(['+', '-'])), digits)),
        not(one_of(is_path_char)),
    )
        .take()
        .context("a JSON number")
        .parse_next(i)
        .map_err(|e: ErrMode<Error>| e.cut())?;
    // std's float parser is correctly rounded, so printed numbers parse back bit-identical.
    let integer = !text.contains(['.', 'e', 'E']);
    let number = match (text.parse::<i64>(), text.parse::<u64>()) {
        (Ok(i), _) if integer => Some(serde_json::Number::from(i)),
        (_, Ok(u)) if integer => Some(serde_json::Number::from(u)),
        _ => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64),
    };
    let number = number.ok_or_else(|| cut("a number within the range of a 64-bit float"))?;
    Ok(CompValue::Number(number))
}

/// Parses a whole filter; on error returns the byte offset and what was expected there.
pub(crate) fn parse_filter_text(input: &str) -> Result<Filter, (usize, String)> {
    if input.len() > MAX_FILTER_LEN {
        return Err((
            MAX_FILTER_LEN,
            format!("a filter of at most {MAX_FILTER_LEN} bytes"),
        ));
    }
    let top = Ctx {
        depth: 0,
        in_value: false,
    };
    let filter = (
        ws0,
        |i: &mut &str| or_expr(i, top),
        ws0,
        eof.context("`and`, `or` or the end of the filter"),
    )
        .map(|(_, f, _, _)| f)
        .parse(input)
        .map_err(|e| (e.offset(), expected(e.inner())))?;
    if filter.node_count() > MAX_FILTER_NODES {
        return Err((
            0,
            format!("a filter with at most {MAX_FILTER_NODES} comparisons and operators"),
        ));
    }
    Ok(filter)
}

/// Parses a PATCH path: `attrPath` or `attrPath "[" valFilter "]" ["." subAttr]`.
pub(crate) fn parse_path_text(input: &str) -> Result<PatchPath, (usize, String)> {
    if input.len() > MAX_FILTER_LEN {
        return Err((
            MAX_FILTER_LEN,
            format!("a path of at most {MAX_FILTER_LEN} bytes"),
        ));
    }
    let top = Ctx {
        depth: 0,
        in_value: false,
    };
    let path = (
        ws0,
        |i: &mut &str| path_body(i, top),
        ws0,
        eof.context(
            "the end of the path (a value filter `[…]` may be followed only by `.subAttr`)",
        ),
    )
        .map(|(_, p, _, _)| p)
        .parse(input)
        .map_err(|e| (e.offset(), expected(e.inner())))?;
    if let PatchPath::Filtered { filter, .. } = &path
        && filter.node_count() > MAX_FILTER_NODES
    {
        return Err((
            0,
            format!("a filter with at most {MAX_FILTER_NODES} comparisons and operators"),
        ));
    }
    Ok(path)
}

fn path_body(i: &mut &str, ctx: Ctx) -> PResult<PatchPath> {
    let path = attr_path(i, false)?;
    if !i.starts_with('[') {
        return Ok(PatchPath::Attr(path));
    }
    if path.sub_attr.is_some() {
        return Err(cut(
            "a value filter on the attribute itself, not on a sub-attribute",
        ));
    }
    let filter = value_filter(i, ctx)?;
    let sub_attr = if i.starts_with('.') {
        let _: char = '.'.parse_next(i)?;
        let name: &str = cut_err(take_while(1.., is_name_char))
            .context("a sub-attribute name after `.`")
            .parse_next(i)?;
        if !is_attr_name(name) {
            return Err(cut("a sub-attribute name after `.`"));
        }
        Some(canonical(name))
    } else {
        None
    };
    Ok(PatchPath::Filtered {
        path,
        filter,
        sub_attr,
    })
}

fn expected(e: &Error) -> String {
    e.context()
        .next()
        .map_or_else(|| "a valid expression".to_owned(), |c| (*c).to_owned())
}
