//! The console's askama pages and the small view rows they list. Rows hold display-ready
//! strings; the handlers build them from store rows.

use askama::Template;
use mailer::Branding;

use crate::pages::{Branded, branded};

/// The navigation bar of an organization's pages.
#[derive(Debug, Clone)]
pub struct Nav {
    /// The organization's UID.
    pub org_uid: String,
    /// Its name.
    pub org_name: String,
    /// Who is signed in.
    pub account_email: String,
    /// The session's CSRF token (the sign-out form).
    pub csrf: String,
    /// The tab to highlight.
    pub tab: &'static str,
    /// Set in a portal session (no account): no account menu, "Done" back to the SaaS.
    pub portal: Option<crate::session::PortalGrant>,
    /// The product's look.
    pub brand: Branding,
    /// The success message of the action that led here, shown once.
    pub notice: Option<String>,
}

/// Console pages take the branding from their navigation bar.
macro_rules! branded_by_nav {
    ($($page:ty),+ $(,)?) => {
        $(impl Branded for $page {
            fn brand(&self) -> &Branding {
                &self.nav.brand
            }
        })+
    };
}

branded_by_nav!(
    OverviewPage,
    ConfirmPage,
    TokensPage,
    RotatePage,
    InstallationsPage,
    GroupsPage,
    GroupPage,
    MappingsPage,
    UsersPage,
    UserPage,
    ActivityPage,
    RequestLogPage,
    RequestDetailPage,
    StacksPage,
    WebhooksPage,
);
branded!(OrgsPage);

impl Nav {
    /// `aria-current` for a tab link.
    pub fn current(&self, tab: &str) -> &'static str {
        if self.tab == tab { "page" } else { "false" }
    }

    /// Whether this is a portal session's page.
    pub fn is_portal(&self) -> bool {
        self.portal.is_some()
    }

    /// Where a portal session's "Done" goes, if the SaaS gave a page.
    pub fn return_url(&self) -> Option<&str> {
        self.portal.as_ref().and_then(|p| p.return_url.as_deref())
    }
}

/// An organization on the landing page.
#[derive(Debug, Clone)]
pub struct OrgLine {
    /// UID.
    pub uid: String,
    /// Name.
    pub name: String,
    /// The account's effective role there.
    pub role: String,
    /// The account's membership status.
    pub status: String,
    /// Whether SCIM is on.
    pub scim_enabled: bool,
    /// Whether the account may open its SCIM settings.
    pub manages: bool,
}

/// `/`: the account's organizations.
#[derive(Template)]
#[template(path = "console/orgs.html")]
pub struct OrgsPage {
    /// The product's look.
    pub brand: Branding,
    /// Who is signed in.
    pub email: String,
    /// The session's CSRF token.
    pub csrf: String,
    /// Its organizations.
    pub orgs: Vec<OrgLine>,
}

/// A value an IdP admin copies into the IdP.
#[derive(Debug, Clone)]
pub struct ConnectionValue {
    /// Element id.
    pub id: &'static str,
    /// Label.
    pub label: &'static str,
    /// The value.
    pub value: String,
    /// Where it goes.
    pub hint: &'static str,
}

/// The SCIM tab's overview.
#[derive(Template)]
#[template(path = "console/overview.html")]
pub struct OverviewPage {
    /// Navigation.
    pub nav: Nav,
    /// Whether SCIM is on.
    pub scim_enabled: bool,
    /// The region this deployment serves.
    pub region: String,
    /// Site URL, Authorization URL, SCIM Base URL, Organization UID.
    pub values: Vec<ConnectionValue>,
    /// The region's auth API URL (for the guides).
    pub site_url: String,
    /// `{app_url}/oauth/authorize?org=…`.
    pub authorization_url: String,
    /// The SCIM Base URL.
    pub scim_base_url: String,
    /// `{auth_api_url}/oauth/token`.
    pub token_url: String,
    /// How many active bearer tokens and installations there are.
    pub active_tokens: usize,
    /// Active installations.
    pub active_installations: usize,
    /// Health at a glance (and the connection test's answer, when asked).
    pub health: super::health::Health,
}

