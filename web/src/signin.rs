//! Sign-in with GitHub (the App's OAuth web flow) and sign-out. `GET /signin/github`
//! sends the browser to GitHub with a fresh `state` that a short-lived signed cookie binds
//! to this browser; GitHub sends it back to the callback with a `code`, which the server
//! trades for the user's token, asks GitHub who the user is, and starts a session.

use crate::Web;
use crate::github::GitHubError;
use crate::pages;
use crate::session::{
    SESSION_COOKIE, SESSION_LIFETIME, STATE_COOKIE, STATE_LIFETIME, UserSession, cookie, random_id,
    set_cookie,
};
use crate::viewer::{Refusal, SESSION_PURPOSE, viewer};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use shared::ports::ControlPlane;
use std::sync::Arc;
use std::time::Duration;

pub const START_PATH: &str = "/signin/github";
pub const CALLBACK_PATH: &str = "/signin/github/callback";

/// The purpose the state cookie is signed for.
const STATE_PURPOSE: &str = "oauth-state";

fn ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn redirect(to: &str, cookies: &[String]) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(to) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// `GET /signin/github`.
pub async fn start<C: ControlPlane>(State(web): State<Arc<Web<C>>>) -> Response {
    let Some(app) = (web.oauth)() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            pages::message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in with GitHub is not set up",
                "This server knows no OAuth client id and secret for its GitHub App yet. With `ota serve`, the setup stores them (or set GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET), and the server's owner can sign in with the link `ota serve` printed; on AWS, put them in the stack's DashboardOAuthClient secret (docs/deploy.md, \"The dashboard\").",
            ),
        )
            .into_response();
    };
    let Some(state) = random_id() else {
        return Refusal::Unavailable("No randomness for the sign-in's state.".into())
            .into_response();
    };
    let expires = (web.clock)() + ms(STATE_LIFETIME);
    let signed = web.key.sign(STATE_PURPOSE, &state, expires);
    let cookie = set_cookie(
        STATE_COOKIE,
        &signed,
        CALLBACK_PATH,
        STATE_LIFETIME,
        web.secure_cookies,
    );
    let to = web.github.authorize_url(&app, &web.callback_url(), &state);
    redirect(&to, &[cookie])
}

/// `GET /signin/github/callback?code=…&state=…`.
pub async fn callback<C: ControlPlane>(
    State(web): State<Arc<Web<C>>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let field = |name: &str| {
        query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .unwrap_or("")
    };
    let bad = |title: &str, text: &str| {
        Refusal::BadRequest(title.to_owned(), text.to_owned()).into_response()
    };
    if !field("error").is_empty() {
        // The user said no on GitHub's page, or GitHub refused the request.
        return bad(
            "Sign-in cancelled",
            &format!(
                "GitHub did not sign you in: {} ({}). Try again at /signin/github.",
                field("error_description"),
                field("error")
            ),
        );
    }
    let now = (web.clock)();
    let expected =
        cookie(&headers, STATE_COOKIE).and_then(|value| web.key.verify(STATE_PURPOSE, value, now));
    let state = field("state");
    let state_holds = expected.as_deref().is_some_and(|expected| {
        !state.is_empty()
            && bool::from(subtle::ConstantTimeEq::ct_eq(
                expected.as_bytes(),
                state.as_bytes(),
            ))
    });
    if !state_holds {
        tracing::warn!("a sign-in came back with a state this browser did not start");
        return bad(
            "Sign-in state does not match",
            "This sign-in was not started by this browser, or it took longer than ten minutes (its state does not match). Start again at /signin/github.",
        );
    }
    let code = field("code");
    if code.is_empty() {
        return bad(
            "No sign-in code",
            "GitHub's answer carried no code. Start again at /signin/github.",
        );
    }
    let Some(app) = (web.oauth)() else {
        return Refusal::Unavailable("Sign-in with GitHub is not set up on this server.".into())
            .into_response();
    };
    let token = match web.github.exchange(&app, code, &web.callback_url()).await {
        Ok(token) => token,
        Err(GitHubError::Refused { code, description }) => {
            tracing::warn!(error = %code, "GitHub refused a sign-in code");
            return bad(
                "Sign-in code refused",
                &format!(
                    "GitHub refused the sign-in code: {description} ({code}). Start again at /signin/github."
                ),
            );
        }
        Err(err) => {
            return Refusal::Unavailable(format!("Could not finish the sign-in: {err}."))
                .into_response();
        }
    };
    let user = match web.github.user(&token).await {
        Ok(user) => user,
        Err(err) => {
            return Refusal::Unavailable(format!("Could not ask GitHub who you are: {err}."))
                .into_response();
        }
    };
    let expires = now + ms(SESSION_LIFETIME);
    let session = UserSession {
        login: user.login.clone(),
        user_id: user.id,
        token,
        expires_at_ms: expires,
    };
    let Some(id) = web.sessions.open(session, now) else {
        return Refusal::Unavailable("No randomness for the session.".into()).into_response();
    };
    tracing::info!(login = %user.login, "signed in with GitHub");
    let session = set_cookie(
        SESSION_COOKIE,
        &web.key.sign(SESSION_PURPOSE, &id, expires),
        "/",
        SESSION_LIFETIME,
        web.secure_cookies,
    );
    let clear_state = set_cookie(
        STATE_COOKIE,
        "",
        CALLBACK_PATH,
        Duration::ZERO,
        web.secure_cookies,
    );
    redirect("/jobs", &[session, clear_state])
}

/// `POST /signout` (with the form's CSRF token).
pub async fn sign_out<C: ControlPlane>(
    State(web): State<Arc<Web<C>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let viewer = match viewer(&web, &headers) {
        Ok(viewer) => viewer,
        Err(refusal) => return refusal.into_response(),
    };
    if let Err(refusal) = crate::jobs::check_csrf(&web, &viewer, &body) {
        return refusal.into_response();
    }
    if let crate::viewer::Viewer::User { id, session } = &viewer {
        web.sessions.remove(id);
        web.access.forget(&session.login);
        tracing::info!(login = %session.login, "signed out");
    }
    let clear = set_cookie(SESSION_COOKIE, "", "/", Duration::ZERO, web.secure_cookies);
    let mut response = (
        StatusCode::OK,
        pages::message(
            StatusCode::OK,
            "Signed out",
            "You are signed out of this dashboard. Sign in again at /signin/github.",
        ),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&clear) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}
