//! First run with nothing configured: creating the GitHub App with GitHub's App Manifest
//! flow and keeping its credentials in the data directory.
//!
//! The flow: the setup page ([`setup_page_response`]) posts the public URL to
//! `POST /setup` (the operator's: the server guards it), which answers a page that posts
//! the App's [`manifest`] to GitHub with a random state bound to this browser
//! ([`PendingSetups`]). The user names the App on GitHub, and GitHub sends the browser
//! back to `GET /setup/callback` with a one-time code; the callback checks the state
//! against the browser's cookie, trades the code for the App's id, private key and webhook
//! secret ([`exchange_code`]), stores them as [`AppFile`] (`<data-dir>/app.json`) and hands
//! them to the server. Once the server has an App, from the environment or the file, both
//! endpoints refuse and write nothing.

mod app_file;
mod error;
mod exchange;
mod manifest;
pub(crate) mod private_file;
mod routes;
mod state;

pub use app_file::{APP_FILE, AppFile};
pub use error::SetupError;
pub use exchange::exchange_code;
pub use manifest::{
    DEFAULT_APP_NAME, app_events, app_permissions, manifest, manifest_with_webhook, new_app_url,
    return_to,
};
pub use routes::{
    ConfiguredApp, OnConfigured, SetupContext, SetupRoutes, routes, setup_page_response,
};
pub use state::{PendingSetups, SETUP_COOKIE, STATE_LIFETIME, Started};
