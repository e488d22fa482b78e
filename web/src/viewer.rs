//! Who asks for a page: the operator (sees and does everything), a signed-in GitHub user,
//! or nobody — who is sent to sign in (a browser) or told 401 (a script). And the
//! refusals every route shares, rendered as pages that say what is missing.

use crate::access;
use crate::github::{GitHubError, Permissions, Reach};
use crate::pages;
use crate::session::{SESSION_COOKIE, UserSession, cookie};
use crate::{OperatorSignIn, Web};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use shared::ports::{DashboardActor, StoreError};
use std::sync::Arc;

/// The purpose a session cookie is signed for.
pub const SESSION_PURPOSE: &str = "session";

/// Who is asking.
pub enum Viewer {
    Operator(OperatorSignIn),
    User { id: String, session: UserSession },
}

impl Viewer {
    pub fn name(&self) -> String {
        match self {
            Self::Operator(_) => "the server's owner".to_owned(),
            Self::User { session, .. } => session.login.clone(),
        }
    }

    /// Whether this is the server's owner: signed in with the operator's token, or a
    /// GitHub user the server names as an owner ([`Web::owners`]). The owner sees every
    /// repository and has the owner's pages (policies, dead letters).
    pub fn is_owner<C>(&self, web: &Web<C>) -> bool {
        match self {
            Self::Operator(_) => true,
            Self::User { session, .. } => web.is_owner_login(&session.login),
        }
    }

    /// Who acts, in jobs and the audit log: the user by login, or the operator.
    pub fn actor(&self) -> DashboardActor {
        match self {
            Self::Operator(_) => DashboardActor::Operator,
            Self::User { session, .. } => DashboardActor::User(session.login.clone()),
        }
    }

    /// What this viewer's forms carry; `None` for a script with the operator's token.
    pub fn csrf_binding(&self) -> Option<String> {
        match self {
            Self::Operator(OperatorSignIn::Bearer) => None,
            Self::Operator(OperatorSignIn::Cookie(value)) => Some(format!("operator:{value}")),
            Self::User { id, .. } => Some(format!("user:{id}")),
        }
    }
}

/// Why a request was not answered with its page.
pub enum Refusal {
    /// Nobody is signed in.
    SignIn { browser: bool },
    /// Signed in, but the thing is not theirs to see: answered as if it did not exist.
    NotFound(String),
    /// Signed in and it is theirs to see, but not to do.
    Forbidden(String),
    /// The form's CSRF token is missing or wrong.
    Csrf,
    /// The request itself is wrong.
    BadRequest(String, String),
    /// GitHub or the store could not answer: try again.
    Unavailable(String),
    /// GitHub no longer accepts the user's token: sign in again.
    Expired,
    /// The action is not possible for the job as it is.
    Conflict(String),
}

impl From<StoreError> for Refusal {
    fn from(err: StoreError) -> Self {
        Self::Unavailable(format!("The job store could not answer: {err}."))
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, title, text) = match self {
            Self::SignIn { browser: true } => {
                let mut response = (StatusCode::SEE_OTHER, "").into_response();
                response.headers_mut().insert(
                    header::LOCATION,
                    HeaderValue::from_static(crate::signin::START_PATH),
                );
                return response;
            }
            Self::SignIn { browser: false } => (
                StatusCode::UNAUTHORIZED,
                "Sign in first".to_owned(),
                "This page is for signed-in users. Sign in with GitHub at /signin/github (or, with `ota serve`, send the operator's token as `Authorization: Bearer`).".to_owned(),
            ),
            Self::NotFound(text) => (StatusCode::NOT_FOUND, "Not found".to_owned(), text),
            Self::Forbidden(text) => (StatusCode::FORBIDDEN, "Not allowed".to_owned(), text),
            Self::Csrf => (
                StatusCode::FORBIDDEN,
                "Refused".to_owned(),
                "This form's CSRF token is missing or wrong: it did not come from a page this server gave you. Open the page again and send the form from there.".to_owned(),
            ),
            Self::BadRequest(title, text) => (StatusCode::BAD_REQUEST, title, text),
            Self::Unavailable(text) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again in a moment".to_owned(),
                text,
            ),
            Self::Expired => (
                StatusCode::UNAUTHORIZED,
                "Sign in again".to_owned(),
                "GitHub no longer accepts your sign-in (it expired or was revoked). Sign in again at /signin/github.".to_owned(),
            ),
            Self::Conflict(text) => (StatusCode::CONFLICT, "Not possible now".to_owned(), text),
        };
        (status, pages::message(status, &title, &text)).into_response()
    }
}

/// Whether the request is a browser's (it accepts HTML).
fn is_browser(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// Who asks, or the refusal for nobody.
pub fn viewer<C>(web: &Web<C>, headers: &HeaderMap) -> Result<Viewer, Refusal> {
    if let Some(operator) = (web.operator)(headers) {
        return Ok(Viewer::Operator(operator));
    }
    let now = (web.clock)();
    cookie(headers, SESSION_COOKIE)
        .and_then(|value| web.key.verify(SESSION_PURPOSE, value, now))
        .and_then(|id| Some((web.sessions.get(&id, now)?, id)))
        .map(|(session, id)| Viewer::User { id, session })
        .ok_or(Refusal::SignIn {
            browser: is_browser(headers),
        })
}

/// What the viewer reaches: `None` for the owner (everything).
pub async fn reach<C>(web: &Arc<Web<C>>, viewer: &Viewer) -> Result<Option<Arc<Reach>>, Refusal> {
    let Viewer::User { id, session } = viewer else {
        return Ok(None);
    };
    if viewer.is_owner(web) {
        return Ok(None);
    }
    match web
        .access
        .reach(&web.github, &session.login, &session.token, (web.clock)())
        .await
    {
        Ok(reach) => Ok(Some(reach)),
        Err(GitHubError::TokenRejected) => {
            web.sessions.remove(id);
            web.access.forget(&session.login);
            Err(Refusal::Expired)
        }
        Err(err) => Err(Refusal::Unavailable(format!(
            "Could not check your access on GitHub: {err}."
        ))),
    }
}

/// The viewer's permissions on `repo`: everything for the operator, `None` when a user
/// cannot see it.
pub fn permissions(reach: Option<&Reach>, repo: &str) -> Option<Permissions> {
    match reach {
        None => Some(Permissions {
            pull: true,
            push: true,
            admin: true,
        }),
        Some(reach) => access::on_repo(reach, repo),
    }
}
