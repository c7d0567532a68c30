//! One SMTP conversation of the sink: commands in, replies out. Every read is bounded in size
//! and time, and a session ends after a bounded number of commands.

use std::{io, sync::Arc, time::Duration};

use base64::{Engine as _, engine::general_purpose::STANDARD};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::{
        TcpStream,
        tcp::{OwnedReadHalf, OwnedWriteHalf},
    },
};

use super::{Fault, ReceivedMessage, Shared, SmtpLogin, Stage};

const HOSTNAME: &str = "scimgate-testkit";
/// RFC 5321 allows 512; AUTH lines with long credentials need more.
const MAX_COMMAND_LINE: usize = 4096;
/// RFC 5321 allows 1000; be lenient with clients, strict with memory.
const MAX_DATA_LINE: usize = 64 * 1024;
const MAX_MESSAGE: usize = 10 * 1024 * 1024;
const MAX_COMMANDS: usize = 1000;
const MAX_RECIPIENTS: usize = 100;
/// How long the sink waits for a client (or stalls, when told to).
const IDLE: Duration = Duration::from_secs(60);

pub(super) async fn run(stream: TcpStream, shared: Arc<Shared>) {
    let (read, writer) = stream.into_split();
    let mut conn = Conn {
        reader: BufReader::new(read),
        writer,
        shared,
        helo: None,
        login: None,
        from: None,
        recipients: Vec::new(),
    };
    // An I/O error or an idle client just ends this conversation.
    let _ = conn.converse().await;
}

#[derive(Debug, PartialEq, Eq)]
enum Next {
    Continue,
    Close,
}

struct Conn {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    shared: Arc<Shared>,
    helo: Option<String>,
    login: Option<SmtpLogin>,
    /// The open transaction: `MAIL FROM`, then the `RCPT TO`s.
    from: Option<String>,
    recipients: Vec<String>,
}

impl Conn {
    async fn converse(&mut self) -> io::Result<()> {
        if let Some(fault) = self.shared.take_fault(Stage::Greeting) {
            // Whatever it says, a server that does not greet with 220 offers no service.
            self.fault(fault).await?;
            return Ok(());
        }
        self.reply(220, &format!("{HOSTNAME} ESMTP scimgate test sink"))
            .await?;
        for _ in 0..MAX_COMMANDS {
            let Some(line) = self.read_line(MAX_COMMAND_LINE).await? else {
                return Ok(());
            };
            let line = String::from_utf8_lossy(trim_eol(&line)).into_owned();
            let (verb, arg) = line
                .split_once(' ')
                .map_or((line.as_str(), ""), |(v, a)| (v, a.trim()));
            let next = match verb.to_ascii_uppercase().as_str() {
                "EHLO" => self.hello(arg, true).await?,
                "HELO" => self.hello(arg, false).await?,
                "AUTH" => self.auth(arg).await?,
                "MAIL" => self.mail(arg).await?,
                "RCPT" => self.rcpt(arg).await?,
                "DATA" => self.data().await?,
                "RSET" => {
                    self.reset();
                    self.reply(250, "2.0.0 reset").await?
                }
                "NOOP" => self.reply(250, "2.0.0 OK").await?,
                "QUIT" => {
                    self.reply(221, "2.0.0 bye").await?;
                    Next::Close
                }
                "VRFY" => self.reply(252, "2.1.5 cannot verify").await?,
                // Not advertised: tests run in clear.
                "STARTTLS" => self.reply(502, "5.5.1 STARTTLS not offered").await?,
                _ => self.reply(500, "5.5.2 command not recognized").await?,
            };
            if next == Next::Close {
                return Ok(());
            }
        }
        self.reply(421, "4.7.0 too many commands, closing").await?;
        Ok(())
    }

    fn reset(&mut self) {
        self.from = None;
        self.recipients.clear();
    }

