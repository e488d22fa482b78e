//! The runner's GitHub token, from the control plane: the runner holds no App key. It
//! asks with its attempt's credential (`shared::dispatch::credential`) — over HTTP of the
//! `ota serve` that started it ([`HttpBroker`]), or by invoking the dispatch Lambda on
//! AWS (`super::LambdaBroker`) — and gets the job's installation token, scoped to the
//! job's one repository, and, for a job on the hosted service, the Ollama API key.
//! [`brokered_client`] builds the runner's [`GitHubClient`] on such a broker; it asks
//! again whenever its token nears expiry.

use ota_github::{
    BrokerFuture, ClientOptions, GitHubClient, InstallationToken, SetupError, TokenBroker,
};
use secrecy::SecretString;
use shared::dispatch::TokenAnswer;
use shared::ids::AppId;
use shared::job::{JobId, RunnerCredential};
use shared::ports::{GitHubError, RepoScope};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

/// How long one request for a token may take: the control plane mints it with one call
/// to GitHub.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The path of `ota serve`'s token endpoint.
pub const TOKEN_PATH: &str = "/runner/token";

/// What a broker answers, as the runner uses it.
pub struct Grant {
    pub scope: RepoScope,
    pub token: InstallationToken,
    /// The hosted Ollama's API key, only for a job that runs there.
    pub ollama_api_key: Option<SecretString>,
}

impl Grant {
    /// Reads the control plane's answer; the error never quotes it.
    pub fn from_answer(answer: TokenAnswer) -> Self {
        let expires_at = UNIX_EPOCH + Duration::from_millis(answer.expires_at_ms);
        Self {
            scope: RepoScope {
                installation: answer.installation,
                repo: answer.repo,
            },
            token: InstallationToken::new(SecretString::from(answer.token), expires_at),
            ollama_api_key: answer.ollama_api_key.map(SecretString::from),
        }
    }
}

/// Asks the control plane for the job's token.
pub trait ControlPlane: Send + Sync + 'static {
    fn ask(&self) -> Pin<Box<dyn Future<Output = Result<Grant, GitHubError>> + Send + '_>>;
}

/// A [`ControlPlane`] as the GitHub client's [`TokenBroker`].
struct Broker<C>(Arc<C>);

impl<C: ControlPlane> TokenBroker for Broker<C> {
    fn fetch(&self) -> BrokerFuture<'_> {
        Box::pin(async move { self.0.ask().await.map(|grant| grant.token) })
    }
}

/// Asks `control` for the first token, then builds the runner's GitHub client on it:
/// every later token comes from `control` too; its `User-Agent` names the App by
/// `app_slug`. Also returns the first grant's Ollama key.
pub async fn brokered_client<C: ControlPlane>(
    control: Arc<C>,
    app_id: AppId,
    api_url: &str,
    app_slug: Option<&str>,
) -> Result<(GitHubClient, Option<SecretString>), BrokerError> {
    let first = control.ask().await.map_err(BrokerError::Refused)?;
    let client = GitHubClient::brokered(
        app_id,
        first.scope,
        Arc::new(Broker(control)),
        Some(first.token),
        ClientOptions {
            user_agent: ota_github::user_agent(app_slug),
            ..ClientOptions::with_base_url(api_url)
        },
    )
    .map_err(BrokerError::Setup)?;
    Ok((client, first.ollama_api_key))
}

/// Why the runner has no GitHub client.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("the control plane gave no token for the job: {0}")]
    Refused(GitHubError),
    #[error(transparent)]
    Setup(SetupError),
}

/// `ota serve`'s token endpoint: `POST {server}/runner/token` with the credential as a
/// bearer token and `{"job", "attempt"}` as the body.
pub struct HttpBroker {
    url: String,
    job: JobId,
    attempt: u32,
    credential: RunnerCredential,
    http: reqwest::Client,
}

impl HttpBroker {
    /// The broker of the server at `server_url` (`http://127.0.0.1:PORT`).
    pub fn new(
        server_url: &str,
        job: JobId,
        attempt: u32,
        credential: RunnerCredential,
    ) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|err| format!("cannot build the HTTP client: {err}"))?;
        Ok(Self {
            url: format!("{}{TOKEN_PATH}", server_url.trim_end_matches('/')),
            job,
            attempt,
            credential,
            http,
        })
    }

    async fn request(&self) -> Result<Grant, GitHubError> {
        let body = serde_json::json!({ "job": self.job.as_str(), "attempt": self.attempt });
        let response = self
            .http
            .post(&self.url)
            .bearer_auth(self.credential.expose())
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|err| {
                GitHubError::Unavailable(format!(
                    "could not reach ota serve at {} for the job's token: {err}",
                    self.url
                ))
            })?;
        let status = response.status();
        let text = response.text().await.map_err(|err| {
            GitHubError::Unavailable(format!("ota serve's token answer was cut off: {err}"))
        })?;
        read_answer(status.as_u16(), &text)
    }
}

impl ControlPlane for HttpBroker {
    fn ask(&self) -> Pin<Box<dyn Future<Output = Result<Grant, GitHubError>> + Send + '_>> {
        Box::pin(self.request())
    }
}

/// The control plane's answer with `status`: the grant, or its refusal (which quotes
/// only the refusal's own `error` field; a granted body holds secrets and is never
/// quoted).
pub fn read_answer(status: u16, body: &str) -> Result<Grant, GitHubError> {
    if status == 200 {
        let answer: TokenAnswer = serde_json::from_str(body).map_err(|_| {
            GitHubError::Unavailable("the control plane's token answer is unreadable".to_owned())
        })?;
        return Ok(Grant::from_answer(answer));
    }
    let reason = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|json| json.get("error")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("status {status}"));
    Err(match status {
        // Over, wrong or unknown: asking again cannot help.
        401 | 403 | 404 | 410 => GitHubError::Unauthorized(reason),
        _ => GitHubError::Unavailable(reason),
    })
}

impl std::fmt::Debug for HttpBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpBroker")
            .field("url", &self.url)
            .field("job", &self.job)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn a_refusal_is_final_and_quotes_only_its_error() {
        let err = read_answer(
            410,
            r#"{"error": "job j1 is succeeded: its runners get no more tokens", "code": "job_finished"}"#,
        )
        .err()
        .expect("refused");
        assert!(!err.is_transient());
        assert!(err.to_string().contains("no more tokens"), "{err}");
        let err = read_answer(503, "oops").err().expect("unavailable");
        assert!(err.is_transient());
    }

    #[test]
    fn a_grant_never_prints_its_secrets() {
        let body = r#"{"token": "ghs_secret", "expires_at_ms": 4102444800000, "installation": 7,
            "repo": "o/r", "ollama_api_key": "olk_secret"}"#;
        let grant = read_answer(200, body).expect("granted");
        assert_eq!(grant.token.secret().expose_secret(), "ghs_secret");
        assert_eq!(grant.scope.repo.as_str(), "o/r");
        assert!(!format!("{:?}", grant.token).contains("ghs_secret"));
        assert_eq!(
            grant
                .ollama_api_key
                .as_ref()
                .map(|key| key.expose_secret().to_owned()),
            Some("olk_secret".to_owned())
        );
        let err = read_answer(200, r#"{"token": "ghs_secret"}"#)
            .err()
            .expect("bad");
        assert!(!err.to_string().contains("ghs_secret"), "{err}");
    }
}
