//! The control plane's answer to a runner's token request, one for both deployments
//! (`ota serve`'s `POST /runner/token`, the dispatch Lambda's direct invocation): the
//! request is checked against the job's record (`shared::dispatch::check_token_request`),
//! then a token is minted for the job's one repository with what the job's task delivers
//! ([`TokenPermissions::to_deliver`]), with the hosted Ollama's key for an attempt that
//! runs there. Refusals are logged with the job id; neither a log line nor a refusal
//! ever holds the credential or a token.

use crate::client::GitHubClient;
use crate::token::TokenPermissions;
use secrecy::{ExposeSecret, SecretString};
use shared::dispatch::{GrantKey, TokenAnswer, TokenRequest, check_token_request};
use shared::ports::{JobStore, RepoScope};
use std::future::Future;
use std::time::UNIX_EPOCH;

/// Why a runner got no token: an HTTP status, a short code for machines
/// (`"wrong_credential"`) and a sentence for people. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFailure {
    pub status: u16,
    pub code: &'static str,
    pub error: String,
}

impl TokenFailure {
    pub fn new(status: u16, code: &'static str, error: impl Into<String>) -> Self {
        Self {
            status,
            code,
            error: error.into(),
        }
    }

    /// `{"error", "code", "status"}`, as both endpoints answer it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "error": self.error, "code": self.code, "status": self.status })
    }
}

/// Answers `request`: the job's token (and the hosted Ollama's key, from `ollama_key`,
/// asked only for an attempt the grant says runs there), or why not.
pub async fn answer_token_request<S, F, Fut>(
    store: &S,
    grants: &GrantKey,
    tokens: &GitHubClient,
    request: &TokenRequest,
    ollama_key: F,
) -> Result<TokenAnswer, TokenFailure>
where
    S: JobStore,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Option<SecretString>, String>>,
{
    let job = &request.job;
    let attempt = request.attempt;
    let granted = match check_token_request(store, grants, request).await {
        Ok(granted) => granted,
        Err(refusal) => {
            tracing::warn!(%job, attempt, reason = %refusal, "refused a runner token request");
            return Err(TokenFailure::new(
                refusal.status(),
                refusal.code(),
                refusal.to_string(),
            ));
        }
    };
    let scope = RepoScope {
        installation: granted.job.installation,
        repo: granted.job.repo.clone(),
    };
    let permissions = TokenPermissions::to_deliver(granted.deliverable());
    let token = match tokens.installation_token(&scope, &permissions).await {
        Ok(token) => token,
        Err(err) => {
            tracing::warn!(%job, attempt, error = %err, "could not mint the runner's token");
            let status = if err.is_transient() { 503 } else { 502 };
            return Err(TokenFailure::new(
                status,
                "github",
                format!("GitHub gave no token: {err}"),
            ));
        }
    };
    let ollama_api_key = if granted.ollama_key {
        match ollama_key().await {
            Ok(key) => key.map(|key| key.expose_secret().to_owned()),
            Err(err) => {
                tracing::warn!(%job, attempt, error = %err, "could not read the Ollama API key");
                return Err(TokenFailure::new(
                    503,
                    "ollama_key",
                    format!("the hosted Ollama's API key could not be read: {err}"),
                ));
            }
        }
    } else {
        None
    };
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
    Ok(answer)
}
