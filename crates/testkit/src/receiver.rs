//! A webhook receiver: an HTTP server on 127.0.0.1 that records every request (headers and body)
//! and answers with a programmable status — by default 200, or the next of a queue of answers
//! (`fail_next`, `throttle_next`, `reset_next`: the connection closed with no answer), or a fixed
//! one (`answer_always`), optionally slowly. It is what a SaaS backend's webhook handler looks
//! like from the sender's side.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};

/// One request as the receiver read it.
#[derive(Debug, Clone)]
pub struct Received {
    /// The request path.
    pub path: String,
    /// Header names (lowercase) and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// The status the receiver answered; [`RESET`] when it closed the connection instead.
    pub answered: u16,
}

impl Received {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (panics when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("the body is not JSON ({e}): {:?}", self.body))
    }
}

/// [`Received::answered`] of a request whose connection was reset instead of answered.
pub const RESET: u16 = 0;

/// The connection a request came on (a duplicate of its socket), so a handler can reset it.
#[derive(Clone)]
struct Connection(Arc<socket2::Socket>);

#[derive(Default)]
struct State {
    received: Vec<Received>,
    /// The next answers: a status (or [`RESET`]) and an optional `Retry-After`.
    queued: VecDeque<(u16, Option<u64>)>,
    always: Option<u16>,
    delay: Option<Duration>,
}

/// A running receiver; it stops when dropped.
pub struct WebhookReceiver {
    addr: std::net::SocketAddr,
    state: Arc<Mutex<State>>,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        // Stopping is asynchronous; the server task ends with the test's runtime otherwise.
        drop(tokio::spawn(async move { handle.stop(false).await }));
    }
}

impl WebhookReceiver {
    /// Starts one on a free port.
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = web::Data::from(state.clone());
        let server = actix_web::HttpServer::new(move || {
            actix_web::App::new()
                .app_data(shared.clone())
                .app_data(web::PayloadConfig::new(4 * 1024 * 1024))
                .default_service(web::to(record))
        })
        .on_connect(|io, extensions| {
            if let Some(stream) = io.downcast_ref::<actix_web::rt::net::TcpStream>()
                && let Ok(socket) = socket2::SockRef::from(stream).try_clone()
            {
                extensions.insert(Connection(Arc::new(socket)));
            }
        })
        .workers(1)
        .disable_signals()
        .bind("127.0.0.1:0")
        .unwrap_or_else(|e| panic!("cannot bind the webhook receiver: {e}"));
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            addr,
            state,
            handle,
        }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next `n` requests are answered with `status`.
    pub fn fail_next(&self, n: usize, status: u16) {
        self.lock()
            .queued
            .extend(std::iter::repeat_n((status, None), n));
    }

    /// The next `n` requests are answered 429 with `Retry-After: retry_after_secs`.
    pub fn throttle_next(&self, n: usize, retry_after_secs: u64) {
        self.lock()
            .queued
            .extend(std::iter::repeat_n((429, Some(retry_after_secs)), n));
    }

    /// The next `n` requests are read and then get no answer: the connection is shut down and
    /// reset (SO_LINGER 0), as a crashing receiver or a middlebox would. Recorded as [`RESET`].
    pub fn reset_next(&self, n: usize) {
        self.lock()
            .queued
            .extend(std::iter::repeat_n((RESET, None), n));
    }

    /// Every request (after the queue) is answered with `status` (`None`: 200).
    pub fn answer_always(&self, status: Option<u16>) {
        self.lock().always = status;
    }

    /// Answers only after `delay` (`None`: at once).
    pub fn delay(&self, delay: Option<Duration>) {
        self.lock().delay = delay;
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    /// Requests that were answered with a 2xx.
    pub fn accepted(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| (200..300).contains(&r.answered))
            .collect()
    }

    /// Waits until `n` requests were answered with a 2xx (bounded by `timeout`) and returns them;
    /// panics with what did arrive when they do not.
    pub async fn wait_for_accepted(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let accepted = self.accepted();
            if accepted.len() >= n {
                return accepted;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "the receiver accepted {} of {n} messages in {timeout:?}; received: {:?}",
                    accepted.len(),
                    self.received()
                        .iter()
                        .map(|r| (r.answered, String::from_utf8_lossy(&r.body).into_owned()))
                        .collect::<Vec<_>>()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn record(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Mutex<State>>,
) -> HttpResponse {
    let (status, retry_after, delay) = {
        let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
        let (status, retry_after) = state
            .queued
            .pop_front()
            .unwrap_or((state.always.unwrap_or(200), None));
        state.received.push(Received {
            path: req.path().to_owned(),
            headers: req
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        v.to_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect(),
            body: body.to_vec(),
            answered: status,
        });
        (status, retry_after, state.delay)
    };
    if status == RESET {
        if let Some(Connection(socket)) = req.conn_data::<Connection>() {
            // The kernel answers the sender's next packet with RST once the socket closes; the
            // shutdown makes sure no response of ours gets out before that.
            let _ = socket.set_linger(Some(Duration::ZERO));
            let _ = socket.shutdown(std::net::Shutdown::Both);
        }
        return HttpResponse::InternalServerError().finish();
    }
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let mut res = HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::OK),
    );
    if let Some(secs) = retry_after {
        res.insert_header(("Retry-After", secs.to_string()));
    }
    res.body(format!("answered {status}"))
}
