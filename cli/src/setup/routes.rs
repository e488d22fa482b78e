//! The setup endpoints, for the server to merge into its router: `POST /setup` starts the
//! manifest flow, `GET /setup/callback` finishes it. `GET /` is the server's: it shows
//! [`setup_page_response`] until an App is configured. The server guards `POST /setup`
//! as the operator's; the callback is guarded by the state bound to the browser.

use super::{
    AppFile, DEFAULT_APP_NAME, PendingSetups, SETUP_COOKIE, STATE_LIFETIME, SetupError,
    exchange_code, manifest, manifest_with_webhook, new_app_url, return_to,
};
use crate::browser::{self, SameSite};
use crate::pages::{self, SetupView};
use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Called with the new App once it is stored, so the server can start using it without a
/// restart. An error says why it could not (the page then asks for a restart).
pub type OnConfigured = Arc<dyn Fn(AppFile) -> Result<(), String> + Send + Sync>;

/// Where the App the server runs was configured from (`the environment`, a file), if it
/// runs one: the setup is then closed.
pub type ConfiguredApp = Arc<dyn Fn() -> Option<String> + Send + Sync>;

/// What the setup endpoints need from the server.
#[derive(Clone)]
pub struct SetupContext {
    pub data_dir: PathBuf,
    /// The GitHub REST API root (`GITHUB_API_URL`).
    pub api_url: String,
    /// The public URL, if the operator gave one: prefilled in the form.
    pub public_url: Option<String>,
    /// Where the server listens.
    pub listen: SocketAddr,
    /// What is missing, one sentence each ("APP_ID is not set").
    pub missing: Vec<String>,
    pub configured: ConfiguredApp,
    pub on_configured: OnConfigured,
    /// The setups started and not finished.
    pub pending: PendingSetups,
}

impl fmt::Debug for SetupContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SetupContext")
            .field("data_dir", &self.data_dir)
            .field("api_url", &self.api_url)
            .field("public_url", &self.public_url)
            .field("listen", &self.listen)
            .field("missing", &self.missing)
            .finish_non_exhaustive()
    }
}

impl SetupContext {
    /// The GitHub web host the App is created on.
    fn github_web_url(&self) -> String {
        ota_runner::job::git_base_url(&self.api_url)
    }

    /// This server's URL from the machine itself.
    fn local_url(&self) -> String {
        browser::local_url(self.listen)
    }

    /// The origin the browser that sent `headers` uses for this server: the one its form
    /// came from, else the one it addressed, else the local URL.
    fn browser_origin(&self, headers: &HeaderMap) -> String {
        let from_origin = headers
            .get(header::ORIGIN)
            .and_then(|value| value.to_str().ok())
            .and_then(browser::origin_of)
            .map(|(scheme, authority)| format!("{}://{authority}", scheme.to_ascii_lowercase()));
        from_origin
            .or_else(|| browser::host_header(headers).map(|host| format!("http://{host}")))
            .unwrap_or_else(|| self.local_url())
    }
}

/// The setup's two endpoints, guarded differently by the server.
pub struct SetupRoutes {
    /// `POST /setup`: the operator's.
    pub start: Router,
    /// `GET /setup/callback`: where GitHub sends the browser back, with no cookie that
    /// proves the operator (a SameSite=Strict cookie does not come with a redirect from
    /// github.com); the state bound to the browser proves that browser started it.
    pub callback: Router,
}

/// `POST /setup` and `GET /setup/callback`.
pub fn routes(ctx: SetupContext) -> SetupRoutes {
    let ctx = Arc::new(ctx);
    SetupRoutes {
        start: Router::new()
            .route("/setup", post(start))
            .with_state(Arc::clone(&ctx)),
        callback: Router::new()
            .route("/setup/callback", get(callback))
            .with_state(ctx),
    }
}

/// The first-run page, for the server's `GET /`.
pub fn setup_page_response(ctx: &SetupContext) -> Html<String> {
    Html(pages::setup_page(&SetupView {
        missing: ctx.missing.clone(),
        public_url: ctx.public_url.clone(),
        local_url: ctx.local_url(),
        port: ctx.listen.port(),
        data_dir: ctx.data_dir.display().to_string(),
        github_web_url: ctx.github_web_url(),
    }))
}

/// The setup form. Every field may be absent, so that the handler, not the extractor,
/// says what is wrong.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SetupForm {
    public_url: String,
    webhook_url: String,
    organization: String,
}

