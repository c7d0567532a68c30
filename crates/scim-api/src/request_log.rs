//! Hands every SCIM request of an organization to the request log ([`usecases::request_log`]),
//! refused ones included: method, path, status, duration, the credential that was accepted (never
//! the token presented), the client address, and the request and response bodies.
//!
//! Nothing here waits for the database or copies a body: the request body is seen as the handler
//! reads it (the chunks are shared, not copied), the response body is the buffer already built,
//! and the queue takes the request or — when full — drops and counts it. Redaction and truncation
//! happen in the log's worker, before anything is written.

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Instant;

use actix_web::HttpMessage;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::web::{Bytes, Data};
use futures_util::Stream;
use store::OrgScope;
use store::repo::scim_request_log::LogOrg;
use tracing_actix_web::RequestId;
use usecases::request_log::Captured;

use crate::ScimApi;

/// The credential a request's token proved, left in its extensions by authentication (even when
/// the organization's switch then refuses it).
#[derive(Debug, Clone)]
pub struct LoggedCaller {
    /// The organization it proved.
    pub scope: OrgScope,
    /// `api_token` or `installation`.
    pub kind: &'static str,
    /// The credential's public id.
    pub id: String,
}

/// The JSON a response's body was written from, left in the response's extensions by the
/// handlers so the log need not parse the body back. Trusted only while the body is still that
/// very buffer (a middleware that replaced it leaves the log to parse what was sent).
#[derive(Debug)]
pub struct ResponseJson {
    json: serde_json::Value,
    text: Bytes,
}

impl ResponseJson {
    /// `json` and the body written from it.
    pub fn new(json: serde_json::Value, text: Bytes) -> Self {
        Self { json, text }
    }

    /// The JSON, when `body` is the buffer it was written to (and small: a page of resources is
    /// parsed back by the log rather than held twice in its queue).
    fn of(self, body: &Bytes) -> Option<serde_json::Value> {
        const MAX_HELD: usize = 64 * 1024;
        let same = self.text.as_ptr() == body.as_ptr() && self.text.len() == body.len();
        (same && body.len() <= MAX_HELD).then_some(self.json)
    }
}

/// Records the request once its answer is known.
pub async fn record(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let api = req.app_data::<Data<ScimApi>>().cloned();
    let Some(api) = api.filter(|api| api.core.request_log().enabled()) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let started = Instant::now();
    let at = chrono::Utc::now();
    let method = req.method().to_string();
    let path_and_query = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.path().to_owned(), |pq| pq.as_str().to_owned());
    let org_uid = req.match_info().get("org").unwrap_or_default().to_owned();
    let request_id = req.extensions().get::<RequestId>().map(ToString::to_string);
    let client_ip = usecases::ClientAddr::resolve(req.extensions().get(), req.peer_addr())
        .map(|ip| ip.to_string());
    let body = Rc::new(RefCell::new(Vec::new()));
    let room = api.settings.bulk_max_payload.max(api.settings.max_payload);
    let tee = Tee {
        inner: req.take_payload(),
        sink: body.clone(),
        room,
    };
    req.set_payload(Payload::Stream {
        payload: Box::pin(tee),
    });
    let mut captured = Captured {
        org: LogOrg::Named(org_uid),
        request_id,
        method,
        path_and_query,
        status: 0,
        duration: started.elapsed(),
        credential: None,
        client_ip,
        request_body: Vec::new(),
        response_body: None,
        response_cut_from: None,
        response_json: None,
        at,
    };
    let res = match next.call(req).await {
        Ok(res) => res,
        Err(error) => {
            captured.status = error.as_response_error().status_code().as_u16();
            captured.duration = started.elapsed();
            captured.request_body = body.take();
            api.core.request_log().push(captured);
            return Err(error);
        }
    };
    captured.status = res.status().as_u16();
    if let Some(caller) = res.request().extensions().get::<LoggedCaller>() {
        captured.org = LogOrg::Proven(caller.scope.clone());
        captured.credential = Some((caller.kind, caller.id.clone()));
    }
    let (request, mut response) = res.into_parts();
    let written = response.extensions_mut().remove::<ResponseJson>();
    let (response, out) = response.into_parts();
    let out = match out.boxed().try_into_bytes() {
        Ok(bytes) => {
            captured.keep_response(
                &bytes,
                api.core.request_log().settings().max_body_bytes,
                written.and_then(|w| w.of(&bytes)),
            );
            BoxBody::new(bytes)
        }
        // A streamed body (none of SCIM's answers are): logged without it.
        Err(stream) => stream,
    };
    captured.duration = started.elapsed();
    captured.request_body = body.take();
    api.core.request_log().push(captured);
    Ok(ServiceResponse::new(request, response.set_body(out)))
}

/// The request's payload, passed on unchanged, with the first `room` bytes kept aside (shared,
/// not copied) for the log.
struct Tee {
    inner: Payload,
    sink: Rc<RefCell<Vec<Bytes>>>,
    room: usize,
}

impl Stream for Tee {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &polled
            && this.room > 0
        {
            let take = chunk.len().min(this.room);
            this.sink.borrow_mut().push(chunk.slice(..take));
            this.room -= take;
        }
        polled
    }
}
