//! The control plane port: what the web dashboard reads and does — a page of jobs by a
//! filter, one job with its attempts, audit entries and log lines, a page of the audit
//! log by a filter, and the actions a
//! person may take on a job (approve, cancel, retry). SQLite implements it on one machine
//! (`ota-local`), DynamoDB, Step Functions, CloudWatch Logs and SQS on AWS (`ota-aws`'s
//! `DynamoControlPlane`); both keep `e2e::control_plane_contract`. Who may see or do what
//! is the caller's decision, made before it calls.

use super::{AuditEntry, InstallationPolicy, InstallationRecord, StoreError, TokensUsed};
use crate::ids::{InstallationId, RepoFullName};
use crate::job::{JobId, JobRecord, JobStatus};
use std::future::Future;

/// Which jobs a listing shows. Every field narrows it; `repos` is the set of repositories
/// the viewer may see (`None`: all of them, for the server's owner).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    pub repos: Option<Vec<RepoFullName>>,
    pub repo: Option<RepoFullName>,
    pub task: Option<String>,
    pub status: Option<JobStatus>,
    pub requester: Option<String>,
    /// Created at or after (Unix milliseconds).
    pub since_ms: Option<u64>,
    /// Created before (Unix milliseconds).
    pub until_ms: Option<u64>,
}

impl JobFilter {
    /// Whether `job` is one the filter selects: repositories by name in any case, the
    /// requester in any case, times by creation (a store may narrow by these first).
    pub fn matches(&self, job: &JobRecord) -> bool {
        let repo = job.repo.as_str();
        self.repos.as_ref().is_none_or(|repos| {
            repos
                .iter()
                .any(|allowed| allowed.as_str().eq_ignore_ascii_case(repo))
        }) && self
            .repo
            .as_ref()
            .is_none_or(|wanted| wanted.as_str().eq_ignore_ascii_case(repo))
            && self.task.as_ref().is_none_or(|task| *task == job.task)
            && self.status.is_none_or(|status| status == job.status)
            && self
                .requester
                .as_ref()
                .is_none_or(|requester| requester.eq_ignore_ascii_case(&job.requester))
            && self.since_ms.is_none_or(|since| job.created_at_ms >= since)
            && self.until_ms.is_none_or(|until| job.created_at_ms < until)
    }
}

/// One page of a listing, newest first, and where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobPage {
    pub jobs: Vec<JobRecord>,
    /// Opaque: handed back to [`ControlPlane::jobs`] as `after` to read on; `None` on the
    /// last page.
    pub next: Option<String>,
}

/// Which audit entries a listing shows. Every field narrows it; `repos` is the set of
/// repositories the viewer may see (`None`: every entry, for the server's owner; an
/// entry about no repository, e.g. an installation event, only then).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub repos: Option<Vec<RepoFullName>>,
    pub repo: Option<RepoFullName>,
    /// Whoever acted, by login (any case).
    pub actor: Option<String>,
    /// `accepted`, `denied`, `approval_required`, ...
    pub decision: Option<String>,
    /// At or after (Unix milliseconds).
    pub since_ms: Option<u64>,
    /// Before (Unix milliseconds).
    pub until_ms: Option<u64>,
}

impl AuditFilter {
    /// Whether `entry` is one the filter selects: repositories by name in any case (an
    /// entry about no repository only when `repos` is `None`), the actor in any case.
    pub fn matches(&self, entry: &AuditEntry) -> bool {
        let repo = entry.repo.as_ref().map(RepoFullName::as_str);
        let same = |wanted: &RepoFullName| {
            repo.is_some_and(|repo| wanted.as_str().eq_ignore_ascii_case(repo))
        };
        self.repos
            .as_ref()
            .is_none_or(|repos| repos.iter().any(same))
            && self.repo.as_ref().is_none_or(same)
            && self
                .actor
                .as_ref()
                .is_none_or(|actor| actor.eq_ignore_ascii_case(&entry.actor))
            && self
                .decision
                .as_ref()
                .is_none_or(|decision| *decision == entry.decision)
            && self.since_ms.is_none_or(|since| entry.at_ms >= since)
            && self.until_ms.is_none_or(|until| entry.at_ms < until)
    }
}

/// One page of the audit log, newest first, and where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Opaque: handed back to [`ControlPlane::audit`] as `after`; `None` on the last page.
    pub next: Option<String>,
}

