//! The waits a task token answers — the approval, and each dispatched run — as rows:
//! opened with a fresh token, answered and kept alive by whoever holds the token (the
//! server, its runner processes, the `ota` commands), closed by the engine, after which
//! the token is refused.

use super::db::{Database, sql_error};
use super::executions::{Move, Step, StepData, move_step};
use super::record::{decode, encode, wait_name};
use rusqlite::{Connection, OptionalExtension, ToSql, params};
use shared::job::{JobId, TaskToken, Wait};
use shared::ports::StoreError;

/// An open wait of a job.
#[derive(Clone)]
pub struct OpenWait {
    pub token: TaskToken,
    pub timeout_at_ms: u64,
    pub heartbeat_at_ms: u64,
    pub answered: bool,
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

/// The job's open wait of this kind, if any.
fn open_wait(conn: &Connection, job: &JobId, wait: Wait) -> Result<Option<OpenWait>, StoreError> {
    conn.query_row(
        "SELECT token, timeout_at_ms, heartbeat_at_ms, answer IS NOT NULL FROM waits
         WHERE job = ?1 AND kind = ?2 AND closed = 0
         ORDER BY opened_at_ms DESC LIMIT 1",
        params![job.as_str(), wait_name(wait)],
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
fn open_new_wait(
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
        params![token, job.as_str(), wait_name(wait), now_ms, timeout_at_ms, heartbeats],
    )
    .map_err(sql_error)?;
    Ok(TaskToken::new(token))
}

/// Closes the wait and returns its answer, if it had one.
fn close_wait(conn: &mut Connection, token: &TaskToken) -> Result<Option<Answer>, StoreError> {
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
    answer
        .flatten()
        .map(|text| decode("a wait's answer", &text))
        .transpose()
}

/// A task token: 32 random bytes, hex. Whoever holds it can end its wait.
fn new_token() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|err| StoreError::Unavailable(format!("no randomness for a task token: {err}")))?;
    Ok(hex::encode(bytes))
}

/// The statements of the engine ([`crate::engine`]) and of `LocalWorkflow` on waits.
impl Database {
    /// The job's open wait of this kind, if any.
    pub async fn open_wait(&self, job: &JobId, wait: Wait) -> Result<Option<OpenWait>, StoreError> {
        let job = job.clone();
        self.call(move |conn| open_wait(conn, &job, wait)).await
    }

    /// The token of the job's open approval wait, opened now (with no heartbeats) unless
    /// it is open already: a start repeated after a crash finds the wait it opened.
    pub async fn approval_wait(
        &self,
        job: &JobId,
        timeout_at_ms: u64,
        now_ms: u64,
    ) -> Result<TaskToken, StoreError> {
        let job = job.clone();
        self.call(move |conn| {
            if let Some(wait) = open_wait(conn, &job, Wait::Approval)? {
                return Ok(wait.token);
            }
            open_new_wait(conn, &job, Wait::Approval, timeout_at_ms, false, now_ms)
        })
        .await
    }

    /// In one transaction: moves the execution from `Dispatch:queued` to `Dispatch` and
    /// opens its run wait (with heartbeats); `false`, and nothing written, when it was no
    /// longer queued.
    pub async fn dispatch_execution(
        &self,
        job: &JobId,
        retries: u32,
        timeout_at_ms: u64,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let job = job.clone();
        self.call(move |conn| {
            let transaction = conn.transaction().map_err(sql_error)?;
            let next = Move {
                to: Step::Dispatch,
                data: StepData::default(),
                retries,
                due_at_ms: now_ms,
            };
            let moved = move_step(&transaction, &job, Step::DispatchQueued, &next, now_ms)?;
            if moved {
                open_new_wait(&transaction, &job, Wait::Run, timeout_at_ms, true, now_ms)?;
            }
            transaction.commit().map_err(sql_error)?;
            Ok(moved)
        })
        .await
    }

    /// Closes the wait and returns its answer, if it had one: from now on the token is
    /// refused, so an answer either arrived before this or never counts.
    pub async fn close_wait(&self, token: &TaskToken) -> Result<Option<Answer>, StoreError> {
        let token = token.clone();
        self.call(move |conn| close_wait(conn, &token)).await
    }

    /// Closes every open wait of the job (its execution was stopped).
    pub async fn close_all_waits(&self, job: &JobId) -> Result<(), StoreError> {
        let job = job.as_str().to_owned();
        self.call(move |conn| {
            conn.execute(
                "UPDATE waits SET closed = 1 WHERE job = ?1 AND closed = 0",
                [job],
            )
            .map_err(sql_error)
        })
        .await?;
        Ok(())
    }

    /// Answers the wait of `token`; `false` when it is answered or closed already (the
    /// token is spent). [`StoreError::Corrupt`] if the answer cannot be encoded.
    pub async fn answer_wait(
        &self,
        token: &TaskToken,
        answer: &Answer,
    ) -> Result<bool, StoreError> {
        let answer = encode("a wait's answer", answer)?;
        self.update_unanswered_wait("UPDATE waits SET answer = ?1", token, answer)
            .await
    }

    /// A sign of life on the wait of `token`; `false` when the token is spent.
    pub async fn heartbeat_wait(&self, token: &TaskToken, now_ms: u64) -> Result<bool, StoreError> {
        self.update_unanswered_wait("UPDATE waits SET heartbeat_at_ms = ?1", token, now_ms)
            .await
    }

    /// `update` (an `UPDATE waits SET … = ?1`) with `value`, on the wait of `token` if it
    /// is still open and unanswered; `false` when the token is spent.
    async fn update_unanswered_wait<V: ToSql + Send + 'static>(
        &self,
        update: &'static str,
        token: &TaskToken,
        value: V,
    ) -> Result<bool, StoreError> {
        let token = token.expose().to_owned();
        let changed = self
            .call(move |conn| {
                conn.prepare_cached(&format!(
                    "{update} WHERE token = ?2 AND answer IS NULL AND closed = 0"
                ))
                .and_then(|mut statement| statement.execute(params![value, token]))
                .map_err(sql_error)
            })
            .await?;
        Ok(changed != 0)
    }
}
