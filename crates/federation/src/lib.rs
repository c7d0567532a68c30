//! How a region learns where an organization (or an account) lives without moving its data.
//!
//! Every deployment knows the other regions from `regions.toml`. When a request names an
//! organization this region does not have, it asks every peer at once — `GET
//! /internal/v1/organizations/{uid}/home` on the peer's auth API, signed with an HMAC of the
//! request under a key all regions share — with a short timeout, and caches the answer in the
//! key-value store (found: an hour; found nowhere: a minute). A peer that is down or slow only
//! loses its own organizations' pointers; it never delays the others for long and never breaks
//! them. Nothing but "this region has it" crosses the boundary: no organization or account data.
#![deny(missing_docs)]

mod signature;

use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use store::kv::Kv;
use store::types::Email;
use store::{Database, repo};

pub use signature::{SIGNATURE_HEADER, Signer};

/// Another region's public URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Region id (`eu`, `gcp-na`, …).
    pub id: String,
    /// Where its browsers go.
    pub app_url: String,
    /// Where its IdPs go.
    pub auth_api_url: String,
}

/// Cache lifetimes of lookups.
const FOUND_TTL: Duration = Duration::from_secs(3600);
const NOWHERE_TTL: Duration = Duration::from_secs(60);
/// Marks "asked everyone, nobody has it" in the cache.
const NOWHERE: &[u8] = b"-";

#[derive(Debug)]
struct Inner {
    region: String,
    peers: Vec<Peer>,
    signer: Option<Signer>,
    http: reqwest::Client,
    kv: Kv,
    db: Database,
}

/// This region's view of the others.
#[derive(Debug, Clone)]
pub struct Federation {
    inner: Arc<Inner>,
}

/// What a lookup is about.
#[derive(Debug, Clone, Copy)]
enum Subject<'a> {
    Organization(&'a str),
    Account(&'a str),
}

impl Subject<'_> {
    fn cache_key(self) -> String {
        match self {
            Subject::Organization(uid) => format!("federation:org:{uid}"),
            Subject::Account(email) => {
                format!("federation:account:{}", store::secret::sha256_hex(email))
            }
        }
    }

    fn path(self) -> String {
        match self {
            Subject::Organization(uid) => {
                format!("/internal/v1/organizations/{}/home", urlencode(uid))
            }
            Subject::Account(email) => {
                format!("/internal/v1/accounts/home?email={}", urlencode(email))
            }
        }
    }
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

impl Federation {
    /// This region (`region`) among `peers` (the other regions), signing with `key` (None: no
    /// federation — lookups find nothing and the internal endpoints refuse every request).
    pub fn new(
        region: &str,
        peers: Vec<Peer>,
        key: Option<&[u8]>,
        timeout: Duration,
        kv: Kv,
        db: Database,
    ) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the federation HTTP client: {e}"))?;
        Ok(Self {
            inner: Arc::new(Inner {
                region: region.to_owned(),
                peers: peers.into_iter().filter(|p| p.id != region).collect(),
                signer: key.map(Signer::new),
                http,
                kv,
                db,
            }),
        })
    }

    /// The region whose deployment this is.
    pub fn region(&self) -> &str {
        &self.inner.region
    }

    /// A peer by region id.
    pub fn peer(&self, id: &str) -> Option<&Peer> {
        self.inner.peers.iter().find(|p| p.id == id)
    }

    /// The region an organization this deployment does not have lives in, if any peer has it.
    pub async fn locate_organization(&self, uid: &str) -> Option<Peer> {
        self.locate(Subject::Organization(uid)).await
    }

    /// The region an account this deployment does not have lives in, if any peer has it.
    pub async fn locate_account(&self, email: &Email) -> Option<Peer> {
        self.locate(Subject::Account(&email.normalized())).await
    }

    async fn locate(&self, subject: Subject<'_>) -> Option<Peer> {
        let inner = &self.inner;
        let signer = inner.signer.as_ref()?;
        if inner.peers.is_empty() {
            return None;
        }
        let key = subject.cache_key();
        if let Ok(Some(cached)) = inner.kv.get(&key).await {
            return (cached != NOWHERE)
                .then(|| String::from_utf8_lossy(&cached).into_owned())
                .and_then(|id| self.peer(&id).cloned());
        }
        let path = subject.path();
        let asks = inner.peers.iter().map(|peer| {
            let url = format!("{}{path}", peer.auth_api_url.trim_end_matches('/'));
            let header = signer.sign("GET", &path, &inner.region, chrono::Utc::now().timestamp());
            let request = inner.http.get(url).header(SIGNATURE_HEADER, header);
            async move {
                match request.send().await {
                    Ok(res) if res.status().is_success() => Some(peer.clone()),
                    Ok(_) => None,
                    Err(e) => {
                        tracing::warn!(peer = %peer.id, error = %e, "federation peer did not answer");
                        None
                    }
                }
            }
        });
        let found = futures_util::future::join_all(asks)
            .await
            .into_iter()
            .flatten()
            .next();
        let (value, ttl) = match &found {
            Some(peer) => (peer.id.as_bytes().to_vec(), FOUND_TTL),
            None => (NOWHERE.to_vec(), NOWHERE_TTL),
        };
        let _ = inner.kv.set(&key, &value, ttl).await;
        found
    }

    /// Mounts the internal lookup endpoints peers call.
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(web::Data::new(self.clone()))
            .route(
                "/internal/v1/organizations/{uid}/home",
                web::get().to(organization_home),
            )
            .route("/internal/v1/accounts/home", web::get().to(account_home));
    }

    /// Checks that a peer region signed the request; the error says why not.
    fn check_signature(&self, req: &HttpRequest) -> Result<(), &'static str> {
        let signer = self
            .inner
            .signer
            .as_ref()
            .ok_or("federation is not configured in this region")?;
        let header = req
            .headers()
            .get(SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or("missing signature")?;
        let path = req
            .uri()
            .path_and_query()
            .map_or(req.path(), |p| p.as_str());
        signer.verify(
            req.method().as_str(),
            path,
            header,
            chrono::Utc::now().timestamp(),
        )
    }
}

