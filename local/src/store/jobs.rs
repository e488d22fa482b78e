//! [`JobStore`] on SQLite: one row per job (its JSON record beside the columns the
//! queries need) and the task tokens in a table of their own. Creation and updates are
//! conditional, as on DynamoDB, so two writers racing on a job cannot both win. Also the
//! listings of `ota jobs`, `ota job <id>` and the status page.

use super::db::{Database, sql_error};
use super::record::{encode, select_record, select_records, wait_name};
use rusqlite::{Connection, OptionalExtension, Params, ToSql, TransactionBehavior, params};
use shared::clock::now_ms;
use shared::ids::RepoFullName;
use shared::job::{JobId, JobRecord, JobStatus, TaskToken, Wait};
use shared::ports::{Created, JobStore, StoreError};

/// How many jobs [`Database::jobs_by_prefix`] returns at most: a prefix names one job, a
/// handful when it is ambiguous; more says nothing a user could act on.
pub const MAX_PREFIX_MATCHES: usize = 50;

/// The columns of a job's row, computed from its record before the blocking call.
struct JobRow {
    id: String,
    status: &'static str,
    repo: String,
    thread: Option<u64>,
    created_at_ms: u64,
    record: String,
}

impl JobRow {
    fn of(job: &JobRecord) -> Result<Self, StoreError> {
        Ok(Self {
            id: job.id.as_str().to_owned(),
            status: job.status.as_str(),
            repo: repo_key(&job.repo),
            thread: job.trigger.number(),
            created_at_ms: job.created_at_ms,
            record: encode("job record", job)?,
        })
    }

    /// The row's columns as the named parameters of the statements that write it, with
    /// `updated_at_ms` the time of writing.
    fn columns<'a>(&'a self, updated_at_ms: &'a u64) -> [(&'static str, &'a dyn ToSql); 7] {
        [
            (":id", &self.id),
            (":status", &self.status),
            (":repo", &self.repo),
            (":thread", &self.thread),
            (":created_at_ms", &self.created_at_ms),
            (":updated_at_ms", updated_at_ms),
            (":record", &self.record),
        ]
    }
}

/// Lower-cased: GitHub treats `Octo-Org/Repo` and `octo-org/repo` as one repository.
fn repo_key(repo: &RepoFullName) -> String {
    repo.as_str().to_ascii_lowercase()
}

fn status_named(name: &str) -> Result<JobStatus, StoreError> {
    JobStatus::from_name(name)
        .ok_or_else(|| StoreError::Corrupt(format!("job row: unknown status `{name}`")))
}

fn insert_job(connection: &Connection, row: &JobRow) -> Result<Created, StoreError> {
    let inserted = connection
        .prepare_cached(
            "INSERT INTO jobs (id, status, repo, thread, created_at_ms, updated_at_ms, record)
             VALUES (:id, :status, :repo, :thread, :created_at_ms, :updated_at_ms, :record)
             ON CONFLICT (id) DO NOTHING",
        )
        .and_then(|mut insert| insert.execute(&row.columns(&now_ms())[..]))
        .map_err(sql_error)?;
    if inserted == 1 {
        return Ok(Created::New);
    }
    match stored_job(connection, &row.id)? {
        Some(existing) => Ok(Created::Existing(Box::new(existing))),
        // Deleted between the two statements: only an operator does that.
        None => Err(StoreError::Unavailable(format!(
            "job {} existed and then vanished while being created",
            row.id
        ))),
    }
}

fn stored_job(connection: &Connection, id: &str) -> Result<Option<JobRecord>, StoreError> {
    let what = format!("job record {id}");
    select_record(
        connection,
        &what,
        "SELECT record FROM jobs WHERE id = ?1",
        [id],
    )
}

/// Replaces the job if its stored status is `expected`; otherwise reports what is stored,
/// read in the same transaction so that the answer is the state that refused the write.
fn replace_job(
    connection: &mut Connection,
    row: &JobRow,
    expected: JobStatus,
) -> Result<(), StoreError> {
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_error)?;
    let expected = expected.as_str();
    let now = now_ms();
    let mut columns = row.columns(&now).to_vec();
    columns.push((":expected", &expected));
    let updated = transaction
        .prepare_cached(
            "UPDATE jobs SET status = :status, repo = :repo, thread = :thread,
                             created_at_ms = :created_at_ms, updated_at_ms = :updated_at_ms,
                             record = :record
             WHERE id = :id AND status = :expected",
        )
        .and_then(|mut update| update.execute(&columns[..]))
        .map_err(sql_error)?;
    if updated == 1 {
        return transaction.commit().map_err(sql_error);
    }
    let current: Option<String> = transaction
        .query_row(
            "SELECT status FROM jobs WHERE id = ?1",
            [&row.id],
            |found| found.get(0),
        )
        .optional()
        .map_err(sql_error)?;
    let current = current.as_deref().map(status_named).transpose()?;
    Err(StoreError::Conflict { current })
}