/// A confirmation step (or an impact preview): what will happen, and one button that does it.
#[derive(Template)]
#[template(path = "console/confirm.html")]
pub struct ConfirmPage {
    /// Navigation.
    pub nav: Nav,
    /// Heading.
    pub title: String,
    /// What will happen.
    pub message: String,
    /// Itemized effects (`ul#impact`), when there are any to list.
    pub items: Vec<String>,
    /// Where the form posts.
    pub action: String,
    /// The button's label.
    pub button: &'static str,
    /// Hidden fields carried to the POST.
    pub hidden: Vec<(String, String)>,
    /// Where "Cancel" goes.
    pub cancel: String,
    /// Whether the action destroys or stops something (its button looks destructive).
    pub danger: bool,
}

/// A bearer token row.
#[derive(Debug, Clone)]
pub struct TokenLine {
    /// Public id.
    pub uid: String,
    /// Name.
    pub name: String,
    /// Display prefix.
    pub prefix: String,
    /// Who created it.
    pub creator: String,
    /// When.
    pub created: String,
    /// Last use.
    pub last_used: String,
    /// Expiry.
    pub expires: String,
    /// `active`, `revoked` or `expired`.
    pub state: &'static str,
}

/// A token just made, shown once.
#[derive(Debug, Clone)]
pub struct NewTokenView {
    /// Its name.
    pub name: String,
    /// The token.
    pub token: String,
    /// What else to know (after a rotation: until when the old one works); may be empty.
    pub note: String,
}

/// Rotating a token: the overlap to choose, and the button.
#[derive(Template)]
#[template(path = "console/token_rotate.html")]
pub struct RotatePage {
    /// Navigation.
    pub nav: Nav,
    /// The token's public id.
    pub uid: String,
    /// Its name.
    pub name: String,
    /// Its display prefix.
    pub prefix: String,
    /// Its last use.
    pub last_used: String,
    /// The overlap choices: (form value, words).
    pub overlaps: Vec<(&'static str, &'static str)>,
    /// Why the last submission was refused.
    pub error: Option<String>,
}

/// The tokens page.
#[derive(Template)]
#[template(path = "console/tokens.html")]
pub struct TokensPage {
    /// Navigation.
    pub nav: Nav,
    /// The tokens.
    pub tokens: Vec<TokenLine>,
    /// A token just created: shown this once.
    pub new_token: Option<NewTokenView>,
    /// Why the last submission was refused.
    pub error: Option<String>,
    /// Whether SCIM is on (tokens work only then).
    pub scim_enabled: bool,
}

/// An installation row.
#[derive(Debug, Clone)]
pub struct InstallationLine {
    /// Public id.
    pub uid: String,
    /// The IdP client's name.
    pub client: String,
    /// Who approved it.
    pub approved_by: String,
    /// When.
    pub created: String,
    /// Scopes.
    pub scopes: String,
    /// Last token use.
    pub last_used: String,
    /// `active` or `revoked`.
    pub state: &'static str,
}

/// Connected IdPs.
#[derive(Template)]
#[template(path = "console/installations.html")]
pub struct InstallationsPage {
    /// Navigation.
    pub nav: Nav,
    /// The installations.
    pub rows: Vec<InstallationLine>,
}

/// A group row.
#[derive(Debug, Clone)]
pub struct GroupLine {
    /// SCIM id.
    pub uid: String,
    /// displayName.
    pub name: String,
    /// externalId.
    pub external_id: String,
    /// Member count.
    pub member_count: u64,
    /// What it grants, in words (empty: not mapped).
    pub mapping: String,
}

/// The Groups tab (and the mapping page's group search).
#[derive(Template)]
#[template(path = "console/groups.html")]
pub struct GroupsPage {
    /// Navigation.
    pub nav: Nav,
    /// The search term.
    pub q: String,
    /// The groups.
    pub rows: Vec<GroupLine>,
    /// The next page's link.
    pub next: Option<String>,
    /// `back=…` for links from this page (their back link returns here).
    pub back_query: String,
}

