//! [`AuditLog`] on SQLite: append-only, one row per entry. The table's unique key is the
//! whole entry, so appending the same entry again (a redelivered batch) leaves one copy
//! and nothing is ever overwritten.

use super::db::{Database, sql_error};
use super::record::{encode, select_records};
use rusqlite::{Connection, Params, params};
use shared::ids::InstallationId;
use shared::job::JobId;
use shared::store::{AuditEntry, AuditLog, StoreError};

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
        if limit == 0 {
            return Ok(Vec::new());
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::database;
    use crate::store::test_support::job;
    use shared::ids::RepoFullName;

    fn entry(installation: u64, at_ms: u64, command: &str) -> AuditEntry {
        AuditEntry {
            installation: InstallationId(installation),
            repo: Some(RepoFullName::new("octo-org/hello-world")),
            at_ms,
            delivery: "72d3162e-cc78-11e3-81ab-4c9367dc0958".to_owned(),
            actor: "octocat".to_owned(),
            command: command.to_owned(),
            decision: "accepted".to_owned(),
            reason: "allowed by policy".to_owned(),
            policy: Some("default".to_owned()),
            job: None,
        }
    }

    #[tokio::test]
    async fn the_audit_log_is_append_only_and_reads_newest_first() {
        let (_dir, db) = database();
        let id = InstallationId(12);
        let entries = [
            entry(12, 3_000, "/ollama refactor"),
            entry(12, 1_000, "/ollama fix"),
            entry(12, 2_000, "/approve j1"),
            // Same delivery and millisecond as the first, another command: both are kept.
            entry(12, 3_000, "/ollama docs"),
        ];
        for entry in &entries {
            db.append(entry).await.expect("append");
        }
        // A redelivered batch appends the same entry again: still one copy.
        db.append(&entries[1]).await.expect("append again");
        db.append(&entry(13, 9_000, "/ollama elsewhere"))
            .await
            .expect("append");

        let recent = db.recent(id, 10).await.expect("read");
        assert_eq!(
            recent,
            [
                entries[3].clone(),
                entries[0].clone(),
                entries[2].clone(),
                entries[1].clone()
            ]
        );
        assert_eq!(
            db.recent(id, 2).await,
            Ok(vec![entries[3].clone(), entries[0].clone()])
        );
        assert_eq!(db.recent(id, 0).await, Ok(Vec::new()));
        assert_eq!(db.recent(InstallationId(14), 5).await, Ok(Vec::new()));
    }

    #[tokio::test]
    async fn a_jobs_entries_read_oldest_first() {
        let (_dir, db) = database();
        let job_id = job(1).id;
        let about_job = |at_ms, command| AuditEntry {
            job: Some(job_id.clone()),
            ..entry(12, at_ms, command)
        };
        let approved = about_job(5_000, "/approve");
        let asked = about_job(1_000, "/ollama refactor");
        for entry in [&approved, &entry(12, 2_000, "/ollama other"), &asked] {
            db.append(entry).await.expect("append");
        }
        assert_eq!(db.audit_for_job(&job_id).await, Ok(vec![asked, approved]));
        assert_eq!(db.audit_for_job(&job(2).id).await, Ok(Vec::new()));
    }
}
