//! The named errors the workflow and the runner exchange. Their names are Step Functions
//! error names (`Error` of `SendTaskFailure`, `ErrorEquals` of `Retry` and `Catch`), which is
//! why they are dotted, and the local engine uses the same names.

use super::status::JobStatus;
use std::fmt;

/// The error Step Functions raises when a state's `TimeoutSeconds` passes. It means
/// something different in each wait, so the workflow catches it and re-raises the job's own
/// name: [`JobError::ApprovalExpired`] on the approval wait, [`JobError::RunnerTimedOut`] on
/// the run. See [`super::Wait::timeout_error`].
pub const STATES_TIMEOUT: &str = "States.Timeout";

/// A failure with a name both engines agree on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobError {
    /// Transient. The Ollama service did not answer or has not loaded the model yet
    /// (scaling from zero, model pull).
    RunnerModelUnavailable,
    /// Transient. GitHub answered 5xx, a secondary rate limit, or not at all.
    RunnerGitHubUnavailable,
    /// Transient. The runner stopped sending heartbeats: it crashed, or its task was
    /// stopped (Spot reclaim, OOM). Raised by Step Functions itself, hence the name.
    HeartbeatTimeout,
    /// Permanent. The repository's `.ollama-turbo.yml` or the task's parameters are
    /// unusable; retrying cannot fix them.
    RunnerBadConfig,
    /// Permanent. The job used up its token or tool-call budget.
    RunnerBudgetExceeded,
    /// Permanent. The agent stopped without a change it could stand behind.
    RunnerAgentGaveUp,
    /// Permanent. The run took longer than the maximum runtime (`States.Timeout` on the
    /// run). Not retried: another attempt would most likely take as long again.
    RunnerTimedOut,
    /// Permanent. The runner failed for a reason not named above.
    RunnerFailed,
    /// Permanent. Approval was refused, or no longer applies because the pull request's
    /// head moved away from the commit it was requested for.
    ApprovalDenied,
    /// Permanent. Nobody approved within the approval timeout (`States.Timeout` on the
    /// approval wait).
    ApprovalExpired,
    /// Permanent. Someone cancelled the job (`/cancel`, `ota cancel`).
    JobCancelled,
}

use JobError::{
    ApprovalDenied, ApprovalExpired, HeartbeatTimeout, JobCancelled, RunnerAgentGaveUp,
    RunnerBadConfig, RunnerBudgetExceeded, RunnerFailed, RunnerGitHubUnavailable,
    RunnerModelUnavailable, RunnerTimedOut,
};

/// The errors worth another attempt: each says "the world was not ready", not "this job
/// cannot work". The one list of them; [`JobError::is_transient`] reads it. No room for
/// a runner is none of them: it is a wait in line, never a failed attempt
/// (see the dispatch stage's capacity rules).
const TRANSIENT: [JobError; 3] = [
    RunnerModelUnavailable,
    RunnerGitHubUnavailable,
    HeartbeatTimeout,
];

/// The names of the transient errors, for the `ErrorEquals` of the workflow's `Retry`.
pub const TRANSIENT_ERRORS: &[&str] = &names(TRANSIENT);

const fn names<const N: usize>(errors: [JobError; N]) -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < N {
        out[i] = errors[i].name();
        i += 1;
    }
    out
}

impl JobError {
    pub const ALL: [JobError; 11] = [
        RunnerModelUnavailable,
        RunnerGitHubUnavailable,
        HeartbeatTimeout,
        RunnerBadConfig,
        RunnerBudgetExceeded,
        RunnerAgentGaveUp,
        RunnerTimedOut,
        RunnerFailed,
        ApprovalDenied,
        ApprovalExpired,
        JobCancelled,
    ];

