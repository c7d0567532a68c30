//! The SMTP sink speaks the protocol itself, checked with a raw client rather than lettre, so
//! email tests elsewhere rest on a server known to be right.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use testkit::smtp::{Fault, SmtpSink, Stage};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{
        TcpStream,
        tcp::{OwnedReadHalf, OwnedWriteHalf},
    },
};

const WAIT: Duration = Duration::from_secs(5);

/// A line-at-a-time SMTP client; every read gives up after [`WAIT`].
struct Client {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Client {
    async fn connect(sink: &SmtpSink) -> (Self, String) {
        let stream = TcpStream::connect(sink.addr()).await.unwrap();
        let (read, writer) = stream.into_split();
        let mut client = Self {
            reader: BufReader::new(read),
            writer,
        };
        let greeting = client.reply().await;
        (client, greeting)
    }

    /// One reply, all its lines joined with `\n`; empty when the server closed.
    async fn reply(&mut self) -> String {
        let mut lines = Vec::new();
        for _ in 0..50 {
            let mut line = String::new();
            let n = tokio::time::timeout(WAIT, self.reader.read_line(&mut line))
                .await
                .expect("server answers")
                .unwrap();
            if n == 0 {
                break;
            }
            let line = line.trim_end().to_owned();
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                break;
            }
        }
        lines.join("\n")
    }

    async fn send(&mut self, line: &str) {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
    }

    async fn command(&mut self, line: &str) -> String {
        self.send(line).await;
        self.reply().await
    }
}

fn code(reply: &str) -> &str {
    reply.get(..3).unwrap_or(reply)
}

#[tokio::test]
async fn records_a_whole_conversation_with_dot_unstuffing() {
    let sink = SmtpSink::start().await;
    assert!(sink.url().starts_with("smtp://127.0.0.1:"));
    let (mut c, greeting) = Client::connect(&sink).await;
    assert_eq!(code(&greeting), "220");
    let ehlo = c.command("EHLO client.example").await;
    assert!(ehlo.starts_with("250-"), "{ehlo}");
    assert!(ehlo.contains("AUTH PLAIN LOGIN"), "{ehlo}");
    assert!(!ehlo.contains("STARTTLS"), "{ehlo}");
    assert_eq!(code(&c.command("NOOP").await), "250");
    assert_eq!(
        code(&c.command("MAIL FROM:<a@x.example> BODY=8BITMIME").await),
        "250"
    );
    assert_eq!(code(&c.command("RCPT TO:<b@y.example>").await), "250");
    assert_eq!(code(&c.command("rcpt to: <c@y.example>").await), "250");
    assert_eq!(code(&c.command("DATA").await), "354");
    c.send("Subject: dots\r\n\r\n..leading dot\r\n...two dots\r\nplain")
        .await;
    let queued = c.command(".").await;
    assert!(queued.starts_with("250 2.0.0 OK queued as 1"), "{queued}");
    assert_eq!(code(&c.command("QUIT").await), "221");

    let messages = sink.wait_for(1, WAIT).await;
    let m = &messages[0];
    assert_eq!(m.mail_from, "a@x.example");
    assert_eq!(m.recipients, ["b@y.example", "c@y.example"]);
    assert_eq!(m.helo, "client.example");
    assert_eq!(m.login, None);
    assert_eq!(
        m.data_text(),
        "Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\nplain\r\n"
    );
    assert_eq!(sink.received_count(), 1);
    assert_eq!(sink.connection_count(), 1);
}

#[tokio::test]
async fn enforces_the_command_order() {
    let sink = SmtpSink::start().await;
    let (mut c, _) = Client::connect(&sink).await;
    assert_eq!(code(&c.command("MAIL FROM:<a@x.example>").await), "503");
    assert_eq!(code(&c.command("HELO client.example").await), "250");
    assert_eq!(code(&c.command("RCPT TO:<b@y.example>").await), "503");
    assert_eq!(code(&c.command("MAIL FROM:a@x.example").await), "501");
    assert_eq!(code(&c.command("MAIL FROM:<>").await), "250");
    assert_eq!(code(&c.command("DATA").await), "503");
    assert_eq!(code(&c.command("RSET").await), "250");
    assert_eq!(code(&c.command("RCPT TO:<b@y.example>").await), "503");
    assert_eq!(code(&c.command("STARTTLS").await), "502");
    assert_eq!(code(&c.command("FROB").await), "500");
}

