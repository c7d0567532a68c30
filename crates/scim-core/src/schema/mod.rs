//! Schemas as data (RFC 7643 §2, §4, §7): attribute characteristics drive validation, PATCH,
//! projection and the `/Schemas` and `/ResourceTypes` documents, so behaviour and the published
//! schema cannot disagree.

mod definitions;
mod documents;
mod types;

pub use documents::{
    resource_types_document, resource_types_document_for, schemas_document, schemas_document_for,
};
pub use types::{AttrType, AttributeDef, Mutability, Returned, SchemaDef, Uniqueness};

use std::sync::LazyLock;

/// Core User schema URN (RFC 7643 §4.1).
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Core Group schema URN (RFC 7643 §4.2).
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// Enterprise User extension URN (RFC 7643 §4.3).
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// ListResponse message URN.
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// PatchOp message URN.
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Error message URN.
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// BulkRequest message URN.
pub const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// BulkResponse message URN.
pub const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
/// SearchRequest message URN (`POST /.search`).
pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// ServiceProviderConfig schema URN.
pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
/// ResourceType schema URN.
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// Schema schema URN (the `/Schemas` entries' own schema).
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// Schema URNs that some IdPs still send, mapped to the URN they mean. Compared
/// case-insensitively. Microsoft's ADSCIM group schema carries no attributes of its own, so it
/// folds into the core Group schema.
pub const LEGACY_SCHEMA_ALIASES: &[(&str, &str)] = &[
    ("urn:scim:schemas:core:2.0", USER_SCHEMA),
    ("urn:scim:schemas:core:2.0:User", USER_SCHEMA),
    ("urn:scim:schemas:core:2.0:Group", GROUP_SCHEMA),
    (
        "urn:scim:schemas:extension:enterprise:2.0",
        ENTERPRISE_USER_SCHEMA,
    ),
    (
        "urn:scim:schemas:extension:enterprise:2.0:User",
        ENTERPRISE_USER_SCHEMA,
    ),
    (
        "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group",
        GROUP_SCHEMA,
    ),
];

/// A resource type (RFC 7643 §6): its core schema, its extensions and the common attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceSchema {
    /// Resource type name, e.g. `User`.
    pub name: String,
    /// Endpoint relative to the base URL, e.g. `/Users`.
    pub endpoint: String,
    /// Human-readable description.
    pub description: String,
    /// The core schema.
    pub core: SchemaDef,
    /// Schema extensions with whether each is required.
    pub extensions: Vec<(SchemaDef, bool)>,
    /// RFC 7643 §3.1 common attributes (`id`, `externalId`, `meta`). They are part of every
    /// resource but, as the RFC says, not listed in the schema documents.
    pub common: Vec<AttributeDef>,
}

/// Where an attribute lives: in the core schema (top level of the resource) or in an extension
/// (under the extension's URN key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrLocation<'a> {
    /// Top level of the resource (core schema or common attribute).
    Core,
    /// Inside the object stored under this extension URN.
    Extension(&'a str),
}

/// An attribute resolved against a resource schema.
#[derive(Debug, Clone, Copy)]
pub struct ResolvedAttr<'a> {
    /// Where the attribute's value is stored.
    pub location: AttrLocation<'a>,
    /// The top-level attribute.
    pub attr: &'a AttributeDef,
    /// The sub-attribute, when the path named one.
    pub sub: Option<&'a AttributeDef>,
}

impl<'a> ResolvedAttr<'a> {
    /// The definition the path ends at (the sub-attribute if any).
    pub fn leaf(&self) -> &'a AttributeDef {
        self.sub.unwrap_or(self.attr)
    }

    /// Canonical, fully qualified name: `name.givenName` or `urn:…:User:manager`.
    pub fn qualified_name(&self) -> String {
        let mut out = match self.location {
            AttrLocation::Core => String::new(),
            AttrLocation::Extension(urn) => format!("{urn}:"),
        };
        out.push_str(&self.attr.name);
        if let Some(sub) = self.sub {
            out.push('.');
            out.push_str(&sub.name);
        }
        out
    }
}

static USER: LazyLock<ResourceSchema> = LazyLock::new(definitions::user_resource);
static GROUP: LazyLock<ResourceSchema> = LazyLock::new(definitions::group_resource);

