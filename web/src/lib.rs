//! `ota-web`: the control plane's web surface — the dashboard's router and its
//! server-rendered pages (askama, no script, no external asset), with sign-in through the
//! GitHub App's OAuth web flow, sessions in signed cookies, CSRF tokens on every form,
//! and permissions checked against GitHub. It is built over the [`ControlPlane`] port, so
//! `ota serve` serves it over SQLite and a dashboard function can serve it over DynamoDB.
//! The host check, framing and caching headers are the embedding server's (`ota serve`'s
//! guard), as is the operator's own sign-in, which this crate asks about through
//! [`Web::operator`].

pub mod access;
mod audit;
mod charts;
mod dead_letters;
pub mod github;
mod installations;
mod jobs;
mod live;
mod multipart;
mod pages;
mod rotation;
pub mod session;
mod signin;
mod stats;
pub mod time;
mod viewer;

pub use github::{GitHubUsers, OAuthApp};
pub use session::{SESSION_COOKIE, SessionKey, Sessions};

use access::AccessCache;
use axum::Router;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use axum::routing::{get, post};
use shared::ports::{AppSecrets, ControlPlane};
use std::sync::Arc;

/// How the server's owner is signed in, as the embedding server sees a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorSignIn {
    /// The operator's token as `Authorization: Bearer`: a script, not a browser, so no
    /// CSRF token is asked for.
    Bearer,
    /// The operator's session cookie; its forms carry the CSRF token bound to this value.
    Cookie(String),
}

/// Whether a request comes from the signed-in operator.
pub type OperatorCheck = Arc<dyn Fn(&HeaderMap) -> Option<OperatorSignIn> + Send + Sync>;

/// The App's OAuth client as it is now (`None` until the App is set up with one).
pub type OAuthSource = Arc<dyn Fn() -> Option<OAuthApp> + Send + Sync>;

/// Everything the dashboard's routes share.
pub struct Web<C> {
    pub plane: C,
    pub github: GitHubUsers,
    pub oauth: OAuthSource,
    pub operator: OperatorCheck,
    pub key: SessionKey,
    pub sessions: Sessions,
    pub access: AccessCache,
    /// The App's secrets, for the settings page (`None`: this deployment rotates them
    /// elsewhere).
    pub secrets: Option<Arc<dyn AppSecrets>>,
    /// The URL browsers reach the server at (the OAuth callback is under it).
    pub public_url: String,
    /// Whether cookies are `Secure` (the public URL is HTTPS).
    pub secure_cookies: bool,
    /// Unix milliseconds now.
    pub clock: fn() -> u64,
    /// GitHub logins of the server's owners: signed in with GitHub, they are the owner
    /// (on AWS, where there is no operator's token). Empty for `ota serve`.
    pub owners: Vec<String>,
}

impl<C> Web<C> {
    /// Whether `login` is one of [`Web::owners`] (GitHub logins are case-insensitive).
    pub fn is_owner_login(&self, login: &str) -> bool {
        self.owners
            .iter()
            .any(|owner| owner.eq_ignore_ascii_case(login))
    }

    /// The OAuth callback's URL, as registered on the App.
    pub fn callback_url(&self) -> String {
        format!(
            "{}{}",
            self.public_url.trim_end_matches('/'),
            signin::CALLBACK_PATH
        )
    }
}

/// Pages are not framed by other sites (a framed form could be clicked blindly) nor
/// cached (unless they say otherwise: the dashboard's script). Every embedding server
/// sends its responses through this.
pub fn hardened(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // A page with a stricter policy of its own (the dashboard's) keeps it; it forbids
    // framing too.
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static("frame-ancestors 'none'"));
    // A static asset says how long it may be cached; nothing else is.
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// The dashboard's routes: `GET /jobs`, `GET /jobs/{id}`, `POST /jobs/{id}/{action}`,
/// `GET /audit`, `GET /audit.csv`, `GET /stats`, the installations pages and their
/// policy form, `GET /dead-letters` and its actions,
/// the settings page and its rotations (`GET /settings`, `POST /settings/...`),
/// `GET /jobs/{id}/log/stream`, the page's script, `GET /signin/github` and its
/// callback, `POST /signout`.
pub fn router<C: ControlPlane + 'static>(web: Arc<Web<C>>) -> Router {
    Router::new()
        .route("/jobs", get(jobs::list::<C>))
        .route("/audit", get(audit::list::<C>))
        .route("/stats", get(stats::page::<C>))
        .route("/installations", get(installations::list::<C>))
        .route("/installations/{id}", get(installations::detail::<C>))
        .route(
            "/installations/{id}/policies",
            post(installations::set_policies::<C>),
        )
        .route("/dead-letters", get(dead_letters::list::<C>))
        .route("/dead-letters/{id}/{action}", post(dead_letters::act::<C>))
        .route("/settings", get(rotation::show::<C>))
        .route(
            "/settings/webhook-secret",
            post(rotation::rotate_webhook_secret::<C>),
        )
        .route(
            "/settings/webhook-secret/finish",
            post(rotation::finish_webhook_rotation::<C>),
        )
        .route(
            "/settings/private-key",
            post(rotation::replace_private_key::<C>),
        )
        .route("/audit.csv", get(audit::csv::<C>))
        .route("/jobs/{id}", get(jobs::detail::<C>))
        .route("/jobs/{id}/{action}", post(jobs::act::<C>))
        .route("/jobs/{id}/log/stream", get(live::log_stream::<C>))
        .route(&live::script_path(), get(live::script))
        .route(signin::START_PATH, get(signin::start::<C>))
        .route(signin::CALLBACK_PATH, get(signin::callback::<C>))
        .route("/signout", post(signin::sign_out::<C>))
        .with_state(web)
}
