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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::database;
    use e2e::store_contract::{comment_on, job_on};
    use shared::ids::RepoFullName;
    use shared::job::JobStatus;
    use shared::ports::JobStore;

    fn ids(page: &JobPage) -> Vec<u64> {
        page.jobs.iter().map(|job| job.created_at_ms).collect()
    }

    #[tokio::test]
    async fn pages_read_newest_first_and_every_filter_narrows() {
        let (_dir, db) = database();
        for at in 1..=5u64 {
            let mut job = job_on("Octo-Org/Hello-World", comment_on(7), at * 1_000);
            if at == 2 {
                job.task = "docs".to_owned();
                job.requester = "Hubot".to_owned();
            }
            if at == 4 {
                job.status = JobStatus::Failed;
            }
            db.create_job(&job).await.expect("create");
        }
        db.create_job(&job_on("other/repo", comment_on(1), 6_000))
            .await
            .expect("create");

        let all = JobFilter::default();
        let first = db.job_page(&all, None, 4).await.expect("page");
        assert_eq!(ids(&first), [6_000, 5_000, 4_000, 3_000]);
        let next = first.next.clone().expect("another page");
        let second = db.job_page(&all, Some(&next), 4).await.expect("page");
        assert_eq!(ids(&second), [2_000, 1_000]);
        assert_eq!(second.next, None);

        let mine = JobFilter {
            repos: Some(vec![RepoFullName::new("octo-org/hello-world")]),
            ..JobFilter::default()
        };
        assert_eq!(
            ids(&db.job_page(&mine, None, 10).await.expect("page")).len(),
            5
        );
        let nothing = JobFilter {
            repos: Some(Vec::new()),
            ..JobFilter::default()
        };
        assert!(
            db.job_page(&nothing, None, 10)
                .await
                .expect("page")
                .jobs
                .is_empty()
        );

        let cases = [
            (
                JobFilter {
                    repo: Some(RepoFullName::new("OTHER/repo")),
                    ..JobFilter::default()
                },
                vec![6_000],
            ),
            (
                JobFilter {
                    task: Some("docs".to_owned()),
                    ..JobFilter::default()
                },
                vec![2_000],
            ),
            (
                JobFilter {
                    requester: Some("hubot".to_owned()),
                    ..JobFilter::default()
                },
                vec![2_000],
            ),
            (
                JobFilter {
                    status: Some(JobStatus::Failed),
                    ..JobFilter::default()
                },
                vec![4_000],
            ),
            (
                JobFilter {
                    since_ms: Some(3_000),
                    until_ms: Some(5_000),
                    ..JobFilter::default()
                },
                vec![4_000, 3_000],
            ),
        ];
        for (filter, expected) in cases {
            let page = db.job_page(&filter, None, 10).await.expect("page");
            assert_eq!(ids(&page), expected, "{filter:?}");
        }
        assert!(matches!(
            db.job_page(&all, Some("not a cursor"), 4).await,
            Err(StoreError::Corrupt(_))
        ));
    }
}
