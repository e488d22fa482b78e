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
use ota_github::answer_token_request;
use shared::dispatch::TokenRequest;
use std::sync::Arc;

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
    let ollama_key = || async { Ok(server.environment.ollama_api_key.clone()) };
    let answer = match answer_token_request(
        &server.db,
        &app.grants,
        &app.tokens,
        &request,
        ollama_key,
    )
    .await
    {
        Ok(answer) => answer,
        Err(failure) => {
            let status =
                StatusCode::from_u16(failure.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return refuse(status, failure.code, &failure.error);
        }
    };
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
