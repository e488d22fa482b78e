//! The engine's executions (what Step Functions keeps on AWS) as rows: the step each is
//! at and what the step carries, started and moved with conditional writes, stopped; and
//! the dead letters. The waits their tokens answer are in `waits.rs`.

use super::db::{Database, sql_error};
use super::record::{decode, encode};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use shared::job::{JOB_MACHINE, JobError, JobId, StateKind, StateName, Timeouts};
use shared::ports::StoreError;
use shared::ports::WorkflowInput;
use shared::report::StepError;

/// Where an execution is: a state of the job workflow ([`JOB_MACHINE`]), stored under the
/// state's own name. Two steps are phases of one state: `Dispatch` first waits for a free
/// runner slot (and the retrier's backoff) as [`Step::DispatchQueued`] — the local engine
/// queues rather than failing an attempt for want of capacity — then watches its run wait
/// as [`Step::Dispatch`]. [`Step::Done`] stands for whichever final state was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    NeedsApproval,
    AwaitApproval,
    ReportRunning,
    DispatchQueued,
    Dispatch,
    ReportSucceeded,
    ReportEnded,
    DeadLetter,
    ReportDeadLettered,
    Done,
}

impl Step {
    const ALL: [Step; 10] = [
        Self::NeedsApproval,
        Self::AwaitApproval,
        Self::ReportRunning,
        Self::DispatchQueued,
        Self::Dispatch,
        Self::ReportSucceeded,
        Self::ReportEnded,
        Self::DeadLetter,
        Self::ReportDeadLettered,
        Self::Done,
    ];