/// An installation as its pages show it: its record and its repositories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallationView {
    pub record: InstallationRecord,
    pub repos: Vec<RepoFullName>,
}

/// A message the App gave up on (a delivery it could not handle, on one machine; a
/// dead-letter queue's message, on AWS), as the owner's page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterView {
    /// What names it for [`ControlPlane::dead_letter_act`] (the delivery id).
    pub id: String,
    /// What it was: the webhook event, or the message's kind.
    pub kind: String,
    pub received_at_ms: u64,
    pub attempts: u32,
    /// Why it was set aside, as recorded (already cut to a readable length).
    pub error: Option<String>,
}

/// What the owner does with a dead letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadLetterAction {
    /// Handle it again, as if it had just arrived.
    Retry,
    /// Drop it: it is not handled again (a redelivery of it is still recognized).
    Discard,
}

impl DeadLetterAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Retry => "retry",
            Self::Discard => "discard",
        }
    }
}

/// One attempt of a job: a runner started for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptView {
    pub attempt: u32,
    /// Its exit status once it ended (`None` while it runs or when it was lost).
    pub exit_code: Option<i64>,
}

/// One job as its page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobDetail {
    pub job: JobRecord,
    pub attempts: Vec<AttemptView>,
    /// Its audit entries, oldest first.
    pub audit: Vec<AuditEntry>,
    /// The last lines of its log (of every attempt, oldest first).
    pub log: Vec<String>,
    /// Whether the job waits for an approval that can be given now.
    pub approvable: bool,
}

/// What a person does to a job from the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobAction {
    Approve,
    Cancel,
    Retry,
}

impl JobAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Cancel => "cancel",
            Self::Retry => "retry",
        }
    }
}

/// Who acts from the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DashboardActor {
    /// A GitHub user, by login, whose permission the dashboard checked.
    User(String),
    /// The server's owner, signed in with the operator's token.
    Operator,
}

/// What came of a [`JobAction`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionOutcome {
    /// Done; the sentence says what happens next.
    Done(String),
    /// The retry's new job.
    Retried(JobId),
    /// Not possible for the job as it is; the sentence says why.
    NotPossible(String),
}

pub trait ControlPlane: Send + Sync {
    /// A page of the jobs `filter` selects, at most `limit`, after the cursor `after`.
    fn jobs(
        &self,
        filter: &JobFilter,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<JobPage, StoreError>> + Send;

    fn job_detail(
        &self,
        id: &JobId,
    ) -> impl Future<Output = Result<Option<JobDetail>, StoreError>> + Send;

    /// A page of the audit entries `filter` selects, newest first, at most `limit`, after
    /// the cursor `after`.
    fn audit(
        &self,
        filter: &AuditFilter,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<AuditPage, StoreError>> + Send;

    /// Every installation the App has, by id.
    fn installations(
        &self,
    ) -> impl Future<Output = Result<Vec<InstallationView>, StoreError>> + Send;

    /// The installation's policies, in name order.
    fn installation_policies(
        &self,
        id: InstallationId,
    ) -> impl Future<Output = Result<Vec<InstallationPolicy>, StoreError>> + Send;

    /// Makes the installation's policies exactly `policies` (checked by the caller) and
    /// writes the audit entry naming `actor`.
    fn set_policies(
        &self,
        id: InstallationId,
        policies: Vec<InstallationPolicy>,
        actor: &DashboardActor,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The tokens the installation's jobs used in the current UTC day and month, as its
    /// token budgets count them.
    fn tokens_used(
        &self,
        id: InstallationId,
    ) -> impl Future<Output = Result<TokensUsed, StoreError>> + Send;

    /// The newest dead letters, at most `limit`.
    fn dead_letters(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<DeadLetterView>, StoreError>> + Send;

    /// Does `action` to the dead letter `id` for `actor` (the owner; named in the audit
    /// entry of a job it retries); `false` when there is no such dead letter (any more).
    fn dead_letter_act(
        &self,
        id: &str,
        action: DeadLetterAction,
        actor: &DashboardActor,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Does `action` to `job` for `actor`, writing the audit entry.
    fn act(
        &self,
        job: JobRecord,
        action: JobAction,
        actor: &DashboardActor,
    ) -> impl Future<Output = Result<ActionOutcome, StoreError>> + Send;
}
