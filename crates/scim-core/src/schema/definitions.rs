//! The built-in schemas: core User (every RFC 7643 §4.1 attribute), the Enterprise User
//! extension (§4.3), Group (§4.2) and the common attributes (§3.1), as in RFC 7643 §8.7.1.

use super::types::{AttrType, AttributeDef as A, Mutability, Returned, SchemaDef, Uniqueness};
use super::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, ResourceSchema, USER_SCHEMA};

fn common() -> Vec<A> {
    vec![
        A::string(
            "id",
            "Unique identifier for the resource, assigned by the service provider.",
        )
        .case_exact()
        .mutability(Mutability::ReadOnly)
        .returned(Returned::Always)
        .uniqueness(Uniqueness::Server),
        A::string(
            "externalId",
            "Identifier of the resource as defined by the provisioning client.",
        )
        .case_exact(),
        A::complex(
            "meta",
            "Resource metadata.",
            vec![
                A::string("resourceType", "Name of the resource type.").case_exact(),
                A::new(
                    "created",
                    AttrType::DateTime,
                    "When the resource was added.",
                ),
                A::new(
                    "lastModified",
                    AttrType::DateTime,
                    "When the resource was last updated.",
                ),
                A::new("location", AttrType::Reference, "URI of the resource.")
                    .case_exact()
                    .references(&["uri"]),
                A::string("version", "Version (ETag) of the resource.").case_exact(),
            ]
            .into_iter()
            .map(|a| a.mutability(Mutability::ReadOnly))
            .collect(),
        )
        .mutability(Mutability::ReadOnly),
    ]
}

/// The `value`/`display`/`type`/`primary` sub-attributes shared by emails, phoneNumbers, ….
fn plural(name: &str, description: &str, value: A, types: &[&str]) -> A {
    A::complex(
        name,
        description,
        vec![
            value,
            A::string(
                "display",
                "Human-readable name, primarily used for display purposes.",
            ),
            A::string("type", "A label indicating the attribute's function.").canonical(types),
            A::new(
                "primary",
                AttrType::Boolean,
                "Whether this is the primary value.",
            ),
        ],
    )
    .multi()
}

fn core_user() -> SchemaDef {
    let s = A::string;
    let name = A::complex(
        "name",
        "The components of the user's real name.",
        vec![
            s("formatted", "The full name, formatted for display."),
            s("familyName", "The family name (last name)."),
            s("givenName", "The given name (first name)."),
            s("middleName", "The middle name(s)."),
            s("honorificPrefix", "The honorific prefix(es), e.g. 'Ms.'."),
            s("honorificSuffix", "The honorific suffix(es), e.g. 'III'."),
        ],
    );
    let addresses = A::complex(
        "addresses",
        "A physical mailing address for this user.",
        vec![
            s(
                "formatted",
                "The full mailing address, formatted for display.",
            ),
            s("streetAddress", "The full street address component."),
            s("locality", "The city or locality component."),
            s("region", "The state or region component."),
            s("postalCode", "The zip code or postal code component."),
            s(
                "country",
                "The country name component (ISO 3166-1 alpha-2).",
            ),
            s("type", "A label indicating the address's function.")
                .canonical(&["work", "home", "other"]),
            A::new(
                "primary",
                AttrType::Boolean,
                "Whether this is the primary address.",
            ),
        ],
    )
    .multi();
    let groups = A::complex(
        "groups",
        "Groups the user belongs to, maintained by the service provider.",
        vec![
            s("value", "The identifier of the group.").mutability(Mutability::ReadOnly),
            A::new("$ref", AttrType::Reference, "The URI of the group.")
                .references(&["User", "Group"])
                .mutability(Mutability::ReadOnly),
            s("display", "The group's display name.").mutability(Mutability::ReadOnly),
            s("type", "Whether membership is direct or indirect.")
                .canonical(&["direct", "indirect"])
                .mutability(Mutability::ReadOnly),
        ],
    )
    .multi()
    .mutability(Mutability::ReadOnly);
    let attributes = vec![
        s(
            "userName",
            "Unique identifier for the user, used to authenticate.",
        )
        .required()
        .uniqueness(Uniqueness::Server),
        name,
        s("displayName", "The name of the user, suitable for display."),
        s("nickName", "The casual way to address the user."),
        A::new(
            "profileUrl",
            AttrType::Reference,
            "A URI pointing to the user's online profile.",
        )
        .references(&["external"]),
        s("title", "The user's title, such as 'Vice President'."),
        s(
            "userType",
            "The relationship between the organization and the user.",
        ),
        s(
            "preferredLanguage",
            "The user's preferred written or spoken language (RFC 7231).",
        ),
        s(
            "locale",
            "The user's default location for localization (e.g. en-US).",
        ),
        s(
            "timezone",
            "The user's time zone in IANA format (e.g. America/Los_Angeles).",
        ),
        A::new(
            "active",
            AttrType::Boolean,
            "The user's administrative status.",
        ),
        s("password", "The user's cleartext password; write-only.")
            .mutability(Mutability::WriteOnly)
            .returned(Returned::Never),
        plural(
            "emails",
            "Email addresses for the user.",
            s("value", "The email address."),
            &["work", "home", "other"],
        ),
        plural(
            "phoneNumbers",
            "Phone numbers for the user.",
            s("value", "The phone number."),
            &["work", "home", "mobile", "fax", "pager", "other"],
        ),
        plural(
            "ims",
            "Instant messaging addresses.",
            s("value", "The IM address."),
            &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
        ),
        plural(
            "photos",
            "URLs of photos of the user.",
            A::new("value", AttrType::Reference, "URL of a photo.").references(&["external"]),
            &["photo", "thumbnail"],
        ),
        addresses,
        groups,
        plural(
            "entitlements",
            "Entitlements of the user.",
            s("value", "The entitlement."),
            &[],
        ),
        plural("roles", "Roles of the user.", s("value", "The role."), &[]),
        plural(
            "x509Certificates",
            "X.509 certificates issued to the user.",
            A::new(
                "value",
                AttrType::Binary,
                "DER-encoded certificate, base64.",
            )
            .case_exact(),
            &[],
        ),
    ];
    SchemaDef {
        id: USER_SCHEMA.into(),
        name: "User".into(),
        description: "User Account".into(),
        attributes,
    }
}

