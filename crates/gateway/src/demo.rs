//! `scimgate demo`: the embedded default with a fresh demo organization, owner, token and two
//! IdP-like OAuth clients, so a new user has something working in a minute.

use std::path::Path;

use store::repo::oauth_clients::NewClient;

use crate::admin;
use crate::config::{Config, Overrides};
use crate::server;

/// Where the demo keeps its database; it starts empty on every run.
const DEMO_DB: &str = "./data/demo.db";

/// Seeds a fresh demo database, prints how to use it, and serves.
pub async fn run(listen: String) -> anyhow::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{DEMO_DB}{suffix}");
        if Path::new(&file).exists() {
            std::fs::remove_file(&file)?;
        }
    }
    let overrides = Overrides {
        listen: Some(listen),
        database_url: Some(format!("sqlite://{DEMO_DB}?mode=rwc")),
        kv_url: Some("memory://".into()),
        region: Some(crate::config::LOCAL_REGION.into()),
        kv_namespace: None,
    };
    let config = Config::load(None, &overrides)?;
    crate::telemetry::init(&config.log);
    let services = server::open_services(&config).await?;
    store::db::migrate(&services.db).await?;

    let owner_email = "owner@demo.scimgate.local";
    let core = &services.core;
    let org = admin::create_org(core, "Demo Org", owner_email, None).await?;
    let org_uid = org.json["org_uid"].as_str().unwrap_or_default().to_owned();
    let password = org.json["owner_password"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let token = admin::create_token(core, &org_uid, "demo", None).await?;
    let okta = admin::register_client(
        core,
        NewClient {
            name: "Okta (demo)".into(),
            redirect_uris: vec![
                "https://system-admin.okta.com/admin/app/cpc/scimgate/oauth/callback".into(),
            ],
            ..NewClient::default()
        },
    )
    .await?;
    let onelogin = admin::register_client(
        core,
        NewClient {
            name: "OneLogin (demo)".into(),
            redirect_uris: vec!["https://admin.us.onelogin.com/provisioning/oauth/callback".into()],
            ..NewClient::default()
        },
    )
    .await?;

    let urls = &services.region;
    let scim_base = format!("{}/scim/v2.0/organizations/{org_uid}", urls.auth_api_url);
    let field = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or_default().to_owned();
    let redirect = |v: &serde_json::Value| {
        v["redirect_uris"][0]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    println!(
        "\nscimgate demo — region local, data in {DEMO_DB} (recreated on every run)\n\n\
         Console sign-in   {app}/login\n  email           {owner_email}\n  password        {password}\n\n\
         SCIM is disabled, as for every new organization: sign in, open the SCIM tab and click\n\
         Enable SCIM (the first step of every IdP guide).\n\n\
         Organization UID  {org_uid}\n\
         Site URL          {auth}\n\
         Authorization URL {app}/oauth/authorize?org={org_uid}\n\
         Token endpoint    {auth}/oauth/token\n\
         SCIM Base URL     {scim_base}\n\
         Bearer token      {token}\n\n\
         Okta-like OAuth client      {okta_id} / {okta_secret}\n  redirect URI  {okta_redirect}\n\
         OneLogin-like OAuth client  {ol_id} / {ol_secret}\n  redirect URI  {ol_redirect}\n\n\
         Try, once SCIM is enabled:\n  curl -s {auth}/healthz\n  curl -s -H 'Authorization: Bearer {token}' {scim_base}/Users\n",
        app = urls.app_url,
        auth = urls.auth_api_url,
        token = field(&token.json, "token"),
        okta_id = field(&okta.json, "client_id"),
        okta_secret = field(&okta.json, "client_secret"),
        okta_redirect = redirect(&okta.json),
        ol_id = field(&onelogin.json, "client_id"),
        ol_secret = field(&onelogin.json, "client_secret"),
        ol_redirect = redirect(&onelogin.json),
    );
    server::serve(config, services).await
}