/// A group member.
#[derive(Debug, Clone)]
pub struct MemberLine {
    /// The user's SCIM id.
    pub uid: String,
    /// Display name or userName.
    pub display: String,
}

/// A stack in the mapping form.
#[derive(Debug, Clone)]
pub struct StackChoice {
    /// UID (the select's name is `stack:{uid}`).
    pub uid: String,
    /// Name.
    pub name: String,
    /// The role the mapping grants now (empty: none).
    pub current: String,
}

/// A group: members, mapping, the mapping form.
#[derive(Template)]
#[template(path = "console/group.html")]
pub struct GroupPage {
    /// Navigation.
    pub nav: Nav,
    /// The group.
    pub group: GroupLine,
    /// A page of members.
    pub members: Vec<MemberLine>,
    /// The members page's offset.
    pub offset: u64,
    /// The previous members page.
    pub prev: Option<String>,
    /// The next members page.
    pub next: Option<String>,
    /// The org role the mapping grants now (empty: none).
    pub org_role: String,
    /// The stacks, with the role the mapping grants on each.
    pub stacks: Vec<StackChoice>,
    /// Whether the group is mapped.
    pub mapped: bool,
    /// The organization roles a mapping may grant (the catalog's, never Owner).
    pub org_roles: Vec<RoleOption>,
    /// The stack roles of the catalog.
    pub stack_roles: Vec<RoleOption>,
    /// Where the back link goes (the page the admin came from).
    pub back: String,
    /// `back=…` for links from this page (their back link returns here).
    pub back_query: String,
    /// Why the mapping form was refused.
    pub error: Option<String>,
}

/// A role offered by a form.
#[derive(Debug, Clone)]
pub struct RoleOption {
    /// Its key (the form value).
    pub key: String,
    /// Its display name.
    pub name: String,
}

/// A mapping row.
#[derive(Debug, Clone)]
pub struct MappingLine {
    /// The group's SCIM id.
    pub group_uid: String,
    /// Its name.
    pub group_name: String,
    /// What it grants, in words.
    pub grants: String,
}

/// Every group mapping, and a group search to add one.
#[derive(Template)]
#[template(path = "console/mappings.html")]
pub struct MappingsPage {
    /// Navigation.
    pub nav: Nav,
    /// The mappings.
    pub rows: Vec<MappingLine>,
    /// The search term.
    pub q: String,
    /// Groups matching it.
    pub results: Vec<GroupLine>,
    /// Every group's displayName, for the picker.
    pub choices: Vec<String>,
    /// What was typed in the picker (kept when it matched no group).
    pub picked: String,
    /// Why the picked group was not opened.
    pub error: Option<String>,
    /// `back=…` for links from this page (their back link returns here).
    pub back_query: String,
}

/// A provisioned user row.
#[derive(Debug, Clone)]
pub struct UserLine {
    /// SCIM id.
    pub uid: String,
    /// The linked account's public id, when linked.
    pub account_uid: Option<String>,
    /// The latest invitation's state, in words (empty: none).
    pub invitation: String,
    /// Whether the latest invitation failed (shown as an error).
    pub invitation_failed: bool,
    /// userName.
    pub user_name: String,
    /// Name.
    pub name: String,
    /// Primary email.
    pub email: String,
    /// Membership status.
    pub status: String,
    /// Whether the membership is suspended (shown without roles).
    pub suspended: bool,
    /// Whether the IdP has it active.
    pub active: bool,
    /// Effective org role.
    pub effective_role: String,
    /// Effective stack roles, in words.
    pub stack_roles: String,
    /// Groups, by name.
    pub groups: String,
}

/// The Users tab.
#[derive(Template)]
#[template(path = "console/users.html")]
pub struct UsersPage {
    /// Navigation.
    pub nav: Nav,
    /// The search term.
    pub q: String,
    /// The users.
    pub rows: Vec<UserLine>,
    /// The next page's link.
    pub next: Option<String>,
    /// `back=…` for links from this page (their back link returns here).
    pub back_query: String,
    /// What the last action did.
    pub notice: Option<String>,
}

