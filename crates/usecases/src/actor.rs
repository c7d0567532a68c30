//! [`Actor`]: who acts, and from which request — the one type every use case takes and every
//! audit row and event records.

/// The kind of actor and its identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorKind {
    /// A signed-in account (console, consent page, invitation acceptance).
    Account {
        /// Internal id (recorded as a token's creator, an installation's approver).
        id: store::ids::AccountId,
        /// Public id.
        uid: String,
    },
    /// An organization's bearer token, by its public id.
    ApiToken(String),
    /// An IdP's OAuth installation, by its public id.
    Installation(String),
    /// The SaaS backend's OAuth client (management API), by its `client_id`.
    BackendClient(String),
    /// A portal link's session (a customer's IT admin without an account), by the link's id.
    PortalLink(String),
    /// The operator, through the CLI.
    Operator,
    /// scimgate itself (background work).
    System,
}

/// Who acts, and the request it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Who.
    pub kind: ActorKind,
    /// The HTTP request's id.
    pub request_id: Option<String>,
    /// The client's address.
    pub ip: Option<String>,
}

impl Actor {
    /// An actor outside any request.
    pub fn new(kind: ActorKind) -> Self {
        Self {
            kind,
            request_id: None,
            ip: None,
        }
    }

    /// The operator at the CLI.
    pub fn operator() -> Self {
        Self::new(ActorKind::Operator)
    }

    /// scimgate's own background work.
    pub fn system() -> Self {
        Self::new(ActorKind::System)
    }

    /// The same actor, acting through the request `request_id` from `ip`.
    pub fn in_request(mut self, request_id: Option<String>, ip: Option<String>) -> Self {
        self.request_id = request_id;
        self.ip = ip;
        self
    }

    /// The kind as recorded (`account`, `api_token`, …).
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            ActorKind::Account { .. } => "account",
            ActorKind::ApiToken(_) => "api_token",
            ActorKind::Installation(_) => "installation",
            ActorKind::BackendClient(_) => "backend_client",
            ActorKind::PortalLink(_) => "portal_link",
            ActorKind::Operator => "operator",
            ActorKind::System => "system",
        }
    }

    /// The public id as recorded.
    pub fn id(&self) -> &str {
        match &self.kind {
            ActorKind::Account { uid, .. } => uid,
            ActorKind::ApiToken(id)
            | ActorKind::Installation(id)
            | ActorKind::BackendClient(id)
            | ActorKind::PortalLink(id) => id,
            ActorKind::Operator => "cli",
            ActorKind::System => "scimgate",
        }
    }

    /// The acting account's internal id, when an account acts.
    pub fn account_id(&self) -> Option<store::ids::AccountId> {
        match self.kind {
            ActorKind::Account { id, .. } => Some(id),
            _ => None,
        }
    }

    /// Whether an identity provider acts (a SCIM request): the rules that protect Owners from
    /// provisioning apply to it.
    pub fn is_provisioning(&self) -> bool {
        matches!(
            self.kind,
            ActorKind::ApiToken(_) | ActorKind::Installation(_)
        )
    }
}

/// The client's address as the gateway established it for a request: the TCP peer, or the address
/// a trusted reverse proxy forwarded. Rate limits and audit rows use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub std::net::IpAddr);

impl ClientAddr {
    /// The address the gateway recorded, else the TCP peer's.
    pub fn resolve(
        recorded: Option<&ClientAddr>,
        peer: Option<std::net::SocketAddr>,
    ) -> Option<std::net::IpAddr> {
        recorded.map(|c| c.0).or(peer.map(|p| p.ip()))
    }
}
