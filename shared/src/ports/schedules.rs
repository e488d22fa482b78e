//! The schedule registry port: the repositories whose `.ollama-turbo.yml` on the default
//! branch has a schedule, with when each fires next, so that a tick reads only the
//! schedules that are due and never looks at every repository. It is written when a push
//! changes the config on the default branch and on installation events, and read by the
//! tick (`shared::schedule`). DynamoDB on AWS, SQLite on one machine.

use super::StoreError;
use crate::envelope::Repository;
use crate::ids::{InstallationId, RepoId};
use serde::{Deserialize, Serialize};
use std::future::Future;

/// One repository's schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleEntry {
    pub installation: InstallationId,
    /// The repository, with its default branch, whose head the tasks start on.
    pub repository: Repository,
    /// The five-field cron as the config writes it.
    pub cron: String,
    /// The IANA time zone the cron is read in (`UTC` when the config names none).
    pub timezone: String,
    /// The tasks to start, in this order.
    pub tasks: Vec<String>,
    /// When the schedule fires next (Unix milliseconds); `None`: never again.
    pub next_fire_ms: Option<u64>,
    /// The fire time it last fired for.
    pub last_fired_ms: Option<u64>,
    pub updated_at_ms: u64,
}

/// Where schedules are kept.
pub trait ScheduleRegistry: Send + Sync {
    /// Registers the repository's schedule, replacing the one it had.
    fn put_schedule(
        &self,
        entry: &ScheduleEntry,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The repository's schedule, if it has one.
    fn schedule(
        &self,
        repo: RepoId,
    ) -> impl Future<Output = Result<Option<ScheduleEntry>, StoreError>> + Send;

    /// Removes the repository's schedule; `true` if it had one.
    fn remove_schedule(
        &self,
        repo: RepoId,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Removes every schedule of an installation (it was deleted); how many there were.
    fn remove_installation_schedules(
        &self,
        installation: InstallationId,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The schedules whose next fire time is at or before `now_ms`, earliest first, at
    /// most `limit`.
    fn due_schedules(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<ScheduleEntry>, StoreError>> + Send;

    /// Records that the schedule last fired for `fired_ms` and fires next at `next_ms`,
    /// only if its next fire time is still `expected_ms`: `false` when another tick took
    /// this fire time first, or the schedule changed or went.
    fn claim_fire(
        &self,
        repo: RepoId,
        expected_ms: u64,
        fired_ms: Option<u64>,
        next_ms: Option<u64>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The issue the App reports a repository's scheduled read-only runs on, once it
    /// opened one. Kept apart from the schedule: it outlives it.
    fn tracking_issue(
        &self,
        repo: RepoId,
    ) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send;

    fn put_tracking_issue(
        &self,
        repo: RepoId,
        number: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