impl ResourceSchema {
    /// The `User` resource type: core User plus the (optional) Enterprise User extension.
    pub fn user() -> &'static ResourceSchema {
        &USER
    }

    /// The `Group` resource type.
    pub fn group() -> &'static ResourceSchema {
        &GROUP
    }

    /// Every schema URN this resource type accepts: the core schema first.
    pub fn schema_urns(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.core.id.as_str())
            .chain(self.extensions.iter().map(|(s, _)| s.id.as_str()))
    }

    /// The extension with this URN (case-insensitive), if the resource type has it.
    pub fn extension(&self, urn: &str) -> Option<&SchemaDef> {
        self.extensions
            .iter()
            .map(|(s, _)| s)
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// Maps a schema URN as sent by a client (any case, legacy aliases) to the canonical URN of
    /// this resource type, or `None` if the resource type does not know it.
    pub fn canonical_urn(&self, urn: &str) -> Option<&str> {
        let target = canonical_schema_urn(urn);
        self.schema_urns().find(|u| u.eq_ignore_ascii_case(target))
    }

    /// Whether `urn` (after canonicalization) is this resource type's core schema.
    pub fn is_core_urn(&self, urn: &str) -> bool {
        canonical_schema_urn(urn).eq_ignore_ascii_case(&self.core.id)
    }

    /// Looks up a top-level attribute case-insensitively. `urn` of `None` or of the core schema
    /// searches the core schema and the common attributes; an extension URN searches it.
    pub fn attribute(&self, urn: Option<&str>, name: &str) -> Option<ResolvedAttr<'_>> {
        let ext = match urn {
            Some(u) if !self.is_core_urn(u) => Some(self.extension(canonical_schema_urn(u))?),
            _ => None,
        };
        match ext {
            Some(schema) => schema.attribute(name).map(|attr| ResolvedAttr {
                location: AttrLocation::Extension(&schema.id),
                attr,
                sub: None,
            }),
            None => self
                .core
                .attribute(name)
                .or_else(|| find_attr(&self.common, name))
                .map(|attr| ResolvedAttr {
                    location: AttrLocation::Core,
                    attr,
                    sub: None,
                }),
        }
    }

    /// Resolves `attr[.sub]` (as in an attribute path) to its definitions.
    pub fn resolve(
        &self,
        urn: Option<&str>,
        attr: &str,
        sub: Option<&str>,
    ) -> Option<ResolvedAttr<'_>> {
        let mut resolved = self.attribute(urn, attr)?;
        if let Some(sub) = sub {
            resolved.sub = Some(resolved.attr.sub_attribute(sub)?);
        }
        Some(resolved)
    }

    /// Resolves `attr[.sub]` named without a URN that the core schema and the common attributes
    /// lack, but exactly one extension defines: Entra's older PATCH form says `"path": "manager"`
    /// for the Enterprise User extension's `manager`.
    pub fn resolve_in_extension(&self, attr: &str, sub: Option<&str>) -> Option<ResolvedAttr<'_>> {
        if self.resolve(None, attr, None).is_some() {
            return None;
        }
        let mut found = self
            .extensions
            .iter()
            .filter_map(|(ext, _)| self.resolve(Some(&ext.id), attr, sub));
        let first = found.next()?;
        // Two extensions defining the name would make the path ambiguous: treat it as unknown.
        found.next().is_none().then_some(first)
    }

    /// Resolves a textual attribute path such as `name.givenName`, `USERNAME`, or
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`.
    pub fn resolve_path(&self, path: &str) -> Option<ResolvedAttr<'_>> {
        let (urn, rest) = split_urn(path);
        let (attr, sub) = match rest.split_once('.') {
            Some((a, s)) => (a, Some(s)),
            None => (rest, None),
        };
        self.resolve(urn, attr, sub)
    }
}

/// Maps a schema URN to its canonical spelling (legacy aliases resolved, known URNs in their
/// registered case). Unknown URNs are returned unchanged.
pub fn canonical_schema_urn(urn: &str) -> &str {
    if let Some((_, to)) = LEGACY_SCHEMA_ALIASES
        .iter()
        .find(|(from, _)| from.eq_ignore_ascii_case(urn))
    {
        return to;
    }
    [USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE_USER_SCHEMA]
        .into_iter()
        .find(|known| known.eq_ignore_ascii_case(urn))
        .unwrap_or(urn)
}

/// Splits a possibly URN-qualified attribute path into `(urn, rest)`.
///
/// Known schema URNs (and legacy aliases) are matched as prefixes first, because their version
/// segment (`2.0`) contains a dot; any other `urn:` prefix is split at its last colon.
pub fn split_urn(path: &str) -> (Option<&str>, &str) {
    if !path
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
    {
        return (None, path);
    }
    let known = [USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE_USER_SCHEMA]
        .into_iter()
        .chain(LEGACY_SCHEMA_ALIASES.iter().map(|(from, _)| *from));
    for urn in known {
        if let Some(prefix) = path.get(..urn.len())
            && prefix.eq_ignore_ascii_case(urn)
            && path.as_bytes().get(urn.len()) == Some(&b':')
        {
            return (Some(prefix), &path[urn.len() + 1..]);
        }
    }
    match path.rfind(':') {
        Some(i) => (Some(&path[..i]), &path[i + 1..]),
        None => (None, path),
    }
}

pub(crate) fn find_attr<'a>(attrs: &'a [AttributeDef], name: &str) -> Option<&'a AttributeDef> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

/// Every attribute and sub-attribute name of the built-in schemas, used to give filters and
/// paths parsed without a schema their canonical case (`USERNAME` → `userName`).
pub(crate) fn canonical_name(name: &str) -> Option<&'static str> {
    static NAMES: LazyLock<Vec<String>> = LazyLock::new(|| {
        let mut names = Vec::new();
        for rs in [ResourceSchema::user(), ResourceSchema::group()] {
            let schemas = std::iter::once(&rs.core).chain(rs.extensions.iter().map(|(s, _)| s));
            let attrs = schemas
                .flat_map(|s| s.attributes.iter())
                .chain(rs.common.iter());
            for a in attrs {
                names.push(a.name.clone());
                names.extend(a.sub_attributes.iter().map(|s| s.name.clone()));
            }
        }
        names.sort();
        names.dedup();
        names
    });
    NAMES
        .iter()
        .find(|n| n.eq_ignore_ascii_case(name))
        .map(String::as_str)
}

#[cfg(test)]
mod tests;
