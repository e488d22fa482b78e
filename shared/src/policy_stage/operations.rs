//! What a person can do to a job from a comment (`/approve`, `/cancel`, `/retry`) or from
//! the `ota` command line (`ota approve`, `ota cancel`, `ota retry`), each written once
//! over the ports and returning what came of it. The callers check who may act first
//! (GitHub permissions for a comment; the local operator is trusted) and only render the
//! outcome: as comments on GitHub, or as lines in a terminal.

use crate::excerpt::excerpt;
use crate::ids::{DeliveryId, DeliveryIdError};
use crate::job::{Approval, JobId, JobRecord, JobRequest, JobStatus, Timeouts, Wait};
use crate::metrics::{self, Metric};
use crate::ports::RepoScope;
use crate::ports::{AuditEntry, AuditLog, JobStore, StoreError};
use crate::ports::{Workflow, WorkflowError, WorkflowInput};

/// What the local operator's name starts with, in jobs and the audit log, so it can never
/// be taken for a GitHub login (which cannot hold a `:`).
pub const OPERATOR_PREFIX: &str = "local:";

/// The operator's retry has no delivery; its job is named after a made-up one: this, the
/// retried job's id and the time.
pub const RETRY_DELIVERY_PREFIX: &str = "ota-retry-";

/// How often a write that races with the workflow is tried again before giving up: the
/// workflow moves a job through a handful of statuses at most while a person acts on it.
pub const CONFLICT_ATTEMPTS: usize = 3;

/// Who acts on a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A GitHub user, by login, through a comment: answered in the comment's thread.
    User(String),
    /// The person at the machine that runs `ota`, as `local:<user>`: trusted, and
    /// answered in the terminal; the workflow's report tells GitHub.
    Operator(String),
    /// A GitHub user, by login, through the web dashboard (after its permission check):
    /// answered on the page; the workflow's report tells GitHub, as for the operator.
    Web(String),
}

impl Actor {
    /// The local operator called `user` by the operating system.
    pub fn operator(user: &str) -> Self {
        Self::Operator(format!("{OPERATOR_PREFIX}{user}"))
    }

    /// The name jobs and the audit log record: the login, or `local:<user>`.
    pub fn name(&self) -> &str {
        match self {
            Self::User(login) | Self::Operator(login) | Self::Web(login) => login,
        }
    }

    /// The audit entry's reason for `decision`. A comment's entry names its delivery and
    /// its line, so the decision says enough; the operator's has neither, so its reason
    /// says who acted.
    fn reason(&self, decision: &str) -> String {
        match self {
            Self::User(_) => decision.to_owned(),
            Self::Operator(name) => format!("{decision} by {name}"),
            Self::Web(login) => format!("{decision} by @{login} on the dashboard"),
        }
    }
}

/// Who acts, and where the audit log files it.
#[derive(Debug, Clone)]
pub struct Origin {
    pub actor: Actor,
    /// The command as given, for the audit log: the comment's line, or `ota approve`.
    pub command: String,
    /// The delivery that carried the comment; none from the command line.
    pub delivery: Option<DeliveryId>,
    /// The installation and repository the audit entry is filed under.
    pub scope: RepoScope,
    /// Unix milliseconds now; a function so that tests can set it.
    pub clock: fn() -> u64,
}

impl Origin {
    /// The audit entry for `decision` on `job`.
    pub fn entry(&self, decision: &str, reason: String, job: Option<JobId>) -> AuditEntry {
        AuditEntry {
            installation: self.scope.installation,
            repo: Some(self.scope.repo.clone()),
            at_ms: (self.clock)(),
            delivery: self
                .delivery
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            actor: self.actor.name().to_owned(),
            command: self.command.clone(),
            decision: decision.to_owned(),
            reason,
            policy: None,
            job,
        }
    }
}

/// Why an operation could not be carried out (yet). Transient store and workflow errors
/// are worth trying again.
#[derive(Debug, thiserror::Error)]
pub enum OperationError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Workflow(#[from] WorkflowError),
    /// The job kept changing under the write; trying again later will work.
    #[error("{0}")]
    KeptChanging(String),
    #[error("cannot name the retry: {0}")]
    RetryName(#[from] DeliveryIdError),
}

/// What came of [`approve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approved {
    /// Approved: the job runs next.
    Approved(JobRecord),
    /// The job is not waiting for an approval.
    NotWaiting(JobRecord),
    /// The job's workflow has not reached its approval wait yet.
    NotReady(JobRecord),
    /// Someone moved the job first (it expired, was cancelled, or another approval won):
    /// the job as it is now.
    Raced(JobRecord),
    /// The approval wait ended before the approval reached it.
    WindowOver(JobRecord),
}

