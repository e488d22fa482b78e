//! [`ControlPlane`] on one machine: the dashboard's listings from the SQLite store, a
//! job's log from its runners' log files, and its actions through the same operations
//! as `/approve`, `/cancel`, `/retry` and the `ota` commands
//! ([`shared::policy_stage::operations`]), woken on the engine's bell.

use crate::engine::LocalWorkflow;
use crate::store::Database;
use shared::clock::now_ms;
use shared::ids::InstallationId;
use shared::job::{JobId, JobRecord, JobStatus, Timeouts, Wait};
use shared::policy::InstallationPolicy;
use shared::policy_stage::operations::{self, Actor, Approved, Cancelled, Origin, Retried};
use shared::ports::{
    ActionOutcome, AttemptView, AuditEntry, AuditFilter, AuditLog, AuditPage, ControlPlane,
    DashboardActor, DeadLetterAction, DeadLetterView, InstallationStore, InstallationView,
    JobAction, JobDetail, JobFilter, JobPage, JobStore, PolicyStore, RepoScope, StoreError,
};
use std::io::{Read, Seek, SeekFrom};

/// The most of a log the job page shows: its end, the part a reader wants.
pub const LOG_TAIL_BYTES: u64 = 64 * 1024;

/// The server's owner, signed in to the dashboard, in jobs and the audit log:
/// `local:dashboard`.
pub const OPERATOR_NAME: &str = "dashboard";

/// The dashboard's view of the local store and engine.
#[derive(Clone)]
pub struct LocalControlPlane {
    db: Database,
    workflow: LocalWorkflow,
}

impl LocalControlPlane {
    pub fn new(db: Database, workflow: LocalWorkflow) -> Self {
        Self { db, workflow }
    }
}

/// The last [`LOG_TAIL_BYTES`] of the file at `path`, by line; a missing file has none.
fn log_tail(path: &str) -> Vec<String> {
    let Ok(mut file) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let length = file.metadata().map(|meta| meta.len()).unwrap_or(0);
    let start = length.saturating_sub(LOG_TAIL_BYTES);
    if file.seek(SeekFrom::Start(start)).is_err() {
        return Vec::new();
    }
    let mut bytes = Vec::new();
    if file.take(LOG_TAIL_BYTES).read_to_end(&mut bytes).is_err() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    // A tail cut in the middle of a line starts with the rest of it.
    if start > 0 && !lines.is_empty() {
        lines.remove(0);
    }
    lines
}

fn failed(err: operations::OperationError) -> StoreError {
    match err {
        operations::OperationError::Store(err) => err,
        other => StoreError::Unavailable(other.to_string()),
    }
}

