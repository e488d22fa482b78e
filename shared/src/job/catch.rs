//! What a wait that ended in an error leads to: another attempt, a report of the error,
//! or the dead-letter path. The state machine's `Retry` and `Catch` lists say this for
//! AWS (a test compares them with these rules); the local engine calls [`after_error`].

use super::error::{JobError, STATES_TIMEOUT};
use super::retry::RetryPolicy;
use super::wait::Wait;
use std::time::Duration;

/// Where the workflow goes after a wait's error.
#[derive(Debug, Clone, PartialEq)]
pub enum AfterError {
    /// Dispatch the run again after `delay` (the run's transient errors, while retries last).
    Retry { delay: Duration },
    /// Report the job as ended with this error (`ReportEnded`): a final, named outcome.
    Report {
        error: String,
        cause: Option<String>,
    },
    /// Set the job aside (`DeadLetter`): retries are used up, or nobody named the error.
    DeadLetter,
}

/// Step Functions' name for a wait whose worker stopped sending heartbeats.
pub const STATES_HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";

/// The cause recorded when a run's `States.Timeout` becomes [`JobError::RunnerTimedOut`].
pub const RUN_TIMED_OUT_CAUSE: &str = "The run took longer than the maximum runtime.";
/// The cause recorded when the approval's `States.Timeout` becomes
/// [`JobError::ApprovalExpired`].
pub const APPROVAL_EXPIRED_CAUSE: &str = "Nobody approved the job within its approval timeout.";

/// The errors the approval wait reports as the job's end; anything else but its timeout
/// is dead-lettered.
pub const APPROVAL_REPORTED_ERRORS: [JobError; 2] =
    [JobError::ApprovalDenied, JobError::JobCancelled];

/// The errors the run reports as the job's end: every named error that is neither
/// transient nor the approval's.
pub const RUN_REPORTED_ERRORS: [JobError; 6] = [
    JobError::RunnerBadConfig,
    JobError::RunnerBudgetExceeded,
    JobError::RunnerAgentGaveUp,
    JobError::RunnerTimedOut,
    JobError::RunnerFailed,
    JobError::JobCancelled,
];

/// What follows `error` (a [`JobError`] name, or one of Step Functions' own) ending
/// `wait`. `retries_so_far` counts the run's retries before this attempt
/// (`$$.State.RetryCount`); `unit_random` in `[0, 1]` draws the jitter.
pub fn after_error(
    wait: Wait,
    error: &str,
    cause: Option<&str>,
    retries_so_far: u32,
    policy: &RetryPolicy,
    unit_random: f64,
) -> AfterError {
    let report = |error: JobError, cause: Option<&str>| AfterError::Report {
        error: error.name().to_owned(),
        cause: cause.map(str::to_owned),
    };
    if error == STATES_TIMEOUT {
        let cause = match wait {
            Wait::Approval => APPROVAL_EXPIRED_CAUSE,
            Wait::Run => RUN_TIMED_OUT_CAUSE,
        };
        return report(wait.timeout_error(), Some(cause));
    }
    let Some(named) = JobError::from_name(error) else {
        return AfterError::DeadLetter;
    };
    match wait {
        Wait::Approval if APPROVAL_REPORTED_ERRORS.contains(&named) => report(named, cause),
        Wait::Approval => AfterError::DeadLetter,
        Wait::Run if named.is_transient() => {
            if retries_so_far < policy.max_attempts {
                AfterError::Retry {
                    delay: policy.delay_before_retry(retries_so_far + 1, unit_random),
                }
            } else {
                AfterError::DeadLetter
            }
        }
        Wait::Run if RUN_REPORTED_ERRORS.contains(&named) => report(named, cause),
        Wait::Run => AfterError::DeadLetter,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RetryPolicy = RetryPolicy::DEFAULT;

    #[test]
    fn transient_run_errors_retry_with_the_policys_backoff_until_it_is_used_up() {
        for name in super::super::TRANSIENT_ERRORS {
            assert_eq!(
                after_error(Wait::Run, name, None, 0, &POLICY, 1.0),
                AfterError::Retry {
                    delay: POLICY.backoff(1)
                },
                "{name}"
            );
            assert_eq!(
                after_error(Wait::Run, name, None, 2, &POLICY, 0.5),
                AfterError::Retry {
                    delay: POLICY.backoff(3).mul_f64(0.5)
                },
            );
            assert_eq!(
                after_error(Wait::Run, name, None, POLICY.max_attempts, &POLICY, 0.5),
                AfterError::DeadLetter
            );
        }
        assert_eq!(STATES_HEARTBEAT_TIMEOUT, JobError::HeartbeatTimeout.name());
    }

    #[test]
    fn timeouts_become_the_waits_own_errors() {
        assert_eq!(
            after_error(Wait::Run, STATES_TIMEOUT, None, 0, &POLICY, 0.0),
            AfterError::Report {
                error: "Runner.TimedOut".to_owned(),
                cause: Some(RUN_TIMED_OUT_CAUSE.to_owned())
            }
        );
        assert_eq!(
            after_error(Wait::Approval, STATES_TIMEOUT, None, 0, &POLICY, 0.0),
            AfterError::Report {
                error: "Approval.Expired".to_owned(),
                cause: Some(APPROVAL_EXPIRED_CAUSE.to_owned())
            }
        );
    }

    #[test]
    fn final_errors_are_reported_and_unknown_ones_dead_lettered() {
        assert_eq!(
            after_error(
                Wait::Run,
                "Runner.BadConfig",
                Some("bad yaml"),
                0,
                &POLICY,
                0.0
            ),
            AfterError::Report {
                error: "Runner.BadConfig".to_owned(),
                cause: Some("bad yaml".to_owned())
            }
        );
        assert_eq!(
            after_error(Wait::Approval, "Approval.Denied", None, 0, &POLICY, 0.0),
            AfterError::Report {
                error: "Approval.Denied".to_owned(),
                cause: None
            }
        );
        for (wait, name) in [
            (Wait::Run, "States.Runtime"),
            (Wait::Run, "Approval.Denied"),
            (Wait::Approval, "Runner.Failed"),
            (Wait::Approval, "Dispatch.NoCapacity"),
        ] {
            assert_eq!(
                after_error(wait, name, None, 0, &POLICY, 0.0),
                AfterError::DeadLetter,
                "{wait:?} {name}"
            );
        }
    }
}
