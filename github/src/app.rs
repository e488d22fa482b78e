//! [`GitHubApp`]: the App on one GitHub (its id, its private key, the API root), and the
//! one place a [`GitHubClient`] is assembled from them. Each deployment reads these
//! settings its own way (a Lambda's environment and Secrets Manager, the runner's task
//! definition, `ota`'s environment or data directory); all of them build the client here.

use crate::client::{ClientOptions, GitHubClient};
use crate::credentials::{AppCredentials, SetupError};
use crate::token::TokenPermissions;
use secrecy::SecretString;
use shared::ids::AppId;

/// The GitHub App a process acts as. `Debug` never shows the key.
#[derive(Debug, Clone)]
pub struct GitHubApp {
    pub credentials: AppCredentials,
    /// The REST API root: [`crate::DEFAULT_BASE_URL`], a GitHub Enterprise Server's
    /// `https://HOST/api/v3`, or a test server.
    pub api_url: String,
    /// The App's slug (`https://github.com/apps/<slug>`), when known: it goes into the
    /// User-Agent of every request.
    pub slug: Option<String>,
}

impl GitHubApp {
    pub fn new(app_id: AppId, private_key: SecretString, api_url: impl Into<String>) -> Self {
        Self {
            credentials: AppCredentials {
                app_id,
                private_key,
            },
            api_url: api_url.into(),
            slug: None,
        }
    }

    /// The same App, naming its slug in the User-Agent.
    pub fn with_slug(mut self, slug: impl Into<String>) -> Self {
        self.slug = Some(slug.into());
        self
    }

    /// The App's client, whose [`shared::ports::GitHub`] calls use tokens with
    /// `permissions` ([`TokenPermissions::policy_and_report`] for the stages,
    /// [`TokenPermissions::runner`] for a runner), and the default retries and timeouts.
    /// Fails on a key that cannot sign or an API root that cannot be a URL; call it inside
    /// a Tokio runtime (see [`GitHubClient::new`]).
    pub fn client(&self, permissions: TokenPermissions) -> Result<GitHubClient, SetupError> {
        GitHubClient::new(
            &self.credentials,
            ClientOptions {
                permissions,
                user_agent: crate::client::user_agent(self.slug.as_deref()),
                ..ClientOptions::with_base_url(self.api_url.clone())
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let app = GitHubApp::new(
            AppId(42),
            SecretString::from("-----BEGIN RSA PRIVATE KEY-----hunter2"),
            "https://ghe.example.com/api/v3",
        );
        let debug = format!("{app:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("ghe.example.com"), "{debug}");
    }

    #[test]
    fn a_key_that_cannot_sign_is_refused_without_quoting_it() {
        let app = GitHubApp::new(
            AppId(42),
            SecretString::from("hunter2"),
            crate::DEFAULT_BASE_URL,
        );
        let err = app
            .client(TokenPermissions::runner())
            .expect_err("not a key");
        assert!(matches!(err, SetupError::InvalidPrivateKey(_)), "{err:?}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
