//! The Ollama Turbo Agent domain: everything the Lambdas, the runner and `ota` share.
//!
//! The core is plain types and pure functions; I/O lives behind the small traits in
//! [`ports`], implemented for AWS in the `ota-aws` crate and locally by `ota`.

pub mod bulk;
pub mod clock;
pub mod command;
pub mod config;
pub mod dispatch;
pub mod envelope;
pub mod error_chain;
pub mod excerpt;
pub mod github_text;
pub mod ids;
pub mod inbound;
pub mod job;
pub mod metrics;
pub mod policy;
pub mod policy_stage;
pub mod ports;
pub mod report;
pub mod schedule;
pub mod settings;
pub mod webhook;