fn enterprise_user() -> SchemaDef {
    let s = A::string;
    SchemaDef {
        id: ENTERPRISE_USER_SCHEMA.into(),
        name: "EnterpriseUser".into(),
        description: "Enterprise User".into(),
        attributes: vec![
            s(
                "employeeNumber",
                "Numeric or alphanumeric identifier assigned by the organization.",
            ),
            s("costCenter", "Identifies the name of a cost center."),
            s("organization", "Identifies the name of an organization."),
            s("division", "Identifies the name of a division."),
            s("department", "Identifies the name of a department."),
            A::complex(
                "manager",
                "The user's manager.",
                vec![
                    s("value", "The id of the manager's SCIM User resource."),
                    A::new(
                        "$ref",
                        AttrType::Reference,
                        "The URI of the manager's User resource.",
                    )
                    .references(&["User"]),
                    s("displayName", "The manager's display name.")
                        .mutability(Mutability::ReadOnly),
                ],
            ),
        ],
    }
}

fn core_group() -> SchemaDef {
    let member_subs = vec![
        A::string("value", "Identifier of the member.")
            .case_exact()
            .mutability(Mutability::Immutable),
        A::new(
            "$ref",
            AttrType::Reference,
            "The URI of the member resource.",
        )
        .references(&["User", "Group"])
        .mutability(Mutability::Immutable),
        A::string("type", "The type of the member.")
            .canonical(&["User", "Group"])
            .mutability(Mutability::Immutable),
        // Not in RFC 7643 §8.7.1, but Okta and Entra send it; declared so it is not "unknown".
        A::string("display", "Display name of the member.").mutability(Mutability::Immutable),
    ];
    SchemaDef {
        id: GROUP_SCHEMA.into(),
        name: "Group".into(),
        description: "Group".into(),
        attributes: vec![
            // Required here (RFC 7643's schema says optional) because group mapping is done by
            // name in the console; every IdP we support sends it.
            A::string("displayName", "A human-readable name for the group.").required(),
            A::complex("members", "A list of members of the group.", member_subs).multi(),
        ],
    }
}

pub(super) fn user_resource() -> ResourceSchema {
    ResourceSchema {
        name: "User".into(),
        endpoint: "/Users".into(),
        description: "User Account".into(),
        core: core_user(),
        extensions: vec![(enterprise_user(), false)],
        common: common(),
    }
}

pub(super) fn group_resource() -> ResourceSchema {
    ResourceSchema {
        name: "Group".into(),
        endpoint: "/Groups".into(),
        description: "Group".into(),
        core: core_group(),
        extensions: Vec::new(),
        common: common(),
    }
}
