//! The HTTP client for `/api/chat`: one streamed call, classified errors, and retries of the
//! transient ones with backoff.

use shared::error_chain::one_line;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use secrecy::ExposeSecret;

use super::error::OllamaError;
use super::host::{OllamaEnv, OllamaHost};
use super::ndjson::{LineSplitter, MAX_LINE_BYTES, reply_byte_limit};
use super::retry::RetryPolicy;
use super::show::ModelInfo;
use super::stream::{Assembler, ChatResponse};
use super::wire::{ChatBody, ChatRequest};

/// The most of an error body read to explain a failed call; Ollama's errors are one line.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// Timeouts and retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOptions {
    /// Opening the connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// The longest silence while waiting for the answer or between two streamed lines.
    pub idle_timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for ClientOptions {
    /// Ten seconds to connect: a server that can't accept a connection by then is down or
    /// unreachable. Five minutes of silence: Ollama sends nothing while it loads a model
    /// and evaluates a long prompt, which on a cold GPU takes minutes.
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            retry: RetryPolicy::default(),
        }
    }
}

/// The client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("OLLAMA_API_KEY contains characters that can't be sent in an HTTP header")]
    InvalidApiKey,
    #[error("could not set up the HTTP client: {0}")]
    Http(String),
}

/// A failed attempt that will be retried, for progress reporting.
#[derive(Debug, Clone)]
pub struct RetryNotice {
    /// The attempt that failed (1 for the first).
    pub attempt: u32,
    pub delay: Duration,
    pub error: OllamaError,
}

/// An Ollama server (self-hosted or the hosted service). Cheap to clone.
#[derive(Clone)]
pub struct OllamaClient {
    http: reqwest::Client,
    host: OllamaHost,
    chat_url: Url,
    /// `Bearer <key>`, marked sensitive so that `http`'s own `Debug` hides it too.
    authorization: Option<HeaderValue>,
    options: ClientOptions,
    /// `/api/show` answers by model name, shared by the clones of this client: one host.
    models: Arc<Mutex<HashMap<String, Arc<ModelInfo>>>>,
}

impl fmt::Debug for OllamaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OllamaClient")
            .field("host", &self.host.to_string())
            .field(
                "api_key",
                &if self.authorization.is_some() {
                    "[REDACTED]"
                } else {
                    "none"
                },
            )
            .field("options", &self.options)
            .finish()
    }
}

