//! The two places a job waits on someone else (an approver, a runner) and the task token
//! that lets them resume it. The token is a bearer credential for the execution, so it is
//! kept out of the job record and never prints itself.

use super::error::JobError;
use super::retry::Timeouts;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// A wait that ends with a task token being sent back (`.waitForTaskToken`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Wait {
    /// For `/approve`; resumed by the policy stage.
    Approval,
    /// For the runner's result; resumed (and kept alive with heartbeats) by the runner.
    Run,
}

impl Wait {
    /// How long this wait lasts at most in the workflow. The run's wait holds the
    /// attempt's time in line too on Step Functions, so it is [`Timeouts::run_wait`]; the
    /// local engine opens it only once the attempt has its slot and times it with the
    /// maximum runtime instead.
    pub fn timeout(self, timeouts: &Timeouts) -> Duration {
        match self {
            Self::Approval => timeouts.approval,
            Self::Run => timeouts.run_wait(),
        }
    }

    /// The workflow input's field that holds [`timeout`](Self::timeout) in whole seconds
    /// (under `timeouts`), for the state's `TimeoutSecondsPath`.
    pub const fn timeout_field(self) -> &'static str {
        match self {
            Self::Approval => "approval_seconds",
            Self::Run => "run_wait_seconds",
        }
    }

    /// The job's error when this wait times out (`States.Timeout` in Step Functions).
    pub fn timeout_error(self) -> JobError {
        match self {
            Self::Approval => JobError::ApprovalExpired,
            Self::Run => JobError::RunnerTimedOut,
        }
    }
}

/// A Step Functions task token (or the local engine's equivalent): whoever holds it can
/// end the wait with any result. Stored apart from the job record, passed only to whom it
/// is meant for; `Debug` and `Display` print no part of it, and it has no `Serialize`, so
/// it cannot ride along in a logged struct by accident.
#[derive(Clone)]
pub struct TaskToken(SecretString);

impl TaskToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(SecretString::from(token.into()))
    }

    /// The token itself, for the one call that needs it (`SendTaskSuccess`, a store write).
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for TaskToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TaskToken(<redacted>)")
    }
}

impl fmt::Display for TaskToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted task token>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_token_never_prints_itself() {
        let token = TaskToken::new("AQCEAAAAKgAAAAMAAAAAAAAAAf7secret");
        assert_eq!(token.expose(), "AQCEAAAAKgAAAAMAAAAAAAAAAf7secret");
        let printed = format!("{token:?} {token} {:?}", Some(token.clone()));
        assert!(!printed.contains("secret"), "{printed}");
        assert!(!printed.contains("AQCE"), "{printed}");
    }

    #[test]
    fn each_wait_has_its_timeout_and_error() {
        let timeouts = Timeouts::DEFAULT;
        assert_eq!(Wait::Approval.timeout(&timeouts), timeouts.approval);
        assert_eq!(
            Wait::Run.timeout(&timeouts),
            timeouts.max_runtime + timeouts.max_queue
        );
        let input = serde_json::to_value(timeouts).expect("serialize");
        for wait in [Wait::Approval, Wait::Run] {
            assert_eq!(
                input[wait.timeout_field()],
                wait.timeout(&timeouts).as_secs(),
                "{wait:?}"
            );
        }
        assert_eq!(Wait::Approval.timeout_error(), JobError::ApprovalExpired);
        assert_eq!(Wait::Run.timeout_error(), JobError::RunnerTimedOut);
        assert_eq!(
            Wait::Approval.timeout_error().final_status(),
            super::super::JobStatus::Expired
        );
    }
}
