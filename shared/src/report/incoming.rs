//! What the report stage is told, in the domain's words: an approval wait began, the
//! workflow reports how its job goes, or the job's execution was stopped or broke. The
//! edges translate into these: on AWS the report function reads the report and approvals
//! queues (and Step Functions' events that an EventBridge rule puts there); on one
//! machine the engine builds them as it walks the workflow.
//!
//! [`WorkflowReport`] and [`StepError`] read the workflow's report messages as its
//! states write them (`{"kind": "ended", "job": "j…", "error": {"Error": "…", "Cause": "…"}}`).

use crate::dispatch::RunOutput;
use crate::job::{JobId, TaskToken};
use serde::Deserialize;

/// An error as a `Catch` with `ResultPath` records it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StepError {
    #[serde(rename = "Error")]
    pub name: String,
    /// Step Functions leaves it out or `null` when nobody gave one.
    #[serde(rename = "Cause", default)]
    pub cause: Option<String>,
}

/// A report the workflow sends.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WorkflowReport {
    /// Approval (if any) is done; the job is being dispatched.
    Running { job: JobId },
    /// The runner answered with its result.
    Succeeded { job: JobId, run: RunOutput },
    /// The job ended with a named, final error (or the approval ran out).
    Ended { job: JobId, error: StepError },
    /// The catch-all: retries are used up, or something nobody named went wrong. The
    /// job and its error are on the jobs' dead-letter queue.
    DeadLettered { job: JobId, error: StepError },
}

impl WorkflowReport {
    pub fn job(&self) -> &JobId {
        match self {
            Self::Running { job }
            | Self::Succeeded { job, .. }
            | Self::Ended { job, .. }
            | Self::DeadLettered { job, .. } => job,
        }
    }
}

/// One thing for the report stage to act on.
#[derive(Debug, Clone)]
pub enum Incoming {
    /// The approval wait began: keep its token for `/approve`.
    ApprovalWait { job: JobId, token: TaskToken },
    /// The workflow's own report.
    Workflow(WorkflowReport),
    /// The job's attempt waits in line for a runner slot, for `reason`: its check run
    /// says so (told once per reason, never as a comment).
    Queued { job: JobId, reason: String },
    /// The job's execution was stopped (`/cancel`, `ota cancel`, an approval a push
    /// voided): the job is cancelled, with `cause` as its message.
    Stopped { job: JobId, cause: Option<String> },
    /// The job's execution failed or timed out outside the workflow's own handling (even
    /// its catch-all could not report): the job is dead-lettered with `error`
    /// (`States.Runtime` when the execution named none) and `cause`.
    Broke {
        job: JobId,
        error: Option<String>,
        cause: Option<String>,
    },
}

impl Incoming {
    /// The job the event is about.
    pub fn job(&self) -> &JobId {
        match self {
            Self::ApprovalWait { job, .. }
            | Self::Queued { job, .. }
            | Self::Stopped { job, .. }
            | Self::Broke { job, .. } => job,
            Self::Workflow(report) => report.job(),
        }
    }

    /// The event's kind, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ApprovalWait { .. } => "approval",
            Self::Queued { .. } => "queued",
            Self::Workflow(WorkflowReport::Running { .. }) => "running",
            Self::Workflow(WorkflowReport::Succeeded { .. }) => "succeeded",
            Self::Workflow(WorkflowReport::Ended { .. }) => "ended",
            Self::Workflow(WorkflowReport::DeadLettered { .. }) => "dead_lettered",
            Self::Stopped { .. } => "stopped",
            Self::Broke { .. } => "broke",
        }
    }
}