    /// The Step Functions error name.
    pub const fn name(self) -> &'static str {
        match self {
            RunnerModelUnavailable => "Runner.ModelUnavailable",
            RunnerGitHubUnavailable => "Runner.GitHubUnavailable",
            HeartbeatTimeout => "States.HeartbeatTimeout",
            RunnerBadConfig => "Runner.BadConfig",
            RunnerBudgetExceeded => "Runner.BudgetExceeded",
            RunnerAgentGaveUp => "Runner.AgentGaveUp",
            RunnerTimedOut => "Runner.TimedOut",
            RunnerFailed => "Runner.Failed",
            ApprovalDenied => "Approval.Denied",
            ApprovalExpired => "Approval.Expired",
            JobCancelled => "Job.Cancelled",
        }
    }

    /// The error named `name` (exactly, case included, as Step Functions matches them).
    /// `None` for any other name, including [`STATES_TIMEOUT`], whose meaning depends on
    /// the state that timed out.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|error| error.name() == name)
    }

    /// Worth retrying with the retry policy.
    pub fn is_transient(self) -> bool {
        TRANSIENT.contains(&self)
    }

    /// One sentence for people: job reports and logs.
    pub const fn description(self) -> &'static str {
        match self {
            RunnerModelUnavailable => {
                "The model service was unavailable or still loading the model."
            }
            RunnerGitHubUnavailable => "GitHub was unavailable or rate-limited the runner.",
            HeartbeatTimeout => "The runner stopped responding (it crashed or was stopped).",
            RunnerBadConfig => {
                "The repository's configuration or the task's parameters are invalid."
            }
            RunnerBudgetExceeded => "The job used up its token or tool-call budget.",
            RunnerAgentGaveUp => "The agent could not produce a change it could stand behind.",
            RunnerTimedOut => "The job ran longer than the maximum runtime.",
            RunnerFailed => "The runner failed.",
            ApprovalDenied => {
                "Approval was refused, or the pull request changed after approval was requested."
            }
            ApprovalExpired => "Nobody approved the job in time.",
            JobCancelled => "The job was cancelled.",
        }
    }

    /// Where a job ends when this error is final (for a transient one: once retries are
    /// used up). Cancelled rather than failed when a person decided the job should not
    /// run, so that it is not labelled `automation:failed`.
    pub const fn final_status(self) -> JobStatus {
        match self {
            JobCancelled | ApprovalDenied => JobStatus::Cancelled,
            ApprovalExpired => JobStatus::Expired,
            // A transient error is final only once its retries are spent: the workflow's
            // catch-all then dead-letters the job.
            RunnerModelUnavailable | RunnerGitHubUnavailable | HeartbeatTimeout => {
                JobStatus::DeadLettered
            }
            RunnerBadConfig | RunnerBudgetExceeded | RunnerAgentGaveUp | RunnerTimedOut
            | RunnerFailed => JobStatus::Failed,
        }
    }
}

/// Where a job ends after a final error named `name`: the named error's
/// [`JobError::final_status`], or `dead_lettered` for a name nobody defined (`States.Runtime`,
/// a Lambda's own error), which is the catch-all's case.
pub fn status_after_error(name: &str) -> JobStatus {
    JobError::from_name(name).map_or(JobStatus::DeadLettered, JobError::final_status)
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name(), self.description())
    }
}

impl std::error::Error for JobError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_valid_step_functions_error_names() {
        for error in JobError::ALL {
            let name = error.name();
            assert_eq!(JobError::from_name(name), Some(error));
            let (area, kind) = name.split_once('.').expect("dotted");
            assert!(!area.is_empty() && !kind.is_empty(), "{name}");
            // Step Functions error names are at most 256 characters.
            assert!(name.len() <= 256);
            assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.'));
        }
        let mut names: Vec<_> = JobError::ALL.iter().map(|e| e.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), JobError::ALL.len());
    }

    #[test]
    fn unknown_names_are_not_errors_of_ours() {
        assert_eq!(JobError::from_name("runner.failed"), None);
        assert_eq!(JobError::from_name(STATES_TIMEOUT), None);
        assert_eq!(JobError::from_name("States.ALL"), None);
        assert_eq!(JobError::from_name(""), None);
    }

    #[test]
    fn transient_errors_are_exactly_the_three_named() {
        assert_eq!(
            TRANSIENT_ERRORS,
            [
                "Runner.ModelUnavailable",
                "Runner.GitHubUnavailable",
                "States.HeartbeatTimeout"
            ]
        );
        for error in JobError::ALL {
            assert_eq!(
                error.is_transient(),
                TRANSIENT_ERRORS.contains(&error.name()),
                "{error}"
            );
        }
        for permanent in [
            "Runner.BadConfig",
            "Runner.BudgetExceeded",
            "Runner.AgentGaveUp",
            "Runner.TimedOut",
            "Runner.Failed",
            "Approval.Denied",
            "Approval.Expired",
            "Job.Cancelled",
        ] {
            let error = JobError::from_name(permanent).expect("known");
            assert!(!error.is_transient(), "{permanent}");
        }
    }

    #[test]
    fn final_errors_lead_to_terminal_states() {
        for error in JobError::ALL {
            assert!(error.final_status().is_terminal(), "{error}");
            assert!(!error.description().is_empty());
        }
        assert_eq!(status_after_error("Job.Cancelled"), JobStatus::Cancelled);
        assert_eq!(status_after_error("Approval.Denied"), JobStatus::Cancelled);
        assert_eq!(status_after_error("Approval.Expired"), JobStatus::Expired);
        assert_eq!(
            status_after_error("Runner.BudgetExceeded"),
            JobStatus::Failed
        );
        // Transient errors are final only after the retries: the workflow dead-letters.
        for transient in TRANSIENT_ERRORS {
            assert_eq!(
                status_after_error(transient),
                JobStatus::DeadLettered,
                "{transient}"
            );
        }
        assert_eq!(
            status_after_error("States.Runtime"),
            JobStatus::DeadLettered
        );
        assert_eq!(
            status_after_error("Lambda.Unknown"),
            JobStatus::DeadLettered
        );
    }

    #[test]
    fn display_names_and_explains() {
        assert_eq!(
            JobError::RunnerBudgetExceeded.to_string(),
            "Runner.BudgetExceeded: The job used up its token or tool-call budget."
        );
    }
}
