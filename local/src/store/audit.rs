//! [`AuditLog`] on SQLite: append-only, one row per entry. The table's unique key is the
//! whole entry, so appending the same entry again (a redelivered batch) leaves one copy
//! and nothing is ever overwritten.

use super::db::{Database, sql_error};
use super::record::{decode, encode, select_records};
use rusqlite::{Connection, Params, ToSql, params};
use shared::ids::InstallationId;
use shared::job::JobId;
use shared::ports::{AuditEntry, AuditFilter, AuditLog, AuditPage, StoreError};

/// The most entries one page of the audit log holds (the CSV export reads page by page).
pub const MAX_AUDIT_PAGE: usize = 1_000;

/// The entries a query selects as its only column, in its order.
fn entries<P: Params>(
    connection: &Connection,
    sql: &str,
    params: P,
) -> Result<Vec<AuditEntry>, StoreError> {
    select_records(connection, "audit entry", sql, params)
}

impl AuditLog for Database {
    async fn append(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let installation = entry.installation.0;
        let at_ms = entry.at_ms;
        let delivery = entry.delivery.clone();
        let job = entry.job.as_ref().map(|job| job.as_str().to_owned());
        let record = encode("audit entry", entry)?;
        self.call(move |connection| {
            connection
                .prepare_cached(
                    "INSERT INTO audit_log (installation, at_ms, delivery, job, record)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (installation, at_ms, delivery, record) DO NOTHING",
                )
                .and_then(|mut insert| {
                    insert.execute(params![installation, at_ms, delivery, job, record])
                })
                .map(|_| ())
                .map_err(sql_error)
        })
        .await
    }

    async fn recent(
        &self,
        installation: InstallationId,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.call(move |connection| {
            entries(
                connection,
                "SELECT record FROM audit_log WHERE installation = ?1
                 ORDER BY at_ms DESC, id DESC LIMIT ?2",
                params![installation.0, limit],
            )
        })
        .await
    }
}

impl Database {
    /// Every decision recorded about `job`, oldest first: its story for `ota job <id>`.
    pub async fn audit_for_job(&self, job: &JobId) -> Result<Vec<AuditEntry>, StoreError> {
        let job = job.as_str().to_owned();
        self.call(move |connection| {
            entries(
                connection,
                "SELECT record FROM audit_log WHERE job = ?1 ORDER BY at_ms, id",
                [job],
            )
        })
        .await
    }
}

impl Database {
    /// The audit entries `filter` selects, newest first, at most `limit` (and
    /// [`MAX_AUDIT_PAGE`]), after the cursor `after` (a row's id, as this answers it).
    pub async fn audit_page(
        &self,
        filter: &AuditFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<AuditPage, StoreError> {
        let limit = limit.clamp(1, MAX_AUDIT_PAGE);
        let mut clauses: Vec<String> = Vec::new();
        let mut values: Vec<Box<dyn ToSql + Send>> = Vec::new();
        let repo = "lower(json_extract(record, '$.repo'))";
        if let Some(repos) = &filter.repos {
            if repos.is_empty() {
                return Ok(AuditPage {
                    entries: Vec::new(),
                    next: None,
                });
            }
            let marks = vec!["?"; repos.len()].join(", ");
            clauses.push(format!("{repo} IN ({marks})"));
            for name in repos {
                values.push(Box::new(name.as_str().to_ascii_lowercase()));
            }
        }
        if let Some(name) = &filter.repo {
            clauses.push(format!("{repo} = ?"));
            values.push(Box::new(name.as_str().to_ascii_lowercase()));
        }
        if let Some(actor) = &filter.actor {
            clauses.push("lower(json_extract(record, '$.actor')) = lower(?)".to_owned());
            values.push(Box::new(actor.clone()));
        }
        if let Some(decision) = &filter.decision {
            clauses.push("json_extract(record, '$.decision') = ?".to_owned());
            values.push(Box::new(decision.clone()));
        }
        if let Some(since) = filter.since_ms {
            clauses.push("at_ms >= ?".to_owned());
            values.push(Box::new(i64::try_from(since).unwrap_or(i64::MAX)));
        }
        if let Some(until) = filter.until_ms {
            clauses.push("at_ms < ?".to_owned());
            values.push(Box::new(i64::try_from(until).unwrap_or(i64::MAX)));
        }
        if let Some(after) = after {
            let id: i64 = after
                .strip_prefix('a')
                .and_then(|id| id.parse().ok())
                .ok_or_else(|| StoreError::Corrupt(format!("not an audit cursor: {after}")))?;
            clauses.push("id < ?".to_owned());
            values.push(Box::new(id));
        }
        let condition = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        // One more than the page, to know whether another follows. Newest first: the
        // row id orders entries as they were appended.
        values.push(Box::new(i64::try_from(limit + 1).unwrap_or(i64::MAX)));
        let sql = format!("SELECT id, record FROM audit_log {condition} ORDER BY id DESC LIMIT ?");
        let mut rows: Vec<(i64, String)> = self
            .call(move |connection| {
                let params: Vec<&dyn ToSql> = values
                    .iter()
                    .map(|value| value.as_ref() as &dyn ToSql)
                    .collect();
                let mut statement = connection.prepare(&sql).map_err(sql_error)?;
                let rows = statement
                    .query_map(params.as_slice(), |row| Ok((row.get(0)?, row.get(1)?)))
                    .map_err(sql_error)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(sql_error)
            })
            .await?;
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|(id, _)| format!("a{id}"))
        } else {
            None
        };
        let entries = rows
            .iter()
            .map(|(_, json)| decode("audit entry", json))
            .collect::<Result<Vec<AuditEntry>, _>>()?;
        Ok(AuditPage { entries, next })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::database;
    use e2e::store_contract::{self, audit_entry, job};

    #[tokio::test]
    async fn the_audit_log_keeps_the_audit_log_contract() {
        let (_dir, db) = database();
        store_contract::audit_log_contract(&db).await;
    }

    /// The contract leaves the order within one millisecond open; here the later
    /// append reads first.
    #[tokio::test]
    async fn entries_of_one_millisecond_read_newest_appended_first() {
        let (_dir, db) = database();
        let first = audit_entry(12, 3_000, "/ollama refactor");
        let second = audit_entry(12, 3_000, "/ollama docs");
        for entry in [&first, &audit_entry(12, 1_000, "/ollama fix"), &second] {
            db.append(entry).await.expect("append");
        }
        assert_eq!(
            db.recent(InstallationId(12), 2).await,
            Ok(vec![second, first])
        );
    }

    #[tokio::test]
    async fn a_jobs_entries_read_oldest_first() {
        let (_dir, db) = database();
        let job_id = job(1).id;
        let about_job = |at_ms, command| AuditEntry {
            job: Some(job_id.clone()),
            ..audit_entry(12, at_ms, command)
        };
        let approved = about_job(5_000, "/approve");
        let asked = about_job(1_000, "/ollama refactor");
        for entry in [&approved, &audit_entry(12, 2_000, "/ollama other"), &asked] {
            db.append(entry).await.expect("append");
        }
        assert_eq!(db.audit_for_job(&job_id).await, Ok(vec![asked, approved]));
        assert_eq!(db.audit_for_job(&job(2).id).await, Ok(Vec::new()));
    }
}