/// A role in effect and every grant of it, in words.
#[derive(Debug, Clone)]
pub struct RoleLine {
    /// Where it applies: "Organization" or the stack's name.
    pub scope: String,
    /// The role in effect.
    pub role: String,
    /// Every grant: "Admin, set by hand", "Developer, from the group Engineering".
    pub sources: Vec<SourceLine>,
}

/// One grant of a role.
#[derive(Debug, Clone)]
pub struct SourceLine {
    /// The role granted.
    pub role: String,
    /// The group that grants it (SCIM id, name), or `None` when set by hand.
    pub group: Option<(String, String)>,
    /// Whether this grant is the one in effect (the highest).
    pub decides: bool,
}

/// A SCIM attribute shown on the user page.
#[derive(Debug, Clone)]
pub struct AttributeLine {
    /// Its name (`userName`, `name.givenName`, `emails`).
    pub name: String,
    /// Its value, in words.
    pub value: String,
}

/// A group the user belongs to.
#[derive(Debug, Clone)]
pub struct UserGroupLine {
    /// SCIM id.
    pub uid: String,
    /// displayName.
    pub name: String,
    /// What its mapping grants, in words (empty: not mapped).
    pub grants: String,
}

/// One provisioned person: SCIM attributes, groups, effective roles and their sources, membership
/// and invitation state, history.
#[derive(Template)]
#[template(path = "console/user.html")]
pub struct UserPage {
    /// Navigation.
    pub nav: Nav,
    /// The SCIM user's id.
    pub uid: String,
    /// A heading: the name, else the userName.
    pub title: String,
    /// userName.
    pub user_name: String,
    /// Whether the IdP has it active.
    pub active: bool,
    /// The membership status: `invited`, `active`, `suspended`, or `not linked`.
    pub status: String,
    /// The membership status in a sentence.
    pub status_words: String,
    /// The linked account's public id (the invitation form), when linked.
    pub account_uid: Option<String>,
    /// The linked account's email.
    pub account_email: String,
    /// The latest invitation's state, in words (empty: none).
    pub invitation: String,
    /// Whether the latest invitation failed.
    pub invitation_failed: bool,
    /// SCIM attributes.
    pub attributes: Vec<AttributeLine>,
    /// The full SCIM resource, pretty-printed.
    pub resource: String,
    /// Groups.
    pub groups: Vec<UserGroupLine>,
    /// Effective roles with their sources (empty while suspended or not linked).
    pub roles: Vec<RoleLine>,
    /// History, newest first.
    pub history: Vec<AuditLine>,
    /// Where "back" goes (the page the admin came from, when it was one of this console's).
    pub back: String,
    /// `back=…` for links from this page (their back link returns here).
    pub back_query: String,
}

/// An audit row.
#[derive(Debug, Clone)]
pub struct AuditLine {
    /// When.
    pub at: String,
    /// Who (kind and id).
    pub actor: String,
    /// What.
    pub action: String,
    /// On what, by name.
    pub resource: String,
    /// The resource's page, when it has one and still exists.
    pub resource_link: Option<String>,
    /// The request's id.
    pub request_id: String,
    /// The client address.
    pub ip: String,
    /// What happened, as a sentence.
    pub detail: String,
}

/// The Activity tab.
#[derive(Template)]
#[template(path = "console/activity.html")]
pub struct ActivityPage {
    /// Navigation.
    pub nav: Nav,
    /// Filter: action prefix.
    pub action: String,
    /// Filter: actor kind.
    pub actor: String,
    /// Filter: resource id.
    pub resource: String,
    /// Filter: request id.
    pub request: String,
    /// The entries.
    pub rows: Vec<AuditLine>,
    /// The next (older) page's link.
    pub next: Option<String>,
}

