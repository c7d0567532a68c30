//! The access-token verifier refuses every token that is not exactly what this region issues:
//! wrong `typ` or `alg`, foreign or unknown `kid`, wrong `iss` (naming the region when it is
//! another of ours), wrong `aud`, expired, not yet valid, or with a broken signature. Run on
//! both databases (the key ring lives there).
#![allow(clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use testkit::{Backend, TestDatabase, backend_tests};
use token_service::jwt::{self, AccessClaims, AccessGrant, JwtError};
use token_service::keys::{self, KeyRing};
use token_service::settings::TokenSettings;

const GRANT: AccessGrant<'static> = AccessGrant {
    installation_uid: "inst-1",
    client_id: "okta",
    scope: "scim",
    org_uid: "org-1",
    family_id: "fam-1",
};

struct Ring {
    _db: TestDatabase,
    keys: KeyRing,
    settings: TokenSettings,
}

async fn ring(backend: Backend) -> Ring {
    testkit::install_crypto_provider();
    let db = TestDatabase::create(backend).await;
    let conn = store::connect(&db.url, &store::db::PoolSettings::default())
        .await
        .unwrap();
    store::db::migrate(&conn).await.unwrap();
    keys::ensure_keys(&conn).await.unwrap();
    let keys = KeyRing::new(conn, Duration::from_secs(10), Duration::from_secs(3600));
    keys.reload().await.unwrap();
    let mut settings =
        TokenSettings::new("na", "https://auth.na.example", "https://app.na.example");
    settings.other_regions = vec![("eu".into(), "https://auth.eu.example".into())];
    Ring {
        _db: db,
        keys,
        settings,
    }
}

/// Signs `claims` with this ring's active key (or `key`), under `header` tweaked by `edit`.
async fn forge(ring: &Ring, claims: &AccessClaims, edit: impl FnOnce(&mut Header)) -> String {
    let (kid, key) = ring.keys.signer().await.unwrap();
    let mut header = Header::new(Algorithm::ES256);
    header.typ = Some(jwt::TYP.to_owned());
    header.kid = Some(kid);
    edit(&mut header);
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

async fn rejected(ring: &Ring, token: &str) -> JwtError {
    match jwt::verify(&ring.keys, &ring.settings, token).await {
        Ok(claims) => panic!("accepted a bad token: {claims:?}"),
        Err(e) => e,
    }
}

async fn only_this_regions_tokens_verify(backend: Backend) {
    let ring = ring(backend).await;
    let (token, claims) = jwt::issue(&ring.keys, &ring.settings, &GRANT)
        .await
        .unwrap();
    let verified = jwt::verify(&ring.keys, &ring.settings, &token)
        .await
        .unwrap();
    assert_eq!(verified, claims, "a token this region issued verifies");

    let typ = forge(&ring, &claims, |h| h.typ = Some("JWT".into())).await;
    assert!(
        matches!(rejected(&ring, &typ).await, JwtError::Invalid),
        "typ must be at+jwt"
    );
    let no_kid = forge(&ring, &claims, |h| h.kid = None).await;
    assert!(matches!(rejected(&ring, &no_kid).await, JwtError::Invalid));
    let unknown_kid = forge(&ring, &claims, |h| h.kid = Some("not-a-key".into())).await;
    assert!(matches!(
        rejected(&ring, &unknown_kid).await,
        JwtError::Invalid
    ));

    // HS256 with a guessable secret (the classic algorithm-confusion attack).
    let mut hs = Header::new(Algorithm::HS256);
    hs.typ = Some(jwt::TYP.into());
    hs.kid = ring.keys.signer().await.ok().map(|(kid, _)| kid);
    let hs = jsonwebtoken::encode(&hs, &claims, &EncodingKey::from_secret(b"secret")).unwrap();
    assert!(
        matches!(rejected(&ring, &hs).await, JwtError::Invalid),
        "alg must be ES256"
    );

    let now = chrono::Utc::now().timestamp();
    let cases: Vec<(&str, AccessClaims)> = vec![
        (
            "audience of another API",
            AccessClaims {
                aud: "https://elsewhere.example".into(),
                ..claims.clone()
            },
        ),
        (
            "expired",
            AccessClaims {
                exp: now - 120,
                iat: now - 3720,
                nbf: now - 3720,
                ..claims.clone()
            },
        ),
        (
            "not yet valid",
            AccessClaims {
                nbf: now + 600,
                ..claims.clone()
            },
        ),
        (
            "unknown issuer",
            AccessClaims {
                iss: "https://attacker.example".into(),
                ..claims.clone()
            },
        ),
    ];
    for (why, bad) in cases {
        let token = forge(&ring, &bad, |_| {}).await;
        assert!(
            matches!(rejected(&ring, &token).await, JwtError::Invalid),
            "{why}"
        );
    }
    let eu = AccessClaims {
        iss: "https://auth.eu.example".into(),
        ..claims.clone()
    };
    let eu = forge(&ring, &eu, |_| {}).await;
    match rejected(&ring, &eu).await {
        JwtError::WrongRegion(region) => assert_eq!(region, "eu"),
        other => panic!("another region's token should name it: {other:?}"),
    }

    // A signature that does not cover the payload presented.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let other = AccessClaims {
        org: "org-2".into(),
        ..claims.clone()
    };
    let other = forge(&ring, &other, |_| {}).await;
    parts[1] = other.split('.').nth(1).unwrap().to_owned();
    assert!(
        matches!(rejected(&ring, &parts.join(".")).await, JwtError::Invalid),
        "tampered payload"
    );
    assert!(matches!(
        rejected(&ring, "not.a.jwt").await,
        JwtError::Invalid
    ));
}

backend_tests!(only_this_regions_tokens_verify);