    async fn hello(&mut self, name: &str, extended: bool) -> io::Result<Next> {
        if name.is_empty() {
            return self
                .reply(501, "5.5.4 a domain or address is required")
                .await;
        }
        self.helo = Some(name.to_owned());
        self.reset();
        if !extended {
            return self.reply(250, &format!("{HOSTNAME} greets {name}")).await;
        }
        let greeting = format!("{HOSTNAME} greets {name}");
        let size = format!("SIZE {MAX_MESSAGE}");
        self.reply_lines(
            250,
            &[&greeting, "8BITMIME", "SMTPUTF8", &size, "AUTH PLAIN LOGIN"],
        )
        .await
    }

    async fn auth(&mut self, arg: &str) -> io::Result<Next> {
        if self.helo.is_none() {
            return self.reply(503, "5.5.1 send EHLO first").await;
        }
        if self.login.is_some() {
            return self.reply(503, "5.5.1 already authenticated").await;
        }
        let (mechanism, initial) = arg
            .split_once(' ')
            .map_or((arg, None), |(m, i)| (m, Some(i.trim().to_owned())));
        let mechanism = mechanism.to_ascii_uppercase();
        let credentials = match mechanism.as_str() {
            "PLAIN" => match self.answer(initial, "").await? {
                Some(blob) => decode(&blob).and_then(|plain| {
                    // authzid NUL authcid NUL passwd (RFC 4616)
                    let mut fields = plain.split('\0');
                    let (_, user, pass) = (fields.next()?, fields.next()?, fields.next()?);
                    Some((user.to_owned(), pass.to_owned()))
                }),
                None => return Ok(Next::Close),
            },
            "LOGIN" => {
                let Some(user) = self.answer(initial, "VXNlcm5hbWU6").await? else {
                    return Ok(Next::Close);
                };
                let Some(pass) = self.answer(None, "UGFzc3dvcmQ6").await? else {
                    return Ok(Next::Close);
                };
                decode(&user).zip(decode(&pass))
            }
            _ => {
                return self
                    .reply(504, "5.5.4 unrecognized authentication type")
                    .await;
            }
        };
        let Some((username, password)) = credentials else {
            return self.reply(501, "5.5.2 cannot decode the credentials").await;
        };
        let login = SmtpLogin {
            mechanism,
            username,
            password,
        };
        self.shared.record_login(login.clone());
        if let Some(fault) = self.shared.take_fault(Stage::Auth) {
            return self.fault(fault).await;
        }
        self.login = Some(login);
        self.reply(235, "2.7.0 authentication successful").await
    }

    /// The client's base64 answer: the initial response, or the line after a `334` prompt.
    async fn answer(
        &mut self,
        initial: Option<String>,
        prompt: &str,
    ) -> io::Result<Option<String>> {
        if let Some(initial) = initial {
            return Ok(Some(initial));
        }
        self.reply(334, prompt).await?;
        let line = self.read_line(MAX_COMMAND_LINE).await?;
        Ok(line.map(|l| String::from_utf8_lossy(trim_eol(&l)).into_owned()))
    }

    async fn mail(&mut self, arg: &str) -> io::Result<Next> {
        let Some(from) = strip_prefix_ci(arg, "FROM:").and_then(path) else {
            return self.reply(501, "5.5.4 syntax: MAIL FROM:<address>").await;
        };
        if self.helo.is_none() {
            return self.reply(503, "5.5.1 send EHLO first").await;
        }
        if self.from.is_some() {
            return self.reply(503, "5.5.1 a transaction is already open").await;
        }
        if let Some(fault) = self.shared.take_fault(Stage::Mail) {
            return self.fault(fault).await;
        }
        self.from = Some(from);
        self.reply(250, "2.1.0 sender OK").await
    }

    async fn rcpt(&mut self, arg: &str) -> io::Result<Next> {
        let Some(to) = strip_prefix_ci(arg, "TO:").and_then(path) else {
            return self.reply(501, "5.5.4 syntax: RCPT TO:<address>").await;
        };
        if self.from.is_none() {
            return self.reply(503, "5.5.1 MAIL first").await;
        }
        if self.recipients.len() >= MAX_RECIPIENTS {
            return self.reply(452, "4.5.3 too many recipients").await;
        }
        if let Some(fault) = self.shared.take_fault(Stage::Rcpt) {
            return self.fault(fault).await;
        }
        self.recipients.push(to);
        self.reply(250, "2.1.5 recipient OK").await
    }

