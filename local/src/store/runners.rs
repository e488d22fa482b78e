//! The `runners` table: which runner processes were started for which job (with their
//! process start time, which tells them from later processes that reuse their ids), and
//! how they ended. The process launcher (`crate::processes`) writes it; the engine reads
//! it to notice a runner that died without answering.

use super::db::{Database, sql_error};
use rusqlite::{OptionalExtension, params};
use shared::job::JobId;
use shared::ports::StoreError;

/// The exit code recorded for a runner found alive or unreaped when its server restarted.
pub const LOST_WITH_SERVER: i64 = -1;

/// A runner process that has not been seen to exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningRunner {
    pub pid: u32,
    /// Its start time in clock ticks after boot (0 when unknown).
    pub started_ticks: u64,
    pub job: String,
}

/// The runner records, on the database.
#[derive(Clone)]
pub struct RunnerRecords {
    db: Database,
}

impl RunnerRecords {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Records a runner just started.
    pub async fn insert(
        &self,
        pid: u32,
        started_ticks: u64,
        job: &JobId,
        attempt: u32,
        log: &str,
    ) -> Result<(), StoreError> {
        let job = job.as_str().to_owned();
        let log = log.to_owned();
        self.db
            .call(move |conn| {
                conn.execute(
                    "INSERT OR REPLACE INTO runners (pid, started_ticks, job, attempt, log, exit_code)
                     VALUES (?1, ?2, ?3, ?4, ?5, NULL)",
                    params![pid, started_ticks, job, attempt, log],
                )
                .map_err(sql_error)
            })
            .await?;
        Ok(())
    }

    /// Records how a runner ended: its exit code, or minus the signal that killed it.
    pub async fn exited(&self, pid: u32, started_ticks: u64, code: i64) -> Result<(), StoreError> {
        self.db
            .call(move |conn| {
                conn.execute(
                    "UPDATE runners SET exit_code = ?1 WHERE pid = ?2 AND started_ticks = ?3",
                    params![code, pid, started_ticks],
                )
                .map_err(sql_error)
            })
            .await?;
        Ok(())
    }

    /// The runners of `job` not seen to exit, as (pid, start ticks).
    pub async fn running(&self, job: &JobId) -> Result<Vec<(u32, u64)>, StoreError> {
        let job = job.as_str().to_owned();
        self.db
            .call(move |conn| {
                let mut statement = conn
                    .prepare("SELECT pid, started_ticks FROM runners WHERE job = ?1 AND exit_code IS NULL")
                    .map_err(sql_error)?;
                let rows = statement
                    .query_map([job], |row| Ok((row.get(0)?, row.get(1)?)))
                    .map_err(sql_error)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(sql_error)
            })
            .await
    }

    /// Every runner not seen to exit, of any job.
    pub async fn unreaped(&self) -> Result<Vec<RunningRunner>, StoreError> {
        self.db
            .call(|conn| {
                let mut statement = conn
                    .prepare("SELECT pid, started_ticks, job FROM runners WHERE exit_code IS NULL")
                    .map_err(sql_error)?;
                let rows = statement
                    .query_map([], |row| {
                        Ok(RunningRunner {
                            pid: row.get(0)?,
                            started_ticks: row.get(1)?,
                            job: row.get(2)?,
                        })
                    })
                    .map_err(sql_error)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(sql_error)
            })
            .await
    }

    /// Every process id recorded, whether it still runs or not.
    pub async fn all_pids(&self) -> Result<Vec<u32>, StoreError> {
        self.db
            .call(|conn| {
                let mut statement = conn.prepare("SELECT pid FROM runners").map_err(sql_error)?;
                let pids = statement
                    .query_map([], |row| row.get::<_, u32>(0))
                    .map_err(sql_error)?;
                pids.collect::<Result<Vec<_>, _>>().map_err(sql_error)
            })
            .await
    }

    /// At start-up, once the previous server's runners are stopped: records them all as
    /// lost, and measures the open waits' heartbeats from `now_ms` — the time the server
    /// was down is not the runners' fault, and the engine will find them lost anyway.
    pub async fn mark_lost(&self, now_ms: u64) -> Result<(), StoreError> {
        self.db
            .call(move |conn| {
                conn.execute(
                    "UPDATE runners SET exit_code = ?1 WHERE exit_code IS NULL",
                    params![LOST_WITH_SERVER],
                )
                .map_err(sql_error)?;
                conn.execute(
                    "UPDATE waits SET heartbeat_at_ms = ?1 WHERE closed = 0 AND heartbeats = 1",
                    params![now_ms],
                )
                .map_err(sql_error)
            })
            .await?;
        Ok(())
    }

    /// Why attempt `attempt` of `job` has no runner any more, if it has none: its process
    /// exited (the engine looks at this only while the run's wait is unanswered).
    pub async fn exited_without_answer(
        &self,
        job: &JobId,
        attempt: u32,
    ) -> Result<Option<String>, StoreError> {
        let job = job.as_str().to_owned();
        let code: Option<Option<i64>> = self
            .db
            .call(move |conn| {
                conn.query_row(
                    "SELECT exit_code FROM runners WHERE job = ?1 AND attempt = ?2
                     ORDER BY rowid DESC LIMIT 1",
                    params![job, attempt],
                    |row| row.get(0),
                )
                .optional()
                .map_err(sql_error)
            })
            .await?;
        Ok(match code.flatten() {
            None => None,
            Some(LOST_WITH_SERVER) => {
                Some("the runner was lost when the server stopped".to_owned())
            }
            Some(code) if code < 0 => Some(format!(
                "the runner process was killed by signal {} before it answered",
                -code
            )),
            Some(code) => Some(format!(
                "the runner process exited with code {code} before it answered"
            )),
        })
    }
}
