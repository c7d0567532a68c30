//! Bearer tokens are verified from a per-replica cache, and revoking one (or switching SCIM off)
//! still lands at once on every replica: the change is announced through the key-value store.
//! With Redis the cache TTL here is an hour, so only the announcement can make a replica refuse.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::panic)]

use crate::common;

use std::time::{Duration, Instant};

use common::{ScimOrg, Server, Target};
use reqwest::StatusCode;
use testkit::Backend;

struct Deployment {
    target: Target,
    org: String,
    token: String,
    token_id: String,
}

async fn deployment(backend: Backend) -> Deployment {
    let target = Target::new(backend).await;
    let ScimOrg {
        org,
        token,
        token_id,
    } = target.scim_org("Acme");
    Deployment {
        target,
        org,
        token,
        token_id,
    }
}

impl Deployment {
    fn replica(&self, cache_ms: u64) -> Server {
        let mut cmd = self.target.command();
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .env("SCIMGATE_OAUTH__CREDENTIAL_CACHE_MS", cache_ms.to_string());
        Server::start(cmd)
    }

    async fn status(&self, replica: &Server) -> StatusCode {
        common::http()
            .get(replica.url(&format!("/scim/v2.0/organizations/{}/Users", self.org)))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .status()
    }

    /// Revokes the token with the CLI (a process of its own).
    fn revoke_token(&self) {
        let out = self.target.admin(&[
            "revoke-token",
            "--org",
            &self.org,
            "--token",
            &self.token_id,
        ]);
        assert_eq!(out["revoked"], true);
    }

    /// Polls (bounded) until the replica answers `expected`; false if it never does.
    async fn becomes(&self, replica: &Server, expected: StatusCode) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.status(replica).await == expected {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_announcements_reach_every_replica_despite_a_long_cache() {
    let deployment = deployment(Backend::Postgres).await;
    let hour = 3_600_000;
    let (a, b) = (deployment.replica(hour), deployment.replica(hour));
    for replica in [&a, &b] {
        // Twice: the second answer comes from the cache.
        assert_eq!(deployment.status(replica).await, StatusCode::OK);
        assert_eq!(deployment.status(replica).await, StatusCode::OK);
    }

    // The CLI is a third process: it reaches the replicas only through Redis.
    deployment
        .target
        .admin(&["disable-scim", "--org", &deployment.org]);
    for replica in [&a, &b] {
        assert!(
            deployment.becomes(replica, StatusCode::FORBIDDEN).await,
            "SCIM off reached {}",
            replica.base_url
        );
    }
    deployment
        .target
        .admin(&["enable-scim", "--org", &deployment.org]);
    for replica in [&a, &b] {
        assert!(deployment.becomes(replica, StatusCode::OK).await);
    }

    deployment.revoke_token();
    for replica in [&a, &b] {
        assert!(
            deployment.becomes(replica, StatusCode::UNAUTHORIZED).await,
            "the revocation reached {}",
            replica.base_url
        );
    }
    // And it stays refused (nothing re-caches the old answer).
    tokio::time::sleep(Duration::from_millis(200)).await;
    for replica in [&a, &b] {
        assert_eq!(deployment.status(replica).await, StatusCode::UNAUTHORIZED);
    }
}

/// A rotated token's end is honoured by every replica even while they hold it in a cache that
/// lives an hour: the rotation is announced (so each reloads the token with its end), and a
/// cached token carries its end, so it is refused the moment the overlap is over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_token_ends_on_every_replica_despite_a_long_cache() {
    let deployment = deployment(Backend::Postgres).await;
    let hour = 3_600_000;
    let (a, b) = (deployment.replica(hour), deployment.replica(hour));
    for replica in [&a, &b] {
        assert_eq!(deployment.status(replica).await, StatusCode::OK);
        assert_eq!(deployment.status(replica).await, StatusCode::OK);
    }
    let rotated = deployment.target.admin(&[
        "rotate-token",
        "--org",
        &deployment.org,
        "--token",
        &deployment.token_id,
        "--overlap",
        "3",
    ]);
    let new = rotated["token"].as_str().unwrap().to_owned();
    let ends = std::time::SystemTime::now() + Duration::from_secs(3);
    // During the overlap both work, on both replicas (and are cached again).
    for replica in [&a, &b] {
        assert_eq!(deployment.status(replica).await, StatusCode::OK);
        assert_eq!(deployment.status(replica).await, StatusCode::OK);
        let res = common::http()
            .get(replica.url(&format!(
                "/scim/v2.0/organizations/{}/Users",
                deployment.org
            )))
            .bearer_auth(&new)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    assert!(
        std::time::SystemTime::now() < ends,
        "the overlap was still running while checked"
    );
    // Then the old token is refused everywhere, with nothing announced after the rotation.
    for replica in [&a, &b] {
        assert!(
            deployment.becomes(replica, StatusCode::UNAUTHORIZED).await,
            "the rotated token's end reached {}",
            replica.base_url
        );
    }
}

/// The embedded default: a CLI beside the server cannot reach its in-process store, so the server
/// does not cache credentials at all, whatever the configured TTL, and the CLI's change lands at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_in_process_store_nothing_is_cached() {
    let deployment = deployment(Backend::Sqlite).await;
    let server = deployment.replica(3_600_000);
    assert_eq!(deployment.status(&server).await, StatusCode::OK);
    assert_eq!(deployment.status(&server).await, StatusCode::OK);
    deployment.revoke_token();
    assert_eq!(deployment.status(&server).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_an_unknown_token_is_a_clear_error() {
    let deployment = deployment(Backend::Sqlite).await;
    let stderr = deployment.target.admin_fails(&[
        "revoke-token",
        "--org",
        &deployment.org,
        "--token",
        "no-such-token",
    ]);
    assert!(stderr.contains("token not found"), "{stderr}");
}
