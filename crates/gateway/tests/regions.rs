//! Two regions as two processes on loopback, each with its own database and key-value store: an
//! organization of EU is served by EU, and NA points IdPs there instead of answering for it.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use std::net::TcpListener;

use common::scim::{patch, user};
use common::{Server, Target};
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::Backend;

const FEDERATION_KEY: &str = "test-federation-key-of-at-least-32-bytes";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Region {
    target: Target,
    server: Server,
}

async fn start_regions(backend: Backend) -> (Region, Region) {
    let (na_port, eu_port) = (free_port(), free_port());
    let regions = format!(
        "[na]\nname = \"NA\"\napp_url = \"http://127.0.0.1:{na_port}\"\nauth_api_url = \"http://127.0.0.1:{na_port}\"\n\n\
         [eu]\nname = \"EU\"\napp_url = \"http://127.0.0.1:{eu_port}\"\nauth_api_url = \"http://127.0.0.1:{eu_port}\"\n"
    );
    let mut started = Vec::new();
    for (id, port) in [("na", na_port), ("eu", eu_port)] {
        let target = Target::new(backend).await;
        let regions_file = target.workdir.path().join("regions.toml");
        std::fs::write(&regions_file, &regions).unwrap();
        let mut cmd = target.command();
        cmd.env("SCIMGATE_REGIONS_PATH", &regions_file)
            .env("SCIMGATE_REGION", id)
            .env("SCIMGATE_FEDERATION__KEY", FEDERATION_KEY)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")]);
        let server = Server::start(cmd);
        started.push(Region { target, server });
    }
    let eu = started.pop().unwrap();
    let na = started.pop().unwrap();
    (na, eu)
}

/// An EU organization with SCIM on and a token, created through the EU deployment's CLI.
fn eu_org(eu: &Region) -> (String, String) {
    let regions_file = eu.target.workdir.path().join("regions.toml");
    let run = |args: &[&str]| -> Value {
        let mut cmd = eu.target.command();
        cmd.env("SCIMGATE_REGIONS_PATH", &regions_file)
            .env("SCIMGATE_REGION", "eu");
        let out = cmd.arg("admin").args(args).arg("--json").output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let org = run(&[
        "create-org",
        "--name",
        "Europa",
        "--owner-email",
        "owner@europa.test",
    ]);
    assert_eq!(org["region"], "eu");
    let uid = org["org_uid"].as_str().unwrap().to_owned();
    run(&["enable-scim", "--org", &uid]);
    let token = run(&["create-token", "--org", &uid])["token"]
        .as_str()
        .unwrap()
        .to_owned();
    (uid, token)
}

async fn an_organization_is_served_by_its_home_region_only(backend: Backend) {
    let (na, eu) = start_regions(backend).await;
    let (org, token) = eu_org(&eu);
    let http = common::http();
    let path = format!("/scim/v2.0/organizations/{org}/Users");

    let served = http
        .post(eu.server.url(&path))
        .bearer_auth(&token)
        .header("content-type", "application/scim+json")
        .body(user("anna").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), StatusCode::CREATED);

    let pointed = http
        .get(na.server.url(&path))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        pointed.status().as_u16(),
        421,
        "NA does not answer for an EU organization"
    );
    let body: Value = pointed.json().await.unwrap();
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("region eu")
            && detail.contains(&eu.server.url(&format!("/scim/v2.0/organizations/{org}"))),
        "{detail}"
    );

    let write = http
        .patch(na.server.url(&format!("{path}/x")))
        .bearer_auth(&token)
        .header("content-type", "application/scim+json")
        .body(patch(json!([{"op": "replace", "path": "active", "value": false}])).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        write.status().as_u16(),
        421,
        "writes are pointed too, and change nothing in NA"
    );

    let unknown = http
        .get(na.server.url("/scim/v2.0/organizations/no-such-org/Users"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        unknown.status(),
        StatusCode::UNAUTHORIZED,
        "an organization no region has is just refused"
    );

    drop(eu);
    let eu_down = http
        .get(na.server.url(&path))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        eu_down.status().as_u16(),
        421,
        "the pointer was cached; NA still answers"
    );
    let own = na.server.url("/healthz");
    assert_eq!(
        http.get(own).send().await.unwrap().status(),
        StatusCode::OK,
        "a region that is down does not break the others"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regions_on_sqlite() {
    an_organization_is_served_by_its_home_region_only(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regions_on_postgres() {
    an_organization_is_served_by_its_home_region_only(Backend::Postgres).await;
}
