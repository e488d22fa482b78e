//! A real browser for tests: Debian's headless Chromium, driven over WebDriver by its
//! own `chromedriver` process (on a free loopback port, killed with its browser on drop,
//! its log kept for failures) through `fantoccini`. Tests go to pages, find elements by
//! CSS or by the text a person reads, click, fill forms, wait for text, read cookies as
//! the browser keeps them, and keep screenshots in `target/screenshots/` for review. A
//! failure says where the page was and what it read, saves its screenshot, and keeps
//! chromedriver's log in `target/browser-logs/`.
//!
//! `scripts/test` installs `chromium` and `chromium-driver`; without them a test fails
//! and says so, never skips.

use fantoccini::cookies::Cookie;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A host name the browser resolves to 127.0.0.1, as a rebinding attacker's name would
/// (`--host-resolver-rules`): a page asked for under it reaches a local server with a
/// `Host` header that server does not know. Besides it, the browser reaches only
/// `127.0.0.1` and `localhost`.
pub const REBOUND_HOST: &str = "rebind.evil.example";

/// Wide enough for the status page's jobs table on one line; fixed so screenshots of
/// the same page compare.
const WINDOW: (u32, u32) = (1280, 900);

/// How long [`Browser::wait_for_text`] waits by default: a page of a local server on a
/// loaded 2-core machine, with Chromium starting beside it.
pub const WAIT: Duration = Duration::from_secs(15);

/// The tallest screenshot: a page longer than this is cut (a runaway table, not a page
/// to review).
const MAX_SCREENSHOT_HEIGHT: u32 = 8000;

/// chromedriver's own start: it prints its port once it listens.
const DRIVER_START: Duration = Duration::from_secs(20);

/// Set to anything to watch the browser (needs a display: `xvfb-run` or a desktop).
pub const HEADED_VARIABLE: &str = "OTA_BROWSER_HEADED";

/// One Chromium session and the chromedriver that runs it. Drop ends both; call
/// [`Browser::close`] at the end of a test to end the session cleanly.
pub struct Browser {
    client: Option<Client>,
    driver: Driver,
}