/// Lets a job that waits for an approval start: records who approved it, ends the
/// workflow's approval wait and writes the audit entry.
pub async fn approve<S: JobStore + AuditLog, W: Workflow>(
    store: &S,
    workflow: &W,
    mut job: JobRecord,
    origin: &Origin,
) -> Result<Approved, OperationError> {
    if job.status != JobStatus::AwaitingApproval {
        return Ok(Approved::NotWaiting(job));
    }
    let Some(token) = store.task_token(&job.id, Wait::Approval).await? else {
        return Ok(Approved::NotReady(job));
    };
    let name = origin.actor.name();
    job.approval.approved_by = Some(name.to_owned());
    job.approval.approved_at_ms = Some((origin.clock)());
    match store.update_job(&job, JobStatus::AwaitingApproval).await {
        Ok(()) => {}
        Err(StoreError::Conflict { .. }) => {
            let current = store.job(&job.id).await?.unwrap_or(job);
            return Ok(Approved::Raced(current));
        }
        Err(err) => return Err(err.into()),
    }
    match workflow
        .succeed(&token, &serde_json::json!({ "approved_by": name }))
        .await
    {
        Ok(()) => {}
        Err(WorkflowError::TokenExpired) => return Ok(Approved::WindowOver(job)),
        Err(err) => return Err(err.into()),
    }
    let decision = "approved";
    record_entry(store, origin, decision, origin.actor.reason(decision), &job).await?;
    Ok(Approved::Approved(job))
}

/// What came of [`cancel`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancelled {
    /// The workflow is stopped; the job as it is now.
    Stopped(JobRecord),
    /// The job had finished already.
    AlreadyFinished(JobRecord),
}

/// Stops a job that has not finished and writes the audit entry. A user's job is marked
/// cancelled at once, since the comment's handler tells GitHub; the operator's is left to
/// the workflow's report, which finishes and announces it when it hears of the stop.
pub async fn cancel<S: JobStore + AuditLog, W: Workflow>(
    store: &S,
    workflow: &W,
    job: JobRecord,
    origin: &Origin,
) -> Result<Cancelled, OperationError> {
    if job.status.is_terminal() {
        return Ok(Cancelled::AlreadyFinished(job));
    }
    let cause = match &origin.actor {
        Actor::User(login) => format!("cancelled by @{login}"),
        Actor::Operator(name) => format!("cancelled with `{}` by {name}", origin.command),
        Actor::Web(login) => format!("cancelled by @{login} on the dashboard"),
    };
    workflow.stop(&job.id, &cause).await?;
    let job = match origin.actor {
        Actor::User(_) => finish(store, job, JobStatus::Cancelled, origin.clock).await?,
        Actor::Operator(_) | Actor::Web(_) => job,
    };
    let decision = "cancelled";
    record_entry(store, origin, decision, origin.actor.reason(decision), &job).await?;
    Ok(Cancelled::Stopped(job))
}

/// What came of [`retry`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retried {
    /// The new job, started.
    Started(JobRecord),
    /// The job is not one that can run again ([`JobStatus::is_retryable`]).
    NotRetryable(JobRecord),
}

