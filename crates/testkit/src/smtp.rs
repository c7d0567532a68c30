//! A real SMTP server for tests: it listens on 127.0.0.1, speaks enough ESMTP for lettre,
//! records every message it accepts, and fails on demand so retry handling can be tested.
//!
//! ```no_run
//! # async fn demo() {
//! use testkit::smtp::{SmtpSink, Stage};
//! let sink = SmtpSink::start().await;
//! sink.fail_next(Stage::Rcpt, 1, 451, "4.3.0 try again later");
//! // … send twice to sink.url() …
//! let messages = sink.wait_for(1, std::time::Duration::from_secs(5)).await;
//! let email = messages[0].parsed();
//! assert!(email.html.is_some() && email.text.is_some());
//! # }
//! ```

mod mime;
mod session;

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use tokio::{net::TcpListener, sync::watch, task::JoinSet};

pub use mime::ParsedEmail;

/// Where in a session a scripted fault happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Instead of the `220` greeting on connect.
    Greeting,
    /// After the client sent its `AUTH` credentials (they are still recorded).
    Auth,
    /// In answer to `MAIL FROM`.
    Mail,
    /// In answer to `RCPT TO`.
    Rcpt,
    /// After the whole message was received (the final `.`): the message is not recorded.
    Data,
}

/// What a scripted fault does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this code and text (each `\n` starts another reply line). After a `421` the
    /// connection is closed, as RFC 5321 says.
    Reply {
        /// e.g. 421, 451, 550, 554.
        code: u16,
        /// e.g. `4.3.2 try again later`.
        text: String,
    },
    /// Close the connection without answering (a reset mid-conversation).
    Disconnect,
    /// Stop answering, as a stuck server does, until the client gives up.
    Stall,
}

/// One message the sink accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The `MAIL FROM` address (empty for the null sender).
    pub mail_from: String,
    /// The `RCPT TO` addresses, in order.
    pub recipients: Vec<String>,
    /// The message as received after `DATA`, dot-unstuffed, without the final `.` line.
    pub data: Vec<u8>,
    /// The `EHLO`/`HELO` name the client gave.
    pub helo: String,
    /// The login the session authenticated with, if any.
    pub login: Option<SmtpLogin>,
}

impl ReceivedMessage {
    /// The message text (lossy UTF-8).
    pub fn data_text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }

    /// The message's headers and its text and HTML parts, decoded. Panics when it is not MIME.
    pub fn parsed(&self) -> ParsedEmail {
        ParsedEmail::parse(&self.data)
    }
}

/// Credentials a client sent with `AUTH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpLogin {
    /// `PLAIN` or `LOGIN`.
    pub mechanism: String,
    /// The user name.
    pub username: String,
    /// The password, in clear: this is a test server.
    pub password: String,
}

/// A running SMTP sink. Dropping it stops the server and closes its connections.
#[derive(Debug)]
pub struct SmtpSink {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// The number of accepted messages, for waiting without sleeping.
    received: watch::Sender<usize>,
}

#[derive(Debug, Default)]
struct State {
    messages: Vec<ReceivedMessage>,
    logins: Vec<SmtpLogin>,
    faults: Vec<Scripted>,
    connections: usize,
}

#[derive(Debug)]
struct Scripted {
    stage: Stage,
    remaining: usize,
    fault: Fault,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not hide what the sink recorded.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The first scripted fault for `stage` that is still due, counting it down.
    fn take_fault(&self, stage: Stage) -> Option<Fault> {
        let mut state = self.state();
        let scripted = state
            .faults
            .iter_mut()
            .find(|f| f.stage == stage && f.remaining > 0)?;
        scripted.remaining -= 1;
        Some(scripted.fault.clone())
    }

    fn record(&self, message: ReceivedMessage) -> usize {
        let mut state = self.state();
        state.messages.push(message);
        let id = state.messages.len();
        self.received.send_replace(id);
        id
    }

    fn record_login(&self, login: SmtpLogin) {
        self.state().logins.push(login);
    }

    fn connected(&self) {
        self.state().connections += 1;
    }
}

impl SmtpSink {
    /// Starts a sink on `127.0.0.1` with a free port. Panics when no port can be had.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("SMTP sink: cannot listen on 127.0.0.1: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("SMTP sink: no local address: {e}"));
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            received: watch::Sender::new(0),
        });
        let server = tokio::spawn(serve(listener, Arc::clone(&shared)));
        Self {
            addr,
            shared,
            server,
        }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `smtp://127.0.0.1:PORT`, the form `email.smtp_url` takes.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Answers the next `n` times `stage` is reached with `code text` instead of going on.
    pub fn fail_next(&self, stage: Stage, n: usize, code: u16, text: &str) {
        self.fault_next(
            stage,
            n,
            Fault::Reply {
                code,
                text: text.to_owned(),
            },
        );
    }

    /// Scripts any [`Fault`] for the next `n` times `stage` is reached. Faults for the same
    /// stage apply in the order they were added.
    pub fn fault_next(&self, stage: Stage, n: usize, fault: Fault) {
        self.shared.state().faults.push(Scripted {
            stage,
            remaining: n,
            fault,
        });
    }

    /// Drops every scripted fault that has not happened yet.
    pub fn clear_faults(&self) {
        self.shared.state().faults.clear();
    }

    /// Every message accepted so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        self.shared.state().messages.clone()
    }

    /// How many messages were accepted so far.
    pub fn received_count(&self) -> usize {
        self.shared.state().messages.len()
    }

    /// Every `AUTH` attempt, accepted or not.
    pub fn logins(&self) -> Vec<SmtpLogin> {
        self.shared.state().logins.clone()
    }

    /// How many connections clients opened.
    pub fn connection_count(&self) -> usize {
        self.shared.state().connections
    }

    /// Waits until at least `n` messages were accepted and returns them all; panics (failing
    /// the test) after `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMessage> {
        let mut received = self.shared.received.subscribe();
        let reached = tokio::time::timeout(timeout, received.wait_for(|count| *count >= n)).await;
        if !matches!(reached, Ok(Ok(_))) {
            panic!(
                "SMTP sink: expected {n} message(s) within {timeout:?}, received {}",
                self.received_count()
            );
        }
        self.messages()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every open session.
        self.server.abort();
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut sessions = JoinSet::new();
    let mut failures_in_a_row = 0;
    // Runs until the sink is dropped (the task is aborted), or the listener keeps failing.
    while failures_in_a_row < 100 {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    failures_in_a_row = 0;
                    shared.connected();
                    sessions.spawn(session::run(stream, Arc::clone(&shared)));
                }
                Err(_) => failures_in_a_row += 1,
            },
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
}

/// A local port nothing listens on (bound, then released), for "connection refused" tests.
pub fn unused_local_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("cannot find a free local port: {e}"))
}
