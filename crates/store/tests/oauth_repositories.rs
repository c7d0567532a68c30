//! The OAuth repositories on both backends: one active / one next signing key enforced by the
//! database, rotation order, single-winner refresh rotation, installations as credentials.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::panic)]

mod common;

use chrono::{Duration, Utc};
use store::repo::accounts;
use store::repo::installations::{self, NewInstallation};
use store::repo::oauth_clients::{self, NewClient};
use store::repo::refresh_tokens::{self, NewRefreshToken};
use store::repo::signing_keys::{self, ACTIVE, NEXT, NewSigningKey};
use store::types::Email;
use testkit::{Backend, backend_tests};

fn key(kid: &str) -> NewSigningKey {
    NewSigningKey {
        kid: kid.into(),
        algorithm: "ES256".into(),
        private_key_pem: "pem".into(),
        public_jwk: "{}".into(),
    }
}

async fn one_active_and_one_next_key(backend: Backend) {
    let (_t, db) = common::open(backend).await;
    assert!(
        signing_keys::insert(&db, key("a"), ACTIVE)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        signing_keys::insert(&db, key("b"), ACTIVE)
            .await
            .unwrap()
            .is_none(),
        "second active refused"
    );
    assert!(
        signing_keys::insert(&db, key("c"), NEXT)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        signing_keys::insert(&db, key("d"), NEXT)
            .await
            .unwrap()
            .is_none(),
        "second next refused"
    );
    let active = signing_keys::promote_next(&db).await.unwrap().unwrap();
    assert_eq!(active.kid, "c");
    assert!(signing_keys::in_state(&db, NEXT).await.unwrap().is_none());
    let published = signing_keys::published(&db, Utc::now() - Duration::hours(1))
        .await
        .unwrap();
    let kids: Vec<_> = published
        .iter()
        .map(|k| (k.kid.as_str(), k.state.as_str()))
        .collect();
    assert_eq!(kids, vec![("a", "retired"), ("c", "active")]);
    assert_eq!(
        signing_keys::delete_retired_before(&db, Utc::now() + Duration::hours(1))
            .await
            .unwrap(),
        1
    );
}

async fn refresh_rotation_has_one_winner_and_families_die_whole(backend: Backend) {
    let (_t, db) = common::open(backend).await;
    let scope = common::org(&db, "Acme").await;
    let account = accounts::create(&db, &Email::parse("a@acme.test").unwrap(), None, None)
        .await
        .unwrap();
    let client = oauth_clients::register(
        &db,
        NewClient {
            name: "Okta".into(),
            redirect_uris: vec!["https://idp.example/cb".into()],
            ..NewClient::default()
        },
    )
    .await
    .unwrap();
    let installation = installations::create(
        &db,
        &scope,
        NewInstallation {
            client_id: client.row.id,
            approved_by: account.id,
            scopes: "scim".into(),
            terms_version: "t1".into(),
            ip: None,
            user_agent: None,
        },
    )
    .await
    .unwrap();
    let found = installations::authenticate(&db, &installation.uid, scope.org_uid())
        .await
        .unwrap();
    assert_eq!(found.as_ref().map(|p| &p.scope), Some(&scope));
    assert!(
        !found.unwrap().scim_enabled,
        "the organization's switch comes with it"
    );
    assert_eq!(
        installations::authenticate(&db, &installation.uid, "other-org")
            .await
            .unwrap(),
        None
    );

    let new = |parent| NewRefreshToken {
        region: "local".into(),
        installation_id: installation.id,
        org_id: scope.org_id(),
        family_id: "fam".into(),
        parent_id: parent,
        code_hash: None,
        scopes: "scim".into(),
        expires_at: Utc::now() + Duration::days(90),
    };
    let (row, token) = refresh_tokens::issue(&db, new(None)).await.unwrap();
    assert!(token.starts_with(refresh_tokens::TOKEN_PREFIX));
    assert_eq!(
        refresh_tokens::find(&db, &token)
            .await
            .unwrap()
            .map(|r| r.id),
        Some(row.id)
    );
    let (a, b) = tokio::join!(
        refresh_tokens::mark_used(&db, row.id),
        refresh_tokens::mark_used(&db, row.id)
    );
    assert_eq!(
        [a.unwrap(), b.unwrap()].iter().filter(|w| **w).count(),
        1,
        "one rotation wins"
    );
    let (child, _) = refresh_tokens::issue(&db, new(Some(row.id))).await.unwrap();
    assert_eq!(refresh_tokens::revoke_family(&db, "fam").await.unwrap(), 2);
    assert!(refresh_tokens::family_revoked(&db, "fam").await.unwrap());
    assert!(
        !refresh_tokens::mark_used(&db, child.id).await.unwrap(),
        "revoked tokens never rotate"
    );

    installations::revoke(&db, &scope, &installation.uid)
        .await
        .unwrap();
    assert_eq!(
        installations::authenticate(&db, &installation.uid, scope.org_uid())
            .await
            .unwrap(),
        None
    );
}

backend_tests!(
    one_active_and_one_next_key,
    refresh_rotation_has_one_winner_and_families_die_whole
);