impl OllamaClient {
    pub fn new(env: &OllamaEnv, options: ClientOptions) -> Result<Self, ClientError> {
        let authorization = env
            .api_key
            .as_ref()
            .map(|key| {
                let mut value = HeaderValue::from_str(&format!("Bearer {}", key.expose_secret()))
                    .map_err(|_| ClientError::InvalidApiKey)?;
                value.set_sensitive(true);
                Ok::<_, ClientError>(value)
            })
            .transpose()?;
        if env.host.is_hosted() && authorization.is_none() {
            tracing::warn!(
                host = %env.host,
                "OLLAMA_HOST is Ollama's hosted service but OLLAMA_API_KEY is not set; calls will be refused"
            );
        }
        let http = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .read_timeout(options.idle_timeout)
            .user_agent(concat!("ollama-turbo-agent/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| ClientError::Http(one_line(&err)))?;
        Ok(Self {
            http,
            chat_url: env.host.endpoint("api/chat"),
            host: env.host.clone(),
            authorization,
            options,
            models: Arc::default(),
        })
    }

    pub fn host(&self) -> &OllamaHost {
        &self.host
    }

    /// Whether the server answers, for a check before any work starts: the version from
    /// `GET /api/version`, or `None` when something answered without one (a proxy or the
    /// hosted service may not serve that path; the chat call then says what is wrong).
    /// An error only when nothing answered, or the credentials were refused. Not retried:
    /// the caller asks once and tells its user.
    pub async fn version(&self) -> Result<Option<String>, OllamaError> {
        let mut request = self.http.get(self.host.endpoint("api/version"));
        if let Some(value) = &self.authorization {
            request = request.header(AUTHORIZATION, value.clone());
        }
        let mut response = request.send().await.map_err(|err| self.send_error(err))?;
        let status = response.status();
        if matches!(status.as_u16(), 401 | 403) {
            return Err(OllamaError::Unauthorized {
                endpoint: self.host.to_string(),
                status: status.as_u16(),
                key_sent: self.authorization.is_some(),
            });
        }
        let body = read_capped(&mut response).await;
        if !status.is_success() {
            return Ok(None);
        }
        Ok(serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("version")?.as_str().map(str::to_owned)))
    }

    /// One chat call, retried on transient errors per the [`RetryPolicy`].
    pub async fn chat(&self, request: &ChatRequest<'_>) -> Result<ChatResponse, OllamaError> {
        self.chat_observed(request, |_| {}).await
    }

    /// [`Self::chat`], telling `on_retry` about each failed attempt before waiting.
    pub async fn chat_observed(
        &self,
        request: &ChatRequest<'_>,
        on_retry: impl FnMut(&RetryNotice),
    ) -> Result<ChatResponse, OllamaError> {
        let body =
            serde_json::to_vec(&ChatBody::from(request)).map_err(|err| OllamaError::Rejected {
                status: 0,
                message: format!("the request could not be encoded: {err}"),
            })?;
        let num_predict = request.options.num_predict;
        self.with_retries(on_retry, || self.attempt(&body, request.model, num_predict))
            .await
    }

    /// What the server says about `model` (`POST /api/show`), asked once per model and
    /// client: later calls, from this client or its clones, answer from a cache. A model
    /// the server does not have is [`OllamaError::ModelNotFound`]; a server that does not
    /// answer `/api/show` in Ollama's shape (a proxy) gives an empty [`ModelInfo`], and the
    /// chat call then says what is wrong. Transient failures are retried like chat calls.
    pub async fn show(&self, model: &str) -> Result<Arc<ModelInfo>, OllamaError> {
        if let Some(info) = self.cached(model) {
            return Ok(info);
        }
        let info = Arc::new(self.with_retries(|_| {}, || self.show_once(model)).await?);
        self.models
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(model.to_owned(), info.clone());
        Ok(info)
    }

    /// [`Self::show`], refusing a model that can't call tools: the check before any work.
    pub async fn check_model(&self, model: &str) -> Result<Arc<ModelInfo>, OllamaError> {
        let info = self.show(model).await?;
        if info.supports_tools() == Some(false) {
            return Err(OllamaError::ToolsUnsupported {
                model: model.to_owned(),
            });
        }
        Ok(info)
    }

    fn cached(&self, model: &str) -> Option<Arc<ModelInfo>> {
        self.models
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(model)
            .cloned()
    }

    async fn show_once(&self, model: &str) -> Result<ModelInfo, OllamaError> {
        let body = serde_json::json!({ "model": model }).to_string();
        let mut request = self
            .http
            .post(self.host.endpoint("api/show"))
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(value) = &self.authorization {
            request = request.header(AUTHORIZATION, value.clone());
        }
        let mut response = request.send().await.map_err(|err| self.send_error(err))?;
        let status = response.status();
        let body = read_capped(&mut response).await;
        if !status.is_success() {
            let error = OllamaError::from_status(
                status.as_u16(),
                &body,
                model,
                &self.host.to_string(),
                self.authorization.is_some(),
            );
            return match error {
                error @ (OllamaError::ModelNotFound { .. } | OllamaError::Unauthorized { .. }) => {
                    Err(error)
                }
                error if error.is_transient() => Err(error),
                other => {
                    tracing::warn!(model, error = %other, "the server did not describe the model; going on without its context length");
                    Ok(ModelInfo::default())
                }
            };
        }
        match serde_json::from_str::<serde_json::Value>(&body) {
            Ok(value) => Ok(ModelInfo::from_show(&value)),
            Err(_) => {
                tracing::warn!(
                    model,
                    "the server's /api/show answer is not JSON; going on without the model's context length"
                );
                Ok(ModelInfo::default())
            }
        }
    }

    /// Runs `call` until it succeeds, fails for good, or the [`RetryPolicy`] is spent.
    async fn with_retries<T, F>(
        &self,
        mut on_retry: impl FnMut(&RetryNotice),
        mut call: impl FnMut() -> F,
    ) -> Result<T, OllamaError>
    where
        F: Future<Output = Result<T, OllamaError>>,
    {
        let policy = self.options.retry;
        let mut attempt = 1;
        loop {
            let error = match call().await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            if !error.is_transient() {
                return Err(error);
            }
            if attempt >= policy.max_attempts.max(1) {
                return Err(OllamaError::Unavailable {
                    attempts: attempt,
                    last: Box::new(error),
                });
            }
            let delay = policy.delay(attempt, fastrand::f64());
            tracing::warn!(
                attempt,
                delay_ms = delay.as_millis() as u64,
                error = %error,
                "Ollama call failed; retrying"
            );
            on_retry(&RetryNotice {
                attempt,
                delay,
                error,
            });
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// One call, reading at most [`reply_byte_limit`] bytes of the streamed reply.
    async fn attempt(
        &self,
        body: &[u8],
        model: &str,
        num_predict: u32,
    ) -> Result<ChatResponse, OllamaError> {
        let limit = reply_byte_limit(num_predict);
        let mut request = self
            .http
            .post(self.chat_url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/x-ndjson")
            .body(body.to_vec());
        if let Some(value) = &self.authorization {
            request = request.header(AUTHORIZATION, value.clone());
        }
        let mut response = request.send().await.map_err(|err| self.send_error(err))?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = retry_after_seconds(response.headers());
            let body = read_capped(&mut response).await;
            return Err(OllamaError::from_status(
                status.as_u16(),
                &body,
                model,
                &self.host.to_string(),
                self.authorization.is_some(),
            )
            .with_retry_after(retry_after));
        }
        let mut lines = LineSplitter::with_limit(limit.min(MAX_LINE_BYTES));
        let mut assembler = Assembler::default();
        let mut read = 0usize;
        loop {
            let chunk = match response.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(err) if err.is_timeout() => {
                    return Err(OllamaError::TimedOut {
                        endpoint: self.host.to_string(),
                        after: self.options.idle_timeout,
                    });
                }
                Err(err) => {
                    return Err(OllamaError::StreamEnded {
                        detail: Some(one_line(&err.without_url())),
                    });
                }
            };
            read = read.saturating_add(chunk.len());
            if read > limit {
                // Dropping the response closes the connection: the rest is never read.
                return Err(OllamaError::UnreadableReply {
                    reason: format!(
                        "it passed {limit} bytes without ending, more than a reply of at most \
                         {num_predict} tokens can take; it was cut there"
                    ),
                });
            }
            let complete = lines
                .push(&chunk)
                .map_err(|err| OllamaError::UnreadableReply {
                    reason: err.to_string(),
                })?;
            for line in complete {
                if let Some(done) = assembler.push_line(&line)? {
                    return Ok(done);
                }
            }
        }
        if let Some(line) = lines.finish()
            && let Some(done) = assembler.push_line(&line)?
        {
            return Ok(done);
        }
        Err(OllamaError::StreamEnded { detail: None })
    }

    fn send_error(&self, err: reqwest::Error) -> OllamaError {
        let endpoint = self.host.to_string();
        if err.is_timeout() {
            let after = if err.is_connect() {
                self.options.connect_timeout
            } else {
                self.options.idle_timeout
            };
            return OllamaError::TimedOut { endpoint, after };
        }
        // Without the URL (and its user info), in the text as in the error's sources.
        OllamaError::Unreachable {
            endpoint,
            reason: one_line(&err.without_url()),
        }
    }
}

/// An answer's `Retry-After` in seconds, when it is given as a number.
fn retry_after_seconds(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The start of an error body, as text.
async fn read_capped(response: &mut reqwest::Response) -> String {
    let mut body = Vec::new();
    while body.len() < MAX_ERROR_BODY_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body.truncate(MAX_ERROR_BODY_BYTES);
    String::from_utf8_lossy(&body).into_owned()
}