/// Runs a finished job again as a new job on the same commit for the same requester,
/// approved by whoever asked, with `timeouts`; writes the audit entry.
///
/// This is the trusted retry of the local operator. A retry asked for in a comment is a
/// new request for the old job's task by the commenter, on the thread's code as it is
/// now: it goes through the same decision as any request (policies, rate limits,
/// approvals), so the comment's handler checks [`JobStatus::is_retryable`] and then asks
/// for the job like any other.
pub async fn retry<S: JobStore + AuditLog, W: Workflow>(
    store: &S,
    workflow: &W,
    old: &JobRecord,
    origin: &Origin,
    timeouts: Timeouts,
) -> Result<Retried, OperationError> {
    if !old.status.is_retryable() {
        return Ok(Retried::NotRetryable(old.clone()));
    }
    let now = (origin.clock)();
    let delivery = DeliveryId::parse(&format!("{RETRY_DELIVERY_PREFIX}{}-{now}", old.id))?;
    let id = JobId::for_command(&delivery, 0);
    let mut record = JobRecord::new(
        JobRequest {
            id: id.clone(),
            delivery,
            installation: old.installation,
            repo: old.repo.clone(),
            commit: old.commit.clone(),
            git_ref: old.git_ref.clone(),
            trigger: old.trigger.clone(),
            task: old.task.clone(),
            params: old.params.clone(),
            requester: old.requester.clone(),
            // Whoever asked for it is trusted: that is the approval.
            approval: Approval::not_required(),
        },
        now,
    );
    // Read with the same organisation defaults and limits as the job it repeats: the
    // runner cannot read them itself.
    record.config_layers = old.config_layers.clone();
    store.create_job(&record).await?;
    workflow
        .start(&WorkflowInput {
            job: id,
            approval_required: false,
            timeouts,
        })
        .await?;
    let reason = format!("retry of {} by {}", old.id, origin.actor.name());
    record_entry(store, origin, "accepted", reason, &record).await?;
    Ok(Retried::Started(record))
}

/// Writes the audit entry for `decision` on `job`.
async fn record_entry<A: AuditLog>(
    log: &A,
    origin: &Origin,
    decision: &str,
    reason: String,
    job: &JobRecord,
) -> Result<(), StoreError> {
    record(log, &origin.entry(decision, reason, Some(job.id.clone()))).await
}

/// Moves the job to the terminal status `to`, unless it got to one first; returns it as
/// it is then.
pub async fn finish<S: JobStore>(
    store: &S,
    job: JobRecord,
    to: JobStatus,
    clock: fn() -> u64,
) -> Result<JobRecord, OperationError> {
    let id = job.id.clone();
    let finished = update_racing(store, job, |job| {
        if job.status.is_terminal() {
            return Ok(None);
        }
        let mut moved = job.clone();
        moved
            .move_to(to, clock())
            .map_err(|err| StoreError::Corrupt(err.to_string()))?;
        Ok(Some(moved))
    })
    .await?;
    finished.ok_or_else(|| OperationError::KeptChanging(format!("job {id} kept changing")))
}

/// Stores `change` applied to `job`, if the stored job is still in the status `job` has;
/// when someone moved it meanwhile, reads it again and applies `change` anew, up to
/// [`CONFLICT_ATTEMPTS`] times (`None` then). `change` returns `None` when the job needs
/// no write: the job is returned as it is.
pub async fn update_racing<S: JobStore>(
    store: &S,
    mut job: JobRecord,
    change: impl Fn(&JobRecord) -> Result<Option<JobRecord>, StoreError>,
) -> Result<Option<JobRecord>, StoreError> {
    for _ in 0..CONFLICT_ATTEMPTS {
        let Some(changed) = change(&job)? else {
            return Ok(Some(job));
        };
        match store.update_job(&changed, job.status).await {
            Ok(()) => return Ok(Some(changed)),
            Err(StoreError::Conflict { .. }) => {
                job = store
                    .job(&job.id)
                    .await?
                    .ok_or_else(|| StoreError::Corrupt(format!("job {} vanished", job.id)))?;
            }
            Err(err) => return Err(err),
        }
    }
    Ok(None)
}

/// Appends `entry` to the audit log, logs it for the operator (its command and reason as
/// excerpts: they may quote what a user wrote) and counts its decision
/// ([`Metric::Decision`]).
pub async fn record<A: AuditLog>(log: &A, entry: &AuditEntry) -> Result<(), StoreError> {
    tracing::info!(
        installation = entry.installation.0,
        repo = entry.repo.as_ref().map(|repo| repo.as_str()),
        delivery = %entry.delivery,
        actor = %entry.actor,
        command = %excerpt(&entry.command),
        decision = %entry.decision,
        reason = %excerpt(&entry.reason),
        policy = entry.policy.as_deref(),
        job = entry.job.as_ref().map(|job| job.as_str()),
        "policy decision"
    );
    log.append(entry).await?;
    metrics::record(&Metric::Decision {
        decision: &entry.decision,
    });
    Ok(())
}
