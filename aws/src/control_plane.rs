//! [`ControlPlane`] on AWS, for the dashboard function: the listings from the DynamoDB
//! table's by-time index ([`DynamoStore::job_page`], ...), a job's log from its runner's
//! CloudWatch Logs stream ([`RunnerLogReader`]), its actions through the same operations
//! as `/approve`, `/cancel`, `/retry` and `ota --stack` on the table and the Step
//! Functions state machine ([`shared::policy_stage::dashboard`]), and the dead letters
//! of the stack's dead-letter queues, handled as `ota dlq` does: a job's dead letter is
//! retried as a new job and then deleted, an event queue's is sent back by SQS's redrive
//! of its queue.

use crate::{
    DeadLetter, DeadLetterError, DeadLetterQueue, DynamoStore, RunnerLogReader,
    StepFunctionsWorkflow, dead_letter_job, dead_letter_summary,
};
use shared::clock::now_ms;
use shared::ids::InstallationId;
use shared::job::{JobId, JobRecord, JobStatus, Wait};
use shared::policy::InstallationPolicy;
use shared::policy_stage::dashboard;
use shared::ports::{
    ActionOutcome, AttemptView, AuditFilter, AuditPage, ControlPlane, DashboardActor,
    DeadLetterAction, DeadLetterView, InstallationStore, InstallationView, JobAction, JobDetail,
    JobFilter, JobPage, JobStore, PolicyStore, StoreError, TokenLedger, TokensUsed,
};

/// How long a dead letter being handled stays hidden from other receivers: time for a
/// retry's few calls; one left behind shows again after it.
const HANDLING_VISIBILITY_SECONDS: i32 = 60;

/// The separator of a dead letter's id: `<queue>:<SQS message id>`.
const ID_SEPARATOR: char = ':';

/// One dead-letter queue of the stack, by the name `ota dlq` gives it.
#[derive(Clone)]
pub struct DeadLetterSource {
    /// `intake`, `approvals`, `dispatch`, `report` or `jobs`.
    pub name: String,
    pub queue: DeadLetterQueue,
    /// Whether its messages are jobs the workflow set aside (retried as jobs) rather than
    /// events (sent back to their queue).
    pub holds_jobs: bool,
}

/// The dashboard's view of a deployed stack.
#[derive(Clone)]
pub struct DynamoControlPlane {
    store: DynamoStore,
    workflow: StepFunctionsWorkflow,
    logs: RunnerLogReader,
    dead_letters: Vec<DeadLetterSource>,
}

impl DynamoControlPlane {
    pub fn new(
        store: DynamoStore,
        workflow: StepFunctionsWorkflow,
        logs: RunnerLogReader,
        dead_letters: Vec<DeadLetterSource>,
    ) -> Self {
        Self {
            store,
            workflow,
            logs,
            dead_letters,
        }
    }

    fn source(&self, name: &str) -> Option<&DeadLetterSource> {
        self.dead_letters.iter().find(|source| source.name == name)
    }

    /// Retries the job `letter` holds for `actor` and deletes the letter; a job that cannot
    /// be retried leaves it in the queue and is a conflict naming its status.
    async fn retry_dead_job(
        &self,
        source: &DeadLetterSource,
        letter: &DeadLetter,
        actor: &DashboardActor,
    ) -> Result<(), StoreError> {
        let job = match dead_letter_job(&letter.body) {
            Some(id) => self.store.job(&id).await?,
            None => None,
        };
        let Some(job) = job else {
            source.queue.release(letter).await.map_err(queue_error)?;
            return Err(StoreError::Corrupt(format!(
                "the dead letter names no job the table holds ({})",
                dead_letter_summary(&letter.body)
            )));
        };
        let outcome = self.act(job.clone(), JobAction::Retry, actor).await?;
        match outcome {
            ActionOutcome::Retried(_) | ActionOutcome::Done(_) => {
                source.queue.delete(letter).await.map_err(queue_error)
            }
            ActionOutcome::NotPossible(_) => {
                source.queue.release(letter).await.map_err(queue_error)?;
                Err(StoreError::Conflict {
                    current: Some(job.status),
                })
            }
        }
    }
}

fn queue_error(err: DeadLetterError) -> StoreError {
    StoreError::Unavailable(err.to_string())
}

/// The dashboard's view of one dead letter of `source`.
fn view(source: &DeadLetterSource, letter: DeadLetter) -> DeadLetterView {
    DeadLetterView {
        id: format!("{}{ID_SEPARATOR}{}", source.name, letter.message_id),
        kind: format!("{}: {}", source.name, dead_letter_summary(&letter.body)),
        received_at_ms: letter.sent_at_ms.unwrap_or(0),
        attempts: letter.receive_count,
        error: None,
    }
}