/// The job records a query selects as its only column, in its order.
pub(super) fn job_records<P: Params>(
    connection: &Connection,
    sql: &str,
    params: P,
) -> Result<Vec<JobRecord>, StoreError> {
    select_records(connection, "job record", sql, params)
}

/// An error about a task token's row, with SQLite's error code only: the text of an error
/// about that row must never be able to quote the token.
fn token_error(what: &str, err: &rusqlite::Error) -> StoreError {
    match err.sqlite_error_code() {
        Some(code) => StoreError::Unavailable(format!("{what}: SQLite error {code:?}")),
        None => StoreError::Unavailable(format!("{what}: SQLite failed")),
    }
}

impl JobStore for Database {
    async fn create_job(&self, job: &JobRecord) -> Result<Created, StoreError> {
        let row = JobRow::of(job)?;
        self.call(move |connection| insert_job(connection, &row))
            .await
    }

    async fn job(&self, id: &JobId) -> Result<Option<JobRecord>, StoreError> {
        let id = id.as_str().to_owned();
        self.call(move |connection| stored_job(connection, &id))
            .await
    }

    async fn update_job(&self, job: &JobRecord, expected: JobStatus) -> Result<(), StoreError> {
        let row = JobRow::of(job)?;
        self.call(move |connection| replace_job(connection, &row, expected))
            .await
    }

    async fn jobs_for_thread(
        &self,
        repo: &RepoFullName,
        number: u64,
        limit: usize,
    ) -> Result<Vec<JobRecord>, StoreError> {
        let repo = repo_key(repo);
        self.call(move |connection| {
            job_records(
                connection,
                "SELECT record FROM jobs WHERE repo = ?1 AND thread = ?2
                 ORDER BY created_at_ms DESC, id DESC LIMIT ?3",
                params![repo, number, limit],
            )
        })
        .await
    }

    async fn put_task_token(
        &self,
        job: &JobId,
        wait: Wait,
        token: &TaskToken,
    ) -> Result<(), StoreError> {
        let job = job.as_str().to_owned();
        let token = token.clone();
        self.call(move |connection| {
            connection
                .prepare_cached(
                    "INSERT INTO task_tokens (job, wait, token) VALUES (?1, ?2, ?3)
                     ON CONFLICT (job, wait) DO UPDATE SET token = excluded.token",
                )
                .and_then(|mut upsert| {
                    upsert.execute(params![job, wait_name(wait), token.expose()])
                })
                .map(|_| ())
                .map_err(|err| token_error("storing a task token", &err))
        })
        .await
    }

    async fn task_token(&self, job: &JobId, wait: Wait) -> Result<Option<TaskToken>, StoreError> {
        let job = job.as_str().to_owned();
        self.call(move |connection| {
            connection
                .prepare_cached("SELECT token FROM task_tokens WHERE job = ?1 AND wait = ?2")
                .and_then(|mut select| {
                    select
                        .query_row(params![job, wait_name(wait)], |row| row.get::<_, String>(0))
                        .optional()
                })
                .map(|token| token.map(TaskToken::new))
                .map_err(|err| token_error("reading a task token", &err))
        })
        .await
    }
}

/// The listings the `ota` commands and the status page show.
impl Database {
    /// The newest jobs first, at most `limit`, only those in `status` when given.
    pub async fn recent_jobs(
        &self,
        limit: usize,
        status: Option<JobStatus>,
    ) -> Result<Vec<JobRecord>, StoreError> {
        self.call(move |connection| match status {
            Some(status) => job_records(
                connection,
                "SELECT record FROM jobs WHERE status = ?1
                 ORDER BY created_at_ms DESC, id DESC LIMIT ?2",
                params![status.as_str(), limit],
            ),
            None => job_records(
                connection,
                "SELECT record FROM jobs ORDER BY created_at_ms DESC, id DESC LIMIT ?1",
                params![limit],
            ),
        })
        .await
    }

    /// The jobs whose id starts with `prefix` (a full id, or its first characters as
    /// [`JobId::short`] shows them), newest first, at most [`MAX_PREFIX_MATCHES`].
    /// Surrounding space and upper case are forgiven; an empty prefix matches nothing.
    pub async fn jobs_by_prefix(&self, prefix: &str) -> Result<Vec<JobRecord>, StoreError> {
        let prefix = prefix.trim().to_ascii_lowercase();
        if prefix.is_empty() {
            return Ok(Vec::new());
        }
        self.call(move |connection| {
            // The range lets SQLite seek in the primary key (ids are `j` and hex digits,
            // all below `~`); `substr` keeps the match exact for any prefix.
            job_records(
                connection,
                "SELECT record FROM jobs
                 WHERE id >= ?1 AND id < ?1 || '~' AND substr(id, 1, length(?1)) = ?1
                 ORDER BY created_at_ms DESC, id DESC LIMIT ?2",
                params![prefix, MAX_PREFIX_MATCHES],
            )
        })
        .await
    }

