//! Two replicas of one region sharing PostgreSQL and Redis behind nginx (round-robin): the whole
//! OAuth flow and a SCIM sync succeed while consecutive requests land on different replicas.
#![allow(
    clippy::disallowed_methods,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use crate::common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::oauth::{
    self, Browser, PASSWORD, REDIRECT, access, exchange, idp_at, refresh, refresh_of,
};
use common::scim::{group, patch, user};
use common::{Server, Target};
use oauth2::AuthType;
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::Backend;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// nginx in the foreground with a private prefix; killed on drop.
struct Nginx(Child);

impl Nginx {
    fn start(dir: &std::path::Path, port: u16, upstreams: &[&str]) -> Self {
        let servers: String = upstreams
            .iter()
            .map(|u| format!("    server {u};\n"))
            .collect();
        let conf = format!(
            "daemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\nevents {{}}\nhttp {{\n  access_log off;\n  \
             client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  \
             uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  upstream replicas {{\n{servers}  }}\n  \
             server {{\n    listen 127.0.0.1:{port};\n    location / {{\n      proxy_pass http://replicas;\n      \
             proxy_set_header Host $http_host;\n      proxy_set_header X-Forwarded-For $remote_addr;\n    }}\n  }}\n}}\n",
            d = dir.display()
        );
        let path = dir.join("nginx.conf");
        std::fs::write(&path, conf).unwrap();
        // Owned by `Self` at once, so every way out of here (return or panic) stops it.
        let nginx = Self(Command::new("nginx")
            .args(["-c", path.to_str().unwrap(), "-p", dir.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx must be installed for this test (Debian package nginx; scripts/test installs it under CI=true)"));
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return nginx;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "nginx did not start: {}",
            std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
        );
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_and_scim_sync_through_round_robin_replicas() {
    let target = Target::new(Backend::Postgres).await;
    let dir = target.workdir.path().to_owned();
    let lb_port = free_port();
    let lb = format!("http://127.0.0.1:{lb_port}");
    std::fs::write(
        dir.join("regions.toml"),
        format!("[lb]\nname = \"LB\"\napp_url = \"{lb}\"\nauth_api_url = \"{lb}\"\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("replica.toml"),
        format!(
            "region = \"lb\"\nregions_path = \"{}\"\n[secrets]\ncursor_key = \"0123456789abcdef0123456789abcdef\"\n",
            dir.join("regions.toml").display()
        ),
    )
    .unwrap();
    let org = target.admin(&[
        "create-org",
        "--name",
        "Acme",
        "--owner-email",
        "owner@acme.test",
        "--owner-password",
        PASSWORD,
    ])["org_uid"]
        .as_str()
        .unwrap()
        .to_owned();
    target.admin(&["enable-scim", "--org", &org]);
    let client = target.admin(&[
        "register-client",
        "--name",
        "Okta",
        "--redirect-uri",
        REDIRECT,
    ]);
    let (id, secret) = (
        client["client_id"].as_str().unwrap(),
        client["client_secret"].as_str().unwrap(),
    );

    let start = || {
        let mut cmd = target.command();
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .env("SCIMGATE_CONFIG", dir.join("replica.toml"));
        Server::start(cmd)
    };
    let (a, b) = (start(), start());
    let upstreams = [
        a.base_url.trim_start_matches("http://"),
        b.base_url.trim_start_matches("http://"),
    ];
    let _nginx = Nginx::start(&dir, lb_port, &upstreams);

    // Each request of the flow goes to the next replica: login on one, consent on the other,
    // the code redeemed wherever the token request lands.
    let idp = idp_at(&lb, id, Some(secret), AuthType::BasicAuth);
    let browser = Browser::new(&lb);
    browser.login("owner@acme.test", PASSWORD).await;
    let (url, verifier) = oauth::authorize_url(&idp, true);
    let callback = browser.approve(&url, &org).await;
    assert_eq!(callback.iss, lb);
    let tokens = exchange(&idp, &callback.code, verifier).await.unwrap();
    let tokens = refresh(&idp, &refresh_of(&tokens)).await.unwrap();
    let token = access(&tokens);

    let http = common::http();
    let base = format!("{lb}/scim/v2.0/organizations/{org}");
    let send = |method: reqwest::Method, path: String, body: Option<Value>| {
        let mut req = http
            .request(method, format!("{base}{path}"))
            .bearer_auth(&token);
        if let Some(body) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(body.to_string());
        }
        async move {
            let res = req.send().await.unwrap();
            let status = res.status();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let mut ids = Vec::new();
    for i in 0..8 {
        let (status, body) = send(
            reqwest::Method::POST,
            "/Users".into(),
            Some(user(&format!("sync{i}"))),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    let members: Vec<&str> = ids.iter().take(4).map(String::as_str).collect();
    let (status, created) = send(
        reqwest::Method::POST,
        "/Groups".into(),
        Some(group("Synced", &members)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let gid = created["id"].as_str().unwrap().to_owned();
    for id in ids.iter().skip(4) {
        let add = patch(json!([{"op": "add", "path": "members", "value": [{"value": id}]}]));
        let (status, _) = send(
            reqwest::Method::PATCH,
            format!("/Groups/{gid}?excludedAttributes=members"),
            Some(add),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    let off = patch(json!([{"op": "replace", "path": "active", "value": false}]));
    assert_eq!(
        send(
            reqwest::Method::PATCH,
            format!("/Users/{}", ids[0]),
            Some(off)
        )
        .await
        .0,
        StatusCode::OK
    );

    // Every read, on either replica, sees the same state.
    for _ in 0..4 {
        let (_, listed) = send(
            reqwest::Method::GET,
            "/Users?filter=active+eq+true".into(),
            None,
        )
        .await;
        assert_eq!(listed["totalResults"], 7);
        let (_, group) = send(reqwest::Method::GET, format!("/Groups/{gid}"), None).await;
        assert_eq!(group["members"].as_array().unwrap().len(), 8);
        let (_, page) = send(reqwest::Method::GET, "/Users?count=3&cursor=".into(), None).await;
        let next = page["nextCursor"].as_str().unwrap().to_owned();
        let (status, _) = send(
            reqwest::Method::GET,
            format!("/Users?count=3&cursor={next}"),
            None,
        )
        .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "a cursor from one replica works on the other"
        );
    }
    drop(a);
    let (status, _) = send(reqwest::Method::GET, "/Users".into(), None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "nginx fails over to the replica still up"
    );
}
