//! A real browser for end-to-end tests: Debian's `chromedriver` on a free loopback port driving
//! headless Chromium, a fantoccini client over plain HTTP, helpers that act as a person would
//! (type, pick, click) with bounded waits, and numbered PNG screenshots in a folder per test.
//!
//! A missing `chromedriver` or `chromium` fails the test: it is never skipped. Every wait has a
//! deadline; when one passes, the helper saves a screenshot of the page and panics with the URL and
//! the page's text. The driver runs in a process group of its own, so dropping [`Chrome`] (also on
//! a panic) ends the session and kills the driver and any browser it left behind.
#![allow(dead_code, clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// How long a helper waits for an element, a text or a URL before failing the test.
pub const WAIT: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(100);
const DRIVER_START: Duration = Duration::from_secs(30);
const SESSION_START: Duration = Duration::from_secs(60);
/// Screenshots of longer pages are cut here.
pub const MAX_SHOT_HEIGHT: u64 = 4000;

/// Chromium's command line: headless, no sandbox (tests run as root in containers), fixed size.
pub const CHROMIUM_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
];

/// A headless Chromium session, its driver process and its screenshot folder.
pub struct Chrome {
    pub client: Client,
    /// The app's base URL: paths given to [`Chrome::goto`] are relative to it.
    pub base: String,
    /// Where the screenshots (and the driver's log) of this test go.
    pub shots: PathBuf,
    driver: Child,
    port: u16,
    session: Option<String>,
    counter: AtomicU32,
}

/// `name` found on `PATH` (or the path in the environment variable `env`), or a loud failure.
fn locate(name: &str, env: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env) {
        return PathBuf::from(path);
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not installed: the browser tests need Debian's chromium and \
                 chromium-driver (apt-get install chromium chromium-driver, or run scripts/test, \
                 which installs them under CI=true), or set {env}"
            )
        })
}

/// The folder of this test's screenshots: `$CARGO_TARGET_DIR/browser-screenshots/<test>`, or the
/// target directory the test binary was built in. Emptied first, so it holds this run only.
fn screenshot_dir(test: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            // …/target/debug/scimgate → …/target
            Path::new(env!("CARGO_BIN_EXE_scimgate"))
                .ancestors()
                .nth(2)
                .unwrap()
                .to_path_buf()
        });
    let dir = target.join("browser-screenshots").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A loopback port nothing listens on (it was free a moment ago).
pub fn unused_port() -> u16 {
    free_port()
}

