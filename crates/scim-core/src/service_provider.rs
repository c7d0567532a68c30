//! The `/ServiceProviderConfig` document (RFC 7643 §5, RFC 9865 §4 `pagination`), built from
//! the capabilities the deployment actually has.

use serde_json::{Value, json};

use crate::schema::SERVICE_PROVIDER_CONFIG_SCHEMA;

/// An authentication scheme advertised in `authenticationSchemes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticationScheme {
    /// `oauthbearertoken`, `httpbasic`, …
    pub scheme_type: String,
    /// Display name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Specification URI.
    pub spec_uri: Option<String>,
    /// Documentation URI.
    pub documentation_uri: Option<String>,
    /// Whether this is the preferred scheme.
    pub primary: bool,
}

impl AuthenticationScheme {
    /// OAuth 2.0 bearer tokens (RFC 6750): what scimgate accepts.
    pub fn oauth_bearer_token(primary: bool) -> Self {
        Self {
            scheme_type: "oauthbearertoken".into(),
            name: "OAuth Bearer Token".into(),
            description:
                "Authentication with an OAuth 2.0 access token or an organization API token".into(),
            spec_uri: Some("https://www.rfc-editor.org/info/rfc6750".into()),
            documentation_uri: None,
            primary,
        }
    }

    fn to_json(&self) -> Value {
        let mut v = json!({
            "type": self.scheme_type, "name": self.name, "description": self.description,
            "primary": self.primary,
        });
        if let Some(o) = v.as_object_mut() {
            if let Some(u) = &self.spec_uri {
                o.insert("specUri".into(), json!(u));
            }
            if let Some(u) = &self.documentation_uri {
                o.insert("documentationUri".into(), json!(u));
            }
        }
        v
    }
}

/// Builder for the ServiceProviderConfig document. Defaults: PATCH on, bulk off, filter on with
/// 200 results, sort off, ETag on, changePassword off, bearer tokens, index pagination only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceProviderConfigBuilder {
    documentation_uri: Option<String>,
    patch: bool,
    bulk: Option<(u32, u64)>,
    filter_max_results: Option<u32>,
    sort: bool,
    etag: bool,
    change_password: bool,
    schemes: Vec<AuthenticationScheme>,
    cursor: bool,
    index: bool,
    default_method: &'static str,
    default_page_size: u32,
    max_page_size: u32,
    cursor_timeout_secs: u64,
    location: Option<String>,
}

impl Default for ServiceProviderConfigBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ServiceProviderConfigBuilder {
    /// The defaults above.
    pub fn new() -> Self {
        Self {
            documentation_uri: None,
            patch: true,
            bulk: None,
            filter_max_results: Some(200),
            sort: false,
            etag: true,
            change_password: false,
            schemes: vec![AuthenticationScheme::oauth_bearer_token(true)],
            cursor: false,
            index: true,
            default_method: "index",
            default_page_size: 100,
            max_page_size: 200,
            cursor_timeout_secs: 3600,
            location: None,
        }
    }
    /// `documentationUri`.
    pub fn documentation_uri(mut self, uri: impl Into<String>) -> Self {
        self.documentation_uri = Some(uri.into());
        self
    }
    /// `patch.supported`.
    pub fn patch(mut self, supported: bool) -> Self {
        self.patch = supported;
        self
    }
    /// Enables bulk with `maxOperations` and `maxPayloadSize` (bytes).
    pub fn bulk(mut self, max_operations: u32, max_payload_size: u64) -> Self {
        self.bulk = Some((max_operations, max_payload_size));
        self
    }
    /// Enables filtering with `maxResults`, or disables it with `None`.
    pub fn filter(mut self, max_results: Option<u32>) -> Self {
        self.filter_max_results = max_results;
        self
    }
    /// `sort.supported`.
    pub fn sort(mut self, supported: bool) -> Self {
        self.sort = supported;
        self
    }
    /// `etag.supported`.
    pub fn etag(mut self, supported: bool) -> Self {
        self.etag = supported;
        self
    }
    /// `changePassword.supported`.
    pub fn change_password(mut self, supported: bool) -> Self {
        self.change_password = supported;
        self
    }
    /// Replaces the advertised authentication schemes.
    pub fn authentication_schemes(mut self, schemes: Vec<AuthenticationScheme>) -> Self {
        self.schemes = schemes;
        self
    }
    /// RFC 9865 `pagination`: which methods are supported, page sizes and cursor lifetime.
    /// The default method is cursor when index is not supported.
    pub fn pagination(
        mut self,
        cursor: bool,
        index: bool,
        default_page_size: u32,
        max_page_size: u32,
        cursor_timeout_secs: u64,
    ) -> Self {
        self.cursor = cursor;
        self.index = index;
        self.default_method = if index || !cursor { "index" } else { "cursor" };
        self.default_page_size = default_page_size.min(max_page_size);
        self.max_page_size = max_page_size;
        self.cursor_timeout_secs = cursor_timeout_secs;
        self
    }
    /// `meta.location` (absolute URL of the document).
    pub fn location(mut self, url: impl Into<String>) -> Self {
        self.location = Some(url.into());
        self
    }

