//! The dashboard's reads of the store: a page of jobs by a filter (newest first, read on
//! by a keyset cursor so a page costs the same however deep) and a job's runner attempts.

use super::db::{Database, sql_error};
use super::jobs::job_records;
use super::record::sql_ms;
use rusqlite::ToSql;
use rusqlite::params;
use shared::job::JobId;
use shared::ports::{JobFilter, JobPage, StoreError};

/// The most jobs one page holds, whatever is asked.
pub const MAX_PAGE: usize = 200;

/// One runner process started for a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerAttempt {
    pub attempt: u32,
    /// The log file's path.
    pub log: String,
    pub exit_code: Option<i64>,
}

/// The cursor after the job created at `created_at_ms` with `id`.
fn cursor(created_at_ms: u64, id: &JobId) -> String {
    format!("{created_at_ms}.{id}")
}

/// A cursor read back; one that is not ours is an error naming it.
fn parse_cursor(raw: &str) -> Result<(i64, String), StoreError> {
    raw.split_once('.')
        .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_owned())))
        .ok_or_else(|| StoreError::Corrupt(format!("not a page cursor: {raw:?}")))
}

impl Database {
    /// The jobs `filter` selects, newest first, at most `limit` (and [`MAX_PAGE`]), after
    /// the cursor `after`.
    pub async fn job_page(
        &self,
        filter: &JobFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<JobPage, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE);
        let mut clauses: Vec<String> = Vec::new();
        let mut values: Vec<Box<dyn ToSql + Send>> = Vec::new();
        if let Some(repos) = &filter.repos {
            if repos.is_empty() {
                return Ok(JobPage {
                    jobs: Vec::new(),
                    next: None,
                });
            }
            let marks = vec!["?"; repos.len()].join(", ");
            clauses.push(format!("repo IN ({marks})"));
            for repo in repos {
                values.push(Box::new(repo.as_str().to_ascii_lowercase()));
            }
        }
        if let Some(repo) = &filter.repo {
            clauses.push("repo = ?".to_owned());
            values.push(Box::new(repo.as_str().to_ascii_lowercase()));
        }
        if let Some(status) = filter.status {
            clauses.push("status = ?".to_owned());
            values.push(Box::new(status.as_str()));
        }
        if let Some(task) = &filter.task {
            clauses.push("json_extract(record, '$.task') = ?".to_owned());
            values.push(Box::new(task.clone()));
        }
        if let Some(requester) = &filter.requester {
            clauses.push("lower(json_extract(record, '$.requester')) = lower(?)".to_owned());
            values.push(Box::new(requester.clone()));
        }
        if let Some(since) = filter.since_ms {
            clauses.push("created_at_ms >= ?".to_owned());
            values.push(Box::new(sql_ms(since)));
        }
        if let Some(until) = filter.until_ms {
            clauses.push("created_at_ms < ?".to_owned());
            values.push(Box::new(sql_ms(until)));
        }
        if let Some(after) = after {
            let (at, id) = parse_cursor(after)?;
            clauses.push("(created_at_ms, id) < (?, ?)".to_owned());
            values.push(Box::new(at));
            values.push(Box::new(id));
        }
        let condition = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        // One more than the page, to know whether another follows.
        values.push(Box::new(limit + 1));
        let sql = format!(
            "SELECT record FROM jobs {condition} ORDER BY created_at_ms DESC, id DESC LIMIT ?"
        );
        let mut jobs = self
            .call(move |connection| {
                let params: Vec<&dyn ToSql> = values
                    .iter()
                    .map(|value| value.as_ref() as &dyn ToSql)
                    .collect();
                job_records(connection, &sql, params.as_slice())
            })
            .await?;
        let next = if jobs.len() > limit {
            jobs.truncate(limit);
            jobs.last().map(|job| cursor(job.created_at_ms, &job.id))
        } else {
            None
        };
        Ok(JobPage { jobs, next })
    }

    /// The runners started for `job`, oldest first.
    pub async fn runner_attempts(&self, job: &JobId) -> Result<Vec<RunnerAttempt>, StoreError> {
        let job = job.as_str().to_owned();
        self.call(move |connection| {
            let mut select = connection
                .prepare_cached(
                    "SELECT attempt, log, exit_code FROM runners WHERE job = ?1
                     ORDER BY attempt, rowid",
                )
                .map_err(sql_error)?;
            let rows = select
                .query_map(params![job], |row| {
                    Ok(RunnerAttempt {
                        attempt: row.get(0)?,
                        log: row.get(1)?,
                        exit_code: row.get(2)?,
                    })
                })
                .map_err(sql_error)?;
            rows.collect::<Result<_, _>>().map_err(sql_error)
        })
        .await
    }
}
