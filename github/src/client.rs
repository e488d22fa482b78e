//! [`GitHubClient`]: the App's connection to one GitHub (github.com or a GitHub Enterprise
//! Server), minting and caching per-repository installation tokens. The calls of the
//! [`shared::ports::GitHub`] port are in `api`, `comments` and `checks`.

use crate::broker::TokenBroker;
use crate::credentials::{AppCredentials, AppKey, SetupError};
use crate::endpoints::Endpoint;
use crate::retry::RetryPolicy;
use crate::token::{InstallationToken, TokenCache, TokenPermissions};
use crate::transport::{Call, Reply, Scheme, Timeouts, Transport, encode};
use chrono::DateTime;
use serde::Deserialize;
use serde_json::json;
use shared::ids::AppId;
use shared::ports::{GitHubError, RepoScope};
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

/// github.com's REST API. A GitHub Enterprise Server's is `https://HOST/api/v3`.
pub const DEFAULT_BASE_URL: &str = "https://api.github.com";

/// How the client is set up; [`Default`] suits github.com and the policy and report
/// stages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// The REST API root, without a trailing `/`.
    pub base_url: String,
    pub retry: RetryPolicy,
    pub timeouts: Timeouts,
    /// The permissions of the tokens the [`shared::ports::GitHub`] calls use.
    pub permissions: TokenPermissions,
    /// Sent with every request: GitHub refuses a request without one (403) and asks that
    /// it name the App (REST docs, "User agent required"). See [`user_agent`].
    pub user_agent: String,
}

/// `ollama-turbo-agent/<version>`, followed by ` (+https://github.com/apps/<slug>)` when
/// the App's slug is known, so GitHub can tell which App a request comes from.
pub fn user_agent(app_slug: Option<&str>) -> String {
    let product = format!("ollama-turbo-agent/{}", env!("CARGO_PKG_VERSION"));
    match app_slug.map(str::trim).filter(|slug| {
        !slug.is_empty()
            && slug
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    }) {
        Some(slug) => format!("{product} (+https://github.com/apps/{slug})"),
        None => product,
    }
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            retry: RetryPolicy::default(),
            timeouts: Timeouts::default(),
            permissions: TokenPermissions::policy_and_report(),
            user_agent: user_agent(None),
        }
    }
}

impl ClientOptions {
    /// The defaults, against another API root (a GitHub Enterprise Server, a test server).
    pub fn with_base_url(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            ..Self::default()
        }
    }
}

/// GitHub's answer to minting a token. No `Debug`: it holds the token.
#[derive(Deserialize)]
struct AccessTokenJson {
    token: String,
    expires_at: String,
}

/// The GitHub App client. Build it once per process (in a Lambda's `main`) so that its
/// tokens are reused across invocations.
pub struct GitHubClient {
    transport: Transport,
    app_id: AppId,
    minter: Minter,
    tokens: TokenCache,
    pub(crate) retry: RetryPolicy,
    permissions: TokenPermissions,
}

impl fmt::Debug for GitHubClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHubClient")
            .field("base_url", &self.transport.base_url())
            .field("app_id", &self.app_id)
            .field("brokered", &matches!(self.minter, Minter::Broker { .. }))
            .field("permissions", &self.permissions)
            .field("cached_tokens", &self.tokens.len())
            .finish_non_exhaustive()
    }
}

impl GitHubClient {
    /// Parses the private key and builds the HTTP client; fails on a key that cannot sign
    /// or a base URL that cannot be one. Call it inside a Tokio runtime (the HTTP client
    /// starts a task).
    pub fn new(credentials: &AppCredentials, options: ClientOptions) -> Result<Self, SetupError> {
        Self::with_key(&AppKey::new(credentials)?, options)
    }

