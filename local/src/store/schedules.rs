//! [`ScheduleRegistry`] on SQLite: one row per repository with a schedule, its next fire
//! time in an indexed column for the tick, the entry itself as JSON; and the tracking
//! issues, apart, since they outlive a schedule.

use super::db::{Database, sql_error};
use super::record::{decode, encode, select_record, select_records, sql_ms};
use rusqlite::{OptionalExtension, params};
use shared::ids::{InstallationId, RepoId};
use shared::ports::{ScheduleEntry, ScheduleRegistry, StoreError};

const WHAT: &str = "schedule";

impl ScheduleRegistry for Database {
    async fn put_schedule(&self, entry: &ScheduleEntry) -> Result<(), StoreError> {
        let record = encode(WHAT, entry)?;
        let (repo, installation) = (entry.repository.id.0, entry.installation.0);
        let next = entry.next_fire_ms.map(sql_ms);
        self.call(move |connection| {
            connection
                .prepare_cached(
                    "INSERT INTO schedules (repo_id, installation, next_fire_ms, record)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (repo_id) DO UPDATE SET installation = excluded.installation,
                         next_fire_ms = excluded.next_fire_ms, record = excluded.record",
                )
                .and_then(|mut upsert| upsert.execute(params![repo, installation, next, record]))
                .map(|_| ())
                .map_err(sql_error)
        })
        .await
    }

    async fn schedule(&self, repo: RepoId) -> Result<Option<ScheduleEntry>, StoreError> {
        self.call(move |connection| {
            let sql = "SELECT record FROM schedules WHERE repo_id = ?1";
            select_record(connection, WHAT, sql, [repo.0])
        })
        .await
    }

    async fn remove_schedule(&self, repo: RepoId) -> Result<bool, StoreError> {
        self.call(move |connection| {
            connection
                .execute("DELETE FROM schedules WHERE repo_id = ?1", [repo.0])
                .map(|removed| removed > 0)
                .map_err(sql_error)
        })
        .await
    }

    async fn remove_installation_schedules(
        &self,
        installation: InstallationId,
    ) -> Result<u64, StoreError> {
        self.call(move |connection| {
            connection
                .execute(
                    "DELETE FROM schedules WHERE installation = ?1",
                    [installation.0],
                )
                .map(|removed| removed as u64)
                .map_err(sql_error)
        })
        .await
    }

    async fn due_schedules(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<ScheduleEntry>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.call(move |connection| {
            let sql = "SELECT record FROM schedules
                       WHERE next_fire_ms IS NOT NULL AND next_fire_ms <= ?1
                       ORDER BY next_fire_ms, repo_id LIMIT ?2";
            select_records(connection, WHAT, sql, params![sql_ms(now_ms), limit])
        })
        .await
    }

    async fn claim_fire(
        &self,
        repo: RepoId,
        expected_ms: u64,
        fired_ms: Option<u64>,
        next_ms: Option<u64>,
    ) -> Result<bool, StoreError> {
        self.call(move |connection| {
            let transaction = connection.transaction().map_err(sql_error)?;
            let json: Option<String> = transaction
                .query_row(
                    "SELECT record FROM schedules WHERE repo_id = ?1 AND next_fire_ms = ?2",
                    params![repo.0, sql_ms(expected_ms)],
                    |row| row.get(0),
                )
                .optional()
                .map_err(sql_error)?;
            let Some(json) = json else {
                return Ok(false);
            };
            let mut entry: ScheduleEntry = decode(WHAT, &json)?;
            entry.last_fired_ms = fired_ms;
            entry.next_fire_ms = next_ms;
            let record = encode(WHAT, &entry)?;
            transaction
                .execute(
                    "UPDATE schedules SET next_fire_ms = ?2, record = ?3 WHERE repo_id = ?1",
                    params![repo.0, next_ms.map(sql_ms), record],
                )
                .map_err(sql_error)?;
            transaction.commit().map_err(sql_error)?;
            Ok(true)
        })
        .await
    }

    async fn tracking_issue(&self, repo: RepoId) -> Result<Option<u64>, StoreError> {
        self.call(move |connection| {
            connection
                .query_row(
                    "SELECT number FROM tracking_issues WHERE repo_id = ?1",
                    [repo.0],
                    |row| row.get::<_, i64>(0),
                )
                .optional()
                .map(|number| number.and_then(|n| u64::try_from(n).ok()))
                .map_err(sql_error)
        })
        .await
    }

    async fn put_tracking_issue(&self, repo: RepoId, number: u64) -> Result<(), StoreError> {
        let number = sql_ms(number);
        self.call(move |connection| {
            connection
                .execute(
                    "INSERT INTO tracking_issues (repo_id, number) VALUES (?1, ?2)
                     ON CONFLICT (repo_id) DO UPDATE SET number = excluded.number",
                    params![repo.0, number],
                )
                .map(|_| ())
                .map_err(sql_error)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use crate::store::test_support::database;
    use e2e::store_contract;

    #[tokio::test]
    async fn schedules_keep_the_schedule_registry_contract() {
        let (_dir, db) = database();
        store_contract::schedule_registry_contract(&db).await;
    }
}
