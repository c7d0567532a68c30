//! The filter AST (RFC 7644 §3.4.2.2). Public so `store` can translate it to SQL.

use serde_json::Number;

/// An attribute path: `[urn ":"] attr ["." subAttr]`.
///
/// Names are normalized to the canonical case of the built-in schemas when known
/// (`USERNAME` → `userName`). Inside a value filter (`emails[type eq "work"]`) paths are relative
/// to the multi-valued attribute: `attr` is the sub-attribute (`type`) and `urn` is `None`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// Schema URN prefix, e.g. the Enterprise User extension URN.
    pub urn: Option<String>,
    /// Attribute name.
    pub attr: String,
    /// Sub-attribute name.
    pub sub_attr: Option<String>,
}

impl AttrPath {
    /// A path without URN or sub-attribute.
    pub fn new(attr: impl Into<String>) -> Self {
        Self {
            urn: None,
            attr: attr.into(),
            sub_attr: None,
        }
    }

    /// A path to a sub-attribute, e.g. `name.givenName`.
    pub fn with_sub(attr: impl Into<String>, sub: impl Into<String>) -> Self {
        Self {
            urn: None,
            attr: attr.into(),
            sub_attr: Some(sub.into()),
        }
    }
}

/// A comparison operator (`pr` is [`Filter::Present`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `eq`: equal.
    Eq,
    /// `ne`: not equal.
    Ne,
    /// `co`: contains (strings).
    Co,
    /// `sw`: starts with (strings).
    Sw,
    /// `ew`: ends with (strings).
    Ew,
    /// `gt`: greater than.
    Gt,
    /// `ge`: greater than or equal.
    Ge,
    /// `lt`: less than.
    Lt,
    /// `le`: less than or equal.
    Le,
}

impl CompareOp {
    /// All operators, in grammar order.
    pub const ALL: [CompareOp; 9] = [
        Self::Eq,
        Self::Ne,
        Self::Co,
        Self::Sw,
        Self::Ew,
        Self::Gt,
        Self::Ge,
        Self::Lt,
        Self::Le,
    ];

    /// The operator keyword in lower case.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Co => "co",
            Self::Sw => "sw",
            Self::Ew => "ew",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Lt => "lt",
            Self::Le => "le",
        }
    }

    /// Whether the operator orders values (`gt ge lt le`).
    pub fn is_ordering(self) -> bool {
        matches!(self, Self::Gt | Self::Ge | Self::Lt | Self::Le)
    }

    /// Whether the operator is a substring match (`co sw ew`).
    pub fn is_substring(self) -> bool {
        matches!(self, Self::Co | Self::Sw | Self::Ew)
    }
}

/// A comparison value: a JSON literal. Dates are strings; they are compared as instants when the
/// attribute's type is `dateTime`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CompValue {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A JSON number.
    Number(Number),
    /// A JSON string (escapes already decoded).
    Str(String),
}

/// A filter expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Filter {
    /// `path op value`.
    Compare {
        /// The attribute compared.
        path: AttrPath,
        /// The operator.
        op: CompareOp,
        /// The literal compared against.
        value: CompValue,
    },
    /// `path pr`: the attribute has a non-empty value.
    Present(AttrPath),
    /// `left and right`.
    And(Box<Filter>, Box<Filter>),
    /// `left or right`.
    Or(Box<Filter>, Box<Filter>),
    /// `not (inner)`.
    Not(Box<Filter>),
    /// `path[filter]`: some value of the multi-valued attribute `path` matches `filter`, whose
    /// paths are relative to the value (see [`AttrPath`]).
    ValuePath {
        /// The multi-valued (or complex) attribute.
        path: AttrPath,
        /// The filter applied to each value.
        filter: Box<Filter>,
    },
}

impl Filter {
    /// `path op value`.
    pub fn compare(path: AttrPath, op: CompareOp, value: CompValue) -> Self {
        Self::Compare { path, op, value }
    }

    /// `left and right`.
    pub fn and(left: Filter, right: Filter) -> Self {
        Self::And(Box::new(left), Box::new(right))
    }

    /// `left or right`.
    pub fn or(left: Filter, right: Filter) -> Self {
        Self::Or(Box::new(left), Box::new(right))
    }

    /// `not (inner)`.
    #[allow(clippy::should_implement_trait)] // a constructor, not negation of a value
    pub fn not(inner: Filter) -> Self {
        Self::Not(Box::new(inner))
    }

    /// Number of nodes, used to bound the work any filter can cause.
    pub fn node_count(&self) -> usize {
        match self {
            Self::Compare { .. } | Self::Present(_) => 1,
            Self::And(l, r) | Self::Or(l, r) => 1 + l.node_count() + r.node_count(),
            Self::Not(f) | Self::ValuePath { filter: f, .. } => 1 + f.node_count(),
        }
    }
}

/// A PATCH `path` (RFC 7644 §3.5.2): `attrPath`, or `valuePath ["." subAttr]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchPath {
    /// `[urn:]attr[.sub]`.
    Attr(AttrPath),
    /// `[urn:]attr[filter][.sub]`.
    Filtered {
        /// The multi-valued attribute (no sub-attribute).
        path: AttrPath,
        /// Which values to operate on (paths relative to each value).
        filter: Filter,
        /// The sub-attribute of the matching values to operate on.
        sub_attr: Option<String>,
    },
}

impl PatchPath {
    /// The attribute the path starts at (without sub-attribute for filtered paths).
    pub fn attr_path(&self) -> &AttrPath {
        match self {
            Self::Attr(p) | Self::Filtered { path: p, .. } => p,
        }
    }
}