    async fn data(&mut self) -> io::Result<Next> {
        if self.recipients.is_empty() {
            return self.reply(503, "5.5.1 no valid recipients").await;
        }
        self.reply(354, "end data with <CR><LF>.<CR><LF>").await?;
        let mut data = Vec::new();
        // Ends at the final dot; bounded by the message size limit and each line's.
        loop {
            let Some(line) = self.read_line(MAX_DATA_LINE).await? else {
                return Ok(Next::Close);
            };
            if line == b".\r\n" || line == b".\n" {
                break;
            }
            // Dot-unstuffing (RFC 5321 §4.5.2): the client doubled every leading dot.
            let line = line.strip_prefix(b".").unwrap_or(&line);
            if data.len() + line.len() > MAX_MESSAGE {
                self.reply(552, "5.3.4 message too big").await?;
                return Ok(Next::Close);
            }
            data.extend_from_slice(line);
        }
        let mail_from = self.from.take().unwrap_or_default();
        let recipients = std::mem::take(&mut self.recipients);
        if let Some(fault) = self.shared.take_fault(Stage::Data) {
            return self.fault(fault).await;
        }
        let id = self.shared.record(ReceivedMessage {
            mail_from,
            recipients,
            data,
            helo: self.helo.clone().unwrap_or_default(),
            login: self.login.clone(),
        });
        self.reply(250, &format!("2.0.0 OK queued as {id}")).await
    }

    async fn fault(&mut self, fault: Fault) -> io::Result<Next> {
        match fault {
            Fault::Reply { code, text } => {
                let lines = text.split('\n').map(str::trim_end).collect::<Vec<_>>();
                self.reply_lines(code, &lines).await?;
                Ok(if code == 421 {
                    Next::Close
                } else {
                    Next::Continue
                })
            }
            Fault::Disconnect => Ok(Next::Close),
            Fault::Stall => {
                // Read and ignore until the client gives up (or the sink is dropped).
                let mut sink = tokio::io::sink();
                let _ =
                    tokio::time::timeout(IDLE, tokio::io::copy(&mut self.reader, &mut sink)).await;
                Ok(Next::Close)
            }
        }
    }

    async fn reply(&mut self, code: u16, text: &str) -> io::Result<Next> {
        self.reply_lines(code, &[text]).await
    }

    async fn reply_lines(&mut self, code: u16, lines: &[&str]) -> io::Result<Next> {
        let mut out = String::new();
        for (i, line) in lines.iter().enumerate() {
            let separator = if i + 1 == lines.len() { ' ' } else { '-' };
            out.push_str(&format!("{code}{separator}{line}\r\n"));
        }
        self.writer.write_all(out.as_bytes()).await?;
        self.writer.flush().await?;
        Ok(Next::Continue)
    }

    /// One line with its end, at most `max` bytes; `None` at the end of the stream.
    async fn read_line(&mut self, max: usize) -> io::Result<Option<Vec<u8>>> {
        let mut line = Vec::new();
        let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
        let read = tokio::time::timeout(
            IDLE,
            (&mut self.reader).take(limit).read_until(b'\n', &mut line),
        )
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "client idle"))??;
        if read == 0 {
            return Ok(None);
        }
        if !line.ends_with(b"\n") {
            if line.len() > max {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
            }
            // The client went away mid-line.
            return Ok(None);
        }
        Ok(Some(line))
    }
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| text[prefix.len()..].trim_start())
}

/// `<address>` followed by optional parameters; the address may be empty (null sender).
fn path(arg: &str) -> Option<String> {
    let rest = arg.strip_prefix('<')?;
    let end = rest.find('>')?;
    Some(rest[..end].to_owned())
}

fn decode(base64: &str) -> Option<String> {
    let bytes = STANDARD.decode(base64.trim()).ok()?;
    String::from_utf8(bytes).ok()
}
