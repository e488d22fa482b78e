//! What the dispatch stage is asked to do: start one attempt of a job. On AWS the
//! dispatch function reads it from the `Dispatch` state's message; on one machine the
//! engine builds it from the execution's open wait.

use crate::job::{JobId, TaskToken, Timeouts};

/// One attempt to dispatch. No `Debug`-printable secret: the token is a [`TaskToken`].
#[derive(Debug, Clone)]
pub struct DispatchRequest {
    pub job: JobId,
    /// The attempt's wait: the runner answers it, or the stage fails it.
    pub token: TaskToken,
    /// 1 for the first attempt, as [`crate::job::JobRecord::attempts`] counts.
    pub attempt: u32,
    pub timeouts: Timeouts,
}