impl ControlPlane for DynamoControlPlane {
    async fn jobs(
        &self,
        filter: &JobFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<JobPage, StoreError> {
        self.store.job_page(filter, after, limit).await
    }

    async fn job_detail(&self, id: &JobId) -> Result<Option<JobDetail>, StoreError> {
        let Some(job) = self.store.job(id).await? else {
            return Ok(None);
        };
        let audit = self.store.audit_for_job(&job).await?;
        let approvable = job.status == JobStatus::AwaitingApproval
            && self.store.task_token(id, Wait::Approval).await?.is_some();
        let log = match self.logs.tail(&job).await {
            Ok(lines) => lines,
            // The page still shows the job; the log's place says why it is empty.
            Err(err) => {
                tracing::warn!(job = %id, error = %err, "could not read the job's log");
                vec![format!("(the log could not be read: {err})")]
            }
        };
        Ok(Some(JobDetail {
            // Step Functions keeps no runner exit codes: the attempts are the dispatches.
            attempts: (1..=job.attempts)
                .map(|attempt| AttemptView {
                    attempt,
                    exit_code: None,
                })
                .collect(),
            job,
            audit,
            log,
            approvable,
        }))
    }

    async fn audit(
        &self,
        filter: &AuditFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<AuditPage, StoreError> {
        self.store.audit_page(filter, after, limit).await
    }

    async fn installations(&self) -> Result<Vec<InstallationView>, StoreError> {
        let mut views = Vec::new();
        for record in self.store.all_installations().await? {
            let repos = self.store.repositories(record.id).await?;
            views.push(InstallationView { record, repos });
        }
        Ok(views)
    }

    async fn installation_policies(
        &self,
        id: InstallationId,
    ) -> Result<Vec<InstallationPolicy>, StoreError> {
        let mut policies = self.store.policies(id).await?;
        policies.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(policies)
    }

    async fn set_policies(
        &self,
        id: InstallationId,
        policies: Vec<InstallationPolicy>,
        actor: &DashboardActor,
    ) -> Result<(), StoreError> {
        self.store.replace_policies(id, &policies).await?;
        dashboard::record_policies_set(&self.store, id, &policies, actor, now_ms()).await
    }

    async fn tokens_used(&self, id: InstallationId) -> Result<TokensUsed, StoreError> {
        self.store.tokens_used(id, now_ms()).await
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetterView>, StoreError> {
        let mut views = Vec::new();
        for source in &self.dead_letters {
            let letters = source.queue.peek(limit).await.map_err(queue_error)?;
            views.extend(letters.into_iter().map(|letter| view(source, letter)));
        }
        views.sort_by_key(|view| std::cmp::Reverse(view.received_at_ms));
        views.truncate(limit);
        Ok(views)
    }

    async fn dead_letter_act(
        &self,
        id: &str,
        action: DeadLetterAction,
        actor: &DashboardActor,
    ) -> Result<bool, StoreError> {
        let Some((name, message_id)) = id.split_once(ID_SEPARATOR) else {
            return Ok(false);
        };
        let Some(source) = self.source(name) else {
            return Ok(false);
        };
        let Some(letter) = source
            .queue
            .take(message_id, HANDLING_VISIBILITY_SECONDS)
            .await
            .map_err(queue_error)?
        else {
            return Ok(false);
        };
        match action {
            DeadLetterAction::Discard => source.queue.delete(&letter).await.map_err(queue_error)?,
            DeadLetterAction::Retry if source.holds_jobs => {
                self.retry_dead_job(source, &letter, actor).await?;
            }
            DeadLetterAction::Retry => {
                // SQS redrives a whole queue, not one message: every event waiting there
                // goes back to the queue it came from, as `ota dlq redrive` does.
                source.queue.release(&letter).await.map_err(queue_error)?;
                let (_, arn) = source.queue.depth().await.map_err(queue_error)?;
                source
                    .queue
                    .start_redrive(&arn)
                    .await
                    .map_err(queue_error)?;
            }
        }
        Ok(true)
    }

    async fn act(
        &self,
        job: JobRecord,
        action: JobAction,
        actor: &DashboardActor,
    ) -> Result<ActionOutcome, StoreError> {
        let id = job.id.clone();
        let timeouts = async move {
            self.workflow
                .retry_timeouts(&id)
                .await
                .map_err(|err| StoreError::Unavailable(err.to_string()))
        };
        dashboard::act(
            &self.store,
            &self.workflow,
            job,
            action,
            actor,
            now_ms,
            timeouts,
        )
        .await
    }
}
