//! The message the workflow's `Dispatch` state sends to the dispatch queue, read into the
//! dispatch stage's [`DispatchRequest`]:
//!
//! ```json
//! {"job": "j…", "token": "<task token>", "retry": 0,
//!  "timeouts": {"approval_seconds": 259200, "heartbeat_seconds": 300, "max_runtime_seconds": 1800}}
//! ```
//!
//! `retry` is `$$.State.RetryCount`: 0 on the first attempt, one more per retry.

use serde::Deserialize;
use shared::dispatch::DispatchRequest;
use shared::job::{JobId, TaskToken, Timeouts};

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

/// The request a dispatch queue message carries; its attempt is `retry` + 1.
pub fn parse(body: &str) -> Result<DispatchRequest, MessageError> {
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
    Ok(DispatchRequest {
        job: raw.job,
        token: TaskToken::new(raw.token),
        attempt: raw.retry.saturating_add(1),
        timeouts: raw.timeouts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn reads_what_the_dispatch_state_sends() {
        let request = parse(
            r#"{"job": "j0123456789abcdef0123", "token": "AQCsecret", "retry": 2,
                "timeouts": {"approval_seconds": 60, "heartbeat_seconds": 5, "max_runtime_seconds": 30}}"#,
        )
        .expect("message");
        assert_eq!(request.job.as_str(), "j0123456789abcdef0123");
        assert_eq!(request.token.expose(), "AQCsecret");
        assert_eq!(request.attempt, 3);
        assert_eq!(request.timeouts.heartbeat, Duration::from_secs(5));
        assert!(!format!("{request:?}").contains("secret"));
    }

    #[test]
    fn a_bad_message_names_the_field_and_never_the_token() {
        let err =
            parse(r#"{"job": "j0123456789abcdef0123", "token": 12345}"#).expect_err("bad token");
        assert_eq!(err.0, "`token` is not a string");
        let err = parse(
            r#"{"job": "nope", "token": "AQCsecret", "retry": 0,
                "timeouts": {"approval_seconds": 1, "heartbeat_seconds": 1, "max_runtime_seconds": 2}}"#,
        )
        .expect_err("bad job");
        assert!(err.0.starts_with("job:"), "{err}");
        assert!(!err.0.contains("secret"), "{err}");
    }
}