    /// A client that signs with `key`, shared with other clients: replacing the key
    /// ([`AppKey::replace`]) changes what every one of them signs with.
    pub fn with_key(key: &AppKey, options: ClientOptions) -> Result<Self, SetupError> {
        let base_url = options.base_url.trim_end_matches('/');
        Ok(Self {
            transport: Transport::new(base_url, &options.timeouts, &options.user_agent)?,
            app_id: key.app_id(),
            minter: Minter::App(key.clone()),
            tokens: TokenCache::default(),
            retry: options.retry,
            permissions: options.permissions,
        })
    }

    /// A client without the App's key: its tokens, for `scope`'s repository only, come
    /// from `broker` (see [`crate::TokenBroker`]); `first`, when the caller already has
    /// one, is used until it nears expiry. `app_id` is the App's (not secret: it finds
    /// the App's own check runs).
    pub fn brokered(
        app_id: AppId,
        scope: RepoScope,
        broker: Arc<dyn TokenBroker>,
        first: Option<InstallationToken>,
        options: ClientOptions,
    ) -> Result<Self, SetupError> {
        let base_url = options.base_url.trim_end_matches('/');
        let client = Self {
            transport: Transport::new(base_url, &options.timeouts, &options.user_agent)?,
            app_id,
            minter: Minter::Broker {
                scope: scope.clone(),
                broker,
            },
            tokens: TokenCache::default(),
            retry: options.retry,
            permissions: options.permissions,
        };
        if let Some(token) = first {
            client
                .tokens
                .put(&scope, &client.permissions, token, SystemTime::now());
        }
        Ok(client)
    }

    pub fn app_id(&self) -> AppId {
        self.app_id
    }

    /// The permissions of the tokens this client's calls use.
    pub fn permissions(&self) -> &TokenPermissions {
        &self.permissions
    }

    pub fn base_url(&self) -> &str {
        self.transport.base_url()
    }

    /// A token for `scope`'s repository only, with `permissions` only: the cached one
    /// while it has more than [`crate::REFRESH_MARGIN`] to live, else a fresh one.
    /// Transient failures are retried like any call.
    pub async fn installation_token(
        &self,
        scope: &RepoScope,
        permissions: &TokenPermissions,
    ) -> Result<InstallationToken, GitHubError> {
        self.retry
            .run("mint installation token", |_| {
                self.token(scope, permissions)
            })
            .await
            .map(|(token, _)| token)
    }

    /// The cached token, or one minted now (one attempt); `true` when it came from the
    /// cache.
    async fn token(
        &self,
        scope: &RepoScope,
        permissions: &TokenPermissions,
    ) -> Result<(InstallationToken, bool), GitHubError> {
        if let Some(token) = self.tokens.get(scope, permissions, SystemTime::now()) {
            return Ok((token, true));
        }
        let token = self.mint(scope, permissions).await?;
        self.tokens
            .put(scope, permissions, token.clone(), SystemTime::now());
        Ok((token, false))
    }

    async fn mint(
        &self,
        scope: &RepoScope,
        permissions: &TokenPermissions,
    ) -> Result<InstallationToken, GitHubError> {
        let signer = match &self.minter {
            Minter::App(signer) => signer,
            Minter::Broker {
                scope: granted,
                broker,
            } => {
                if granted != scope {
                    return Err(GitHubError::Forbidden(format!(
                        "this client's tokens are for {} only, not {}",
                        granted.repo, scope.repo
                    )));
                }
                let token = broker.fetch().await?;
                tracing::debug!(repo = %scope.repo, "received an installation token from the control plane");
                return Ok(token);
            }
        };
        let refused = |reason: String| {
            GitHubError::Unauthorized(format!(
                "could not mint an installation token for {} (installation {}): {reason}",
                scope.repo, scope.installation
            ))
        };
        let jwt = signer.sign(SystemTime::now()).map_err(refused)?;
        let call = Call::post(
            Endpoint::CreateInstallationToken,
            format!(
                "/app/installations/{}/access_tokens",
                encode(&scope.installation.to_string())
            ),
            json!({
                "repositories": [scope.repo.name()],
                "permissions": permissions,
            }),
        );
        let reply = match self.transport.send(&call, Scheme::Bearer, &jwt).await {
            Ok(reply) => reply,
            Err(error) if error.is_transient() => return Err(error),
            Err(
                GitHubError::Unauthorized(detail)
                | GitHubError::NotFound(detail)
                | GitHubError::Forbidden(detail)
                | GitHubError::Rejected(detail)
                | GitHubError::Unavailable(detail),
            ) => return Err(refused(detail)),
            Err(error) => return Err(refused(error.to_string())),
        };
        // Parsed by hand: a serde message could quote the token.
        let answer: AccessTokenJson = serde_json::from_str(&reply.body)
            .map_err(|_| refused("GitHub's answer has no token and expiry".to_owned()))?;
        let expires_at = DateTime::parse_from_rfc3339(&answer.expires_at)
            .map_err(|_| refused(format!("unreadable `expires_at` {:?}", answer.expires_at)))?;
        tracing::debug!(
            repo = %scope.repo,
            installation = %scope.installation,
            expires_at = %answer.expires_at,
            "minted an installation token"
        );
        Ok(InstallationToken::new(
            answer.token.into(),
            SystemTime::from(expires_at),
        ))
    }

