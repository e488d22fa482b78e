//! The local engine: the job workflow of `statemachine/job.asl.json`, walked in process
//! over SQLite. Same states, same waits with task tokens, the same dispatch and report
//! stages from `shared`, and the same rules after an error ([`shared::job::after_error`]):
//! approval wait with its timeout, retries of the named transient errors with exponential
//! backoff and full jitter, the catch-all to the dead letters, and stopping (`/cancel`).
//!
//! Every step is a conditional move of the execution's row, and every stage it calls is
//! safe to repeat, so a server killed at any moment picks up where the rows say: a step
//! that was under way runs again. A runner process cannot outlive its server (see
//! [`crate::launcher`]); its run wait then fails like a lost heartbeat, and is retried.

mod execution;
mod workflow;

pub use execution::{ErrorValue, Step};
pub use workflow::{Answer, LocalWorkflow};

use crate::launcher::RunnerRecords;
use crate::store::Database;
use execution::{Execution, Move, StepData};
use shared::dispatch::{DispatchMessage, Dispatcher};
use shared::github::GitHub;
use shared::job::{AfterError, JobError, RetryPolicy, STATES_TIMEOUT, Wait, after_error};
use shared::launcher::TaskLauncher;
use shared::report::{ExecutionEnded, ExecutionStatus, Incoming, Reporter, WorkflowReport};
use shared::store::StoreError;
use shared::workflow::Workflow as _;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;
use tracing::Instrument;

/// Unix milliseconds now.
pub fn clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

/// How often the engine looks at its rows without being woken: answers and heartbeats
/// from runner processes and `ota` commands arrive through the database.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Tries of a report step before its job is dead-lettered (GitHub down for longer than
/// the backoffs add up to, about seven minutes).
const REPORT_TRIES: u32 = 10;

/// Backoff of a failed report step: 1 s, 2 s, 4 s, … at most a minute.
fn report_backoff(tries: u32) -> Duration {
    Duration::from_secs(1u64 << tries.min(6)).min(Duration::from_secs(60))
}

/// The error a dead-lettered report records.
const REPORT_FAILED: &str = "Report.Failed";

pub struct Engine<G, L> {
    pub db: Database,
    pub reporter: Reporter<G, Database, L>,
    pub dispatcher: Dispatcher<Database, LocalWorkflow, L>,
    pub runners: RunnerRecords,
    pub retry: RetryPolicy,
    /// Runners that may run at once: the GPU's slots (and the hosted service's).
    pub slots: usize,
    pub wake: Arc<Notify>,
    /// Executions being advanced right now, so one is never advanced twice at once.
    busy: Mutex<HashSet<String>>,
}

