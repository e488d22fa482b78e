//! The GitHub App client of Ollama Turbo Agent: App JWTs, installation tokens scoped to one
//! repository and to the permissions a stage needs, bounded retries that never duplicate a
//! comment or a check run, and [`GitHubClient`], the implementation of
//! [`shared::ports::GitHub`], built from the App's settings by [`GitHubApp::client`].
//!
//! Tokens, the JWT and the private key never appear in logs, errors or `Debug` output.

mod api;
mod app;
mod broker;
mod changes;
mod checks;
mod classify;
mod client;
mod comments;
mod credentials;
pub mod endpoints;
mod issues;
mod labels;
mod merge;
mod pulls;
mod retry;
mod review_lines;
mod reviews;
mod runner_token;
mod token;
mod transport;

pub use app::{GitHubApp, KeyCheckError};
pub use broker::{BrokerFuture, TokenBroker};
pub use client::{ClientOptions, DEFAULT_BASE_URL, GitHubClient, user_agent, web_base_url};
pub use credentials::{AppCredentials, AppKey, JWT_BACKDATE, JWT_LIFETIME, SetupError};
pub use endpoints::{Endpoint, Needs};
pub use retry::RetryPolicy;
pub use reviews::PreviousReview;
pub use runner_token::{TokenFailure, answer_token_request};
pub use token::{Access, InstallationToken, REFRESH_MARGIN, TokenPermissions};
pub use transport::Timeouts;