impl Browser {
    /// Starts chromedriver and opens a headless Chromium session with the flags a root
    /// container needs. Panics, naming `scripts/test`, when either is not installed.
    pub async fn start() -> Self {
        let chromium = installed("chromium", "chromium");
        let driver = Driver::start(&installed("chromedriver", "chromium-driver"));
        let mut args = vec![
            // In the driver's scratch folder, removed with it even after a SIGKILL.
            format!(
                "--user-data-dir={}",
                driver.scratch.path().join("profile").display()
            ),
            // Chromium refuses to run as root with its sandbox on (which needs user
            // namespaces a container may not give), and a container's /dev/shm is small
            // enough for tabs to crash on.
            "--no-sandbox".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            format!("--window-size={},{}", WINDOW.0, WINDOW.1),
            // The tests' servers listen on 127.0.0.1; the one name besides `localhost` is
            // the rebinding attacker's. Any other host (`MAP *` takes address literals
            // too) fails to resolve, so the browser reaches nothing outside this machine:
            // no update checks, no suggestions, no Safe Browsing lists.
            format!(
                "--host-resolver-rules=MAP {REBOUND_HOST} 127.0.0.1, MAP * ~NOTFOUND, \
                 EXCLUDE localhost, EXCLUDE 127.0.0.1"
            ),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--no-first-run".to_owned(),
            "--lang=en-US".to_owned(),
        ];
        if std::env::var_os(HEADED_VARIABLE).is_none() {
            args.push("--headless=new".to_owned());
        }
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium, "args": args },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        let connected =
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(capabilities)
                .connect(&driver.url)
                .await;
        let client = match connected {
            Ok(client) => client,
            Err(error) => panic!(
                "Chromium did not start through chromedriver: {error}\nchromedriver's log:\n{}",
                driver.log()
            ),
        };
        Self {
            client: Some(client),
            driver,
        }
    }

    fn client(&self) -> &Client {
        self.client
            .as_ref()
            .expect("the session is open until close")
    }

    /// Opens `url` and waits for it to load.
    pub async fn goto(&self, url: &str) {
        let result = self.client().goto(url).await;
        self.check(result, &format!("open {url}")).await;
    }

    /// The address the browser shows now.
    pub async fn url(&self) -> String {
        let result = self.client().current_url().await;
        self.check(result, "read the address").await.to_string()
    }

    /// The page's title.
    pub async fn title(&self) -> String {
        let result = self.client().title().await;
        self.check(result, "read the title").await
    }

    /// The page's text as a person reads it (`innerText` of the body).
    pub async fn text(&self) -> String {
        match self.client().find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// The one element `css` finds now.
    pub async fn find(&self, css: &str) -> Element {
        let result = self.client().find(Locator::Css(css)).await;
        self.check(result, &format!("find `{css}`")).await
    }

    /// Every element `css` finds now (none is no failure).
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        let result = self.client().find_all(Locator::Css(css)).await;
        self.check(result, &format!("find all `{css}`")).await
    }

    /// The rows of every table `css` finds, each as its cells' text (`th` and `td`), in
    /// page order.
    pub async fn table_rows(&self, css: &str) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        for row in self.find_all(&format!("{css} tr")).await {
            let result = row.find_all(Locator::Css("th, td")).await;
            let mut cells = Vec::new();
            for cell in self
                .check(result, &format!("read the cells of `{css}`"))
                .await
            {
                let result = cell.text().await;
                cells.push(self.check(result, "read a cell").await);
            }
            rows.push(cells);
        }
        rows
    }

    /// The innermost element whose own text contains `text`, as a person finds a link,
    /// a button or a heading.
    pub async fn find_text(&self, text: &str) -> Element {
        let xpath = format!(
            "//*[text()[contains(normalize-space(.), {})]]",
            xpath_string(text)
        );
        let result = self.client().find(Locator::XPath(&xpath)).await;
        self.check(result, &format!("find the text {text:?}")).await
    }

    /// Clicks the element `css` finds.
    pub async fn click(&self, css: &str) {
        let result = self.find(css).await.click().await;
        self.check(result, &format!("click `{css}`")).await;
    }

    /// Clicks the innermost element that shows `text`.
    pub async fn click_text(&self, text: &str) {
        let result = self.find_text(text).await.click().await;
        self.check(result, &format!("click {text:?}")).await;
    }

    /// Types `value` into the field `css` finds, replacing what it held.
    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.find(css).await;
        let result = field.clear().await;
        self.check(result, &format!("clear `{css}`")).await;
        let result = field.send_keys(value).await;
        self.check(result, &format!("type into `{css}`")).await;
    }

    /// Waits until the page's text contains `needle` (up to [`WAIT`]); panics with the
    /// page's address and text.
    pub async fn wait_for_text(&self, needle: &str) {
        self.wait_for_text_within(needle, WAIT).await;
    }

    /// [`Self::wait_for_text`] with its own deadline.
    pub async fn wait_for_text_within(&self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.text().await;
            if text.contains(needle) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "the page never showed {needle:?} within {timeout:?}; {}",
                    self.failure_report().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The cookies the browser keeps for the current page's site, with the attributes
    /// it recorded (`HttpOnly`, `SameSite`, `Secure`).
    pub async fn cookies(&self) -> Vec<Cookie<'static>> {
        let result = self.client().get_all_cookies().await;
        self.check(result, "read the cookies").await
    }

    /// The cookie `name` the browser keeps for the current page's site, if any.
    pub async fn cookie(&self, name: &str) -> Option<Cookie<'static>> {
        self.cookies()
            .await
            .into_iter()
            .find(|cookie| cookie.name() == name)
    }

    /// What the page's own scripts see in `document.cookie` (no `HttpOnly` cookie).
    pub async fn script_cookies(&self) -> String {
        let result = self
            .client()
            .execute("return document.cookie;", Vec::new())
            .await;
        let value = self.check(result, "read document.cookie").await;
        value.as_str().unwrap_or_default().to_owned()
    }

    /// Forgets every cookie of the current page's site, as a new visitor.
    pub async fn clear_cookies(&self) {
        let result = self.client().delete_all_cookies().await;
        self.check(result, "delete the cookies").await;
    }

    /// Saves the whole page, as tall as it is, as `target/screenshots/NAME.png`; returns
    /// the path. (WebDriver shows the window only: the window grows to the page's height
    /// for the picture, then goes back.)
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let result = self
            .client()
            .execute(
                "return [document.documentElement.scrollHeight, \
                 window.outerHeight - window.innerHeight];",
                Vec::new(),
            )
            .await;
        let sizes = self.check(result, "measure the page").await;
        let measure = |index: usize| sizes.get(index).and_then(Value::as_u64).unwrap_or(0);
        let (page, frame) = (measure(0), measure(1));
        let height = u32::try_from(page + frame)
            .unwrap_or(MAX_SCREENSHOT_HEIGHT)
            .clamp(WINDOW.1, MAX_SCREENSHOT_HEIGHT);
        let result = self.client().set_window_size(WINDOW.0, height).await;
        self.check(result, "grow the window to the page").await;
        let result = self.client().screenshot().await;
        let png = self.check(result, "take a screenshot").await;
        let result = self.client().set_window_size(WINDOW.0, WINDOW.1).await;
        self.check(result, "restore the window").await;
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|error| panic!("create {}: {error}", dir.display()));
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png)
            .unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
        path
    }

    /// chromedriver's log so far.
    pub fn driver_log(&self) -> String {
        self.driver.log()
    }

    /// Ends the session (Chromium exits), then chromedriver.
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            // The session may already be gone with a crashed browser: nothing to end.
            let _ = client.close().await;
        }
    }

    /// `result`'s value, or a panic that says what the test was doing, where the page
    /// was, and chromedriver's last lines.
    async fn check<T, E: std::fmt::Display>(&self, result: Result<T, E>, doing: &str) -> T {
        match result {
            Ok(value) => value,
            Err(error) => panic!(
                "the browser could not {doing}: {error}\n{}",
                self.failure_report().await
            ),
        }
    }

    /// Where the browser is, what the page reads, a screenshot of it and chromedriver's
    /// last lines (its whole log is kept), for a failure's message. Never panics itself.
    async fn failure_report(&self) -> String {
        // Before this report's own commands join the log.
        let log_tail = tail(&self.driver.log(), 30);
        let client = self.client();
        let url = match client.current_url().await {
            Ok(url) => url.to_string(),
            Err(_) => "(unknown)".to_owned(),
        };
        let screenshot = match client.screenshot().await {
            Ok(png) => {
                let path = screenshot_dir().join(format!("{}.png", crate::unique("failed")));
                let saved = std::fs::create_dir_all(screenshot_dir())
                    .and_then(|()| std::fs::write(&path, png));
                match saved {
                    Ok(()) => path.display().to_string(),
                    Err(error) => format!("(not saved: {error})"),
                }
            }
            Err(error) => format!("(none: {error})"),
        };
        format!(
            "at {url}, the page reads:\n{}\n\nits screenshot: {screenshot}\n\
             chromedriver's last lines (all of them in {}):\n{log_tail}",
            self.text().await,
            self.driver.log.display(),
        )
    }
}

