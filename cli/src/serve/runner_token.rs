//! `POST /runner/token`: a runner of this server asks for its job's installation token
//! with its attempt's credential (a bearer token) and `{"job", "attempt"}`. The server,
//! which alone holds the App's key, checks the request against the job's record
//! (`shared::dispatch::check_token_request`) and mints a token for the job's one
//! repository with what the job's task delivers, plus the hosted Ollama's key for an
//! attempt that runs there. A refusal names why, with a log line carrying the job id;
//! neither ever holds the credential.

use super::Server;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ota_github::TokenPermissions;
use secrecy::ExposeSecret;
use shared::dispatch::{TokenAnswer, TokenRequest, check_token_request};
use shared::ports::RepoScope;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

/// The most a token request may take: `{"job", "attempt"}` is under a hundred bytes.
pub const MAX_BODY_BYTES: usize = 4 * 1024;

fn refuse(status: StatusCode, code: &str, error: &str) -> Response {
    let body = serde_json::json!({ "error": error, "code": code });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

pub async fn handle(
    State(server): State<Arc<Server>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(app) = server.running() else {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_configured",
            "no GitHub App is configured on this server",
        );
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let request = match TokenRequest::from_json(&body, bearer) {
        Ok(request) => request,
        Err(err) => {
            tracing::warn!(error = %err, "refused a runner token request");
            return refuse(StatusCode::BAD_REQUEST, "bad_request", &err.to_string());
        }
    };
    let job = request.job.clone();
    let attempt = request.attempt;
    let granted = match check_token_request(&server.db, &app.grants, &request).await {
        Ok(granted) => granted,
        Err(refusal) => {
            tracing::warn!(%job, attempt, reason = %refusal, "refused a runner token request");
            let status =
                StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return refuse(status, refusal.code(), &refusal.to_string());
        }
    };
    let scope = RepoScope {
        installation: granted.job.installation,
        repo: granted.job.repo.clone(),
    };
    let permissions = TokenPermissions::to_deliver(granted.deliverable());
    let token = match app.tokens.installation_token(&scope, &permissions).await {
        Ok(token) => token,
        Err(err) => {
            tracing::warn!(%job, attempt, error = %err, "could not mint the runner's token");
            let status = if err.is_transient() {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::BAD_GATEWAY
            };
            return refuse(status, "github", &format!("GitHub gave no token: {err}"));
        }
    };
    let ollama_api_key = granted
        .ollama_key
        .then(|| server.environment.ollama_api_key.as_ref())
        .flatten()
        .map(|key| key.expose_secret().to_owned());
    let answer = TokenAnswer {
        token: token.secret().expose_secret().to_owned(),
        expires_at_ms: token
            .expires_at()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
            }),
        installation: scope.installation,
        repo: scope.repo,
        ollama_api_key,
    };
    tracing::info!(%job, attempt, repo = %answer.repo, "handed a runner its token");
    match serde_json::to_string(&answer) {
        Ok(body) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response(),
        Err(_) => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the answer could not be written",
        ),
    }
}
