//! GitHub webhook intake: signature, normalization into an [`crate::envelope::Envelope`], and
//! the edge logic that decides the HTTP answer.

pub mod intake;
pub mod payload;
mod push_commits;
pub mod secrets;
pub mod signature;
pub mod telemetry;
