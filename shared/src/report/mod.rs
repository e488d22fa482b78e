//! The report stage: what users see of a job once the policy stage accepted it. It keeps
//! the approval wait's token for `/approve`, moves the check run from queued to in
//! progress to completed, posts the summary comment, sets the `automation:*` labels,
//! finishes the job in the store (through the lifecycle's conditional moves), adds the
//! tokens it used to its installation's counters of the day and month (once per job,
//! keyed on its id, so a redelivered end counts nothing twice), takes it
//! out of the line for a runner slot and stops any runner left behind (whose exit frees
//! the slot).
//!
//! Whoever moves a job to its final status reports it: a job `/cancel` already finished
//! (the policy stage commented) only gets its labels fixed and its runner stopped when
//! [`Incoming::Stopped`] arrives. A workflow report that finds its job already in the
//! status it would set is a redelivery, and reports again (labels and the check run are
//! idempotent, and the comment comes last).

pub mod incoming;
pub mod text;

pub use incoming::{Incoming, StepError, WorkflowReport};

use crate::dispatch::RunOutput;
use crate::dispatch::capacity;
use crate::job::{ErrorReport, JobError, JobId, JobRecord, JobResult, JobStatus, Trigger, Wait};
use crate::metrics::{self, Metric};
use crate::ports::SlotStore;
use crate::ports::{CheckRunUpdate, CheckStatus, GitHub, GitHubError, RepoScope};
use crate::ports::{JobStore, StoreError, TokenLedger};
use crate::ports::{LaunchError, TaskLauncher};
use text::LabelChange;

/// How often a move that races with another writer of the job is tried again.
const CONFLICT_ATTEMPTS: usize = 3;

/// Every record the stage reads and writes.
pub trait Store: JobStore + SlotStore + TokenLedger {}
impl<T: JobStore + SlotStore + TokenLedger> Store for T {}

pub struct Reporter<G, S, L> {
    pub github: G,
    pub store: S,
    pub launcher: L,
    /// Unix milliseconds now.
    pub clock: fn() -> u64,
}

/// Why a message could not be processed (yet). The caller retries transient errors; the
/// others end in the queue's dead-letter queue.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Launch(#[from] LaunchError),
    #[error("job {0} has no record")]
    MissingJob(JobId),
}

impl ReportError {
    pub fn is_transient(&self) -> bool {
        match self {
            Self::GitHub(err) => err.is_transient(),
            Self::Store(err) => err.is_transient(),
            Self::Launch(err) => err.is_transient(),
            Self::MissingJob(_) => false,
        }
    }
}

/// How a job ended, as a report or an event tells it.
enum Outcome {
    Succeeded(RunOutput),
    Ended(StepError),
    DeadLettered(StepError),
}

impl Outcome {
    fn status(&self) -> JobStatus {
        match self {
            Self::Succeeded(_) => JobStatus::Succeeded,
            Self::Ended(error) => crate::job::status_after_error(&error.name),
            Self::DeadLettered(_) => JobStatus::DeadLettered,
        }
    }
}

/// Who says the job ended: the workflow's own report (authoritative: a repeat is a
/// redelivery) or the news of a stopped or broken execution.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Workflow,
    Execution,
}

impl<G: GitHub, S: Store, L: TaskLauncher> Reporter<G, S, L> {
    pub async fn handle(&self, incoming: Incoming) -> Result<(), ReportError> {
        match incoming {
            Incoming::ApprovalWait { job, token } => {
                // The policy stage asked for the approval already; `/approve` reads this.
                Ok(self
                    .store
                    .put_task_token(&job, Wait::Approval, &token)
                    .await?)
            }
            Incoming::Workflow(WorkflowReport::Running { job }) => self.running(&job).await,
            Incoming::Queued { job, reason } => self.queued(&job, &reason).await,
            Incoming::Workflow(WorkflowReport::Succeeded { job, run }) => {
                self.finish(&job, Outcome::Succeeded(run), Source::Workflow)
                    .await
            }
            Incoming::Workflow(WorkflowReport::Ended { job, error }) => {
                self.finish(&job, Outcome::Ended(error), Source::Workflow)
                    .await
            }
            Incoming::Workflow(WorkflowReport::DeadLettered { job, error }) => {
                self.finish(&job, Outcome::DeadLettered(error), Source::Workflow)
                    .await
            }
            Incoming::Stopped { job, cause } => {
                let error = StepError {
                    name: JobError::JobCancelled.name().to_owned(),
                    cause,
                };
                self.finish(&job, Outcome::Ended(error), Source::Execution)
                    .await
            }
            Incoming::Broke { job, error, cause } => {
                let error = StepError {
                    name: error.unwrap_or_else(|| "States.Runtime".to_owned()),
                    cause,
                };
                self.finish(&job, Outcome::DeadLettered(error), Source::Execution)
                    .await
            }
        }
    }