fn refused(why: &str) -> HttpResponse {
    HttpResponse::Unauthorized().json(json!({"error": "unauthorized", "detail": why}))
}

async fn organization_home(
    federation: web::Data<Federation>,
    req: HttpRequest,
    uid: web::Path<String>,
) -> HttpResponse {
    if let Err(why) = federation.check_signature(&req) {
        return refused(why);
    }
    match repo::organizations::find_by_uid(&federation.inner.db, &uid).await {
        Ok(Some(_)) => HttpResponse::Ok().json(json!({"region": federation.inner.region})),
        Ok(None) => HttpResponse::NotFound().json(json!({"error": "not_found"})),
        Err(e) => {
            tracing::error!(error = %e, "federation lookup failed");
            HttpResponse::ServiceUnavailable().json(json!({"error": "unavailable"}))
        }
    }
}

#[derive(Debug, Deserialize)]
struct AccountQuery {
    email: String,
}

async fn account_home(
    federation: web::Data<Federation>,
    req: HttpRequest,
    query: web::Query<AccountQuery>,
) -> HttpResponse {
    if let Err(why) = federation.check_signature(&req) {
        return refused(why);
    }
    let Ok(email) = Email::parse(&query.email) else {
        return HttpResponse::NotFound().json(json!({"error": "not_found"}));
    };
    match repo::accounts::find_by_email(&federation.inner.db, &email).await {
        Ok(Some(_)) => HttpResponse::Ok().json(json!({"region": federation.inner.region})),
        Ok(None) => HttpResponse::NotFound().json(json!({"error": "not_found"})),
        Err(e) => {
            tracing::error!(error = %e, "federation lookup failed");
            HttpResponse::ServiceUnavailable().json(json!({"error": "unavailable"}))
        }
    }
}
