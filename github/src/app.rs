//! [`GitHubApp`]: the App on one GitHub (its id, its private key, the API root), and the
//! one place a [`GitHubClient`] is assembled from them. Each deployment reads these
//! settings its own way (a Lambda's environment and Secrets Manager, the runner's task
//! definition, `ota`'s environment or data directory); all of them build the client here.

use crate::client::{ClientOptions, GitHubClient};
use crate::credentials::{AppCredentials, AppKey, SetupError};
use crate::endpoints::Endpoint;
use crate::token::TokenPermissions;
use crate::transport::{Call, Scheme, Timeouts, Transport};
use secrecy::SecretString;
use shared::ids::AppId;
use shared::ports::GitHubError;

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
        self.client_with_key(&AppKey::new(&self.credentials)?, permissions)
    }

    /// The App's key, parsed, to share between the clients of one process
    /// ([`Self::client_with_key`]) and replace in all of them at once.
    pub fn key(&self) -> Result<AppKey, SetupError> {
        AppKey::new(&self.credentials)
    }

    /// A client as [`Self::client`] builds it, signing with the shared `key`.
    pub fn client_with_key(
        &self,
        key: &AppKey,
        permissions: TokenPermissions,
    ) -> Result<GitHubClient, SetupError> {
        GitHubClient::with_key(
            key,
            ClientOptions {
                permissions,
                user_agent: crate::client::user_agent(self.slug.as_deref()),
                ..ClientOptions::with_base_url(self.api_url.clone())
            },
        )
    }

    /// Proves a candidate private key before it replaces the App's: it must parse, and
    /// GitHub must accept a JWT signed with it as this App's (`GET /app` answers this
    /// App's id). Errors never carry key material.
    pub async fn check_key(&self, private_key: &SecretString) -> Result<(), KeyCheckError> {
        let candidate = AppCredentials {
            app_id: self.credentials.app_id,
            private_key: private_key.clone(),
        };
        let key = AppKey::new(&candidate).map_err(KeyCheckError::Invalid)?;
        let jwt = key
            .sign(std::time::SystemTime::now())
            .map_err(|reason| KeyCheckError::Invalid(SetupError::InvalidPrivateKey(reason)))?;
        let transport = Transport::new(
            self.api_url.trim_end_matches('/'),
            &Timeouts::default(),
            &crate::client::user_agent(self.slug.as_deref()),
        )
        .map_err(KeyCheckError::Invalid)?;
        let call = Call::new(Endpoint::GetApp, "/app".to_owned());
        let reply = match transport.send(&call, Scheme::Bearer, &jwt).await {
            Ok(reply) => reply,
            Err(GitHubError::Unauthorized(_)) => return Err(KeyCheckError::Refused),
            Err(err) => return Err(KeyCheckError::Unavailable(err.to_string())),
        };
        let app: TheApp = reply
            .json(&call)
            .map_err(|err| KeyCheckError::Unavailable(err.to_string()))?;
        if app.id == self.credentials.app_id.0 {
            Ok(())
        } else {
            Err(KeyCheckError::OtherApp {
                found: app.id,
                expected: self.credentials.app_id.0,
            })
        }
    }
}

/// What `GET /app` says of the App.
#[derive(serde::Deserialize)]
struct TheApp {
    id: u64,
}

/// Why a candidate key was not taken. None carries key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyCheckError {
    #[error("{0}")]
    Invalid(SetupError),
    /// GitHub refused the JWT (401): not one of the App's keys, or deleted.
    #[error(
        "GitHub refused a token signed with this key: it is not one of the App's keys (generate it on the App's settings page first, and do not delete it there)"
    )]
    Refused,
    #[error(
        "this key belongs to another GitHub App (id {found}), not this server's (id {expected})"
    )]
    OtherApp { found: u64, expected: u64 },
    /// GitHub could not be asked.
    #[error("could not ask GitHub to check the key: {0}")]
    Unavailable(String),
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