    async fn job(&self, id: &JobId) -> Result<JobRecord, ReportError> {
        self.store
            .job(id)
            .await?
            .ok_or_else(|| ReportError::MissingJob(id.clone()))
    }

    /// The check run goes to in progress and the thread gets `automation:pending`.
    async fn running(&self, id: &JobId) -> Result<(), ReportError> {
        let job = self.job(id).await?;
        if job.status.is_terminal() {
            return Ok(());
        }
        let scope = scope_of(&job);
        self.relabel(&scope, &job, text::labels_while_running())
            .await?;
        if let Some(check_run_id) = job.check_run_id {
            let update = CheckRunUpdate {
                status: Some(CheckStatus::InProgress),
                output: Some(text::running_output(&job)),
                ..CheckRunUpdate::default()
            };
            self.github
                .update_check_run(&scope, check_run_id, &update)
                .await?;
        }
        Ok(())
    }

    /// The check run goes back to queued, saying why the job waits.
    async fn queued(&self, id: &JobId, reason: &str) -> Result<(), ReportError> {
        let job = self.job(id).await?;
        if job.status.is_terminal() {
            return Ok(());
        }
        if let Some(check_run_id) = job.check_run_id {
            let update = CheckRunUpdate {
                status: Some(CheckStatus::Queued),
                output: Some(text::queued_output(&job, reason)),
                ..CheckRunUpdate::default()
            };
            self.github
                .update_check_run(&scope_of(&job), check_run_id, &update)
                .await?;
        }
        Ok(())
    }

    async fn finish(
        &self,
        id: &JobId,
        outcome: Outcome,
        source: Source,
    ) -> Result<(), ReportError> {
        let target = outcome.status();
        let (job, ours) = self.settle(id, &outcome, source).await?;
        // Whichever message handles the end, every time: the ledger counts a job once.
        self.count_tokens(&job).await?;
        // A finished job leaves the line. Its slot is freed when its runner exits (the
        // launcher's news of it); only a job left with no runner frees it here.
        capacity::withdraw(&self.store, &job.id).await?;
        if job.status != JobStatus::Succeeded {
            let reason = format!("job {} ended {}", job.id, job.status);
            let stopped = self.launcher.stop_job(&job.id, &reason).await?;
            if stopped > 0 {
                tracing::info!(job = %job.id, stopped, "stopped the job's runners");
            } else {
                capacity::release(&self.store, &job.id, u32::MAX).await?;
            }
        }
        let scope = scope_of(&job);
        self.relabel(&scope, &job, text::labels_when_finished(job.status))
            .await?;
        if !ours {
            tracing::info!(job = %job.id, status = %job.status, wanted = %target, "job already finished; not reporting again");
            return Ok(());
        }
        let run = match &outcome {
            Outcome::Succeeded(run) => Some(run),
            _ => None,
        };
        if let Some(check_run_id) = job.check_run_id {
            let update = CheckRunUpdate {
                status: Some(CheckStatus::Completed),
                conclusion: Some(text::check_conclusion(&job)),
                output: Some(text::finished_output(&job, run)),
                details_url: None,
            };
            self.github
                .update_check_run(&scope, check_run_id, &update)
                .await?;
        }
        if let Some(number) = job.trigger.number() {
            let body = text::finished_comment(&job, run);
            if let Trigger::PullRequest { .. } = job.trigger {
                // A task the pull request's own events start (a review on every push)
                // keeps one comment up to date rather than adding one per push.
                let marker = format!("pr:{number}:{}:finished", job.task);
                self.github
                    .upsert_comment(&scope, number, &marker, &body)
                    .await?;
            } else {
                let marker = format!("job:{}:finished", job.id);
                self.github.comment(&scope, number, &marker, &body).await?;
            }
        }
        Ok(())
    }

