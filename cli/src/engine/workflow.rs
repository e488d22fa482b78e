//! [`LocalWorkflow`]: the [`Workflow`] port on the engine's tables. Starting, answering a
//! wait, a heartbeat and a stop are single conditional writes, so the server, its runner
//! processes and the `ota` commands can all use it on the same database; the engine
//! ([`super::Engine`]) acts on what they wrote.

use crate::store::{Database, sql_error};
use rusqlite::params;
use shared::clock::now_ms;
use shared::job::{JobError, JobId, TaskToken};
use shared::store::StoreError;
use shared::workflow::{Started, Workflow, WorkflowError, WorkflowInput};
use std::sync::Arc;
use tokio::sync::Notify;

#[derive(Clone)]
pub struct LocalWorkflow {
    db: Database,
    /// Wakes the engine when it runs in this process; other processes are noticed at its
    /// next poll.
    wake: Arc<Notify>,
}

/// A wait's answer as stored: the output, or a named error.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Output(serde_json::Value),
    Error {
        error: String,
        cause: Option<String>,
    },
}

fn unavailable(err: StoreError) -> WorkflowError {
    WorkflowError::Unavailable(err.to_string())
}

impl LocalWorkflow {
    pub fn new(db: Database, wake: Arc<Notify>) -> Self {
        Self { db, wake }
    }

    async fn answer(&self, token: &TaskToken, answer: Answer) -> Result<(), WorkflowError> {
        let token = token.expose().to_owned();
        let answer = serde_json::to_string(&answer)
            .map_err(|err| WorkflowError::Rejected(format!("unserializable answer: {err}")))?;
        let changed = self
            .db
            .call(move |conn| {
                conn.execute(
                    "UPDATE waits SET answer = ?1
                     WHERE token = ?2 AND answer IS NULL AND closed = 0",
                    params![answer, token],
                )
                .map_err(sql_error)
            })
            .await
            .map_err(unavailable)?;
        if changed == 0 {
            return Err(WorkflowError::TokenExpired);
        }
        self.wake.notify_one();
        Ok(())
    }
}

impl Workflow for LocalWorkflow {
    async fn start(&self, input: &WorkflowInput) -> Result<Started, WorkflowError> {
        let job = input.job.as_str().to_owned();
        let json = serde_json::to_string(input)
            .map_err(|err| WorkflowError::Rejected(format!("unserializable input: {err}")))?;
        let now = now_ms();
        let inserted = self
            .db
            .call(move |conn| {
                conn.execute(
                    "INSERT INTO executions (job, input, step, due_at_ms, started_at_ms, updated_at_ms)
                     VALUES (?1, ?2, 'start', ?3, ?3, ?3)
                     ON CONFLICT (job) DO NOTHING",
                    params![job, json, now],
                )
                .map_err(sql_error)
            })
            .await
            .map_err(unavailable)?;
        self.wake.notify_one();
        Ok(if inserted == 1 {
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
        let token = token.expose().to_owned();
        let now = now_ms();
        let changed = self
            .db
            .call(move |conn| {
                conn.execute(
                    "UPDATE waits SET heartbeat_at_ms = ?1
                     WHERE token = ?2 AND answer IS NULL AND closed = 0",
                    params![now, token],
                )
                .map_err(sql_error)
            })
            .await
            .map_err(unavailable)?;
        if changed == 0 {
            return Err(WorkflowError::TokenExpired);
        }
        Ok(())
    }

    async fn stop(&self, job: &JobId, cause: &str) -> Result<(), WorkflowError> {
        let job = job.as_str().to_owned();
        let cause = cause.to_owned();
        let now = now_ms();
        self.db
            .call(move |conn| {
                conn.execute(
                    "UPDATE executions SET stop_cause = COALESCE(stop_cause, ?1), due_at_ms = ?2
                     WHERE job = ?3 AND step <> 'done'",
                    params![cause, now, job],
                )
                .map_err(sql_error)
            })
            .await
            .map_err(unavailable)?;
        // Stopping a finished execution, or one never started, is harmless, as on AWS.
        self.wake.notify_one();
        Ok(())
    }
}

impl Database {
    /// The timeouts an execution was started with, to start a retry of its job alike.
    pub async fn execution_timeouts(
        &self,
        job: &JobId,
    ) -> Result<Option<shared::job::Timeouts>, StoreError> {
        let job = job.as_str().to_owned();
        let input: Option<String> = self
            .call(move |conn| {
                use rusqlite::OptionalExtension;
                conn.query_row(
                    "SELECT input FROM executions WHERE job = ?1",
                    [job],
                    |row| row.get(0),
                )
                .optional()
                .map_err(sql_error)
            })
            .await?;
        Ok(input
            .and_then(|input| serde_json::from_str::<WorkflowInput>(&input).ok())
            .map(|input| input.timeouts))
    }
}
