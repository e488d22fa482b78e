//! Where the project keeps its records, as ports: jobs (with the task tokens that resume
//! them), installations, policies, the audit log and rate-limit counters. DynamoDB
//! implements them on AWS (`ota-aws`), SQLite on one machine.

use crate::ids::{InstallationId, RepoFullName};
use crate::job::{JobId, JobRecord, JobStatus, TaskToken, Wait};
use crate::policy::InstallationPolicy;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::time::Duration;

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// The job is new.
    New,
    /// A job with this id existed already (the same delivery processed again): here it is.
    Existing(Box<JobRecord>),
}

pub trait JobStore: Send + Sync {
    /// Creates the job unless one with its id exists (a conditional write).
    fn create_job(
        &self,
        job: &JobRecord,
    ) -> impl Future<Output = Result<Created, StoreError>> + Send;

    fn job(&self, id: &JobId)
    -> impl Future<Output = Result<Option<JobRecord>, StoreError>> + Send;

    /// Replaces the job if, and only if, its stored status is still `expected`.
    fn update_job(
        &self,
        job: &JobRecord,
        expected: JobStatus,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The jobs of one issue or pull request, newest first, at most `limit`.
    fn jobs_for_thread(
        &self,
        repo: &RepoFullName,
        number: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<JobRecord>, StoreError>> + Send;

    fn put_task_token(
        &self,
        job: &JobId,
        wait: Wait,
        token: &TaskToken,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn task_token(
        &self,
        job: &JobId,
        wait: Wait,
    ) -> impl Future<Output = Result<Option<TaskToken>, StoreError>> + Send;
}

/// An installation of the App, kept in step with `installation` and
/// `installation_repositories` events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallationRecord {
    pub id: InstallationId,
    pub account: String,
    /// `all` or `selected`.
    pub repository_selection: Option<String>,
    pub suspended: bool,
    pub updated_at_ms: u64,
}

pub trait InstallationStore: Send + Sync {
    fn upsert_installation(
        &self,
        installation: &InstallationRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes the installation and everything kept for it (its repositories, policies).
    fn remove_installation(
        &self,
        id: InstallationId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn installation(
        &self,
        id: InstallationId,
    ) -> impl Future<Output = Result<Option<InstallationRecord>, StoreError>> + Send;

    fn add_repositories(
        &self,
        id: InstallationId,
        repos: &[RepoFullName],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn remove_repositories(
        &self,
        id: InstallationId,
        repos: &[RepoFullName],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn repositories(
        &self,
        id: InstallationId,
    ) -> impl Future<Output = Result<Vec<RepoFullName>, StoreError>> + Send;
}

pub trait PolicyStore: Send + Sync {
    fn policies(
        &self,
        installation: InstallationId,
    ) -> impl Future<Output = Result<Vec<InstallationPolicy>, StoreError>> + Send;

    fn put_policy(
        &self,
        policy: &InstallationPolicy,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// One decision, for the append-only audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub installation: InstallationId,
    pub repo: Option<RepoFullName>,
    pub at_ms: u64,
    pub delivery: String,
    /// Login of whoever acted.
    pub actor: String,
    /// What was asked, e.g. `/ollama refactor`, `/approve j1a2b3c4`, `pr_opened`.
    pub command: String,
    /// `accepted`, `denied`, `approval_required`, `rate_limited`, `invalid`, ...
    pub decision: String,
    pub reason: String,
    /// The installation policy that decided, if one matched.
    pub policy: Option<String>,
    pub job: Option<JobId>,
}

pub trait AuditLog: Send + Sync {
    fn append(&self, entry: &AuditEntry) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The newest entries of an installation, newest first.
    fn recent(
        &self,
        installation: InstallationId,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, StoreError>> + Send;
}

/// The answer of a rate-limit counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    Allowed,
    /// Over the limit until `retry_at_ms` (the end of the current window).
    Limited {
        retry_at_ms: u64,
    },
}

/// How long a rate counter is kept after its window ends: a caller whose clock lags a
/// little still finds (and respects) the counter of the window it thinks it is in.
pub const RATE_COUNTER_SLACK: Duration = Duration::from_secs(60 * 60);

/// The fixed window of a rate limit that contains a moment, in Unix milliseconds, as
/// every [`RateLimiter`] counts in it. Windows start at multiples of their length, so
/// every caller agrees on them without coordination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateWindow {
    /// The window's length; a zero window counts as one millisecond.
    pub length_ms: u64,
    pub start_ms: u64,
    /// Its end, exclusive.
    pub end_ms: u64,
}

impl RateWindow {
    /// The window of length `window` that contains `now_ms`.
    pub fn containing(window: Duration, now_ms: u64) -> Self {
        let length_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        let start_ms = now_ms - now_ms % length_ms;
        Self {
            length_ms,
            start_ms,
            end_ms: start_ms.saturating_add(length_ms),
        }
    }

    /// The answer once the window's uses are spent: try again when it ends.
    pub fn limited(self) -> RateDecision {
        RateDecision::Limited {
            retry_at_ms: self.end_ms,
        }
    }
}

pub trait RateLimiter: Send + Sync {
    /// Counts one use of `key` in the fixed window of `window` containing `now_ms`, unless
    /// `limit` uses were already counted there. Atomic across concurrent callers.
    fn acquire(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now_ms: u64,
    ) -> impl Future<Output = Result<RateDecision, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_windows_are_aligned_to_their_length() {
        let window = |length: Duration, now_ms: u64| {
            let window = RateWindow::containing(length, now_ms);
            (window.length_ms, window.start_ms, window.end_ms)
        };
        let hour = Duration::from_secs(3_600);
        assert_eq!(window(hour, 0), (3_600_000, 0, 3_600_000));
        assert_eq!(window(hour, 3_599_999), (3_600_000, 0, 3_600_000));
        assert_eq!(window(hour, 3_600_000), (3_600_000, 3_600_000, 7_200_000));
        assert_eq!(window(Duration::ZERO, 42), (1, 42, 43));
        assert_eq!(window(Duration::MAX, 42), (u64::MAX, 0, u64::MAX));
    }
}
