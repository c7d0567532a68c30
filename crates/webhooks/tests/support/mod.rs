//! A webhook receiver for the sender tests: an HTTP/1.1 server on 127.0.0.1 (port 0) that records
//! every request it reads and answers each one the same configured way, including the misbehaviours
//! a delivery must survive (slow answers, resets, redirects, endless bodies).
#![allow(dead_code)] // each test binary uses part of it

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt as _;
use http_body_util::combinators::BoxBody;
use hyper::body::{Body, Frame, Incoming};
use hyper::{HeaderMap, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncReadExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long a test waits for the receiver to record a request before failing.
const RECORD_WAIT: Duration = Duration::from_secs(10);

/// How the receiver answers every request.
#[derive(Clone)]
pub enum Reply {
    /// This status, these headers and this body.
    Answer {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
    },
    /// 200, but only after this long (longer than the sender's timeout).
    After(Duration),
    /// Read the request, then reset the connection (RST) without answering.
    Reset,
    /// 200 with `chunks` copies of `chunk`, then a body that never ends (the connection stays open
    /// until the client goes away).
    Stalling { chunk: &'static str, chunks: usize },
}

impl Reply {
    /// A bare status with a short body.
    pub fn status(status: u16, body: &str) -> Self {
        Self::Answer {
            status,
            headers: Vec::new(),
            body: body.to_owned(),
        }
    }

    /// A status with one header.
    pub fn with_header(status: u16, name: &'static str, value: &str) -> Self {
        Self::Answer {
            status,
            headers: vec![(name, value.to_owned())],
            body: String::new(),
        }
    }
}

/// One request as the receiver read it.
#[derive(Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("request has no {name} header: {:?}", self.headers))
    }
}

/// A running receiver; stopped when dropped.
pub struct Receiver {
    pub addr: SocketAddr,
    requests: mpsc::UnboundedReceiver<Recorded>,
    task: JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    pub async fn start(reply: Reply) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, requests) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            // Ends when the test drops the receiver (abort) or the runtime shuts down.
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, reply.clone(), tx.clone()));
            }
        });
        Self {
            addr,
            requests,
            task,
        }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The same URL with another host, e.g. `localhost` or `[::ffff:127.0.0.1]`.
    pub fn url_via(&self, host: &str, path: &str) -> String {
        format!("http://{host}:{}{path}", self.addr.port())
    }

    /// The next recorded request, waiting a bounded time for it.
    pub async fn next_request(&mut self) -> Recorded {
        tokio::time::timeout(RECORD_WAIT, self.requests.recv())
            .await
            .expect("the receiver recorded no request in time")
            .expect("the receiver stopped")
    }

    /// How many requests were recorded and not yet taken. A request is recorded before it is
    /// answered, so once the client has its answer (or gave up) this count is final.
    pub fn pending(&mut self) -> usize {
        let mut count = 0;
        while self.requests.try_recv().is_ok() {
            count += 1;
        }
        count
    }
}

async fn serve(stream: TcpStream, reply: Reply, tx: mpsc::UnboundedSender<Recorded>) {
    if let Reply::Reset = reply {
        reset_after_request(stream).await;
        return;
    }
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let reply = reply.clone();
        let tx = tx.clone();
        async move {
            let (parts, body) = request.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let _ = tx.send(Recorded {
                method: parts.method.to_string(),
                path: parts.uri.path().to_owned(),
                headers: parts.headers,
                body,
            });
            Ok::<_, Infallible>(answer(reply).await)
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

async fn answer(reply: Reply) -> Response<BoxBody<Bytes, Infallible>> {
    let full = |body: String| http_body_util::Full::new(Bytes::from(body)).boxed();
    match reply {
        Reply::Answer {
            status,
            headers,
            body,
        } => {
            let mut response = Response::new(full(body));
            *response.status_mut() = StatusCode::from_u16(status).unwrap();
            for (name, value) in headers {
                response.headers_mut().insert(name, value.parse().unwrap());
            }
            response
        }
        Reply::After(delay) => {
            // The receiver being slow is the behaviour under test, not the test waiting.
            tokio::time::sleep(delay).await;
            Response::new(full("late".to_owned()))
        }
        Reply::Stalling { chunk, chunks } => Response::new(
            Stalling {
                chunk: Bytes::from_static(chunk.as_bytes()),
                left: chunks,
            }
            .boxed(),
        ),
        Reply::Reset => unreachable!("handled before hyper"),
    }
}

/// Reads the request head and its announced body (both bounded), then closes with SO_LINGER 0 so
/// the kernel sends RST instead of FIN.
async fn reset_after_request(mut stream: TcpStream) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while seen.len() < 1 << 20 {
        let Ok(n) = stream.read(&mut buf).await else {
            return;
        };
        if n == 0 {
            return;
        }
        seen.extend_from_slice(&buf[..n]);
        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if seen.len() >= end + 4 + length {
                break;
            }
        }
    }
    stream.set_zero_linger().unwrap();
    drop(stream);
}

/// A response body that sends a few chunks and then neither ends nor sends more.
struct Stalling {
    chunk: Bytes,
    left: usize,
}

impl Body for Stalling {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.left == 0 {
            // Never woken: the connection ends when the client drops it.
            return Poll::Pending;
        }
        self.left -= 1;
        Poll::Ready(Some(Ok(Frame::data(self.chunk.clone()))))
    }
}
