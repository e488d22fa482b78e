//! The job's workflow engine, as a port: Step Functions on AWS, the in-process
//! orchestrator on one machine. Both follow the lifecycle in [`crate::job`].

use crate::job::{JobError, JobId, TaskToken, Timeouts};
use serde::{Deserialize, Serialize};
use std::future::Future;

/// What a workflow execution starts with. The state machine reads these fields by name
/// (`$.approval_required`, `$.timeouts.approval_seconds`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowInput {
    pub job: JobId,
    pub approval_required: bool,
    /// Serialized as `approval_seconds`, `heartbeat_seconds`, `max_runtime_seconds`,
    /// `max_queue_seconds` and the derived `run_wait_seconds`.
    pub timeouts: Timeouts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    New,
    /// An execution for this job exists already (the same job started twice).
    AlreadyStarted,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkflowError {
    /// The token's wait is over (answered, timed out, or its execution stopped).
    #[error("the wait this token belonged to is over")]
    TokenExpired,
    #[error("workflow engine unavailable: {0}")]
    Unavailable(String),
    #[error("workflow engine refused the request: {0}")]
    Rejected(String),
}

impl WorkflowError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

pub trait Workflow: Send + Sync {
    /// Starts the job's execution, named after the job id, so starting twice is harmless.
    fn start(
        &self,
        input: &WorkflowInput,
    ) -> impl Future<Output = Result<Started, WorkflowError>> + Send;

    /// Ends a wait successfully (`SendTaskSuccess`), e.g. an approval.
    fn succeed(
        &self,
        token: &TaskToken,
        output: &serde_json::Value,
    ) -> impl Future<Output = Result<(), WorkflowError>> + Send;

    /// Ends a wait with a named error (`SendTaskFailure`), e.g. a denied approval.
    fn fail(
        &self,
        token: &TaskToken,
        error: JobError,
        cause: &str,
    ) -> impl Future<Output = Result<(), WorkflowError>> + Send;

    /// Tells the engine the wait's worker is still alive (`SendTaskHeartbeat`), as the
    /// runner does every [`crate::job::HEARTBEAT_INTERVAL`]. [`WorkflowError::TokenExpired`]
    /// means the wait is over (cancelled, timed out, replaced): the worker should stop.
    fn heartbeat(
        &self,
        token: &TaskToken,
    ) -> impl Future<Output = Result<(), WorkflowError>> + Send;

    /// Stops the job's execution (`/cancel`); stopping a finished one is harmless.
    fn stop(
        &self,
        job: &JobId,
        cause: &str,
    ) -> impl Future<Output = Result<(), WorkflowError>> + Send;
}