impl Chrome {
    /// Starts chromedriver and a Chromium session for the test `test` (the screenshot folder's
    /// name), against the app at `base`.
    pub async fn start(test: &str, base: &str) -> Self {
        let driver_bin = locate("chromedriver", "CHROMEDRIVER");
        let chromium = locate("chromium", "CHROMIUM");
        let shots = screenshot_dir(test);
        println!("browser screenshots for {test}: {}", shots.display());

        let port = free_port();
        let log = shots.join("chromedriver.log");
        let mut driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: the browsers it starts are killed with it.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver_bin.display()));

        let deadline = Instant::now() + DRIVER_START;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = driver.try_wait() {
                panic!(
                    "chromedriver exited with {status} before listening on port {port}; log: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            if Instant::now() > deadline {
                kill_group(&mut driver);
                panic!("chromedriver did not listen on port {port} within {DRIVER_START:?}");
            }
            std::thread::sleep(POLL);
        }

        let caps = json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "timeouts": {"pageLoad": 30_000, "script": 10_000, "implicit": 0},
            "goog:chromeOptions": {
                "binary": chromium,
                "args": CHROMIUM_ARGS,
            },
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let mut builder = ClientBuilder::new(connector);
        builder.capabilities(caps);
        let driver_url = format!("http://127.0.0.1:{port}");
        let client = match tokio::time::timeout(SESSION_START, builder.connect(&driver_url)).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => {
                kill_group(&mut driver);
                panic!(
                    "chromedriver could not start Chromium ({}): {e}; log: {}",
                    chromium.display(),
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            Err(_) => {
                kill_group(&mut driver);
                panic!("no browser session within {SESSION_START:?}");
            }
        };
        let session = client.session_id().await.ok().flatten();
        Self {
            client,
            base: base.trim_end_matches('/').to_owned(),
            shots,
            driver,
            port,
            session,
            counter: AtomicU32::new(0),
        }
    }

    /// Ends the session (Chromium quits) and stops the driver.
    pub async fn quit(mut self) {
        let client = self.client.clone();
        if tokio::time::timeout(Duration::from_secs(10), client.close())
            .await
            .is_ok()
        {
            self.session = None;
        }
        println!("browser screenshots: {}", self.shots.display());
    }

    /// `path` (starting with `/`) on the app, or an absolute URL.
    pub fn abs(&self, path: &str) -> String {
        if path.starts_with('/') {
            format!("{}{path}", self.base)
        } else {
            path.to_owned()
        }
    }

    /// Navigates to `path` as if typed into the address bar.
    pub async fn goto(&self, path: &str) {
        let url = self.abs(path);
        if let Err(e) = self.client.goto(&url).await {
            self.fail(&format!("could not open {url}: {e}")).await;
        }
    }

    /// Goes to `path` as a person would: nothing when the browser is already there, else the
    /// link to it on the current page when there is one, else the address bar.
    pub async fn open(&self, path: &str) {
        if self
            .client
            .current_url()
            .await
            .is_ok_and(|u| u.path() == path)
        {
            return;
        }
        let links = self
            .client
            .find_all(Locator::Css(&format!(r#"a[href="{path}"]"#)))
            .await
            .unwrap_or_default();
        for link in links {
            if link.is_displayed().await.unwrap_or(false) {
                self.navigates(&format!("following the link to {path}"), async {
                    self.click_element(&link, &format!("a[href=\"{path}\"]"))
                        .await;
                })
                .await;
                self.wait_path(path).await;
                return;
            }
        }
        self.goto(path).await;
    }

    /// The browser's current URL (also when the page failed to load).
    pub async fn url(&self) -> url::Url {
        match self.client.current_url().await {
            Ok(url) => url,
            Err(e) => self.fail(&format!("no current URL: {e}")).await,
        }
    }

    /// Waits until the current URL's path is `path`.
    pub async fn wait_path(&self, path: &str) {
        let want = path.split('?').next().unwrap_or(path).to_owned();
        self.poll(&format!("the page {path}"), || async {
            let url = self.client.current_url().await.ok()?;
            (url.path() == want).then_some(())
        })
        .await;
    }

    /// Waits until the current URL satisfies `pred`; returns it.
    pub async fn wait_url(&self, what: &str, pred: impl Fn(&url::Url) -> bool) -> url::Url {
        self.poll(what, || async {
            let url = self.client.current_url().await.ok()?;
            pred(&url).then_some(url)
        })
        .await
    }

    /// Polls `check` every 100 ms until it yields a value; after [`WAIT`] saves a screenshot and
    /// fails the test, saying what it waited for.
    pub async fn poll<T, F, Fut>(&self, what: &str, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(value) = check().await {
                return value;
            }
            if Instant::now() > deadline {
                self.fail(&format!("waited {WAIT:?} for {what}")).await;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The first element matching `css`, waiting for it to appear.
    pub async fn find(&self, css: &str) -> Element {
        self.poll(&format!("an element `{css}`"), || async {
            self.client.find(Locator::Css(css)).await.ok()
        })
        .await
    }

    /// Every element matching `css` right now (none is fine).
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        self.client
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_default()
    }

    /// The first element matching `css` whose text contains `text`, waiting for it.
    pub async fn find_with_text(&self, css: &str, text: &str) -> Element {
        self.poll(
            &format!("an element `{css}` containing {text:?}"),
            || async {
                for el in self.find_all(css).await {
                    if el.text().await.is_ok_and(|t| t.contains(text)) {
                        return Some(el);
                    }
                }
                None
            },
        )
        .await
    }

    /// Whether an element matching `css` is on the page now.
    pub async fn exists(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    /// The visible text of the first element matching `css`, trimmed.
    pub async fn text(&self, css: &str) -> String {
        let el = self.find(css).await;
        match el.text().await {
            Ok(t) => t.trim().to_owned(),
            Err(e) => self.fail(&format!("no text in `{css}`: {e}")).await,
        }
    }

    /// The texts of every element matching `css`.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let mut out = Vec::new();
        for el in self.find_all(css).await {
            if let Ok(t) = el.text().await {
                out.push(t.trim().to_owned());
            }
        }
        out
    }

    /// Waits until the text of `css` satisfies `pred`; returns it.
    pub async fn wait_text(&self, css: &str, what: &str, pred: impl Fn(&str) -> bool) -> String {
        self.poll(&format!("`{css}` to be {what}"), || async {
            let el = self.client.find(Locator::Css(css)).await.ok()?;
            let text = el.text().await.ok()?;
            let text = text.trim().to_owned();
            pred(&text).then_some(text)
        })
        .await
    }

    /// The current value of the input matching `css` (its `value` property).
    pub async fn value(&self, css: &str) -> String {
        let el = self.find(css).await;
        el.prop("value").await.ok().flatten().unwrap_or_default()
    }

    /// Clicks into the field matching `css`, clears it and types `text`.
    pub async fn fill(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        let typed = async {
            el.click().await?;
            el.clear().await?;
            el.send_keys(text).await
        };
        if let Err(e) = typed.await {
            self.fail(&format!("could not type into `{css}`: {e}"))
                .await;
        }
    }

    /// Clicks the element matching `css` (waiting for it to appear).
    pub async fn click(&self, css: &str) {
        let el = self.find(css).await;
        self.click_element(&el, css).await;
    }

    /// Clicks `el` (described by `what` in a failure).
    pub async fn click_element(&self, el: &Element, what: &str) {
        if let Err(e) = el.click().await {
            self.fail(&format!("could not click `{what}`: {e}")).await;
        }
    }

    /// Picks the option with value `value` in the select matching `css`.
    pub async fn select(&self, css: &str, value: &str) {
        let el = self.find(css).await;
        if let Err(e) = el.select_by_value(value).await {
            self.fail(&format!("no option {value:?} in `{css}`: {e}"))
                .await;
        }
    }

    /// Ticks the checkbox matching `css` (leaves it ticked when it already is).
    pub async fn check(&self, css: &str) {
        let el = self.find(css).await;
        if !el.is_selected().await.unwrap_or(false) {
            self.click_element(&el, css).await;
        }
    }

    /// Submits the form matching `form` with its (first) submit button.
    pub async fn submit(&self, form: &str) {
        self.click(&format!(
            "{form} button[type=submit], {form} input[type=submit], {form} button:not([type])"
        ))
        .await;
    }

    /// Runs `action` (a click that submits or follows something) and waits until the page it
    /// was on has been replaced by the next one, also when the URL stays the same.
    pub async fn navigates<Fut>(&self, what: &str, action: Fut)
    where
        Fut: std::future::Future<Output = ()>,
    {
        let before = self.find("html").await;
        action.await;
        self.poll(&format!("a new page after {what}"), || async {
            before.tag_name().await.is_err().then_some(())
        })
        .await;
    }

    /// Submits `form` and waits for the page that answers.
    pub async fn submit_and_wait(&self, form: &str) {
        self.navigates(&format!("submitting `{form}`"), self.submit(form))
            .await;
    }

    /// Clicks `css` and waits for the page that follows.
    pub async fn click_and_wait(&self, css: &str) {
        self.navigates(&format!("clicking `{css}`"), self.click(css))
            .await;
    }

    /// The visible text of the whole page.
    pub async fn page_text(&self) -> String {
        match self.client.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Saves a screenshot of the whole page (up to [`MAX_SHOT_HEIGHT`] pixels) as
    /// `NN-name.png`; returns its path.
    pub async fn shot(&self, name: &str) -> PathBuf {
        let n = self.counter.fetch_add(1, Ordering::SeqCst) + 1;
        let path = self.shots.join(format!("{n:02}-{name}.png"));
        match self.full_page_png().await {
            Ok(png) => std::fs::write(&path, png).unwrap(),
            Err(e) => self.fail(&format!("screenshot {name} failed: {e}")).await,
        }
        path
    }

    /// WebDriver captures the viewport only: grow the window to the page's height for the
    /// capture, then put it back.
    async fn full_page_png(&self) -> Result<Vec<u8>, fantoccini::error::CmdError> {
        let extra = self
            .client
            .execute(
                "return [Math.max(document.documentElement.scrollHeight, \
                 document.body ? document.body.scrollHeight : 0), \
                 window.outerHeight - window.innerHeight];",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| {
                let page = v.get(0)?.as_u64()?;
                let chrome = v.get(1)?.as_u64()?;
                Some((page, chrome))
            });
        let (width, height) = self.client.get_window_size().await?;
        let Some((page, chrome)) = extra.filter(|(page, chrome)| page + chrome > height) else {
            return self.client.screenshot().await;
        };
        let tall = (page + chrome).min(MAX_SHOT_HEIGHT);
        self.client
            .set_window_size(width as u32, tall as u32)
            .await?;
        let png = self.client.screenshot().await;
        self.client
            .set_window_size(width as u32, height as u32)
            .await?;
        png
    }

    /// Runs axe-core (its `axe.min.js` from `SCIMGATE_TEST_AXE`, which `scripts/services.sh`'s
    /// `ensure_axe` installs, or `$CARGO_TARGET_DIR/axe-core`) on the current page and fails the
    /// test on any serious or critical violation (unlabelled controls, contrast below 4.5:1,
    /// …), naming each with the elements it found. `what` names the page in the message.
    pub async fn assert_accessible(&self, what: &str) {
        let source = std::fs::read_to_string(axe_path())
            .unwrap_or_else(|e| panic!("axe-core is not installed ({e}): run scripts/services.sh ensure_axe, or set SCIMGATE_TEST_AXE"));
        if let Err(e) = self.client.execute(&source, vec![]).await {
            self.fail(&format!("could not inject axe-core: {e}")).await;
        }
        let run = "const done = arguments[arguments.length - 1]; \
                   axe.run(document, {resultTypes: ['violations']}) \
                   .then(r => done(JSON.stringify(r.violations.filter(v => \
                       v.impact === 'serious' || v.impact === 'critical').map(v => ({ \
                       id: v.id, impact: v.impact, help: v.help, \
                       nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ': ' + \
                           (n.failureSummary || '').replace(/\\s+/g, ' ')) }))))) \
                   .catch(e => done('axe failed: ' + e));";
        let answer = match self.client.execute_async(run, vec![]).await {
            Ok(answer) => answer,
            Err(e) => self.fail(&format!("axe-core did not run: {e}")).await,
        };
        let text = answer.as_str().unwrap_or_default().to_owned();
        let violations: Vec<Value> =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("axe-core on {what}: {text}"));
        if !violations.is_empty() {
            let shot = self.shot(&format!("axe-{what}")).await;
            panic!(
                "{what}: {} serious/critical accessibility violation(s) (screenshot {}):\n{}",
                violations.len(),
                shot.display(),
                serde_json::to_string_pretty(&violations).unwrap_or_default()
            );
        }
    }

    /// Fails the test with `why`, the current URL and the page's text, after a screenshot.
    pub async fn fail(&self, why: &str) -> ! {
        let url = self
            .client
            .current_url()
            .await
            .map_or_else(|e| format!("(unknown: {e})"), |u| u.to_string());
        let n = self.counter.fetch_add(1, Ordering::SeqCst) + 1;
        let path = self.shots.join(format!("{n:02}-FAILED.png"));
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(&path, png);
        }
        let mut text = self.page_text().await;
        if text.len() > 2000 {
            let cut = (0..=2000)
                .rev()
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(0);
            text.truncate(cut);
            text.push('…');
        }
        panic!(
            "{why}\n  at {url}\n  screenshot: {}\n  page text:\n{text}",
            path.display()
        );
    }
}

/// Where axe-core's script is: `SCIMGATE_TEST_AXE`, else the copy `ensure_axe` installs in the
/// build directory.
fn axe_path() -> PathBuf {
    if let Some(path) = std::env::var_os("SCIMGATE_TEST_AXE") {
        return PathBuf::from(path);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_BIN_EXE_scimgate"))
                .ancestors()
                .nth(2)
                .unwrap()
                .to_path_buf()
        });
    target.join("axe-core/node_modules/axe-core/axe.min.js")
}

/// Kills the driver's process group (the driver and any browser it started), then reaps it.
fn kill_group(driver: &mut Child) {
    let group = format!("-{}", driver.id());
    let _ = Command::new("kill")
        .args(["-KILL", "--", &group])
        .stderr(Stdio::null())
        .status();
    let _ = driver.kill();
    let _ = driver.wait();
}

/// `DELETE /session/{id}` to the driver, blocking with short timeouts: Chromium quits cleanly.
fn delete_session(port: u16, session: &str) {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let request = format!(
        "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_ok() {
        // The driver answers once Chromium has quit; it may keep the connection open after.
        let mut answer = [0u8; 1024];
        let _ = stream.read(&mut answer);
    }
}

impl Drop for Chrome {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            delete_session(self.port, &session);
        }
        kill_group(&mut self.driver);
    }
}
