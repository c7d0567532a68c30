//! The command line: a contract the docs, the tests and operators rely on.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Overrides;

/// The command line's root (its help text is written for operators, not taken from the code).
#[derive(Debug, Parser)]
#[command(
    name = "scimgate",
    version,
    about = "scimgate: a multi-tenant SCIM 2.0 gateway. Identity providers provision users and \
             groups into organizations; admins manage it in the browser console.",
    long_about = None
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway.
    Serve {
        #[command(flatten)]
        db: DbArgs,
        /// Address to listen on (host:port).
        #[arg(long)]
        listen: Option<String>,
        /// Region this deployment serves.
        #[arg(long)]
        region: Option<String>,
        /// Do not apply pending migrations at start-up.
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Operator commands against the database.
    Admin {
        #[command(flatten)]
        db: DbArgs,
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Ask a running gateway whether it is ready (`GET /readyz`); exit 0 when it answers 200. For
    /// container health checks: the image has no curl.
    Probe {
        /// The URL to ask.
        #[arg(long, default_value = "http://127.0.0.1:8080/readyz")]
        url: String,
    },
    /// Run on the embedded default with a seeded demo organization, and print how to use it.
    Demo {
        /// Address to listen on (host:port).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
    },
}

/// Where the configuration and the data are.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// A TOML configuration file layered over the embedded defaults.
    #[arg(long, global = true, env = "SCIMGATE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database URL (sqlite://… or postgres://…).
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    /// Key-value store URL (redis://…, rediss://… or memory://).
    #[arg(long, global = true)]
    pub redis_url: Option<String>,
}

impl DbArgs {
    /// The flags as configuration overrides.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            database_url: self.database_url.clone(),
            kv_url: self.redis_url.clone(),
            ..Overrides::default()
        }
    }
}

/// `scimgate admin …`
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an organization and its owner.
    CreateOrg {
        /// Organization name.
        #[arg(long)]
        name: String,
        /// The owner's email (an existing account is reused).
        #[arg(long)]
        owner_email: String,
        /// The owner's password (generated and printed when omitted for a new account).
        #[arg(long)]
        owner_password: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Enable SCIM for an organization.
    EnableScim {
        /// Organization UID.
        #[arg(long)]
        org: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Disable SCIM for an organization (tokens stop working; nothing is deleted).
    DisableScim {
        /// Organization UID.
        #[arg(long)]
        org: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add an account to an organization.
    AddMember {
        /// Organization UID.
        #[arg(long)]
        org: String,
        /// The account's email (created when new).
        #[arg(long)]
        email: String,
        /// owner, admin or member.
        #[arg(long)]
        role: String,
        /// Password to set on the account.
        #[arg(long)]
        password: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create an organization bearer token (shown once).
    CreateToken {
        /// Organization UID.
        #[arg(long)]
        org: String,
        /// A name to recognise it by.
        #[arg(long, default_value = "cli")]
        name: String,
        /// Days until it expires (never when omitted).
        #[arg(long)]
        expires_in_days: Option<u32>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke an organization bearer token: every replica refuses it from now on.
    RevokeToken {
        /// Organization UID.
        #[arg(long)]
        org: String,
        /// The token's id (`token_id` of create-token; listed in the console).
        #[arg(long)]
        token: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Rotate an organization bearer token: a new token under its name (shown once) while the
    /// old one keeps working for the overlap, then is refused by every replica.
    RotateToken {
        /// Organization UID.
        #[arg(long)]
        org: String,
        /// The token's id (`token_id` of create-token; listed in the console).
        #[arg(long)]
        token: String,
        /// How long the old token keeps working: `1h`, `24h`, `7d`, `revoked` (until revoked),
        /// or a number of seconds.
        #[arg(long, default_value = "24h")]
        overlap: String,
        /// Days until the new token expires (never when omitted).
        #[arg(long)]
        expires_in_days: Option<u32>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create a stack (workspace) in an organization, for group mappings to grant roles on.
    CreateStack {
        /// Organization UID.
        #[arg(long)]
        org: String,
        /// The stack's name (unique in the organization, ignoring case).
        #[arg(long)]
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Register an identity provider's OAuth client (secret shown once).
    RegisterClient {
        /// Name shown on the consent page.
        #[arg(long)]
        name: String,
        /// An exact redirect URI (repeatable).
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// Use this client id (to register the same client in every region).
        #[arg(long)]
        client_id: Option<String>,
        /// Use this client secret (at least 32 characters); read from the environment
        /// variable SCIMGATE_CLIENT_SECRET when set, so it stays out of shell history.
        #[arg(long, env = "SCIMGATE_CLIENT_SECRET", hide_env_values = true)]
        client_secret: Option<String>,
        /// A public client: no secret, PKCE required.
        #[arg(long)]
        public: bool,
        /// Accept http:// redirect URIs on non-loopback hosts (recorded on the client).
        #[arg(long)]
        allow_insecure_redirect: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Register the SaaS backend's OAuth client for the management API (`/api/v1`): it gets
    /// access tokens with the client credentials grant. The secret is shown once.
    RegisterBackendClient {
        /// A name to recognise it by.
        #[arg(long)]
        name: String,
        /// Space-separated scopes, e.g. "organizations:read members:read events:read".
        #[arg(long)]
        scopes: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a backend client: its access tokens stop working at their next request.
    RevokeBackendClient {
        /// The client's id (`client_id` of register-backend-client).
        #[arg(long)]
        client: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Rotate the JWT signing keys: the published next key starts signing, the active one
    /// retires (still published until its tokens expire), a new next key is published.
    RotateKeys {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke an organization's OAuth installation: its tokens stop working on every replica.
    RevokeInstallation {
        /// Organization UID.
        #[arg(long)]
        org: String,
        /// Installation UID.
        #[arg(long)]
        installation: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}