    /// Moves the job to the outcome's status. `true` when this message is the one to
    /// report it: it made the move, or it is the workflow's report found repeated.
    async fn settle(
        &self,
        id: &JobId,
        outcome: &Outcome,
        source: Source,
    ) -> Result<(JobRecord, bool), ReportError> {
        let target = outcome.status();
        for _ in 0..CONFLICT_ATTEMPTS {
            let job = self.job(id).await?;
            if job.status.is_terminal() {
                let ours = source == Source::Workflow && job.status == target;
                return Ok((job, ours));
            }
            let expected = job.status;
            let moved = finished(job, outcome, (self.clock)())
                .map_err(|err| StoreError::Corrupt(err.to_string()))?;
            match self.store.update_job(&moved, expected).await {
                Ok(()) => {
                    count_finished(&moved);
                    return Ok((moved, true));
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(err) => return Err(err.into()),
            }
        }
        Err(StoreError::Unavailable(format!("job {id} kept changing")).into())
    }

    /// Adds the tokens the job used to its installation's counters of the UTC day and
    /// month it ended in. Keyed on the job's id: a repeat (a redelivered report, or this
    /// message tried again after a later step failed) adds nothing.
    async fn count_tokens(&self, job: &JobRecord) -> Result<(), ReportError> {
        let Some(tokens) = job.result.as_ref().and_then(|result| result.tokens) else {
            return Ok(());
        };
        let total = tokens.prompt.saturating_add(tokens.completion);
        if total == 0 {
            return Ok(());
        }
        let at_ms = job.completed_at_ms.unwrap_or_else(|| (self.clock)());
        let counted = self
            .store
            .add_tokens(job.installation, &job.id, total, at_ms)
            .await?;
        if counted {
            tracing::info!(job = %job.id, installation = %job.installation, tokens = total, "counted the job's tokens");
        }
        Ok(())
    }

    async fn relabel(
        &self,
        scope: &RepoScope,
        job: &JobRecord,
        change: LabelChange,
    ) -> Result<(), ReportError> {
        // The tracking issue is shared by every scheduled run: no one job's labels.
        let Some(number) = job.trigger.number() else {
            return Ok(());
        };
        if matches!(job.trigger, crate::job::Trigger::Tracking { .. }) {
            return Ok(());
        }
        for label in change.remove {
            self.github.remove_label(scope, number, label).await?;
        }
        self.github.add_labels(scope, number, change.add).await?;
        Ok(())
    }
}

/// The job's end, counted once: by the report that moved it to its final status.
fn count_finished(job: &JobRecord) {
    let end = job.completed_at_ms.unwrap_or_else(crate::clock::now_ms);
    metrics::record(&Metric::JobFinished {
        task: &job.task,
        outcome: job.status.as_str(),
        seconds: end.saturating_sub(job.created_at_ms) as f64 / 1000.0,
    });
}

/// `job` moved to the outcome's status, with its result. A success reported while the job
/// is still `dispatching` (its runner answered before marking itself running) passes
/// through `running`, as the lifecycle requires.
fn finished(
    mut job: JobRecord,
    outcome: &Outcome,
    now_ms: u64,
) -> Result<JobRecord, crate::job::TransitionError> {
    match outcome {
        Outcome::Succeeded(run) => {
            if job.status != JobStatus::Running {
                job.move_to(JobStatus::Running, now_ms)?;
            }
            job.move_to(JobStatus::Succeeded, now_ms)?;
            job.result = Some(JobResult {
                summary: Some(run.summary.clone()),
                pull_request_url: run.pull_request_url.clone(),
                branch: run.branch.clone(),
                tokens: Some(run.tokens),
                error: None,
            });
        }
        Outcome::Ended(error) => {
            let message = cause_or_description(error);
            job.finish_with_error(&error.name, message, now_ms)?;
        }
        Outcome::DeadLettered(error) => {
            job.move_to(JobStatus::DeadLettered, now_ms)?;
            job.result.get_or_insert_with(JobResult::default).error = Some(ErrorReport {
                name: error.name.clone(),
                message: cause_or_description(error),
            });
        }
    }
    Ok(job)
}

/// The error's cause, or the description of a named error that came without one.
fn cause_or_description(error: &StepError) -> String {
    match error
        .cause
        .as_deref()
        .filter(|cause| !cause.trim().is_empty())
    {
        Some(cause) => cause.to_owned(),
        None => JobError::from_name(&error.name)
            .map(|known| known.description().to_owned())
            .unwrap_or_default(),
    }
}

fn scope_of(job: &JobRecord) -> RepoScope {
    RepoScope {
        installation: job.installation,
        repo: job.repo.clone(),
    }
}
