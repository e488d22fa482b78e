//! The setup endpoints, for the server to merge into its router: `POST /setup` starts the
//! manifest flow, `GET /setup/callback` finishes it. `GET /` is the server's: it shows
//! [`setup_page_response`] until an App is configured.

use super::{
    AppFile, DEFAULT_APP_NAME, SetupError, SetupState, exchange_code, manifest,
    manifest_with_webhook, new_app_url,
};
use crate::pages::{self, SetupView};
use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

/// Called with the new App once it is stored, so the server can start using it without a
/// restart. An error says why it could not (the page then asks for a restart).
pub type OnConfigured = Arc<dyn Fn(AppFile) -> Result<(), String> + Send + Sync>;

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
    pub on_configured: OnConfigured,
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

    /// This server's URL from the machine itself: an unspecified listen address
    /// (`0.0.0.0`) is reached on loopback.
    fn local_url(&self) -> String {
        let ip = match self.listen.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        format!("http://{}", SocketAddr::new(ip, self.listen.port()))
    }
}

/// `POST /setup` and `GET /setup/callback`.
pub fn routes(ctx: SetupContext) -> Router {
    Router::new()
        .route("/setup", post(start))
        .route("/setup/callback", get(callback))
        .with_state(Arc::new(ctx))
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
    form: Result<Form<SetupForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return message(
            StatusCode::BAD_REQUEST,
            "Setup form not understood",
            "Send the form on this server's start page.",
        );
    };
    if let Some(refusal) = already_configured(&ctx) {
        return refusal;
    }
    let request = match ManifestRequest::from_form(&form) {
        Ok(request) => request,
        Err(err) => return message(StatusCode::BAD_REQUEST, "Check the setup form", &err),
    };
    let state = match SetupState::in_dir(&ctx.data_dir).get_or_create() {
        Ok(state) => state,
        Err(err) => return failure(StatusCode::INTERNAL_SERVER_ERROR, &err),
    };
    let manifest = match &request.webhook_url {
        Some(webhook_url) => {
            manifest_with_webhook(&request.public_url, webhook_url, DEFAULT_APP_NAME)
        }
        None => manifest(&request.public_url, DEFAULT_APP_NAME),
    };
    let target = new_app_url(
        &ctx.github_web_url(),
        request.organization.as_deref(),
        &state,
    );
    Html(pages::manifest_redirect_page(&target, &manifest)).into_response()
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
    if let Some(refusal) = already_configured(&ctx) {
        return refusal;
    }
    let state = SetupState::in_dir(&ctx.data_dir);
    if let Err(err) = state.verify(&query.state) {
        tracing::warn!("setup callback with a state this server did not hand out");
        return failure(StatusCode::BAD_REQUEST, &err);
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
    if let Err(err) = state.clear() {
        // The App is stored; a leftover state only lets the same setup be tried again.
        tracing::warn!(error = %err, "could not remove the setup state");
    }
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

/// A refusal when an App is stored already: setting up again would replace its key.
fn already_configured(ctx: &SetupContext) -> Option<Response> {
    match AppFile::load(&ctx.data_dir) {
        Ok(None) => None,
        Ok(Some(app)) => Some(message(
            StatusCode::CONFLICT,
            "Already set up",
            &format!(
                "This server already has the App {} ({}). To create another one, stop the \
                 server, move {} away and start it again.",
                app.name,
                app.html_url,
                AppFile::path(&ctx.data_dir).display()
            ),
        )),
        Err(err) => Some(failure(StatusCode::INTERNAL_SERVER_ERROR, &err)),
    }
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
            on_configured: Arc::new(|_| Ok(())),
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
