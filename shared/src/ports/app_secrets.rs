//! The App's secrets as the dashboard's settings page rotates them: the webhook secret
//! (a new one, with the old one still accepted for an overlap) and the App's private key
//! (a new one, proved with GitHub, in use at once). Each deployment keeps them its own
//! way (`ota serve`: the data directory's App file, or its environment, which it cannot
//! change); the port says where, so the page can tell the owner what to do. Only the
//! server's owner reaches it. Every rotation writes its audit entry, never the secret.
//!
//! Its methods return boxed futures: the dashboard holds it as a trait object, so that a
//! deployment without it needs no type of its own.

use super::DashboardActor;
use secrecy::SecretString;
use std::future::Future;
use std::pin::Pin;

/// What a [`AppSecrets`] call comes to.
pub type SecretsFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, RotationError>> + Send + 'a>>;

/// Where a secret is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretPlace {
    /// A file the server writes (its path), so the page can rotate it.
    File(String),
    /// The server's environment (the variables that hold it): rotated there, by whoever
    /// starts the server, never from a page.
    Environment(String),
}

/// The App's secrets as the settings page shows them (never their values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretsStatus {
    pub app_id: u64,
    /// The App's slug (its settings page on GitHub is named by it).
    pub slug: String,
    pub webhook_secret: SecretPlace,
    /// While a webhook secret rotation overlaps: until when (Unix milliseconds) the
    /// previous secret is still accepted.
    pub previous_secret_until_ms: Option<u64>,
    pub private_key: SecretPlace,
}

/// Why a rotation was not done. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RotationError {
    /// No App is configured yet.
    #[error("no GitHub App is configured on this server yet")]
    NoApp,
    /// The secret is kept where the server cannot change it: the sentence says where.
    #[error("{0}")]
    Managed(String),
    /// The new value was refused: the sentence says why.
    #[error("{0}")]
    Refused(String),
    /// The store of the secret could not be read or written.
    #[error("{0}")]
    Unavailable(String),
}

/// The App's secrets of one deployment.
pub trait AppSecrets: Send + Sync {
    fn status(&self) -> SecretsFuture<'_, SecretsStatus>;

    /// Makes a new webhook secret current and keeps the old one accepted until the
    /// overlap ends; the new secret, for the one page that shows it.
    fn rotate_webhook_secret(&self, actor: DashboardActor) -> SecretsFuture<'_, SecretString>;

    /// Ends the overlap now: only the current webhook secret is accepted from now on.
    fn finish_webhook_rotation(&self, actor: DashboardActor) -> SecretsFuture<'_, ()>;

    /// Checks `private_key` (it parses, and GitHub accepts it as the App's) and makes it
    /// the App's key from the next request on.
    fn replace_private_key(
        &self,
        private_key: SecretString,
        actor: DashboardActor,
    ) -> SecretsFuture<'_, ()>;
}
