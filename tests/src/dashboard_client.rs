//! A browser's part in the dashboard's route tests, without a browser: an HTTP client
//! that keeps cookies, follows no redirect by itself, and signs in through the fake
//! GitHub's OAuth web flow hop by hop (the server, GitHub's authorize page, the callback),
//! as a browser would. Pages read as text, for assertions and `insta` snapshots.

use crate::fake_github::{
    APP_ID, FakeGitHub, MANIFEST_APP_NAME, MANIFEST_APP_SLUG, MANIFEST_CLIENT_ID,
    MANIFEST_CLIENT_SECRET, PRIVATE_KEY_PEM,
};
use crate::ota_server::{OtaServer, SECRET, ServeWorld};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// The settings that give `ota serve` the fake App's OAuth client.
pub fn oauth_environment(world: &ServeWorld) -> Vec<(String, String)> {
    let mut env = world.environment();
    env.push(("GITHUB_CLIENT_ID".to_owned(), MANIFEST_CLIENT_ID.to_owned()));
    env.push((
        "GITHUB_CLIENT_SECRET".to_owned(),
        MANIFEST_CLIENT_SECRET.to_owned(),
    ));
    env
}

/// The settings of an `ota serve` whose App the setup stored in the data directory
/// (`app.json`, written here: the test App, with [`SECRET`] as its webhook secret and
/// the fake's OAuth client), as the settings page can rotate it: the environment names
/// no App.
pub fn stored_app_environment(world: &ServeWorld) -> Vec<(String, String)> {
    let app = serde_json::json!({
        "app_id": APP_ID,
        "slug": MANIFEST_APP_SLUG,
        "name": MANIFEST_APP_NAME,
        "html_url": format!("https://github.com/apps/{MANIFEST_APP_SLUG}"),
        "private_key": PRIVATE_KEY_PEM,
        "webhook_secret": SECRET,
        "client_id": MANIFEST_CLIENT_ID,
        "client_secret": MANIFEST_CLIENT_SECRET,
    });
    std::fs::write(world.data_dir().join("app.json"), app.to_string()).expect("app.json");
    world
        .environment()
        .into_iter()
        .filter(|(name, _)| !matches!(name.as_str(), "APP_ID" | "PRIVATE_KEY" | "WEBHOOK_SECRET"))
        .collect()
}

/// A client signed in with GitHub as `login`, the fake's OAuth pages approving.
pub async fn signed_in(world: &ServeWorld, server: &OtaServer, login: &str) -> DashboardClient {
    signed_in_at(&world.github, &server.url, login).await
}

/// A client of the dashboard at `base` signed in through `github` as `login`.
pub async fn signed_in_at(github: &FakeGitHub, base: &str, login: &str) -> DashboardClient {
    github.sign_in_as(login);
    let client = DashboardClient::at(base);
    let back = client.sign_in_with_github().await;
    assert_eq!(back.status, 303, "{login} could not sign in: {back:?}");
    assert_eq!(back.location.as_deref(), Some("/jobs"));
    client
}

/// One answer: status, `Location`, body.
#[derive(Debug, Clone)]
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    /// The `Set-Cookie` headers, whole.
    pub set_cookies: Vec<String>,
    /// `Content-Type` and `Content-Disposition`, when given.
    pub content_type: Option<String>,
    pub content_disposition: Option<String>,
    /// `X-Frame-Options` and `Cache-Control`, when given.
    pub frame_options: Option<String>,
    pub cache_control: Option<String>,
    pub body: String,
}

impl Page {
    /// The page's text without its markup, one line per line of text, for snapshots.
    pub fn text(&self) -> String {
        page_text(&self.body)
    }

    /// The value of the first hidden `csrf` field.
    pub fn csrf(&self) -> Option<String> {
        let at = self.body.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
        let rest = &self.body[at..];
        Some(rest[..rest.find('"')?].to_owned())
    }
}

