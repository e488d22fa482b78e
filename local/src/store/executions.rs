//! The engine's executions (what Step Functions keeps on AWS) as rows: the step each is
//! at and what the step carries, started and moved with conditional writes, stopped; and
//! the dead letters. The waits their tokens answer are in `waits.rs`.

use super::db::{Database, sql_error};
use super::record::{decode, encode};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use shared::job::{JobId, Timeouts};
use shared::report::StepError;
use shared::store::StoreError;
use shared::workflow::WorkflowInput;

/// The states of `statemachine/job.asl.json`, as the local engine walks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Just started: `NeedsApproval`.
    Start,
    /// `AwaitApproval`: an approval wait is open.
    AwaitApproval,
    /// `ReportRunning`.
    ReportRunning,
    /// Waiting for a free runner slot before `Dispatch` (the local engine queues rather
    /// than failing attempts for want of capacity).
    Queued,
    /// `Dispatch`: a run wait is open and its runner started (or being started).
    Dispatch,
    /// Between two attempts of `Dispatch` (the `Retry`'s backoff).
    Backoff,
    /// `ReportSucceeded`, with the run's output.
    ReportSucceeded,
    /// `ReportEnded`, with the error.
    ReportEnded,
    /// `DeadLetter` and `ReportDeadLettered`, with the error.
    DeadLetter,
    /// One of the final states; nothing more to do.
    Done,
}

impl Step {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::AwaitApproval => "await_approval",
            Self::ReportRunning => "report_running",
            Self::Queued => "queued",
            Self::Dispatch => "dispatch",
            Self::Backoff => "backoff",
            Self::ReportSucceeded => "report_succeeded",
            Self::ReportEnded => "report_ended",
            Self::DeadLetter => "dead_letter",
            Self::Done => "done",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::Start,
            Self::AwaitApproval,
            Self::ReportRunning,
            Self::Queued,
            Self::Dispatch,
            Self::Backoff,
            Self::ReportSucceeded,
            Self::ReportEnded,
            Self::DeadLetter,
            Self::Done,
        ]
        .into_iter()
        .find(|step| step.name() == name)
    }
}

/// What a step carries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepData {
    /// The run's output, for `ReportSucceeded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<serde_json::Value>,
    /// The error being reported (`ReportEnded`, `DeadLetter`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorValue>,
    /// Whether `Dispatch` handed its attempt to the dispatch stage already.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dispatched: bool,
    /// Failed tries of the current report step (GitHub down, say).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tries: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// An error as the workflow passes it on (`{"Error": …, "Cause": …}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorValue {
    #[serde(rename = "Error")]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: Option<String>,
}

impl ErrorValue {
    pub fn new(error: impl Into<String>, cause: Option<String>) -> Self {
        Self {
            error: error.into(),
            cause,
        }
    }

    pub fn to_step_error(&self) -> StepError {
        StepError {
            name: self.error.clone(),
            cause: self.cause.clone(),
        }
    }
}

/// One execution's row.
#[derive(Debug, Clone)]
pub struct Execution {
    pub job: JobId,
    pub input: WorkflowInput,
    pub step: Step,
    pub data: StepData,
    pub retries: u32,
    pub due_at_ms: u64,
    pub stop_cause: Option<String>,
}

/// Where an execution goes next.
pub struct Move {
    pub to: Step,
    pub data: StepData,
    pub retries: u32,
    pub due_at_ms: u64,
}

fn corrupt(job: &str, what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("execution {job}: {what}"))
}

/// Every execution not yet done.
fn unfinished(conn: &Connection) -> Result<Vec<Execution>, StoreError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT job, input, step, step_data, retries, due_at_ms, stop_cause
             FROM executions WHERE step <> 'done' ORDER BY started_at_ms",
        )
        .map_err(sql_error)?;
    let rows = statement
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, Option<String>>(3)?,
                row.get::<_, u32>(4)?,
                row.get::<_, u64>(5)?,
                row.get::<_, Option<String>>(6)?,
            ))
        })
        .map_err(sql_error)?;
    let mut executions = Vec::new();
    for row in rows {
        let (job, input, step, data, retries, due_at_ms, stop_cause) = row.map_err(sql_error)?;
        let input: WorkflowInput =
            serde_json::from_str(&input).map_err(|err| corrupt(&job, err))?;
        let step = Step::from_name(&step).ok_or_else(|| corrupt(&job, "unknown step"))?;
        let data = match data {
            Some(data) => serde_json::from_str(&data).map_err(|err| corrupt(&job, err))?,
            None => StepData::default(),
        };
        executions.push(Execution {
            job: input.job.clone(),
            input,
            step,
            data,
            retries,
            due_at_ms,
            stop_cause,
        });
    }
    Ok(executions)
}

