//! The webhook receiver the feed scenarios deliver to: HTTP/1.1 on 127.0.0.1, port 0, answering
//! 200 at once (or, while its gate is closed, holding every request until it opens). It keeps, for
//! each distinct webhook-id, when it first arrived and the event's own `timestamp`, so the
//! scenarios can count deliveries and measure commit → receiver latency.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The first arrival of one message.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    /// When the receiver read it.
    pub at: SystemTime,
    /// The envelope's `timestamp`: when the event was written, in the change's transaction.
    pub written: Option<SystemTime>,
}

#[derive(Default)]
struct Seen {
    first: HashMap<String, Arrival>,
    requests: u64,
}

/// A running receiver; stops with the process (the scenarios are one-shot).
pub struct Receiver {
    addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
    gate: watch::Sender<bool>,
}

impl Receiver {
    /// Starts one, its gate open.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (gate, open) = watch::channel(true);
        let state = seen.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let (state, open) = (state.clone(), open.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        record(request, state.clone(), open.clone())
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self { addr, seen, gate })
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Holds (`false`) or lets through (`true`) every request.
    pub fn set_open(&self, open: bool) {
        let _ = self.gate.send(open);
    }

    /// Distinct messages received so far.
    pub fn distinct(&self) -> usize {
        self.lock().first.len()
    }

    /// Requests received so far (retries and duplicates included).
    pub fn requests(&self) -> u64 {
        self.lock().requests
    }

    /// Every distinct message's first arrival.
    pub fn arrivals(&self) -> Vec<Arrival> {
        self.lock().first.values().copied().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn record(
    request: Request<Incoming>,
    seen: Arc<Mutex<Seen>>,
    mut open: watch::Receiver<bool>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let at = SystemTime::now();
    let id = request
        .headers()
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let written = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["timestamp"].as_str().map(str::to_owned))
        .and_then(|t| parse_rfc3339(&t));
    if let Ok(mut seen) = seen.lock() {
        seen.requests += 1;
        if let Some(id) = id {
            seen.first.entry(id).or_insert(Arrival { at, written });
        }
    }
    // A closed gate holds the answer (the sender's timeout bounds the wait).
    let _ = open.wait_for(|open| *open).await;
    Ok(Response::new(Full::new(Bytes::from_static(b"ok"))))
}

/// An RFC 3339 timestamp as a `SystemTime`.
fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| SystemTime::from(t.with_timezone(&chrono::Utc)))
}