impl<G, L> Engine<G, L>
where
    G: GitHub + 'static,
    L: TaskLauncher + 'static,
{
    pub fn new(
        db: Database,
        reporter: Reporter<G, Database, L>,
        dispatcher: Dispatcher<Database, LocalWorkflow, L>,
        runners: RunnerRecords,
        slots: usize,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            db,
            reporter,
            dispatcher,
            runners,
            retry: RetryPolicy::DEFAULT,
            slots,
            wake,
            busy: Mutex::new(HashSet::new()),
        }
    }

    /// Walks the executions until the process ends.
    pub async fn run(self: Arc<Self>) {
        loop {
            if let Err(err) = self.round().await {
                tracing::error!(error = %err, "the engine could not read its executions; trying again");
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(POLL_INTERVAL) => {}
            }
        }
    }

    /// One look at every unfinished execution: starts work on those that have some.
    pub async fn round(self: &Arc<Self>) -> Result<(), StoreError> {
        let executions = self.db.call(|conn| execution::unfinished(conn)).await?;
        let now = clock_ms();
        let mut free_slots = self.slots.saturating_sub(
            executions
                .iter()
                .filter(|execution| execution.step == Step::Dispatch)
                .count(),
        );
        for execution in executions {
            if !self.has_work(&execution, now) {
                continue;
            }
            if execution.step == Step::Queued && execution.stop_cause.is_none() {
                // Slots are counted here, in one place, so they are never over-committed.
                if free_slots == 0 {
                    continue;
                }
                free_slots -= 1;
            }
            let key = execution.job.as_str().to_owned();
            let fresh = self
                .busy
                .lock()
                .is_ok_and(|mut busy| busy.insert(key.clone()));
            if !fresh {
                continue;
            }
            let engine = Arc::clone(self);
            let span = tracing::info_span!("execution", job = %execution.job, step = execution.step.name());
            tokio::spawn(
                async move {
                    if let Err(err) = engine.advance(execution).await {
                        tracing::warn!(error = %err, "step failed; trying again");
                    }
                    if let Ok(mut busy) = engine.busy.lock() {
                        busy.remove(&key);
                    }
                    engine.wake.notify_one();
                }
                .instrument(span),
            );
        }
        Ok(())
    }

    fn has_work(&self, execution: &Execution, now: u64) -> bool {
        if execution.stop_cause.is_some() {
            return true;
        }
        match execution.step {
            // Waits are looked at every round: answers arrive from other processes.
            Step::AwaitApproval | Step::Dispatch => true,
            Step::Done => false,
            _ => execution.due_at_ms <= now,
        }
    }

    async fn advance(&self, execution: Execution) -> Result<(), StoreError> {
        if let Some(cause) = execution.stop_cause.clone() {
            return self.abort(execution, cause).await;
        }
        match execution.step {
            Step::Start => self.start(execution).await,
            Step::AwaitApproval => self.await_approval(execution).await,
            Step::ReportRunning => {
                let report = Incoming::Workflow(WorkflowReport::Running {
                    job: execution.job.clone(),
                });
                self.report(execution, report, Step::Queued).await
            }
            Step::Queued => self.dispatch_attempt(execution).await,
            Step::Dispatch => self.await_run(execution).await,
            Step::Backoff => {
                self.go(
                    &execution,
                    Step::Queued,
                    StepData::default(),
                    execution.retries,
                    0,
                )
                .await
            }
            Step::ReportSucceeded => {
                let Some(output) = execution.data.output.clone() else {
                    return self
                        .dead_letter_from(
                            &execution,
                            ErrorValue::new(
                                "States.Runtime",
                                Some("the run's output is missing".to_owned()),
                            ),
                        )
                        .await;
                };
                let run = match serde_json::from_value(output) {
                    Ok(run) => run,
                    Err(err) => {
                        let cause = format!("the runner's output is not a run output: {err}");
                        return self
                            .dead_letter_from(
                                &execution,
                                ErrorValue::new("States.Runtime", Some(cause)),
                            )
                            .await;
                    }
                };
                let report = Incoming::Workflow(WorkflowReport::Succeeded {
                    job: execution.job.clone(),
                    run,
                });
                self.report(execution, report, Step::Done).await
            }
            Step::ReportEnded => {
                let error = execution
                    .data
                    .error
                    .clone()
                    .unwrap_or_else(|| ErrorValue::new(JobError::RunnerFailed.name(), None));
                let report = Incoming::Workflow(WorkflowReport::Ended {
                    job: execution.job.clone(),
                    error: error.to_step_error(),
                });
                self.report(execution, report, Step::Done).await
            }
            Step::DeadLetter => self.dead_letter(execution).await,
            Step::Done => Ok(()),
        }
    }

    /// Moves the execution on, unless someone else moved it first.
    async fn go(
        &self,
        execution: &Execution,
        to: Step,
        data: StepData,
        retries: u32,
        delay_ms: u64,
    ) -> Result<(), StoreError> {
        let job = execution.job.clone();
        let from = execution.step;
        let now = clock_ms();
        let moved = self
            .db
            .call(move |conn| {
                let next = Move {
                    to,
                    data,
                    retries,
                    due_at_ms: now + delay_ms,
                };
                execution::move_step(conn, &job, from, &next, now)
            })
            .await?;
        if moved {
            tracing::info!(to = to.name(), "execution moved");
        }
        Ok(())
    }

    /// `NeedsApproval`: opens the approval wait and hands its token to the report stage,
    /// which keeps it for `/approve`, or goes straight on.
    async fn start(&self, execution: Execution) -> Result<(), StoreError> {
        if !execution.input.approval_required {
            return self
                .go(&execution, Step::ReportRunning, StepData::default(), 0, 0)
                .await;
        }
        let job = execution.job.clone();
        let timeout = execution.input.timeouts.approval;
        let now = clock_ms();
        let token = self
            .db
            .call(move |conn| {
                // A start repeated after a crash finds the wait it opened.
                if let Some(wait) = execution::open_wait(conn, &job, Wait::Approval)? {
                    return Ok(wait.token);
                }
                execution::open_new_wait(
                    conn,
                    &job,
                    Wait::Approval,
                    now + millis(timeout),
                    false,
                    now,
                )
            })
            .await?;
        let incoming = Incoming::ApprovalWait {
            job: execution.job.clone(),
            token,
        };
        if let Err(err) = self.reporter.handle(incoming).await {
            return Err(StoreError::Unavailable(format!(
                "keeping the approval token: {err}"
            )));
        }
        self.go(&execution, Step::AwaitApproval, StepData::default(), 0, 0)
            .await
    }

    async fn await_approval(&self, execution: Execution) -> Result<(), StoreError> {
        let job = execution.job.clone();
        let Some(wait) = self
            .db
            .call(move |conn| execution::open_wait(conn, &job, Wait::Approval))
            .await?
        else {
            // Lost its wait (closed, and the move after it did not happen): start over.
            return self
                .go(&execution, Step::Start, StepData::default(), 0, 0)
                .await;
        };
        let now = clock_ms();
        if !wait.answered && now < wait.timeout_at_ms {
            return Ok(());
        }
        let answer = self.close(&wait).await?;
        let (error, cause) = match answer {
            Some(Answer::Output(_)) => {
                return self
                    .go(&execution, Step::ReportRunning, StepData::default(), 0, 0)
                    .await;
            }
            Some(Answer::Error { error, cause }) => (error, cause),
            None => (STATES_TIMEOUT.to_owned(), None),
        };
        self.after(&execution, Wait::Approval, &error, cause).await
    }

    /// From `Queued`: opens the run's wait and hands the attempt to the dispatch stage.
    async fn dispatch_attempt(&self, execution: Execution) -> Result<(), StoreError> {
        let job = execution.job.clone();
        let timeout = execution.input.timeouts.max_runtime;
        let now = clock_ms();
        let retries = execution.retries;
        let moved = self
            .db
            .call(move |conn| {
                let transaction = conn.transaction().map_err(crate::store::sql_error)?;
                let moved = execution::move_step(
                    &transaction,
                    &job,
                    Step::Queued,
                    &Move {
                        to: Step::Dispatch,
                        data: StepData::default(),
                        retries,
                        due_at_ms: now,
                    },
                    now,
                )?;
                if moved {
                    execution::open_new_wait(
                        &transaction,
                        &job,
                        Wait::Run,
                        now + millis(timeout),
                        true,
                        now,
                    )?;
                }
                transaction.commit().map_err(crate::store::sql_error)?;
                Ok(moved)
            })
            .await?;
        if !moved {
            return Ok(());
        }
        tracing::info!(attempt = retries + 1, "dispatching");
        let execution = Execution {
            step: Step::Dispatch,
            ..execution
        };
        self.await_run(execution).await
    }

    /// `Dispatch`: starts the runner once, then watches its wait: the answer, the
    /// runtime limit, the heartbeat, and whether its process is still there.
    async fn await_run(&self, execution: Execution) -> Result<(), StoreError> {
        let job = execution.job.clone();
        let Some(wait) = self
            .db
            .call(move |conn| execution::open_wait(conn, &job, Wait::Run))
            .await?
        else {
            // The wait was closed but the step not moved (a crash between the two).
            return self
                .go(
                    &execution,
                    Step::Queued,
                    StepData::default(),
                    execution.retries,
                    0,
                )
                .await;
        };
        if !execution.data.dispatched && !wait.answered {
            self.hand_to_dispatch(&execution, &wait).await?;
            return Ok(());
        }
        let now = clock_ms();
        let timeouts = execution.input.timeouts;
        let ended = if wait.answered {
            None
        } else if now >= wait.timeout_at_ms {
            Some((STATES_TIMEOUT.to_owned(), None))
        } else if now >= wait.heartbeat_at_ms + millis(timeouts.heartbeat) {
            let cause = "the runner sent no heartbeat in time".to_owned();
            Some((JobError::HeartbeatTimeout.name().to_owned(), Some(cause)))
        } else if let Some(exit) = self
            .runners
            .exited_without_answer(&execution.job, execution.retries + 1)
            .await?
        {
            Some((JobError::HeartbeatTimeout.name().to_owned(), Some(exit)))
        } else {
            return Ok(());
        };
        // An answer that arrives while the wait is being given up on still counts.
        match (self.close(&wait).await?, ended) {
            (Some(Answer::Output(output)), _) => {
                let data = StepData {
                    output: Some(output),
                    ..StepData::default()
                };
                self.go(
                    &execution,
                    Step::ReportSucceeded,
                    data,
                    execution.retries,
                    0,
                )
                .await
            }
            (Some(Answer::Error { error, cause }), _) => {
                self.after(&execution, Wait::Run, &error, cause).await
            }
            (None, Some((error, cause))) => {
                tracing::warn!(error = %error, cause = cause.as_deref(), "the run's wait ended without an answer");
                let reason = format!("its wait ended with {error}");
                if let Err(err) = self
                    .dispatcher
                    .launcher
                    .stop_job(&execution.job, &reason)
                    .await
                {
                    tracing::warn!(error = %err, "could not stop the job's runner");
                }
                self.after(&execution, Wait::Run, &error, cause).await
            }
            // Someone else closed it; the next round sees where the execution went.
            (None, None) => Ok(()),
        }
    }

    async fn hand_to_dispatch(
        &self,
        execution: &Execution,
        wait: &execution::OpenWait,
    ) -> Result<(), StoreError> {
        let message = DispatchMessage {
            job: execution.job.clone(),
            token: wait.token.clone(),
            attempt: execution.retries + 1,
            timeouts: execution.input.timeouts,
        };
        match self.dispatcher.handle(&message).await {
            Ok(dispatched) => {
                tracing::info!(outcome = ?dispatched, "dispatched");
            }
            Err(err) if err.is_transient() => {
                // The heartbeat timeout bounds how long this may go on, as on AWS.
                return Err(StoreError::Unavailable(format!("dispatching: {err}")));
            }
            Err(err) => {
                let cause = format!("the runner could not be dispatched: {err}");
                tracing::error!(cause, "dispatch failed");
                let failed = self
                    .dispatcher
                    .workflow
                    .fail(&wait.token, JobError::RunnerFailed, &cause)
                    .await;
                if let Err(err) = failed {
                    tracing::warn!(error = %err, "could not fail the attempt");
                }
            }
        }
        let data = StepData {
            dispatched: true,
            ..StepData::default()
        };
        let job = execution.job.clone();
        let retries = execution.retries;
        let now = clock_ms();
        self.db
            .call(move |conn| {
                execution::move_step(
                    conn,
                    &job,
                    Step::Dispatch,
                    &Move {
                        to: Step::Dispatch,
                        data,
                        retries,
                        due_at_ms: now,
                    },
                    now,
                )
            })
            .await?;
        Ok(())
    }

    async fn close(&self, wait: &execution::OpenWait) -> Result<Option<Answer>, StoreError> {
        let token = wait.token.clone();
        self.db
            .call(move |conn| execution::close_wait(conn, &token))
            .await
    }

    /// The `Retry` and `Catch` of the wait that ended in `error`.
    async fn after(
        &self,
        execution: &Execution,
        wait: Wait,
        error: &str,
        cause: Option<String>,
    ) -> Result<(), StoreError> {
        let next = after_error(
            wait,
            error,
            cause.as_deref(),
            execution.retries,
            &self.retry,
            fastrand::f64(),
        );
        match next {
            AfterError::Retry { delay } => {
                tracing::info!(
                    error,
                    delay_ms = millis(delay),
                    "retrying after a transient error"
                );
                self.go(
                    execution,
                    Step::Backoff,
                    StepData::default(),
                    execution.retries + 1,
                    millis(delay),
                )
                .await
            }
            AfterError::Report { error, cause } => {
                let data = StepData {
                    error: Some(ErrorValue::new(error, cause)),
                    ..StepData::default()
                };
                self.go(execution, Step::ReportEnded, data, execution.retries, 0)
                    .await
            }
            AfterError::DeadLetter => {
                self.dead_letter_from(execution, ErrorValue::new(error, cause))
                    .await
            }
        }
    }

    async fn dead_letter_from(
        &self,
        execution: &Execution,
        error: ErrorValue,
    ) -> Result<(), StoreError> {
        let data = StepData {
            error: Some(error),
            ..StepData::default()
        };
        self.go(execution, Step::DeadLetter, data, execution.retries, 0)
            .await
    }

    /// `DeadLetter` then `ReportDeadLettered`.
    async fn dead_letter(&self, execution: Execution) -> Result<(), StoreError> {
        let error = execution
            .data
            .error
            .clone()
            .unwrap_or_else(|| ErrorValue::new("States.Runtime", None));
        let job = execution.job.clone();
        let kept = error.clone();
        let now = clock_ms();
        self.db
            .call(move |conn| execution::record_dead_letter(conn, &job, &kept, now))
            .await?;
        tracing::warn!(error = %error.error, cause = error.cause.as_deref(), "job dead-lettered");
        let report = Incoming::Workflow(WorkflowReport::DeadLettered {
            job: execution.job.clone(),
            error: error.to_step_error(),
        });
        self.report(execution, report, Step::Done).await
    }

    /// A report step: on success the execution moves to `next`; a failure is tried
    /// again with a backoff, and one that lasts (or cannot work) dead-letters the job.
    async fn report(
        &self,
        execution: Execution,
        report: Incoming,
        next: Step,
    ) -> Result<(), StoreError> {
        let failure = match self.reporter.handle(report).await {
            Ok(()) => {
                return self
                    .go(&execution, next, StepData::default(), execution.retries, 0)
                    .await;
            }
            Err(err) => err,
        };
        let tries = execution.data.tries + 1;
        let last_try = !failure.is_transient() || tries >= REPORT_TRIES;
        if !last_try {
            tracing::warn!(error = %failure, tries, "report failed; trying again later");
            let data = StepData {
                tries,
                ..execution.data.clone()
            };
            return self
                .go(
                    &execution,
                    execution.step,
                    data,
                    execution.retries,
                    millis(report_backoff(tries)),
                )
                .await;
        }
        tracing::error!(error = %failure, tries, "report failed for good");
        if execution.step == Step::DeadLetter {
            // Nothing is left to tell it with; the job stays in the dead letters.
            return self
                .go(
                    &execution,
                    Step::Done,
                    StepData::default(),
                    execution.retries,
                    0,
                )
                .await;
        }
        self.dead_letter_from(
            &execution,
            ErrorValue::new(REPORT_FAILED, Some(failure.to_string())),
        )
        .await
    }

    /// A stopped execution (`/cancel`, `ota cancel`, an approval a push voided): its waits
    /// are closed and the report stage hears of it as Step Functions' "aborted" event,
    /// which stops the runner and finishes the job.
    async fn abort(&self, execution: Execution, cause: String) -> Result<(), StoreError> {
        let job = execution.job.clone();
        self.db
            .call(move |conn| execution::close_all_waits(conn, &job))
            .await?;
        let event = Incoming::Execution(ExecutionEnded {
            job: execution.job.clone(),
            status: ExecutionStatus::Aborted,
            error: Some(JobError::JobCancelled.name().to_owned()),
            cause: Some(cause),
        });
        if let Err(err) = self.reporter.handle(event).await {
            if err.is_transient() {
                return Err(StoreError::Unavailable(format!(
                    "reporting the stop: {err}"
                )));
            }
            tracing::error!(error = %err, "could not report the stopped job");
        }
        let job = execution.job.clone();
        let now = clock_ms();
        self.db
            .call(move |conn| {
                conn.execute(
                    "UPDATE executions SET step = 'done', updated_at_ms = ?1 WHERE job = ?2",
                    rusqlite::params![now, job.as_str()],
                )
                .map_err(crate::store::sql_error)
            })
            .await?;
        tracing::info!("execution stopped");
        Ok(())
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