/// Moves the execution from `from` as `next` says; `false` when it was no longer at `from`.
pub(super) fn move_step(
    conn: &Connection,
    job: &JobId,
    from: Step,
    next: &Move,
    now_ms: u64,
) -> Result<bool, StoreError> {
    let Move {
        to,
        data,
        retries,
        due_at_ms,
    } = next;
    let data = serde_json::to_string(data).map_err(|err| corrupt(job.as_str(), err))?;
    let changed = conn
        .execute(
            "UPDATE executions SET step = ?1, step_data = ?2, retries = ?3, due_at_ms = ?4,
                    updated_at_ms = ?5
             WHERE job = ?6 AND step = ?7",
            params![
                to.name(),
                data,
                retries,
                due_at_ms,
                now_ms,
                job.as_str(),
                from.name()
            ],
        )
        .map_err(sql_error)?;
    Ok(changed == 1)
}

/// The statements of the engine ([`crate::engine`]) and of `LocalWorkflow` on executions.
impl Database {
    /// Every execution not yet done, the oldest first.
    pub async fn unfinished_executions(&self) -> Result<Vec<Execution>, StoreError> {
        self.call(|conn| unfinished(conn)).await
    }

    /// Starts the job's execution at its first step, unless it has one already; `true`
    /// when this started it. [`StoreError::Corrupt`] if the input cannot be encoded.
    pub async fn start_execution(
        &self,
        input: &WorkflowInput,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let job = input.job.as_str().to_owned();
        let json = encode("workflow input", input)?;
        let inserted = self
            .call(move |conn| {
                conn.execute(
                    "INSERT INTO executions (job, input, step, due_at_ms, started_at_ms, updated_at_ms)
                     VALUES (?1, ?2, 'start', ?3, ?3, ?3)
                     ON CONFLICT (job) DO NOTHING",
                    params![job, json, now_ms],
                )
                .map_err(sql_error)
            })
            .await?;
        Ok(inserted == 1)
    }

    /// Moves the execution from `from` as `next` says; `false` when someone else moved it
    /// first.
    pub async fn move_execution(
        &self,
        job: &JobId,
        from: Step,
        next: Move,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let job = job.clone();
        self.call(move |conn| move_step(conn, &job, from, &next, now_ms))
            .await
    }

    /// Asks the execution to stop: it ends as aborted at its next step. A finished
    /// execution, or none at all, is left as it is.
    pub async fn stop_execution(
        &self,
        job: &JobId,
        cause: &str,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let job = job.as_str().to_owned();
        let cause = cause.to_owned();
        self.call(move |conn| {
            conn.execute(
                "UPDATE executions SET stop_cause = COALESCE(stop_cause, ?1), due_at_ms = ?2
                 WHERE job = ?3 AND step <> 'done'",
                params![cause, now_ms, job],
            )
            .map_err(sql_error)
        })
        .await?;
        Ok(())
    }

    /// Ends a stopped execution, whatever step it was at.
    pub async fn finish_execution(&self, job: &JobId, now_ms: u64) -> Result<(), StoreError> {
        let job = job.as_str().to_owned();
        self.call(move |conn| {
            conn.execute(
                "UPDATE executions SET step = 'done', updated_at_ms = ?1 WHERE job = ?2",
                params![now_ms, job],
            )
            .map_err(sql_error)
        })
        .await?;
        Ok(())
    }

    /// The timeouts an execution was started with, to start a retry of its job alike.
    pub async fn execution_timeouts(&self, job: &JobId) -> Result<Option<Timeouts>, StoreError> {
        let job = job.as_str().to_owned();
        let input: Option<String> = self
            .call(move |conn| {
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
            .and_then(|input| decode::<WorkflowInput>("workflow input", &input).ok())
            .map(|input| input.timeouts))
    }

    /// Keeps a dead-lettered job and its error.
    pub async fn record_dead_letter(
        &self,
        job: &JobId,
        error: &ErrorValue,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let job = job.as_str().to_owned();
        let error = error.clone();
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO dead_letters (job, error, cause, at_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (job) DO UPDATE SET error = excluded.error, cause = excluded.cause,
                                                 at_ms = excluded.at_ms",
                params![job, error.error, error.cause, now_ms],
            )
            .map_err(sql_error)
        })
        .await?;
        Ok(())
    }
}
