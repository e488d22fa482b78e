//! The steps that wait: the approval, and the run (dispatch, heartbeat, runtime, the
//! runner's process), and where an error that ends a wait leads.

use super::Engine;
use crate::store::{Answer, ErrorValue, Execution, Move, OpenWait, Step, StepData};
use shared::clock::{millis, now_ms};
use shared::dispatch::{Admission, DispatchRequest};
use shared::job::{
    AfterError, JOB_MACHINE, JobError, STATES_TIMEOUT, StateKind, StateName, Wait, after_error,
};
use shared::ports::GitHub;
use shared::ports::StoreError;
use shared::ports::TaskLauncher;
use shared::ports::Workflow as _;
use shared::report::Incoming;

impl<G, L> Engine<G, L>
where
    G: GitHub + 'static,
    L: TaskLauncher + 'static,
{
    /// `NeedsApproval`: the machine's choice. When the job needs approval, opens the
    /// approval wait and hands its token to the report stage, which keeps it for
    /// `/approve`; else goes straight on.
    pub(super) async fn needs_approval(&self, execution: Execution) -> Result<(), StoreError> {
        let Some(StateKind::ApprovalChoice {
            required,
            otherwise,
        }) = JOB_MACHINE
            .state(StateName::NeedsApproval)
            .map(|state| state.kind)
        else {
            return Err(StoreError::Corrupt(
                "the workflow's NeedsApproval is not a choice".to_owned(),
            ));
        };
        if !execution.input.approval_required {
            return self
                .go(
                    &execution,
                    Step::entering(otherwise),
                    StepData::default(),
                    0,
                    0,
                )
                .await;
        }
        let timeout = execution.input.timeouts.approval;
        let now = now_ms();
        // A start repeated after a crash finds the wait it opened.
        let token = self
            .db
            .approval_wait(&execution.job, now + millis(timeout), now)
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
        self.go(
            &execution,
            Step::entering(required),
            StepData::default(),
            0,
            0,
        )
        .await
    }

    pub(super) async fn await_approval(&self, execution: Execution) -> Result<(), StoreError> {
        let Some(wait) = self.db.open_wait(&execution.job, Wait::Approval).await? else {
            // Lost its wait (closed, and the move after it did not happen): open it again.
            return self
                .go(&execution, Step::NeedsApproval, StepData::default(), 0, 0)
                .await;
        };
        let now = now_ms();
        if !wait.answered && now < wait.timeout_at_ms {
            return Ok(());
        }
        let answer = self.close(&wait).await?;
        let (error, cause) = match answer {
            Some(Answer::Output(_)) => {
                let next = Self::next_step(&execution);
                return self.go(&execution, next, StepData::default(), 0, 0).await;
            }
            Some(Answer::Error { error, cause }) => (error, cause),
            None => (STATES_TIMEOUT.to_owned(), None),
        };
        self.after(&execution, Wait::Approval, &error, cause).await
    }

    /// From `Dispatch:queued`: once the attempt has a runner slot, opens the run's wait
    /// and hands the attempt to the dispatch stage. Without one it stays queued, in line,
    /// until a runner exits (which wakes the engine).
    pub(super) async fn dispatch_attempt(&self, execution: Execution) -> Result<(), StoreError> {
        let timeouts = execution.input.timeouts;
        let retries = execution.retries;
        // A slot first: time in line never counts against the runtime. A job that is gone
        // or finished goes on, for the dispatch stage to end its wait.
        let admission = self
            .dispatcher
            .admit(&execution.job, retries + 1, &timeouts)
            .await
            .map_err(|err| StoreError::Unavailable(format!("asking for a runner slot: {err}")))?;
        if let Some(Admission::Full(reason)) = admission {
            if self.note_queued(&execution.job, Some(&reason)) {
                tracing::info!(reason, "waiting for a runner slot");
                let news = Incoming::Queued {
                    job: execution.job.clone(),
                    reason,
                };
                if let Err(err) = self.reporter.handle(news).await {
                    tracing::warn!(error = %err, "could not say the job is queued");
                }
            }
            return Ok(());
        }
        self.note_queued(&execution.job, None);
        let timeout = timeouts.max_runtime;
        let now = now_ms();
        let moved = self
            .db
            .dispatch_execution(&execution.job, retries, now + millis(timeout), now)
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
    pub(super) async fn await_run(&self, execution: Execution) -> Result<(), StoreError> {
        let Some(wait) = self.db.open_wait(&execution.job, Wait::Run).await? else {
            // The wait was closed but the step not moved (a crash between the two).
            return self
                .go(
                    &execution,
                    Step::DispatchQueued,
                    StepData::default(),
                    execution.retries,
                    0,
                )
                .await;
        };
        let now = now_ms();
        let timeouts = execution.input.timeouts;
        // The limits hold from the wait's opening, even while the dispatch itself keeps
        // failing, as the heartbeat timeout bounds a redelivered dispatch on AWS.
        let ended = if wait.answered {
            None
        } else if now >= wait.timeout_at_ms {
            Some((STATES_TIMEOUT.to_owned(), None))
        } else if now >= wait.heartbeat_at_ms + millis(timeouts.heartbeat) {
            let cause = "the runner sent no heartbeat in time".to_owned();
            Some((JobError::HeartbeatTimeout.name().to_owned(), Some(cause)))
        } else if !execution.data.dispatched {
            self.hand_to_dispatch(&execution, &wait).await?;
            return Ok(());
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
                let next = Self::next_step(&execution);
                self.go(&execution, next, data, execution.retries, 0).await
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

    pub(super) async fn hand_to_dispatch(
        &self,
        execution: &Execution,
        wait: &OpenWait,
    ) -> Result<(), StoreError> {
        let message = DispatchRequest {
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
        let now = now_ms();
        let next = Move {
            to: Step::Dispatch,
            data,
            retries: execution.retries,
            due_at_ms: now,
        };
        self.db
            .move_execution(&execution.job, Step::Dispatch, next, now)
            .await?;
        Ok(())
    }

    pub(super) async fn close(&self, wait: &OpenWait) -> Result<Option<Answer>, StoreError> {
        self.db.close_wait(&wait.token).await
    }

    /// The `Retry` and `Catch` of the wait that ended in `error`.
    pub(super) async fn after(
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
                    Step::DispatchQueued,
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
                let next = Step::entering(StateName::ReportEnded);
                self.go(execution, next, data, execution.retries, 0).await
            }
            AfterError::DeadLetter => {
                self.dead_letter_from(execution, ErrorValue::new(error, cause))
                    .await
            }
        }
    }
}