impl ControlPlane for LocalControlPlane {
    async fn jobs(
        &self,
        filter: &JobFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<JobPage, StoreError> {
        self.db.job_page(filter, after, limit).await
    }

    async fn audit(
        &self,
        filter: &AuditFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<AuditPage, StoreError> {
        self.db.audit_page(filter, after, limit).await
    }

    async fn installations(&self) -> Result<Vec<InstallationView>, StoreError> {
        let mut views = Vec::new();
        for record in self.db.all_installations().await? {
            let repos = self.db.repositories(record.id).await?;
            views.push(InstallationView { record, repos });
        }
        Ok(views)
    }

    async fn installation_policies(
        &self,
        id: InstallationId,
    ) -> Result<Vec<InstallationPolicy>, StoreError> {
        self.db.policies(id).await
    }

    async fn set_policies(
        &self,
        id: InstallationId,
        policies: Vec<InstallationPolicy>,
        actor: &DashboardActor,
    ) -> Result<(), StoreError> {
        self.db.replace_policies(id, &policies).await?;
        let names: Vec<&str> = policies.iter().map(|policy| policy.name.as_str()).collect();
        let at_ms = now_ms();
        self.db
            .append(&AuditEntry {
                installation: id,
                repo: None,
                at_ms,
                delivery: format!("dashboard-{at_ms}"),
                actor: match actor {
                    DashboardActor::User(login) => login.clone(),
                    DashboardActor::Operator => Actor::operator(OPERATOR_NAME).name().to_owned(),
                },
                command: "dashboard policy set".to_owned(),
                decision: "accepted".to_owned(),
                reason: if names.is_empty() {
                    "no policies: the defaults apply".to_owned()
                } else {
                    format!(
                        "{} polic{}: {}",
                        names.len(),
                        if names.len() == 1 { "y" } else { "ies" },
                        names.join(", ")
                    )
                },
                policy: None,
                job: None,
            })
            .await
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetterView>, StoreError> {
        Ok(self
            .db
            .dead_deliveries(limit)
            .await?
            .into_iter()
            .map(|dead| DeadLetterView {
                id: dead.delivery.as_str().to_owned(),
                kind: dead
                    .event
                    .unwrap_or_else(|| "an unreadable delivery".to_owned()),
                received_at_ms: dead.received_at_ms,
                attempts: dead.attempts,
                error: dead.error,
            })
            .collect())
    }

    async fn dead_letter_act(
        &self,
        id: &str,
        action: DeadLetterAction,
    ) -> Result<bool, StoreError> {
        match action {
            DeadLetterAction::Retry => self.db.redeliver_dead(id, now_ms()).await,
            DeadLetterAction::Discard => self.db.discard_dead(id).await,
        }
    }

    async fn job_detail(&self, id: &JobId) -> Result<Option<JobDetail>, StoreError> {
        let Some(job) = self.db.job(id).await? else {
            return Ok(None);
        };
        let runners = self.db.runner_attempts(id).await?;
        let audit = self.db.audit_for_job(id).await?;
        let approvable = job.status == JobStatus::AwaitingApproval
            && self.db.task_token(id, Wait::Approval).await?.is_some();
        let mut log = Vec::new();
        for runner in &runners {
            let path = runner.log.clone();
            let lines = tokio::task::spawn_blocking(move || log_tail(&path))
                .await
                .unwrap_or_default();
            if runners.len() > 1 && !lines.is_empty() {
                log.push(format!("── attempt {} ──", runner.attempt));
            }
            log.extend(lines);
        }
        Ok(Some(JobDetail {
            job,
            attempts: runners
                .into_iter()
                .map(|runner| AttemptView {
                    attempt: runner.attempt,
                    exit_code: runner.exit_code,
                })
                .collect(),
            audit,
            log,
            approvable,
        }))
    }

    async fn act(
        &self,
        job: JobRecord,
        action: JobAction,
        actor: &DashboardActor,
    ) -> Result<ActionOutcome, StoreError> {
        let origin = Origin {
            actor: match actor {
                DashboardActor::User(login) => Actor::Web(login.clone()),
                DashboardActor::Operator => Actor::operator(OPERATOR_NAME),
            },
            command: format!("dashboard {}", action.as_str()),
            delivery: None,
            scope: RepoScope {
                installation: job.installation,
                repo: job.repo.clone(),
            },
            clock: now_ms,
        };
        let db = &self.db;
        let workflow = &self.workflow;
        Ok(match action {
            JobAction::Approve => {
                match operations::approve(db, workflow, job, &origin)
                    .await
                    .map_err(failed)?
                {
                    Approved::Approved(_) => ActionOutcome::Done("Approved; it runs next.".into()),
                    Approved::NotWaiting(job) => ActionOutcome::NotPossible(format!(
                        "The job is {}, not waiting for an approval.",
                        job.status
                    )),
                    Approved::NotReady(_) => ActionOutcome::NotPossible(
                        "The job has not reached its approval wait yet; try again in a moment."
                            .into(),
                    ),
                    Approved::Raced(job) => ActionOutcome::NotPossible(format!(
                        "The job changed meanwhile; it is {} now.",
                        job.status
                    )),
                    Approved::WindowOver(_) => ActionOutcome::NotPossible(
                        "The approval wait is over (expired or cancelled).".into(),
                    ),
                }
            }
            JobAction::Cancel => {
                match operations::cancel(db, workflow, job, &origin)
                    .await
                    .map_err(failed)?
                {
                    Cancelled::Stopped(_) => ActionOutcome::Done(
                        "Cancelling: its runner is stopped and the cancellation reported.".into(),
                    ),
                    Cancelled::AlreadyFinished(job) => {
                        ActionOutcome::NotPossible(format!("The job is already {}.", job.status))
                    }
                }
            }
            JobAction::Retry => {
                let timeouts = db
                    .execution_timeouts(&job.id)
                    .await?
                    .unwrap_or(Timeouts::DEFAULT);
                match operations::retry(db, workflow, &job, &origin, timeouts)
                    .await
                    .map_err(failed)?
                {
                    Retried::Started(new) => ActionOutcome::Retried(new.id),
                    Retried::NotRetryable(old) => ActionOutcome::NotPossible(format!(
                        "The job is {}; only a failed, cancelled, expired or dead-lettered job can be retried.",
                        old.status
                    )),
                }
            }
        })
    }
}
