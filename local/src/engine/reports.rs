//! The steps that tell: the report stage's calls, with their retries, the dead letters,
//! and a stopped execution.

use super::Engine;
use crate::store::{ErrorValue, Execution, Step, StepData};
use shared::clock::{millis, now_ms};
use shared::job::{Caught, JOB_MACHINE, StateName};
use shared::ports::GitHub;
use shared::ports::StoreError;
use shared::ports::TaskLauncher;
use shared::report::Incoming;
use std::time::Duration;

/// Tries of a report step before its job is dead-lettered (GitHub down for longer than
/// the backoffs add up to, about seven minutes).
const REPORT_TRIES: u32 = 10;

/// Backoff of a failed report step: 1 s, 2 s, 4 s, … at most a minute.
fn report_backoff(tries: u32) -> Duration {
    Duration::from_secs(1u64 << tries.min(6)).min(Duration::from_secs(60))
}

/// The error a dead-lettered report records.
const REPORT_FAILED: &str = "Report.Failed";

impl<G, L> Engine<G, L>
where
    G: GitHub + 'static,
    L: TaskLauncher + 'static,
{
    pub(super) async fn dead_letter_from(
        &self,
        execution: &Execution,
        error: ErrorValue,
    ) -> Result<(), StoreError> {
        let data = StepData {
            error: Some(error),
            ..StepData::default()
        };
        let next = Step::entering(StateName::DeadLetter);
        self.go(execution, next, data, execution.retries, 0).await
    }

    /// `DeadLetter`: keeps the job and its error among the dead letters, then goes on to
    /// report it.
    pub(super) async fn dead_letter(&self, execution: Execution) -> Result<(), StoreError> {
        let error = execution.data.job_error();
        self.db
            .record_dead_letter(&execution.job, &error, now_ms())
            .await?;
        tracing::warn!(error = %error.error, cause = error.cause.as_deref(), "job dead-lettered");
        let data = StepData {
            error: Some(error),
            ..StepData::default()
        };
        let next = Self::next_step(&execution);
        self.go(&execution, next, data, execution.retries, 0).await
    }

    /// A report step: on success the execution moves to the state the machine names
    /// next; a failure is tried again with a backoff, and one that lasts (or cannot work)
    /// is the state's error, caught as the machine says.
    pub(super) async fn report(
        &self,
        execution: Execution,
        report: Incoming,
    ) -> Result<(), StoreError> {
        let failure = match self.reporter.handle(report).await {
            Ok(()) => {
                let next = Self::next_step(&execution);
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
        self.report_failed(&execution, failure.to_string()).await
    }

    /// The report step's error ([`REPORT_FAILED`]), where the machine's catchers send it:
    /// the dead-letter path, keeping the job's own error when the catcher says so, or —
    /// when nothing catches it, as for the dead-letter report itself — the end.
    pub(super) async fn report_failed(
        &self,
        execution: &Execution,
        cause: String,
    ) -> Result<(), StoreError> {
        let caught = match execution.step.state() {
            Some(state) => {
                JOB_MACHINE.on_error(state, REPORT_FAILED, execution.retries, &self.retry, 0.0)
            }
            None => Caught::Uncaught,
        };
        let catcher = match caught {
            Caught::Catch(catcher) => catcher,
            // A report has no retrier; nothing is left to tell it with.
            Caught::Retry { .. } | Caught::Uncaught => {
                tracing::error!(cause, "the execution ends with an uncaught error");
                return self
                    .go(
                        execution,
                        Step::Done,
                        StepData::default(),
                        execution.retries,
                        0,
                    )
                    .await;
            }
        };
        let error = if catcher.becomes_the_error {
            ErrorValue::new(REPORT_FAILED, Some(cause))
        } else {
            execution.data.job_error()
        };
        let data = StepData {
            error: Some(error),
            ..StepData::default()
        };
        self.go(
            execution,
            Step::entering(catcher.next),
            data,
            execution.retries,
            0,
        )
        .await
    }

    /// A stopped execution (`/cancel`, `ota cancel`, an approval a push voided): its waits
    /// are closed and the report stage hears that it was stopped, which stops the runner
    /// and finishes the job.
    pub(super) async fn abort(
        &self,
        execution: Execution,
        cause: String,
    ) -> Result<(), StoreError> {
        self.db.close_all_waits(&execution.job).await?;
        let event = Incoming::Stopped {
            job: execution.job.clone(),
            cause: Some(cause),
        };
        if let Err(err) = self.reporter.handle(event).await {
            if err.is_transient() {
                return Err(StoreError::Unavailable(format!(
                    "reporting the stop: {err}"
                )));
            }
            tracing::error!(error = %err, "could not report the stopped job");
        }
        self.db.finish_execution(&execution.job, now_ms()).await?;
        tracing::info!("execution stopped");
        Ok(())
    }
}
