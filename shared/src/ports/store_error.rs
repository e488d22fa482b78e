//! How a store port fails, for every store port alike: a conflict with a concurrent
//! writer, an outage worth retrying, or a record that cannot be read.

use crate::job::JobStatus;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A conditional write found the record in another state than expected: someone else
    /// moved it first. `current` is `None` when the record does not exist.
    #[error("the job changed concurrently (now {current:?})")]
    Conflict { current: Option<JobStatus> },
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A stored record could not be read back: a bug or a manual edit, never retried.
    #[error("stored record is unreadable: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}
