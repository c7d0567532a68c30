//! Typed ids, one per table: an account id cannot be passed where a stack id is expected, and the
//! compiler says so. Internal keys only — public ids (UIDs) are strings.

use sea_orm::DeriveValueType;

macro_rules! ids {
    ($($(#[$meta:meta])* $name:ident),+ $(,)?) => {
        $(
            $(#[$meta])*
            #[derive(
                Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, DeriveValueType,
                serde::Serialize, serde::Deserialize,
            )]
            #[serde(transparent)]
            pub struct $name(pub i64);

            impl std::fmt::Display for $name {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    self.0.fmt(f)
                }
            }
        )+
    };
}

ids! {
    /// `organizations.id`.
    OrgId,
    /// `accounts.id`.
    AccountId,
    /// `org_memberships.id`.
    MembershipId,
    /// `stacks.id`.
    StackId,
    /// `stack_roles.id`.
    StackRoleId,
    /// `scim_users.id`.
    ScimUserId,
    /// `scim_user_emails.id`.
    EmailRowId,
    /// `scim_groups.id`.
    ScimGroupId,
    /// `group_mappings.id`.
    MappingId,
    /// `oauth_clients.id` (not the public `client_id`).
    OauthClientId,
    /// `installations.id`.
    InstallationId,
    /// `refresh_tokens.id`.
    RefreshTokenId,
    /// `api_tokens.id`.
    ApiTokenId,
    /// `signing_keys.id`.
    SigningKeyId,
    /// `events.id`.
    EventId,
    /// `audit_log.id`.
    AuditId,
    /// `backend_clients.id`.
    BackendClientId,
    /// `idempotency_keys.id`.
    IdempotencyKeyId,
    /// `portal_links.id`.
    PortalLinkId,
    /// `invitations.id`.
    InvitationId,
    /// `roles.id`.
    RoleId,
    /// `webhook_endpoints.id`.
    WebhookEndpointId,
    /// `webhook_deliveries.id`.
    WebhookDeliveryId,
    /// `webhook_attempts.id`.
    WebhookAttemptId,
    /// `scim_request_log.id`.
    RequestLogId,
}
