//! The secret source port: where a rotating secret (the webhook's) is read.

use secrecy::SecretString;
use std::future::Future;

/// Which version of a rotating secret to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretVersion {
    Current,
    /// The version before the last rotation, if there was one.
    Previous,
}

/// Where a secret is kept (Secrets Manager, a file, the environment).
pub trait SecretSource: Send + Sync {
    /// `Ok(None)` when that version does not exist (no rotation happened yet).
    fn fetch(
        &self,
        version: SecretVersion,
    ) -> impl Future<Output = Result<Option<SecretString>, SecretError>> + Send;
}

/// The secret store could not be read. Never carries the secret itself.
#[derive(Debug, thiserror::Error)]
#[error("secret unavailable: {0}")]
pub struct SecretError(pub String);

/// A secret fixed at start-up, e.g. from `WEBHOOK_SECRET`; it has no previous version.
pub struct StaticSecret(pub SecretString);

impl SecretSource for StaticSecret {
    async fn fetch(&self, version: SecretVersion) -> Result<Option<SecretString>, SecretError> {
        Ok(match version {
            SecretVersion::Current => Some(self.0.clone()),
            SecretVersion::Previous => None,
        })
    }
}
