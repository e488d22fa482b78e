//! Installation tokens from a broker instead of the App's key: a runner holds no private
//! key and asks the control plane (`ota serve`, the dispatch Lambda) for its job's token,
//! scoped to the one repository and to what the job delivers. A client built with
//! [`crate::GitHubClient::brokered`] asks its [`TokenBroker`] whenever its cached token
//! comes within [`crate::REFRESH_MARGIN`] of expiry, so a job that outlives a token's hour
//! gets a fresh one.

use crate::token::InstallationToken;
use shared::ports::GitHubError;
use std::future::Future;
use std::pin::Pin;

/// What a [`TokenBroker`] answers.
pub type BrokerFuture<'a> =
    Pin<Box<dyn Future<Output = Result<InstallationToken, GitHubError>> + Send + 'a>>;

/// Hands out the one repository's installation token, minted by someone who holds the
/// App's key. A refusal that asking again cannot change (the job is over, the credential
/// is wrong) is [`GitHubError::Unauthorized`]; one worth retrying is transient.
pub trait TokenBroker: Send + Sync {
    fn fetch(&self) -> BrokerFuture<'_>;
}