/// Markup stripped, entities of the pages decoded, blank lines and `<style>` dropped.
pub fn page_text(html: &str) -> String {
    let without_style = match (html.find("<style>"), html.find("</style>")) {
        (Some(start), Some(end)) if end > start => {
            format!("{}{}", &html[..start], &html[end + "</style>".len()..])
        }
        _ => html.to_owned(),
    };
    let mut text = String::new();
    let mut in_tag = false;
    for c in without_style.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let decoded = text
        .replace("&#x2f;", "/")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    decoded
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A browser's cookies and its requests to one server.
pub struct DashboardClient {
    pub base: String,
    http: reqwest::Client,
    cookies: Mutex<BTreeMap<String, String>>,
}

impl DashboardClient {
    pub fn new(server: &OtaServer) -> Self {
        Self::at(&server.url)
    }

    /// A browser of the dashboard at `base` (`http://HOST:PORT`).
    pub fn at(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                // Browsers always send one (and GitHub refuses requests without).
                .user_agent("Mozilla/5.0 (X11; Linux x86_64) ota-dashboard-test")
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookies: Mutex::new(BTreeMap::new()),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .lock()
            .expect("cookies")
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The value of the cookie `name`, if the browser holds one.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().expect("cookies").get(name).cloned()
    }

    /// Sets a cookie by hand (an attacker's, an old one).
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .lock()
            .expect("cookies")
            .insert(name.to_owned(), value.to_owned());
    }

    async fn send(&self, request: reqwest::RequestBuilder, to_server: bool) -> Page {
        let mut request = request.header("accept", "text/html");
        if to_server {
            let cookies = self.cookie_header();
            if !cookies.is_empty() {
                request = request.header("cookie", cookies);
            }
        }
        let response = request.send().await.expect("send");
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header("content-type");
        let content_disposition = header("content-disposition");
        let frame_options = header("x-frame-options");
        let cache_control = header("cache-control");
        let set_cookies: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|value| value.to_str().ok().map(str::to_owned))
            .collect();
        if to_server {
            let mut cookies = self.cookies.lock().expect("cookies");
            for set in response.headers().get_all("set-cookie") {
                let Some(pair) = set.to_str().ok().and_then(|set| set.split(';').next()) else {
                    continue;
                };
                let Some((name, value)) = pair.split_once('=') else {
                    continue;
                };
                let removed = set.to_str().is_ok_and(|set| set.contains("Max-Age=0"));
                if removed || value.is_empty() {
                    cookies.remove(name);
                } else {
                    cookies.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        Page {
            status,
            location,
            set_cookies,
            content_type,
            content_disposition,
            frame_options,
            cache_control,
            body: response.text().await.unwrap_or_default(),
        }
    }

    /// `GET path` on the server.
    pub async fn get(&self, path: &str) -> Page {
        self.send(self.http.get(format!("{}{path}", self.base)), true)
            .await
    }

    /// `POST path` on the server with the form `form`, from the server's own page.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", self.base.clone())
            .body(body);
        self.send(request, true).await
    }

    /// `POST path` on the server as a browser sends a form with a file input
    /// (`multipart/form-data`): the fields `form`, then the file `content` as the field
    /// `file_field` named `file_name`.
    pub async fn post_file(
        &self,
        path: &str,
        form: &[(&str, &str)],
        (file_field, file_name, content): (&str, &str, &[u8]),
    ) -> Page {
        let boundary = "----ota-test-form-7d1e9b";
        let mut body = Vec::new();
        for (name, value) in form {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{file_field}\"; filename=\"{file_name}\"\r\nContent-Type: application/x-x509-ca-cert\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .header("origin", self.base.clone())
            .body(body);
        self.send(request, true).await
    }

    /// `GET url` anywhere (GitHub's pages), with none of the server's cookies.
    pub async fn visit(&self, url: &str) -> Page {
        let to_server = url.starts_with(&self.base);
        self.send(self.http.get(url), to_server).await
    }

    /// Reads the Server-Sent Events at `path` until an `end` event (or `timeout`): the
    /// status and the stream's text as received.
    pub async fn events(&self, path: &str, timeout: std::time::Duration) -> (u16, String) {
        let mut response = self
            .http
            .get(format!("{}{path}", self.base))
            .header("accept", "text/event-stream")
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("open the stream");
        let status = response.status().as_u16();
        let mut text = String::new();
        let deadline = tokio::time::Instant::now() + timeout;
        while !text.contains("event: end") {
            match tokio::time::timeout_at(deadline, response.chunk()).await {
                Ok(Ok(Some(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
                _ => break,
            }
        }
        (status, text)
    }

    /// Signs in through the fake GitHub as whoever it approves for
    /// (`FakeGitHub::sign_in_as`): the page the callback answered (a 303 to `/jobs` once
    /// signed in).
    pub async fn sign_in_with_github(&self) -> Page {
        let start = self.get("/signin/github").await;
        assert_eq!(start.status, 303, "sign-in start: {start:?}");
        let authorize = start.location.expect("a redirect to GitHub");
        let github = self.visit(&authorize).await;
        assert_eq!(github.status, 302, "GitHub's authorize page: {github:?}");
        let callback = github.location.expect("GitHub's redirect back");
        self.visit(&callback).await
    }
}
