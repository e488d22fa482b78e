//! The message the workflow's `Dispatch` state sends to the dispatch queue:
//!
//! ```json
//! {"job": "j…", "token": "<task token>", "retry": 0,
//!  "timeouts": {"approval_seconds": 259200, "heartbeat_seconds": 300, "max_runtime_seconds": 1800}}
//! ```
//!
//! `retry` is `$$.State.RetryCount`: 0 on the first attempt, one more per retry.

use crate::job::{JobId, TaskToken, Timeouts};
use serde::Deserialize;

/// One dispatch to carry out. No `Debug`-printable secret: the token is a [`TaskToken`].
#[derive(Debug, Clone)]
pub struct DispatchMessage {
    pub job: JobId,
    pub token: TaskToken,
    /// 1 for the first attempt (`retry` + 1), as [`crate::job::JobRecord::attempts`] counts.
    pub attempt: u32,
    pub timeouts: Timeouts,
}

/// The body as sent. Not `Debug`: it holds the token as plain text.
#[derive(Deserialize)]
struct Raw {
    job: JobId,
    token: String,
    retry: u32,
    timeouts: Timeouts,
}

/// Why a body is not a dispatch message. Names the field, never quotes the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a dispatch message: {0}")]
pub struct MessageError(pub String);

impl DispatchMessage {
    pub fn parse(body: &str) -> Result<Self, MessageError> {
        let deserializer = &mut serde_json::Deserializer::from_str(body);
        let raw: Raw = serde_path_to_error::deserialize(deserializer).map_err(|err| {
            // A type error's text can quote the value; the path alone says enough.
            let path = err.path().to_string();
            let text = if path == "token" {
                "`token` is not a string".to_owned()
            } else {
                format!("{path}: {}", err.inner())
            };
            MessageError(text)
        })?;
        if raw.token.is_empty() {
            return Err(MessageError("`token` is empty".to_owned()));
        }
        Ok(Self {
            job: raw.job,
            token: TaskToken::new(raw.token),
            attempt: raw.retry.saturating_add(1),
            timeouts: raw.timeouts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn reads_what_the_dispatch_state_sends() {
        let message = DispatchMessage::parse(
            r#"{"job": "j0123456789abcdef0123", "token": "AQCsecret", "retry": 2,
                "timeouts": {"approval_seconds": 60, "heartbeat_seconds": 5, "max_runtime_seconds": 30}}"#,
        )
        .expect("message");
        assert_eq!(message.job.as_str(), "j0123456789abcdef0123");
        assert_eq!(message.token.expose(), "AQCsecret");
        assert_eq!(message.attempt, 3);
        assert_eq!(message.timeouts.heartbeat, Duration::from_secs(5));
        assert!(!format!("{message:?}").contains("secret"));
    }

    #[test]
    fn a_bad_message_names_the_field_and_never_the_token() {
        let err = DispatchMessage::parse(r#"{"job": "j0123456789abcdef0123", "token": 12345}"#)
            .expect_err("bad token");
        assert_eq!(err.0, "`token` is not a string");
        let err = DispatchMessage::parse(
            r#"{"job": "nope", "token": "AQCsecret", "retry": 0,
                "timeouts": {"approval_seconds": 1, "heartbeat_seconds": 1, "max_runtime_seconds": 2}}"#,
        )
        .expect_err("bad job");
        assert!(err.0.starts_with("job:"), "{err}");
        assert!(!err.0.contains("secret"), "{err}");
    }
}
