//! An execution as the engine keeps it, and the statements on its rows: the step it is
//! at, and the waits ([`Wait`]) whose tokens resume it.

use super::workflow::Answer;
use crate::store::sql_error;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use shared::job::{JobId, TaskToken, Wait};
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

fn corrupt(job: &str, what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("execution {job}: {what}"))
}

/// Every execution not yet done.
pub fn unfinished(conn: &Connection) -> Result<Vec<Execution>, StoreError> {
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

/// Where an execution goes next.
pub struct Move {
    pub to: Step,
    pub data: StepData,
    pub retries: u32,
    pub due_at_ms: u64,
}

/// Moves the execution from `from` as `next` says; `false` when it was no longer at `from`.
pub fn move_step(
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

/// An open wait of the job.
#[derive(Clone)]
pub struct OpenWait {
    pub token: TaskToken,
    pub timeout_at_ms: u64,
    pub heartbeat_at_ms: u64,
    pub answered: bool,
}

fn wait_kind(wait: Wait) -> &'static str {
    match wait {
        Wait::Approval => "approval",
        Wait::Run => "run",
    }
}

/// The job's open wait of this kind, if any.
pub fn open_wait(
    conn: &Connection,
    job: &JobId,
    wait: Wait,
) -> Result<Option<OpenWait>, StoreError> {
    conn.query_row(
        "SELECT token, timeout_at_ms, heartbeat_at_ms, answer IS NOT NULL FROM waits
         WHERE job = ?1 AND kind = ?2 AND closed = 0
         ORDER BY opened_at_ms DESC LIMIT 1",
        params![job.as_str(), wait_kind(wait)],
        |row| {
            Ok(OpenWait {
                token: TaskToken::new(row.get::<_, String>(0)?),
                timeout_at_ms: row.get(1)?,
                heartbeat_at_ms: row.get(2)?,
                answered: row.get(3)?,
            })
        },
    )
    .optional()
    .map_err(sql_error)
}

/// Opens a wait with a fresh token.
pub fn open_new_wait(
    conn: &Connection,
    job: &JobId,
    wait: Wait,
    timeout_at_ms: u64,
    heartbeats: bool,
    now_ms: u64,
) -> Result<TaskToken, StoreError> {
    let token = new_token()?;
    conn.execute(
        "INSERT INTO waits (token, job, kind, opened_at_ms, timeout_at_ms, heartbeat_at_ms, heartbeats)
         VALUES (?1, ?2, ?3, ?4, ?5, ?4, ?6)",
        params![token, job.as_str(), wait_kind(wait), now_ms, timeout_at_ms, heartbeats],
    )
    .map_err(sql_error)?;
    Ok(TaskToken::new(token))
}

/// Closes the wait and returns its answer, if it had one: from now on the token is
/// refused, so an answer either arrived before this or never counts.
pub fn close_wait(conn: &mut Connection, token: &TaskToken) -> Result<Option<Answer>, StoreError> {
    let transaction = conn.transaction().map_err(sql_error)?;
    let answer: Option<Option<String>> = transaction
        .query_row(
            "SELECT answer FROM waits WHERE token = ?1 AND closed = 0",
            [token.expose()],
            |row| row.get(0),
        )
        .optional()
        .map_err(sql_error)?;
    transaction
        .execute(
            "UPDATE waits SET closed = 1 WHERE token = ?1",
            [token.expose()],
        )
        .map_err(sql_error)?;
    transaction.commit().map_err(sql_error)?;
    match answer.flatten() {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|err| StoreError::Corrupt(format!("a wait's answer: {err}"))),
    }
}

/// Closes every open wait of the job (the execution was stopped).
pub fn close_all_waits(conn: &Connection, job: &JobId) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE waits SET closed = 1 WHERE job = ?1 AND closed = 0",
        [job.as_str()],
    )
    .map_err(sql_error)?;
    Ok(())
}

/// Keeps a dead-lettered job and its error.
pub fn record_dead_letter(
    conn: &Connection,
    job: &JobId,
    error: &ErrorValue,
    now_ms: u64,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO dead_letters (job, error, cause, at_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (job) DO UPDATE SET error = excluded.error, cause = excluded.cause,
                                         at_ms = excluded.at_ms",
        params![job.as_str(), error.error, error.cause, now_ms],
    )
    .map_err(sql_error)?;
    Ok(())
}

/// A task token: 32 random bytes, hex. Whoever holds it can end its wait.
fn new_token() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|err| StoreError::Unavailable(format!("no randomness for a task token: {err}")))?;
    Ok(hex::encode(bytes))
}