async fn start(
    State(ctx): State<Arc<SetupContext>>,
    headers: HeaderMap,
    form: Result<Form<SetupForm>, FormRejection>,
) -> Response {
    if let Some(refusal) = already_configured(&ctx) {
        return refusal;
    }
    let Ok(Form(form)) = form else {
        return message(
            StatusCode::BAD_REQUEST,
            "Setup form not understood",
            "Send the form on this server's start page.",
        );
    };
    let request = match ManifestRequest::from_form(&form) {
        Ok(request) => request,
        Err(err) => return message(StatusCode::BAD_REQUEST, "Check the setup form", &err),
    };
    let started = match ctx.pending.start() {
        Ok(started) => started,
        Err(err) => return failure(StatusCode::INTERNAL_SERVER_ERROR, &err),
    };
    let mut manifest = match &request.webhook_url {
        Some(webhook_url) => {
            manifest_with_webhook(&request.public_url, webhook_url, DEFAULT_APP_NAME)
        }
        None => manifest(&request.public_url, DEFAULT_APP_NAME),
    };
    let origin = ctx.browser_origin(&headers);
    return_to(&mut manifest, &origin);
    let target = new_app_url(
        &ctx.github_web_url(),
        request.organization.as_deref(),
        &started.state,
    );
    let page = Html(pages::manifest_redirect_page(&target, &manifest));
    // Lax: the cookie must come back with GitHub's redirect, a top-level navigation.
    let cookie = setup_cookie(
        &started.browser,
        STATE_LIFETIME,
        origin.starts_with("https://"),
    );
    (cookie, page).into_response()
}

/// The cookie that binds a setup to its browser; a zero lifetime removes it.
fn setup_cookie(
    value: &str,
    max_age: Duration,
    secure: bool,
) -> [(header::HeaderName, header::HeaderValue); 1] {
    let cookie = browser::set_cookie(
        SETUP_COOKIE,
        value,
        "/setup",
        SameSite::Lax,
        max_age,
        secure,
    )
    .unwrap_or_else(|| header::HeaderValue::from_static(""));
    [(header::SET_COOKIE, cookie)]
}

/// The setup form, checked.
struct ManifestRequest {
    public_url: String,
    webhook_url: Option<String>,
    organization: Option<String>,
}

impl ManifestRequest {
    fn from_form(form: &SetupForm) -> Result<Self, String> {
        let public_url = web_url("The public URL", &form.public_url)?
            .ok_or("The public URL is empty: enter the URL your tunnel prints.")?;
        let webhook_url = web_url("The webhook URL", &form.webhook_url)?;
        let organization = Some(form.organization.trim()).filter(|org| !org.is_empty());
        if let Some(org) = organization {
            let valid = org.len() <= 39
                && org
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-');
            if !valid {
                return Err(format!(
                    "“{org}” is not an organization name: use its login, letters, digits \
                     and dashes (as in github.com/ORG)."
                ));
            }
        }
        Ok(Self {
            public_url,
            webhook_url,
            organization: organization.map(str::to_owned),
        })
    }
}

