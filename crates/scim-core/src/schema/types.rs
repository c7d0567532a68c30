//! Attribute characteristics (RFC 7643 §2.2, §7) and their JSON representation in `/Schemas`.

use serde::Serialize;
use serde_json::{Map, Value, json};

/// An attribute's data type (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AttrType {
    /// A JSON string.
    String,
    /// A JSON `true`/`false`.
    Boolean,
    /// A JSON number with optional fraction.
    Decimal,
    /// A JSON number without fraction.
    Integer,
    /// An `xsd:dateTime` string such as `2008-01-23T04:56:22Z`.
    DateTime,
    /// Base64-encoded bytes.
    Binary,
    /// A URI referring to a resource.
    Reference,
    /// An object of sub-attributes.
    Complex,
}

/// Whether and how an attribute may be modified (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Mutability {
    /// Set by the service provider only; client values are ignored.
    ReadOnly,
    /// Freely updated.
    ReadWrite,
    /// Set once (at creation or when still unassigned), never changed afterwards.
    Immutable,
    /// Accepted but never returned (passwords).
    WriteOnly,
}

/// When an attribute is returned (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Returned {
    /// Always, even when `attributes` does not name it or `excludedAttributes` does.
    Always,
    /// Never.
    Never,
    /// Unless excluded, or unless `attributes` names other attributes only.
    Default,
    /// Only when named in `attributes`.
    Request,
}

/// How the service provider enforces uniqueness (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Uniqueness {
    /// No uniqueness.
    None,
    /// Unique within the tenant (organization).
    Server,
    /// Globally unique.
    Global,
}

/// One attribute definition and its characteristics.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeDef {
    /// Canonical name (the case used in responses).
    pub name: String,
    /// Data type.
    pub attr_type: AttrType,
    /// Whether the value is an array.
    pub multi_valued: bool,
    /// Description published in `/Schemas`.
    pub description: String,
    /// Whether creation/replacement must supply it.
    pub required: bool,
    /// Whether string comparisons are case-sensitive (filters, uniqueness, PATCH matching).
    pub case_exact: bool,
    /// Mutability.
    pub mutability: Mutability,
    /// Returned rule.
    pub returned: Returned,
    /// Uniqueness.
    pub uniqueness: Uniqueness,
    /// Suggested values (published, not enforced: IdPs send their own `type` values).
    pub canonical_values: Vec<String>,
    /// For `reference` attributes, what they may refer to (`User`, `Group`, `external`, `uri`).
    pub reference_types: Vec<String>,
    /// Sub-attributes of a `complex` attribute.
    pub sub_attributes: Vec<AttributeDef>,
}

impl AttributeDef {
    /// A single-valued, optional, readWrite, case-insensitive attribute returned by default.
    pub fn new(name: &str, attr_type: AttrType, description: &str) -> Self {
        Self {
            name: name.to_owned(),
            attr_type,
            multi_valued: false,
            description: description.to_owned(),
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: Vec::new(),
            reference_types: Vec::new(),
            sub_attributes: Vec::new(),
        }
    }

    /// A `string` attribute.
    pub fn string(name: &str, description: &str) -> Self {
        Self::new(name, AttrType::String, description)
    }

    /// A `complex` attribute with these sub-attributes.
    pub fn complex(name: &str, description: &str, subs: Vec<AttributeDef>) -> Self {
        Self {
            sub_attributes: subs,
            ..Self::new(name, AttrType::Complex, description)
        }
    }

    /// Builder: multi-valued.
    pub fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    /// Builder: required.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
    /// Builder: case-exact.
    pub fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    /// Builder: mutability.
    pub fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }
    /// Builder: returned rule.
    pub fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }
    /// Builder: uniqueness.
    pub fn uniqueness(mut self, u: Uniqueness) -> Self {
        self.uniqueness = u;
        self
    }
    /// Builder: canonical values.
    pub fn canonical(mut self, values: &[&str]) -> Self {
        self.canonical_values = values.iter().map(|v| (*v).to_owned()).collect();
        self
    }
    /// Builder: reference types.
    pub fn references(mut self, types: &[&str]) -> Self {
        self.reference_types = types.iter().map(|v| (*v).to_owned()).collect();
        self
    }

    /// The sub-attribute with this name (case-insensitive).
    pub fn sub_attribute(&self, name: &str) -> Option<&AttributeDef> {
        super::find_attr(&self.sub_attributes, name)
    }

    /// Whether the client may write this attribute at all.
    pub fn is_writable(&self) -> bool {
        self.mutability != Mutability::ReadOnly
    }

    /// The RFC 7643 §7 JSON representation.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), json!(self.name));
        m.insert("type".into(), json!(self.attr_type));
        m.insert("multiValued".into(), json!(self.multi_valued));
        m.insert("description".into(), json!(self.description));
        m.insert("required".into(), json!(self.required));
        if self.attr_type == AttrType::Complex {
            let subs: Vec<Value> = self
                .sub_attributes
                .iter()
                .map(AttributeDef::to_json)
                .collect();
            m.insert("subAttributes".into(), Value::Array(subs));
        } else {
            m.insert("caseExact".into(), json!(self.case_exact));
        }
        if !self.canonical_values.is_empty() {
            m.insert("canonicalValues".into(), json!(self.canonical_values));
        }
        if self.attr_type == AttrType::Reference {
            m.insert("referenceTypes".into(), json!(self.reference_types));
        }
        m.insert("mutability".into(), json!(self.mutability));
        m.insert("returned".into(), json!(self.returned));
        m.insert("uniqueness".into(), json!(self.uniqueness));
        Value::Object(m)
    }
}

/// A schema (RFC 7643 §7): an id (URN), a name and its attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaDef {
    /// The schema URN.
    pub id: String,
    /// Short name, e.g. `User`.
    pub name: String,
    /// Description.
    pub description: String,
    /// Top-level attributes.
    pub attributes: Vec<AttributeDef>,
}

impl SchemaDef {
    /// The top-level attribute with this name (case-insensitive).
    pub fn attribute(&self, name: &str) -> Option<&AttributeDef> {
        super::find_attr(&self.attributes, name)
    }

    /// The `/Schemas/{id}` document; `location` is its absolute URL when known.
    pub fn to_json(&self, location: Option<&str>) -> Value {
        let mut meta = Map::new();
        meta.insert("resourceType".into(), json!("Schema"));
        if let Some(loc) = location {
            meta.insert("location".into(), json!(loc));
        }
        json!({
            "schemas": [super::SCHEMA_SCHEMA],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes.iter().map(AttributeDef::to_json).collect::<Vec<_>>(),
            "meta": meta,
        })
    }
}
