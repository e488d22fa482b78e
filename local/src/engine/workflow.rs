//! [`LocalWorkflow`]: the [`Workflow`] port on the engine's tables. Starting, answering a
//! wait, a heartbeat and a stop are single conditional writes (the store's
//! [`crate::store::executions`] and [`crate::store::waits`]), so the server, its runner
//! processes and the `ota` commands can all use it on the same database; the engine
//! ([`super::Engine`]) acts on what they wrote.

use crate::store::{Answer, Database};
use shared::clock::now_ms;
use shared::job::{JobError, JobId, TaskToken};
use shared::ports::StoreError;
use shared::ports::{Started, Workflow, WorkflowError, WorkflowInput};
use std::sync::Arc;
use tokio::sync::Notify;

#[derive(Clone)]
pub struct LocalWorkflow {
    db: Database,
    /// Wakes the engine when it runs in this process; other processes are noticed at its
    /// next poll.
    wake: Arc<Notify>,
}

fn unavailable(err: StoreError) -> WorkflowError {
    WorkflowError::Unavailable(err.to_string())
}

/// A store error of a write whose value could not be encoded (`Corrupt`) is the caller's.
fn refused(what: &str) -> impl Fn(StoreError) -> WorkflowError + '_ {
    move |err| match err {
        StoreError::Corrupt(problem) => WorkflowError::Rejected(format!("{what}: {problem}")),
        other => unavailable(other),
    }
}

impl LocalWorkflow {
    pub fn new(db: Database, wake: Arc<Notify>) -> Self {
        Self { db, wake }
    }

    async fn answer(&self, token: &TaskToken, answer: Answer) -> Result<(), WorkflowError> {
        let answered = self
            .db
            .answer_wait(token, &answer)
            .await
            .map_err(refused("unserializable answer"))?;
        if !answered {
            return Err(WorkflowError::TokenExpired);
        }
        self.wake.notify_one();
        Ok(())
    }
}

impl Workflow for LocalWorkflow {
    async fn start(&self, input: &WorkflowInput) -> Result<Started, WorkflowError> {
        let started = self
            .db
            .start_execution(input, now_ms())
            .await
            .map_err(refused("unserializable input"))?;
        self.wake.notify_one();
        Ok(if started {
            Started::New
        } else {
            Started::AlreadyStarted
        })
    }

    async fn succeed(
        &self,
        token: &TaskToken,
        output: &serde_json::Value,
    ) -> Result<(), WorkflowError> {
        self.answer(token, Answer::Output(output.clone())).await
    }

    async fn fail(
        &self,
        token: &TaskToken,
        error: JobError,
        cause: &str,
    ) -> Result<(), WorkflowError> {
        let answer = Answer::Error {
            error: error.name().to_owned(),
            cause: Some(cause.to_owned()),
        };
        self.answer(token, answer).await
    }

    async fn heartbeat(&self, token: &TaskToken) -> Result<(), WorkflowError> {
        let alive = self
            .db
            .heartbeat_wait(token, now_ms())
            .await
            .map_err(unavailable)?;
        if !alive {
            return Err(WorkflowError::TokenExpired);
        }
        Ok(())
    }

    async fn stop(&self, job: &JobId, cause: &str) -> Result<(), WorkflowError> {
        self.db
            .stop_execution(job, cause, now_ms())
            .await
            .map_err(unavailable)?;
        // Stopping a finished execution, or one never started, is harmless, as on AWS.
        self.wake.notify_one();
        Ok(())
    }
}
