//! The first-run setup through the real router on a socket, against the fake GitHub: the
//! form answers the manifest page and binds its state to the browser, GitHub's callback is
//! checked against the state and that browser's cookie, the code is exchanged, and the App
//! is stored and handed to the server. (The operator's guard in front of the form is the
//! server's: `serve_guard.rs`.)

use e2e::fake_github::{
    APP_ID, FakeGitHub, MANIFEST_APP_SLUG, MANIFEST_CLIENT_SECRET, MANIFEST_WEBHOOK_SECRET,
    PRIVATE_KEY_PEM, Route,
};
use ota::setup::{
    APP_FILE, AppFile, PendingSetups, SETUP_COOKIE, SetupContext, SetupRoutes, routes,
};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The setup routes served on a local socket, with what the server was handed.
struct Harness {
    github: FakeGitHub,
    data_dir: tempfile::TempDir,
    base_url: String,
    configured: Arc<Mutex<Vec<u64>>>,
    http: reqwest::Client,
    /// This browser's setup cookie (`ota_setup=…`), once the server set one.
    cookie: Mutex<Option<String>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Harness {
    async fn start() -> Self {
        Self::start_against(None).await
    }

    /// With the API at `api_url` instead of the fake's.
    async fn start_against(api_url: Option<&str>) -> Self {
        let github = FakeGitHub::start().await;
        let data_dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let listen = listener.local_addr().unwrap();
        let configured = Arc::new(Mutex::new(Vec::new()));
        let recorder = configured.clone();
        let ctx = SetupContext {
            data_dir: data_dir.path().to_owned(),
            api_url: api_url.map_or_else(|| github.base_url(), str::to_owned),
            public_url: None,
            listen,
            missing: vec!["APP_ID is not set".to_owned()],
            configured: Arc::new(|| None),
            on_configured: Arc::new(move |app: AppFile| {
                recorder.lock().unwrap().push(app.app_id);
                Ok(())
            }),
            pending: PendingSetups::default(),
        };
        let SetupRoutes { start, callback } = routes(ctx);
        let server = tokio::spawn(async move {
            axum::serve(listener, start.merge(callback)).await.unwrap();
        });
        Self {
            github,
            data_dir,
            base_url: format!("http://{listen}"),
            configured,
            http: reqwest::Client::new(),
            cookie: Mutex::new(None),
            server,
        }
    }

    fn dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// Posts the setup form; answers the status and the page.
    async fn post_setup(&self, fields: &[(&str, &str)]) -> (u16, String) {
        let body: Vec<String> = fields
            .iter()
            .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
            .collect();
        let response = self
            .http
            .post(format!("{}/setup", self.base_url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.join("&"))
            .send()
            .await
            .unwrap();
        if let Some(cookie) = setup_cookie(&response) {
            *self.cookie.lock().unwrap() = Some(cookie);
        }
        (response.status().as_u16(), response.text().await.unwrap())
    }

    fn cookie(&self) -> Option<String> {
        self.cookie.lock().unwrap().clone()
    }

    /// Starts the setup as the browser does; answers the state handed to GitHub and the
    /// manifest posted to it.
    async fn start_setup(&self) -> (String, Value) {
        let (status, page) = self
            .post_setup(&[("public_url", &self.base_url), ("organization", "")])
            .await;
        assert_eq!(status, 200, "{page}");
        let action = attribute_after(&page, r#"method="post" action=""#);
        let prefix = format!("{}/settings/apps/new?state=", self.github.base_url());
        let state = action
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{action} is not GitHub's new-App page"))
            .to_owned();
        let manifest = attribute_after(&page, r#"name="manifest" value=""#);
        (state, serde_json::from_str(&manifest).unwrap())
    }

    /// GitHub sending this browser back.
    async fn callback(&self, code: &str, state: &str) -> (u16, String) {
        self.callback_with(code, state, self.cookie().as_deref())
            .await
    }

    /// GitHub sending a browser with `cookie` (or none) back.
    async fn callback_with(&self, code: &str, state: &str, cookie: Option<&str>) -> (u16, String) {
        let mut request = self.http.get(format!(
            "{}/setup/callback?code={code}&state={state}",
            self.base_url
        ));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    fn configured(&self) -> Vec<u64> {
        self.configured.lock().unwrap().clone()
    }
}

/// The `ota_setup=…` pair of the response's `Set-Cookie`, if it sets one with a value.
fn setup_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.split(';').next())
        .find(|pair| {
            pair.starts_with(&format!("{SETUP_COOKIE}=")) && pair.len() > SETUP_COOKIE.len() + 1
        })
        .map(str::to_owned)
}

/// The decoded value of the attribute that `marker` opens.
fn attribute_after(page: &str, marker: &str) -> String {
    let (_, rest) = page
        .split_once(marker)
        .unwrap_or_else(|| panic!("no {marker} in {page}"));
    let (value, _) = rest.split_once('"').unwrap();
    html_escape::decode_html_entities(value).into_owned()
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

fn assert_no_secret(page: &str) {
    for secret in [
        MANIFEST_WEBHOOK_SECRET,
        MANIFEST_CLIENT_SECRET,
        "PRIVATE KEY",
    ] {
        assert!(!page.contains(secret), "{secret} shown in {page}");
    }
}

#[tokio::test]
async fn the_form_answers_a_page_posting_the_manifest_to_github() {
    let harness = Harness::start().await;
    let (state, manifest) = harness.start_setup().await;

    assert_eq!(state.len(), 64);
    let cookie = harness
        .cookie()
        .expect("the setup is bound to this browser");
    assert_eq!(cookie.len(), "ota_setup=".len() + 64);
    assert!(!cookie.contains(&state), "the cookie is not the state");
    // Nothing is written before GitHub sends the browser back.
    assert_eq!(std::fs::read_dir(harness.dir()).unwrap().count(), 0);
    assert_eq!(
        manifest["hook_attributes"],
        json!({ "url": format!("{}/webhook", harness.base_url), "active": true })
    );
    assert_eq!(
        manifest["redirect_url"],
        format!("{}/setup/callback", harness.base_url)
    );
    assert_eq!(
        manifest["callback_urls"],
        json!([format!("{}/signin/github/callback", harness.base_url)])
    );
    assert_eq!(
        manifest["default_permissions"],
        json!({
            "checks": "write",
            "contents": "write",
            "issues": "write",
            "members": "read",
            "metadata": "read",
            "pull_requests": "write",
        })
    );
    assert_eq!(manifest["default_events"].as_array().unwrap().len(), 8);
    assert_eq!(manifest["public"], false);
    // Nothing reached GitHub yet: the browser posts the manifest.
    assert!(harness.github.requests().is_empty());
}

#[tokio::test]
async fn the_form_for_an_organization_goes_to_its_new_app_page() {
    let harness = Harness::start().await;
    let (status, page) = harness
        .post_setup(&[
            ("public_url", "https://ota.example"),
            ("organization", "acme"),
        ])
        .await;
    assert_eq!(status, 200, "{page}");
    let action = attribute_after(&page, r#"method="post" action=""#);
    let expected = format!(
        "{}/organizations/acme/settings/apps/new?state=",
        harness.github.base_url()
    );
    assert!(action.starts_with(&expected), "{action}");
}

#[tokio::test]
async fn a_form_without_a_usable_url_is_refused_with_what_to_fix() {
    let harness = Harness::start().await;
    let (status, page) = harness.post_setup(&[("public_url", "ota.example")]).await;
    assert_eq!(status, 400);
    assert!(page.contains("must start with https://"), "{page}");
    assert_eq!(harness.cookie(), None);
}

#[tokio::test]
async fn a_callback_with_a_wrong_state_stores_nothing() {
    let harness = Harness::start().await;
    let (state, _) = harness.start_setup().await;
    harness.github.add_manifest_code("code-from-github");

    let wrong = "0".repeat(state.len());
    let (status, page) = harness.callback("code-from-github", &wrong).await;

    assert_eq!(status, 403, "{page}");
    assert!(page.contains("start the setup again"), "{page}");
    assert!(!harness.dir().join(APP_FILE).exists());
    assert!(harness.configured().is_empty());
    // The code was not even tried: it still works for the real setup.
    assert!(harness.github.requests().is_empty());
}

#[tokio::test]
async fn a_callback_with_the_right_state_stores_the_app_and_hands_it_to_the_server() {
    let harness = Harness::start().await;
    let (state, _) = harness.start_setup().await;
    harness.github.add_manifest_code("code-from-github");

    let (status, page) = harness.callback("code-from-github", &state).await;

    assert_eq!(status, 200, "{page}");
    let install = format!("https://github.com/apps/{MANIFEST_APP_SLUG}/installations/new");
    assert!(page.contains(&format!(r#"<a href="{install}">"#)), "{page}");
    assert_no_secret(&page);
    assert_eq!(harness.configured(), [APP_ID]);

    let app = AppFile::load(harness.dir()).unwrap().unwrap();
    assert_eq!(app.app_id, APP_ID);
    assert_eq!(app.slug, MANIFEST_APP_SLUG);
    assert_eq!(app.private_key.expose_secret(), PRIVATE_KEY_PEM);
    assert_eq!(app.webhook_secret.expose_secret(), MANIFEST_WEBHOOK_SECRET);
    assert_eq!(
        app.client_secret.as_ref().map(ExposeSecret::expose_secret),
        Some(MANIFEST_CLIENT_SECRET)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(harness.dir().join(APP_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The link cannot be replayed.
    let (status, page) = harness.callback("code-from-github", &state).await;
    assert_eq!(status, 409, "{page}");

    let conversions = harness.github.requests_to(Route::ManifestConversion);
    assert_eq!(conversions.len(), 1);
    assert_eq!(conversions[0].method, "POST");
    assert_eq!(
        conversions[0].path,
        "/app-manifests/code-from-github/conversions"
    );
    harness.github.assert_nothing_unexpected();

    // A second setup would replace the stored key: refused.
    let (status, page) = harness
        .post_setup(&[("public_url", "https://ota.example")])
        .await;
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("Already set up"), "{page}");
}

#[tokio::test]
async fn a_used_or_expired_code_asks_to_start_again() {
    let harness = Harness::start().await;
    let (state, _) = harness.start_setup().await;

    let (status, page) = harness.callback("code-github-forgot", &state).await;

    assert_eq!(status, 400, "{page}");
    assert!(page.contains("expired or was already used"), "{page}");
    assert!(page.contains("start the setup again"), "{page}");
    assert!(!page.contains("code-github-forgot"), "{page}");
    assert!(!harness.dir().join(APP_FILE).exists());
    assert!(harness.configured().is_empty());
    assert_eq!(
        harness.github.requests_to(Route::ManifestConversion)[0].status,
        404
    );
}

#[tokio::test]
async fn an_unreachable_github_is_a_bad_gateway() {
    // Nothing listens on the discard port.
    let harness = Harness::start_against(Some("http://127.0.0.1:9")).await;
    let (status, page) = harness
        .post_setup(&[("public_url", "https://ota.example")])
        .await;
    assert_eq!(status, 200, "{page}");
    let action = attribute_after(&page, r#"method="post" action=""#);
    let (_, state) = action.split_once("state=").unwrap();

    let (status, page) = harness.callback("code-from-github", state).await;

    assert_eq!(status, 502, "{page}");
    assert!(page.contains("unreachable"), "{page}");
    assert!(!page.contains("code-from-github"), "{page}");
    assert!(!harness.dir().join(APP_FILE).exists());
}

#[tokio::test]
async fn a_callback_in_another_browser_or_without_the_cookie_stores_nothing() {
    let harness = Harness::start().await;
    let (state, _) = harness.start_setup().await;
    let mine = harness.cookie().unwrap();
    // Another browser starts its own setup: it has a cookie, but not for this state.
    harness.start_setup().await;
    let theirs = harness.cookie().unwrap();
    assert_ne!(mine, theirs);
    harness.github.add_manifest_code("code-from-github");

    for cookie in [None, Some(theirs.as_str()), Some("ota_setup=forged")] {
        let (status, page) = harness
            .callback_with("code-from-github", &state, cookie)
            .await;
        assert_eq!(status, 403, "{cookie:?}: {page}");
        assert!(
            page.contains("this browser did not start that setup"),
            "{page}"
        );
    }
    assert!(!harness.dir().join(APP_FILE).exists());
    assert!(harness.configured().is_empty());
    assert!(harness.github.requests().is_empty());

    // The browser that started it still can finish it.
    let (status, page) = harness
        .callback_with("code-from-github", &state, Some(&mine))
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(harness.configured(), [APP_ID]);
}
