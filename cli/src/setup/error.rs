//! What can go wrong while setting up the App. No variant ever carries the private key,
//! a secret or the one-time code: these errors reach logs and pages.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    /// A file in the data directory could not be read, or its content is not what it
    /// should be.
    #[error("cannot use {}: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
    /// A file in the data directory could not be written.
    #[error("cannot write {}: {reason}", path.display())]
    Unwritable { path: PathBuf, reason: String },
    /// The state GitHub sent back is not one this server handed out and has not used: a
    /// stale tab, a finished or expired setup, a restart since, or someone else's link.
    #[error(
        "the setup state is not one this server started, or it was used or expired; start \
         the setup again from this server's page"
    )]
    StateMismatch,
    /// The state is this server's, but this browser did not start that setup (its
    /// `ota_setup` cookie is missing or another's).
    #[error(
        "this browser did not start that setup; finish it in the browser that started it, or \
         start the setup again from this server's page"
    )]
    OtherBrowser,
    /// GitHub does not know the code: codes expire after an hour and work once.
    #[error(
        "GitHub did not accept the code: it expired or was already used; start the setup again"
    )]
    CodeRejected,
    /// GitHub answered with an error.
    #[error("GitHub answered {status}: {message}")]
    GitHub { status: u16, message: String },
    /// GitHub could not be reached.
    #[error("GitHub at {api_url} is unreachable: {reason}")]
    Unreachable { api_url: String, reason: String },
    /// GitHub answered success with a body this server cannot use.
    #[error("GitHub's answer cannot be used: {0}")]
    InvalidAnswer(String),
    /// The system gave no random bytes for the setup state.
    #[error("no random bytes for the setup state: {0}")]
    NoRandomness(String),
    /// What the user typed in the setup form.
    #[error("{0}")]
    InvalidInput(String),
}