/// An `http(s)://host[...]` URL without query or fragment, trailing slashes removed;
/// `None` when empty.
fn web_url(what: &str, raw: &str) -> Result<Option<String>, String> {
    let url = raw.trim().trim_end_matches('/');
    if url.is_empty() {
        return Ok(None);
    }
    let host = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let valid = host.is_some_and(|rest| {
        !rest.is_empty()
            && !rest.starts_with('/')
            && !rest.contains(['?', '#', '"', '<', '>', '\\'])
            && !rest.chars().any(char::is_whitespace)
    });
    if valid {
        Ok(Some(url.to_owned()))
    } else {
        Err(format!(
            "{what} must start with https:// or http:// followed by a host, without \
             spaces, query or fragment; got “{raw}”."
        ))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CallbackQuery {
    code: String,
    state: String,
}

async fn callback(
    State(ctx): State<Arc<SetupContext>>,
    headers: HeaderMap,
    query: Result<Query<CallbackQuery>, QueryRejection>,
) -> Response {
    let forget = setup_cookie("", Duration::ZERO, false);
    (forget, finish(&ctx, &headers, query).await).into_response()
}

/// The callback's work; its answer goes out with the setup's cookie removed.
async fn finish(
    ctx: &SetupContext,
    headers: &HeaderMap,
    query: Result<Query<CallbackQuery>, QueryRejection>,
) -> Response {
    let query = query.map(|Query(query)| query).unwrap_or_default();
    if query.code.is_empty() || query.state.is_empty() {
        return message(
            StatusCode::BAD_REQUEST,
            "Nothing to finish",
            "This address is where GitHub sends you back after creating the App; it needs \
             the code and state GitHub adds. Start the setup again from this server's page.",
        );
    }
    if let Some(refusal) = already_configured(ctx) {
        return refusal;
    }
    let browser = browser::cookie(headers, SETUP_COOKIE);
    if let Err(err) = ctx.pending.redeem(&query.state, browser) {
        tracing::warn!(
            reason = %err,
            cookie = browser.is_some(),
            "refused a setup callback this browser did not start"
        );
        return failure(StatusCode::FORBIDDEN, &err);
    }
    // Another tab may have finished first: one App only.
    let _finishing = ctx.pending.finishing().await;
    if let Some(refusal) = already_configured(ctx) {
        return refusal;
    }
    let app = match exchange_code(&ctx.api_url, &query.code).await {
        Ok(app) => app,
        Err(err) => {
            tracing::warn!(error = %err, "could not exchange the manifest code");
            let status = match err {
                SetupError::CodeRejected => StatusCode::BAD_REQUEST,
                _ => StatusCode::BAD_GATEWAY,
            };
            return failure(status, &err);
        }
    };
    if let Err(err) = app.save(&ctx.data_dir) {
        tracing::error!(error = %err, "could not store the new App");
        return failure(StatusCode::INTERNAL_SERVER_ERROR, &err);
    }
    tracing::info!(
        app_id = app.app_id,
        slug = %app.slug,
        file = %AppFile::path(&ctx.data_dir).display(),
        "GitHub App created and stored"
    );
    let (name, html_url) = (app.name.clone(), app.html_url.clone());
    if let Err(reason) = (ctx.on_configured)(app) {
        tracing::error!(%reason, "the new App is stored but the server could not start using it");
        return message(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("App {name} created, restart needed"),
            &format!(
                "The App's credentials are stored in {}, but the server could not start \
                 using them ({reason}). Restart ota serve, then install the App: \
                 {html_url}/installations/new",
                AppFile::path(&ctx.data_dir).display()
            ),
        );
    }
    let webhook_url = ctx
        .public_url
        .as_deref()
        .map(|url| format!("{}/webhook", url.trim_end_matches('/')));
    Html(pages::app_created_page(
        &name,
        &html_url,
        webhook_url.as_deref(),
    ))
    .into_response()
}

/// A refusal when the server has an App already (from the environment or the file):
/// setting up again would replace its key, so nothing is written.
fn already_configured(ctx: &SetupContext) -> Option<Response> {
    let file = AppFile::path(&ctx.data_dir).display().to_string();
    let source = match (ctx.configured)() {
        Some(source) => source,
        None => match AppFile::load(&ctx.data_dir) {
            Ok(None) => return None,
            Ok(Some(_)) => file.clone(),
            Err(err) => return Some(failure(StatusCode::INTERNAL_SERVER_ERROR, &err)),
        },
    };
    let change = if source == file {
        format!("move {file} away")
    } else {
        "change APP_ID, PRIVATE_KEY (or PRIVATE_KEY_PATH) and WEBHOOK_SECRET".to_owned()
    };
    tracing::info!(from = %source, "setup refused: the server has a GitHub App already");
    Some(message(
        StatusCode::CONFLICT,
        "Already set up",
        &format!(
            "This server already works for a GitHub App, configured from {source}; setup is \
             closed and changes nothing. To use another App, stop the server, {change}, and \
             start it again."
        ),
    ))
}

fn failure(status: StatusCode, err: &SetupError) -> Response {
    message(status, "Setup did not finish", &format!("{err}."))
}

fn message(status: StatusCode, title: &str, text: &str) -> Response {
    (status, Html(pages::message_page(title, text))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(public_url: &str, webhook_url: &str, organization: &str) -> SetupForm {
        SetupForm {
            public_url: public_url.to_owned(),
            webhook_url: webhook_url.to_owned(),
            organization: organization.to_owned(),
        }
    }

    #[test]
    fn the_form_takes_web_urls_and_organization_logins() {
        let request =
            ManifestRequest::from_form(&form(" https://a.example/ ", "", " acme-1 ")).unwrap();
        assert_eq!(request.public_url, "https://a.example");
        assert_eq!(request.webhook_url, None);
        assert_eq!(request.organization.as_deref(), Some("acme-1"));

        let request =
            ManifestRequest::from_form(&form("http://127.0.0.1:3000", "https://smee.io/x", ""))
                .unwrap();
        assert_eq!(request.webhook_url.as_deref(), Some("https://smee.io/x"));
        assert_eq!(request.organization, None);
    }

    #[test]
    fn the_form_refuses_what_github_could_not_use() {
        for (public_url, webhook_url, organization) in [
            ("", "", ""),
            ("ftp://a.example", "", ""),
            ("https://", "", ""),
            ("https://a.example/?x=1", "", ""),
            ("javascript:alert(1)", "", ""),
            ("https://a.example", "smee.io/x", ""),
            ("https://a.example", "", "acme/evil"),
        ] {
            assert!(
                ManifestRequest::from_form(&form(public_url, webhook_url, organization)).is_err(),
                "{public_url:?} {webhook_url:?} {organization:?}"
            );
        }
    }

    #[test]
    fn the_local_url_of_an_unspecified_address_is_loopback() {
        let ctx = |listen: &str| SetupContext {
            data_dir: PathBuf::from("/tmp/x"),
            api_url: "https://api.github.com".to_owned(),
            public_url: None,
            listen: listen.parse().unwrap(),
            missing: Vec::new(),
            configured: Arc::new(|| None),
            on_configured: Arc::new(|_| Ok(())),
            pending: PendingSetups::default(),
        };
        assert_eq!(ctx("0.0.0.0:3000").local_url(), "http://127.0.0.1:3000");
        assert_eq!(ctx("[::]:8080").local_url(), "http://[::1]:8080");
        assert_eq!(
            ctx("192.168.1.5:3000").local_url(),
            "http://192.168.1.5:3000"
        );
        assert_eq!(ctx("0.0.0.0:3000").github_web_url(), "https://github.com");
    }
}