    /// One attempt of `call` on `scope`'s repository with a token of the client's
    /// permission set. A cached token GitHub refuses (revoked, permissions changed) is
    /// forgotten and the call made once more with a fresh one.
    pub(crate) async fn send(&self, scope: &RepoScope, call: &Call) -> Result<Reply, GitHubError> {
        self.send_with(scope, call, &self.permissions).await
    }

    /// [`Self::send`] with a token of `permissions` instead of the client's set: for the
    /// one call the stages make with more than their everyday token
    /// ([`crate::endpoints::MERGE_CALLS`]), so that the policy and report stages' tokens
    /// stay without `contents: write`.
    pub(crate) async fn send_with(
        &self,
        scope: &RepoScope,
        call: &Call,
        permissions: &TokenPermissions,
    ) -> Result<Reply, GitHubError> {
        if !permissions.allows(call.endpoint) {
            // GitHub would answer 403 "Resource not accessible by integration": say which
            // permission is missing instead.
            return Err(GitHubError::Forbidden(format!(
                "{}: this client's tokens lack the permission it needs ({})",
                call.label(),
                call.endpoint.needs()
            )));
        }
        let (token, cached) = self.token(scope, permissions).await?;
        match self
            .transport
            .send(call, Scheme::Token, token.secret())
            .await
        {
            Err(GitHubError::Unauthorized(reason)) if cached => {
                tracing::info!(repo = %scope.repo, %reason, "cached installation token refused; minting another");
                self.tokens.forget(scope, permissions);
                let (token, _) = self.token(scope, permissions).await?;
                self.transport
                    .send(call, Scheme::Token, token.secret())
                    .await
            }
            result => result,
        }
    }
}

/// Where a client's tokens come from.
enum Minter {
    /// Minted with the App's key.
    App(AppKey),
    /// Asked of the control plane, for one repository.
    Broker {
        scope: RepoScope,
        broker: Arc<dyn TokenBroker>,
    },
}

/// `/repos/{owner}/{name}/{rest}` for `scope`'s repository; `rest` is already escaped.
pub(crate) fn repo_path(scope: &RepoScope, rest: &str) -> String {
    format!(
        "/repos/{}/{}/{rest}",
        encode(scope.repo.owner()),
        encode(scope.repo.name())
    )
}

/// The GitHub host's root (its web pages and git remotes) for a REST API root: `https://github.com` for github.com's API,
/// `https://HOST` for a GitHub Enterprise Server's `https://HOST/api/v3`.
pub fn web_base_url(api_url: &str) -> String {
    let api = api_url.trim_end_matches('/');
    if let Some(rest) = api.strip_prefix("https://api.") {
        return format!("https://{rest}");
    }
    api.strip_suffix("/api/v3").unwrap_or(api).to_owned()
}