#[tokio::test]
async fn accepts_and_records_plain_and_login() {
    let sink = SmtpSink::start().await;
    let (mut c, _) = Client::connect(&sink).await;
    c.command("EHLO client").await;
    // PLAIN with the credentials after a prompt: "\0user\0secret".
    assert_eq!(c.command("AUTH PLAIN").await, "334");
    assert_eq!(code(&c.command("AHVzZXIAc2VjcmV0").await), "235");
    assert_eq!(code(&c.command("AUTH PLAIN AHVzZXIAc2VjcmV0").await), "503");

    let (mut c, _) = Client::connect(&sink).await;
    c.command("EHLO client").await;
    sink.fail_next(Stage::Auth, 1, 535, "5.7.8 credentials invalid");
    assert_eq!(c.command("AUTH LOGIN").await, "334 VXNlcm5hbWU6");
    assert_eq!(c.command("bG9naW4tdXNlcg==").await, "334 UGFzc3dvcmQ6");
    assert_eq!(c.command("cGFzcw==").await, "535 5.7.8 credentials invalid");

    let logins = sink.logins();
    assert_eq!(logins.len(), 2);
    assert_eq!(
        (
            logins[0].mechanism.as_str(),
            logins[0].username.as_str(),
            logins[0].password.as_str()
        ),
        ("PLAIN", "user", "secret")
    );
    assert_eq!(
        (
            logins[1].mechanism.as_str(),
            logins[1].username.as_str(),
            logins[1].password.as_str()
        ),
        ("LOGIN", "login-user", "pass")
    );
}

#[tokio::test]
async fn scripted_failures_happen_the_given_number_of_times() {
    let sink = SmtpSink::start().await;
    sink.fail_next(Stage::Rcpt, 2, 451, "4.3.0 first line\n4.3.0 try later");
    let (mut c, _) = Client::connect(&sink).await;
    c.command("EHLO client").await;
    c.command("MAIL FROM:<a@x.example>").await;
    let reply = c.command("RCPT TO:<b@y.example>").await;
    assert_eq!(reply, "451-4.3.0 first line\n451 4.3.0 try later");
    assert_eq!(code(&c.command("RCPT TO:<b@y.example>").await), "451");
    assert_eq!(code(&c.command("RCPT TO:<b@y.example>").await), "250");

    // At the end of DATA: refused, and not recorded.
    sink.fail_next(Stage::Data, 1, 554, "5.7.1 rejected by policy");
    c.command("DATA").await;
    c.send("Subject: x\r\n\r\nbody").await;
    assert_eq!(c.command(".").await, "554 5.7.1 rejected by policy");
    assert_eq!(sink.received_count(), 0);
    // The transaction is over; a new one goes through.
    c.command("MAIL FROM:<a@x.example>").await;
    c.command("RCPT TO:<b@y.example>").await;
    c.command("DATA").await;
    c.send("Subject: y\r\n\r\nbody").await;
    assert_eq!(code(&c.command(".").await), "250");
    assert_eq!(sink.wait_for(1, WAIT).await.len(), 1);
}

#[tokio::test]
async fn a_421_closes_the_connection() {
    let sink = SmtpSink::start().await;
    sink.fail_next(Stage::Greeting, 1, 421, "4.3.2 shutting down");
    let (mut c, greeting) = Client::connect(&sink).await;
    assert_eq!(greeting, "421 4.3.2 shutting down");
    assert_eq!(c.reply().await, "", "closed after 421");

    sink.fail_next(Stage::Mail, 1, 421, "4.7.0 too busy");
    let (mut c, greeting) = Client::connect(&sink).await;
    assert_eq!(code(&greeting), "220");
    c.command("EHLO client").await;
    assert_eq!(
        c.command("MAIL FROM:<a@x.example>").await,
        "421 4.7.0 too busy"
    );
    assert_eq!(c.reply().await, "", "closed after 421");
}

#[tokio::test]
async fn disconnect_and_stall_faults() {
    let sink = SmtpSink::start().await;
    sink.fault_next(Stage::Mail, 1, Fault::Disconnect);
    let (mut c, _) = Client::connect(&sink).await;
    c.command("EHLO client").await;
    assert_eq!(c.command("MAIL FROM:<a@x.example>").await, "");

    sink.fault_next(Stage::Greeting, 1, Fault::Stall);
    let stream = TcpStream::connect(sink.addr()).await.unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let waited =
        tokio::time::timeout(Duration::from_millis(200), reader.read_line(&mut line)).await;
    assert!(waited.is_err(), "a stalled server says nothing: {line:?}");
}

#[tokio::test]
async fn dropping_the_sink_closes_its_connections() {
    let sink = SmtpSink::start().await;
    let (mut c, _) = Client::connect(&sink).await;
    c.command("EHLO client").await;
    drop(sink);
    // The session was aborted: the client sees the end of the stream, not a hang. (The write
    // itself may or may not fail, depending on how far the close got.)
    let _ = c.writer.write_all(b"NOOP\r\n").await;
    assert_eq!(c.reply().await, "");
}

#[tokio::test]
#[should_panic(expected = "expected 1 message(s)")]
async fn waiting_for_a_message_that_never_comes_fails_the_test() {
    let sink = SmtpSink::start().await;
    sink.wait_for(1, Duration::from_millis(50)).await;
}