    /// The JSON document.
    pub fn build(&self) -> Value {
        let (bulk_on, max_ops, max_payload) = match self.bulk {
            Some((ops, size)) => (true, ops, size),
            None => (false, 0, 0),
        };
        let mut pagination = json!({
            "cursor": self.cursor,
            "index": self.index,
            "defaultPaginationMethod": self.default_method,
            "defaultPageSize": self.default_page_size,
            "maxPageSize": self.max_page_size,
        });
        if self.cursor
            && let Some(p) = pagination.as_object_mut()
        {
            p.insert("cursorTimeout".into(), json!(self.cursor_timeout_secs));
        }
        let mut meta = json!({"resourceType": "ServiceProviderConfig"});
        if let (Some(loc), Some(m)) = (&self.location, meta.as_object_mut()) {
            m.insert("location".into(), json!(loc));
        }
        let mut doc = json!({
            "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
            "patch": {"supported": self.patch},
            "bulk": {"supported": bulk_on, "maxOperations": max_ops, "maxPayloadSize": max_payload},
            "filter": {"supported": self.filter_max_results.is_some(), "maxResults": self.filter_max_results.unwrap_or(0)},
            "changePassword": {"supported": self.change_password},
            "sort": {"supported": self.sort},
            "etag": {"supported": self.etag},
            "authenticationSchemes": self.schemes.iter().map(AuthenticationScheme::to_json).collect::<Vec<_>>(),
            "pagination": pagination,
            "meta": meta,
        });
        if let (Some(uri), Some(o)) = (&self.documentation_uri, doc.as_object_mut()) {
            o.insert("documentationUri".into(), json!(uri));
        }
        doc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_describe_scimgate() {
        let doc = ServiceProviderConfigBuilder::new().build();
        assert_eq!(doc["schemas"], json!([SERVICE_PROVIDER_CONFIG_SCHEMA]));
        assert_eq!(doc["patch"], json!({"supported": true}));
        assert_eq!(
            doc["bulk"],
            json!({"supported": false, "maxOperations": 0, "maxPayloadSize": 0})
        );
        assert_eq!(doc["filter"], json!({"supported": true, "maxResults": 200}));
        assert_eq!(doc["etag"], json!({"supported": true}));
        assert_eq!(doc["authenticationSchemes"][0]["type"], "oauthbearertoken");
        assert_eq!(doc["pagination"]["defaultPaginationMethod"], "index");
        assert!(doc["pagination"].get("cursorTimeout").is_none());
    }

    #[test]
    fn builder_sets_every_capability() {
        let doc = ServiceProviderConfigBuilder::new()
            .bulk(1000, 1_048_576)
            .filter(Some(500))
            .sort(true)
            .change_password(false)
            .pagination(true, false, 50, 500, 600)
            .documentation_uri("https://docs.example.com/scim")
            .location("https://auth.example.com/scim/v2/ServiceProviderConfig")
            .build();
        assert_eq!(
            doc["bulk"],
            json!({"supported": true, "maxOperations": 1000, "maxPayloadSize": 1_048_576})
        );
        assert_eq!(doc["filter"]["maxResults"], 500);
        assert_eq!(doc["sort"]["supported"], true);
        assert_eq!(
            doc["pagination"],
            json!({"cursor": true, "index": false, "defaultPaginationMethod": "cursor",
                   "defaultPageSize": 50, "maxPageSize": 500, "cursorTimeout": 600})
        );
        assert_eq!(doc["documentationUri"], "https://docs.example.com/scim");
        assert_eq!(
            doc["meta"]["location"],
            "https://auth.example.com/scim/v2/ServiceProviderConfig"
        );
    }
}