    /// How many jobs are in each status, in lifecycle order ([`JobStatus::ALL`]);
    /// statuses no job is in are left out.
    pub async fn job_counts(&self) -> Result<Vec<(JobStatus, u64)>, StoreError> {
        let counted: Vec<(String, u64)> = self
            .call(|connection| {
                let mut select = connection
                    .prepare_cached("SELECT status, COUNT(*) FROM jobs GROUP BY status")
                    .map_err(sql_error)?;
                let rows = select
                    .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
                    .map_err(sql_error)?;
                rows.collect::<Result<_, _>>().map_err(sql_error)
            })
            .await?;
        let mut counts = counted
            .into_iter()
            .map(|(name, count)| Ok((status_named(&name)?, count)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        counts.sort_by_key(|(status, _)| *status as usize);
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::database;
    use e2e::store_contract::{self, job};

    #[tokio::test]
    async fn jobs_keep_the_job_store_contract() {
        let (_dir, db) = database();
        store_contract::job_store_contract(&db).await;
    }

    #[tokio::test]
    async fn of_writers_racing_on_a_job_exactly_one_wins() {
        let (_dir, db) = database();
        let created = job(1_000);
        db.create_job(&created).await.expect("create");
        let racers: Vec<_> = (0..16u64)
            .map(|i| {
                let db = db.clone();
                let mut moved = created.clone();
                moved
                    .move_to(JobStatus::Cancelled, 2_000 + i)
                    .expect("cancel");
                tokio::spawn(async move { db.update_job(&moved, JobStatus::Queued).await })
            })
            .collect();
        let mut wins = 0;
        for racer in racers {
            match racer.await.expect("task") {
                Ok(()) => wins += 1,
                Err(err) => assert_eq!(
                    err,
                    StoreError::Conflict {
                        current: Some(JobStatus::Cancelled)
                    }
                ),
            }
        }
        assert_eq!(wins, 1);
    }

    #[tokio::test]
    async fn the_job_record_never_holds_its_task_token() {
        let (_dir, db) = database();
        let job = job(1_000);
        db.create_job(&job).await.expect("create");
        db.put_task_token(&job.id, Wait::Approval, &TaskToken::new("approval-token"))
            .await
            .expect("put");
        let record: String = db
            .call(|connection| {
                connection
                    .query_row("SELECT record FROM jobs", [], |row| row.get(0))
                    .map_err(sql_error)
            })
            .await
            .expect("raw read");
        assert!(!record.contains("token"), "{record}");
    }

    #[tokio::test]
    async fn an_unreadable_record_is_corrupt_not_missing() {
        let (_dir, db) = database();
        let job = job(1_000);
        let id = job.id.as_str().to_owned();
        db.call(move |connection| {
            connection
                .execute(
                    "INSERT INTO jobs (id, status, repo, created_at_ms, updated_at_ms, record)
                     VALUES (?1, 'queued', 'octo-org/hello-world', 1, 1, '{\"id\": 5}')",
                    [id],
                )
                .map_err(sql_error)
        })
        .await
        .expect("raw write");
        store_contract::an_unreadable_job_is_corrupt(&db, &job).await;
        let listed = db.recent_jobs(10, None).await;
        assert!(matches!(listed, Err(StoreError::Corrupt(_))), "{listed:?}");
    }

    #[tokio::test]
    async fn listings_show_the_newest_jobs_their_prefixes_and_counts() {
        let (_dir, db) = database();
        let mut jobs = Vec::new();
        for created_at in [1_000, 3_000, 2_000] {
            let job = job(created_at);
            db.create_job(&job).await.expect("create");
            jobs.push(job);
        }
        let mut running = jobs[2].clone();
        running
            .move_to(JobStatus::Dispatching, 4_000)
            .expect("move");
        db.update_job(&running, JobStatus::Queued)
            .await
            .expect("update");

        let newest = db.recent_jobs(2, None).await.expect("list");
        assert_eq!(newest, [jobs[1].clone(), running.clone()]);
        let queued = db
            .recent_jobs(10, Some(JobStatus::Queued))
            .await
            .expect("list");
        assert_eq!(queued, [jobs[1].clone(), jobs[0].clone()]);
        assert_eq!(
            db.recent_jobs(10, Some(JobStatus::Failed)).await,
            Ok(Vec::new())
        );

        let target = &jobs[0].id;
        for prefix in [
            target.short(),
            target.as_str(),
            &target.short().to_uppercase(),
        ] {
            assert_eq!(
                db.jobs_by_prefix(&format!(" {prefix} ")).await,
                Ok(vec![jobs[0].clone()]),
                "{prefix}"
            );
        }
        assert_eq!(db.jobs_by_prefix("j").await.expect("list").len(), 3);
        assert_eq!(db.jobs_by_prefix("").await, Ok(Vec::new()));
        assert_eq!(db.jobs_by_prefix("x").await, Ok(Vec::new()));
        assert_eq!(db.jobs_by_prefix("j%").await, Ok(Vec::new()));

        assert_eq!(
            db.job_counts().await,
            Ok(vec![(JobStatus::Queued, 2), (JobStatus::Dispatching, 1)])
        );
    }
}
