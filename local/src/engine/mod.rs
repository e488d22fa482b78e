//! The local engine: the job workflow ([`shared::job::JOB_MACHINE`], the same definition
//! Step Functions runs as `statemachine/job.asl.json`) walked in process over SQLite. Its
//! steps are the machine's states ([`Step`]); the state that follows a success and the
//! retry or catch that follows an error are read from the machine
//! ([`Step::entering`], [`shared::job::after_error`], [`shared::job::Machine::on_error`]),
//! and every move is checked against its edges ([`Step::may_move_to`]). Same waits with
//! task tokens, the same dispatch and report stages from `shared`: approval wait with its
//! timeout, retries of the named transient errors with exponential backoff and full
//! jitter, the catch-all to the dead letters, and stopping (`/cancel`).
//!
//! Every step is a conditional move of the execution's row, and every stage it calls is
//! safe to repeat, so a server killed at any moment picks up where the rows say: a step
//! that was under way runs again. A runner process cannot outlive its server (see
//! [`crate::processes`]); its run wait then fails like a lost heartbeat, and is retried.
//! The rows and their statements are the store's ([`crate::store::executions`],
//! [`crate::store::waits`], [`RunnerRecords`]).

mod reports;
mod waits;
mod workflow;

pub use workflow::LocalWorkflow;

use crate::store::{Database, Execution, Move, RunnerRecords, Step, StepData};
use shared::clock::now_ms;
use shared::dispatch::Dispatcher;
use shared::job::{JOB_MACHINE, RetryPolicy, StateKind};
use shared::ports::GitHub;
use shared::ports::StoreError;
use shared::ports::TaskLauncher;
use shared::report::{Incoming, Reporter, WorkflowReport};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tracing::Instrument;

/// How often the engine looks at its rows without being woken: answers and heartbeats
/// from runner processes and `ota` commands arrive through the database.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

pub struct Engine<G, L> {
    pub db: Database,
    pub reporter: Reporter<G, Database, L>,
    pub dispatcher: Dispatcher<Database, LocalWorkflow, L>,
    pub runners: RunnerRecords,
    pub retry: RetryPolicy,
    pub wake: Arc<Notify>,
    /// Why each queued job last said it waits, so it is told once per reason.
    queued: Mutex<HashMap<String, String>>,
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
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            db,
            reporter,
            dispatcher,
            runners,
            retry: RetryPolicy::DEFAULT,
            wake,
            queued: Mutex::new(HashMap::new()),
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
        let executions = self.db.unfinished_executions().await?;
        let now = now_ms();
        // Oldest first, so those queued for a runner slot ask for it in the order they
        // came; the slots themselves are counted by the dispatch stage's admission.
        for execution in executions {
            if !self.has_work(&execution, now) {
                continue;
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

    /// Remembers that `job` waits for `reason` (or no longer waits); `true` when that is
    /// news.
    fn note_queued(&self, job: &shared::job::JobId, reason: Option<&str>) -> bool {
        self.queued.lock().is_ok_and(|mut queued| {
            let key = job.as_str().to_owned();
            let before = match reason {
                Some(reason) => queued.insert(key, reason.to_owned()),
                None => queued.remove(&key),
            };
            before.as_deref() != reason
        })
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
            Step::NeedsApproval => self.needs_approval(execution).await,
            Step::AwaitApproval => self.await_approval(execution).await,
            Step::ReportRunning => {
                let report = Incoming::Workflow(WorkflowReport::Running {
                    job: execution.job.clone(),
                });
                self.report(execution, report).await
            }
            Step::DispatchQueued => self.dispatch_attempt(execution).await,
            Step::Dispatch => self.await_run(execution).await,
            Step::ReportSucceeded => {
                let run = execution
                    .data
                    .output
                    .clone()
                    .ok_or_else(|| "the run's output is missing".to_owned())
                    .and_then(|output| {
                        serde_json::from_value(output).map_err(|err| {
                            format!("the runner's output is not a run output: {err}")
                        })
                    });
                let run = match run {
                    Ok(run) => run,
                    // The report stage could never read it: the report's failure.
                    Err(cause) => return self.report_failed(&execution, cause).await,
                };
                let report = Incoming::Workflow(WorkflowReport::Succeeded {
                    job: execution.job.clone(),
                    run,
                });
                self.report(execution, report).await
            }
            Step::ReportEnded => {
                let report = Incoming::Workflow(WorkflowReport::Ended {
                    job: execution.job.clone(),
                    error: execution.data.job_error().to_step_error(),
                });
                self.report(execution, report).await
            }
            Step::DeadLetter => self.dead_letter(execution).await,
            Step::ReportDeadLettered => {
                let report = Incoming::Workflow(WorkflowReport::DeadLettered {
                    job: execution.job.clone(),
                    error: execution.data.job_error().to_step_error(),
                });
                self.report(execution, report).await
            }
            Step::Done => Ok(()),
        }
    }

    /// The step that follows a success of the execution's current state.
    fn next_step(execution: &Execution) -> Step {
        let next = execution
            .step
            .state()
            .and_then(|state| JOB_MACHINE.state(state))
            .and_then(|state| match state.kind {
                StateKind::Wait { next, .. }
                | StateKind::Report { next, .. }
                | StateKind::DeadLetter { next } => Some(next),
                _ => None,
            });
        next.map_or(Step::Done, Step::entering)
    }

    /// Moves the execution on, unless someone else moved it first.
    pub(super) async fn go(
        &self,
        execution: &Execution,
        to: Step,
        data: StepData,
        retries: u32,
        delay_ms: u64,
    ) -> Result<(), StoreError> {
        if !execution.step.may_move_to(to) {
            tracing::error!(
                from = execution.step.name(),
                to = to.name(),
                "the workflow has no such move"
            );
            return Err(StoreError::Corrupt(format!(
                "execution {}: the workflow has no move from {} to {}",
                execution.job,
                execution.step.name(),
                to.name()
            )));
        }
        let now = now_ms();
        let next = Move {
            to,
            data,
            retries,
            due_at_ms: now + delay_ms,
        };
        let moved = self
            .db
            .move_execution(&execution.job, execution.step, next, now)
            .await?;
        if moved {
            tracing::info!(to = to.name(), "execution moved");
        }
        Ok(())
    }
}
