//! `scimgate probe`: a health check for containers without curl. One plain-HTTP GET on loopback,
//! bounded by a timeout; success means the gateway answered 200.

use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long the whole probe may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// GETs `url` (`http://host:port/path`) and succeeds on a 200.
pub async fn run(url: &str) -> anyhow::Result<()> {
    let parsed = url::Url::parse(url).with_context(|| format!("'{url}' is not a URL"))?;
    if parsed.scheme() != "http" {
        bail!("'{url}': the probe speaks plain HTTP to a local gateway only");
    }
    let host = parsed.host_str().unwrap_or("127.0.0.1").to_owned();
    let port = parsed.port().unwrap_or(80);
    let status = tokio::time::timeout(TIMEOUT, async {
        let mut stream = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
        let request = format!(
            "GET {} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n",
            parsed.path()
        );
        stream.write_all(request.as_bytes()).await?;
        let mut head = vec![0u8; 64];
        let read = stream.read(&mut head).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&head[..read]).into_owned())
    })
    .await
    .with_context(|| format!("{url} did not answer within {TIMEOUT:?}"))?
    .with_context(|| format!("cannot reach {url}"))?;
    let code = status.split_whitespace().nth(1).unwrap_or_default();
    if code == "200" {
        println!("ready: {url}");
        Ok(())
    } else {
        bail!(
            "{url} answered {}",
            status.lines().next().unwrap_or("nothing")
        )
    }
}