/// The chromedriver process, in its own process group so that the Chromium it started
/// goes with it.
struct Driver {
    child: Child,
    url: String,
    /// `target/browser-logs/chromedriver-….log`, removed when the test did not fail.
    log: PathBuf,
    /// Chromium's profile and its `TMPDIR` (the folders it would leave in `/tmp` when
    /// killed), removed after the processes end (fields drop after `Drop::drop`).
    scratch: tempfile::TempDir,
}

impl Driver {
    fn start(program: &Path) -> Self {
        let log_dir = screenshot_dir().with_file_name("browser-logs");
        std::fs::create_dir_all(&log_dir)
            .unwrap_or_else(|error| panic!("create {}: {error}", log_dir.display()));
        let log = log_dir.join(format!("{}.log", crate::unique("chromedriver")));
        let scratch = tempfile::tempdir().expect("a scratch folder for Chromium");
        let mut command = Command::new(program);
        command
            .env("TMPDIR", scratch.path())
            .arg("--port=0")
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            command.process_group(0);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("start {}: {error}", program.display()));
        let stdout = child.stdout.take().expect("chromedriver's stdout is piped");
        // The port is on its stdout: "ChromeDriver was started successfully on port N."
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent && let Some(port) = started_on_port(&line) {
                    let _ = sender.send(port);
                    sent = true;
                }
            }
        });
        let port = receiver.recv_timeout(DRIVER_START);
        let mut driver = Self {
            child,
            url: String::new(),
            log,
            scratch,
        };
        match port {
            Ok(port) => {
                driver.url = format!("http://127.0.0.1:{port}");
                driver
            }
            // Dropping `driver` ends the process.
            Err(_) => panic!(
                "chromedriver did not say which port it listens on within {DRIVER_START:?}; \
                 its log:\n{}",
                driver.log()
            ),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            // The whole group: chromedriver and the Chromium processes it started.
            if let Ok(id) = i32::try_from(self.child.id())
                && let Some(group) = rustix::process::Pid::from_raw(id)
            {
                let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("chromedriver's log is kept in {}", self.log.display());
        } else {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// The port in chromedriver's "ChromeDriver was started successfully on port N." line.
fn started_on_port(line: &str) -> Option<u16> {
    line.split("started successfully on port ")
        .nth(1)?
        .trim()
        .trim_end_matches('.')
        .parse()
        .ok()
}

/// The path of `program` on `PATH`, or a panic that says how to install `package`.
fn installed(program: &str, package: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "`{program}` is not installed, and the browser tests need it: run `scripts/test`, \
             which installs it (Debian's `{package}`), or `apt-get install chromium \
             chromium-driver`"
        )
    })
}

/// `target/screenshots`: the workspace's target folder (`CARGO_TARGET_DIR` when set).
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || {
            let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
            manifest.parent().unwrap_or(manifest).join("target")
        },
        PathBuf::from,
    );
    target.join("screenshots")
}

/// `text` as an XPath 1.0 string literal (which has no escapes).
fn xpath_string(text: &str) -> String {
    if !text.contains('"') {
        format!("\"{text}\"")
    } else if !text.contains('\'') {
        format!("'{text}'")
    } else {
        let parts: Vec<String> = text.split('"').map(|part| format!("\"{part}\"")).collect();
        format!("concat({})", parts.join(", '\"', "))
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_is_read_from_chromedriver_s_start_line() {
        assert_eq!(
            started_on_port("ChromeDriver was started successfully on port 42839."),
            Some(42839)
        );
        assert_eq!(started_on_port("Only local connections are allowed."), None);
    }

    #[test]
    fn any_text_becomes_an_xpath_literal() {
        assert_eq!(xpath_string("Sign in"), "\"Sign in\"");
        assert_eq!(xpath_string("say \"hi\""), "'say \"hi\"'");
        assert_eq!(
            xpath_string("it's \"x\""),
            "concat(\"it's \", '\"', \"x\", '\"', \"\")"
        );
    }
}