    /// The stored name: the state's, with the phase after a colon.
    pub const fn name(self) -> &'static str {
        match self {
            Self::DispatchQueued => "Dispatch:queued",
            Self::Done => "Done",
            _ => match self.state() {
                Some(state) => state.as_str(),
                None => "Done",
            },
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|step| step.name() == name)
    }

    /// The machine's state this step is (a phase of); `None` once the execution is done.
    pub const fn state(self) -> Option<StateName> {
        Some(match self {
            Self::NeedsApproval => StateName::NeedsApproval,
            Self::AwaitApproval => StateName::AwaitApproval,
            Self::ReportRunning => StateName::ReportRunning,
            Self::DispatchQueued | Self::Dispatch => StateName::Dispatch,
            Self::ReportSucceeded => StateName::ReportSucceeded,
            Self::ReportEnded => StateName::ReportEnded,
            Self::DeadLetter => StateName::DeadLetter,
            Self::ReportDeadLettered => StateName::ReportDeadLettered,
            Self::Done => return None,
        })
    }

    /// The step an execution entering `state` takes. A state that only sets the job's
    /// error leads on at once (the engine folds it into the catch that led there), and a
    /// final state is [`Step::Done`].
    pub fn entering(state: StateName) -> Self {
        match JOB_MACHINE.state(state).map(|state| state.kind) {
            Some(StateKind::SetError { next, .. }) => Self::entering(next),
            Some(StateKind::Final(_)) | None => Self::Done,
            Some(_) => Self::ALL
                .into_iter()
                .find(|step| step.state() == Some(state) && *step != Self::Dispatch)
                .unwrap_or(Self::Done),
        }
    }

    /// Whether the workflow lets an execution move from this step to `to`: within one
    /// state, along an edge of [`JOB_MACHINE`] (through states that only set the error),
    /// to [`Step::Done`] from a state that leads to a final one, or back from a lost
    /// approval wait to open it again.
    pub fn may_move_to(self, to: Step) -> bool {
        let Some(from) = self.state() else {
            return false;
        };
        if to.state() == Some(from) || (self, to) == (Self::AwaitApproval, Self::NeedsApproval) {
            return true;
        }
        JOB_MACHINE
            .successors(from)
            .into_iter()
            .any(|next| Self::entering(next) == to)
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

impl StepData {
    /// The job's error as the step carries it; a step that lost it reports a failure.
    pub fn job_error(&self) -> ErrorValue {
        self.error
            .clone()
            .unwrap_or_else(|| ErrorValue::new(JobError::RunnerFailed.name(), None))
    }
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
             FROM executions WHERE step <> 'Done' ORDER BY started_at_ms",
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
                     VALUES (?1, ?2, ?3, ?4, ?4, ?4)
                     ON CONFLICT (job) DO NOTHING",
                    params![job, json, Step::entering(JOB_MACHINE.start).name(), now_ms],
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
                "UPDATE executions SET step = 'Done', updated_at_ms = ?1 WHERE job = ?2",
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::database;

    #[test]
    fn every_step_is_a_state_of_the_machine_under_its_name() {
        for step in Step::ALL {
            assert_eq!(Step::from_name(step.name()), Some(step));
            match step.state() {
                Some(state) => assert!(step.name().starts_with(state.as_str()), "{step:?}"),
                None => assert_eq!(step, Step::Done),
            }
        }
        // Every state the engine acts in has its step; the rest only set an error or end.
        for state in StateName::ALL {
            let step = Step::entering(state);
            match JOB_MACHINE.state(state).map(|state| state.kind) {
                Some(StateKind::SetError { .. }) => assert_eq!(step, Step::ReportEnded),
                Some(StateKind::Final(_)) => assert_eq!(step, Step::Done),
                _ => assert_eq!(step.state(), Some(state), "{state}"),
            }
        }
        assert_eq!(Step::entering(StateName::Dispatch), Step::DispatchQueued);
    }

    #[test]
    fn moves_follow_the_machines_edges() {
        use Step::*;
        for (from, to) in [
            (NeedsApproval, AwaitApproval),
            (NeedsApproval, ReportRunning),
            (AwaitApproval, ReportRunning),
            (AwaitApproval, ReportEnded),
            (AwaitApproval, DeadLetter),
            (AwaitApproval, NeedsApproval),
            (ReportRunning, DispatchQueued),
            (DispatchQueued, Dispatch),
            (Dispatch, DispatchQueued),
            (Dispatch, ReportSucceeded),
            (Dispatch, ReportEnded),
            (Dispatch, DeadLetter),
            (ReportSucceeded, Done),
            (ReportEnded, Done),
            (ReportEnded, DeadLetter),
            (DeadLetter, ReportDeadLettered),
            (ReportDeadLettered, Done),
        ] {
            assert!(from.may_move_to(to), "{from:?} -> {to:?}");
        }
        for (from, to) in [
            (NeedsApproval, Dispatch),
            (ReportRunning, ReportSucceeded),
            (Dispatch, Done),
            (DeadLetter, Done),
            (ReportDeadLettered, DeadLetter),
            (Done, NeedsApproval),
            (ReportSucceeded, ReportEnded),
        ] {
            assert!(!from.may_move_to(to), "{from:?} -> {to:?}");
        }
    }

    #[test]
    fn executions_stored_under_the_old_step_names_are_read_under_the_states() {
        let (dir, db) = database();
        let input = |job: &str| {
            format!(
                r#"{{"job":"{job}","approval_required":false,"timeouts":{{"approval_seconds":60,"heartbeat_seconds":5,"max_runtime_seconds":30}}}}"#
            )
        };
        let rows = [
            ("j0000000000000000000a", "start", Step::NeedsApproval),
            ("j0000000000000000000b", "backoff", Step::DispatchQueued),
            ("j0000000000000000000c", "queued", Step::DispatchQueued),
            ("j0000000000000000000d", "dead_letter", Step::DeadLetter),
        ];
        let connection = db.connect().expect("connection");
        for (job, step, _) in rows {
            connection
                .execute(
                    "INSERT INTO executions (job, input, step, due_at_ms, started_at_ms, updated_at_ms)
                     VALUES (?1, ?2, ?3, 0, 0, 0)",
                    params![job, input(job), step],
                )
                .expect("insert");
        }
        drop(connection);
        drop(db);
        let db = Database::open(dir.path()).expect("reopen");
        let executions = unfinished(&db.connect().expect("connection")).expect("read");
        for (job, _, step) in rows {
            let execution = executions
                .iter()
                .find(|execution| execution.job.as_str() == job)
                .expect("execution");
            assert_eq!(execution.step, step, "{job}");
        }
    }
}