/// A SCIM request in the log.
#[derive(Debug, Clone)]
pub struct RequestLine {
    /// Its page.
    pub href: String,
    /// When it arrived.
    pub at: String,
    /// The HTTP method.
    pub method: String,
    /// Path and query after the organization's SCIM Base URL.
    pub path: String,
    /// Path and query as received.
    pub full_path: String,
    /// The answer's status.
    pub status: i32,
    /// `ok`, `refused`, `client-error` or `server-error` (its badge).
    pub status_class: &'static str,
    /// How long the answer took.
    pub duration: String,
    /// The credential used, in words.
    pub credential: String,
    /// The userName or externalId it was about.
    pub subject: String,
}

/// The Request log page.
#[derive(Template)]
#[template(path = "console/requests.html")]
pub struct RequestLogPage {
    /// Navigation.
    pub nav: Nav,
    /// How long requests are kept.
    pub retention_days: i64,
    /// Filter: status class.
    pub status: String,
    /// Filter: method.
    pub method: String,
    /// Filter: text.
    pub text: String,
    /// Filter: userName or externalId.
    pub user: String,
    /// Filter: from (datetime-local).
    pub since: String,
    /// Filter: until (datetime-local).
    pub until: String,
    /// The requests.
    pub rows: Vec<RequestLine>,
    /// The next (older) page's link.
    pub next: Option<String>,
}

/// One logged request with its bodies.
#[derive(Template)]
#[template(path = "console/request.html")]
pub struct RequestDetailPage {
    /// Navigation.
    pub nav: Nav,
    /// The request.
    pub line: RequestLine,
    /// Its request id.
    pub request_id: String,
    /// The client address.
    pub ip: String,
    /// The request body (redacted).
    pub request_body: String,
    /// The response body (redacted).
    pub response_body: String,
    /// The log's page.
    pub back: String,
}

/// A stack row.
#[derive(Debug, Clone)]
pub struct StackLine {
    /// UID.
    pub uid: String,
    /// Name.
    pub name: String,
    /// When it was created.
    pub created: String,
}

/// The stacks page.
#[derive(Template)]
#[template(path = "console/stacks.html")]
pub struct StacksPage {
    /// Navigation.
    pub nav: Nav,
    /// The stacks.
    pub rows: Vec<StackLine>,
    /// Why the last submission was refused.
    pub error: Option<String>,
}

/// A date as the console shows it.
pub fn when(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// An optional date, or "never".
pub fn when_or(at: Option<chrono::DateTime<chrono::Utc>>, none: &str) -> String {
    at.map_or_else(|| none.to_owned(), when)
}

/// A delivery of one of the organization's events to an endpoint.
#[derive(Debug, Clone)]
pub struct DeliveryLine {
    /// The event's id (the message's `webhook-id`).
    pub event_uid: String,
    /// What happened, in words.
    pub event: String,
    /// `delivered`, `pending` or `failed`.
    pub status: String,
    /// When the event was handed to this endpoint.
    pub created: String,
    /// The last answer's HTTP status (empty: none yet), or the connection error.
    pub response: String,
    /// Attempts so far.
    pub attempts: i32,
    /// When the next attempt is due (empty when none is).
    pub next_retry: String,
}

/// An endpoint that receives the organization's events.
#[derive(Debug, Clone)]
pub struct EndpointBlock {
    /// Its public id.
    pub uid: String,
    /// Where deliveries go: the scheme and host only (a path can hold a credential).
    pub destination: String,
    /// What it is for.
    pub description: String,
    /// Enabled, or why not.
    pub state: String,
    /// Whether it is enabled.
    pub enabled: bool,
    /// The event types it receives, in words.
    pub events: String,
    /// Recent deliveries of the organization's events, newest first.
    pub deliveries: Vec<DeliveryLine>,
}

/// The Webhooks tab: where the organization's changes are pushed, and whether they arrive.
#[derive(Template)]
#[template(path = "console/webhooks.html")]
pub struct WebhooksPage {
    /// Navigation.
    pub nav: Nav,
    /// The endpoints.
    pub endpoints: Vec<EndpointBlock>,
    /// Why the last action was refused.
    pub error: Option<String>,
}
