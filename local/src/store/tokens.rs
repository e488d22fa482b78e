//! [`TokenLedger`] on SQLite: a counter row per installation and UTC day or month, and a
//! row per counted job. One transaction inserts the job's row — unless it is there
//! already, and then nothing changes — and adds its tokens to the day's and the month's
//! counters, so a job counts once and concurrent adds (in this process or another) all
//! count.

use super::db::{Database, sql_error};
use super::record::sql_ms;
use rusqlite::{Connection, OptionalExtension, params};
use shared::ids::InstallationId;
use shared::job::JobId;
use shared::ports::{BudgetPeriod, BudgetWindow, StoreError, TokenLedger, TokensUsed};

fn sql_tokens(tokens: u64) -> i64 {
    i64::try_from(tokens).unwrap_or(i64::MAX)
}

fn add(
    connection: &mut Connection,
    installation: InstallationId,
    job: &str,
    tokens: u64,
    at_ms: u64,
) -> Result<bool, StoreError> {
    let day = BudgetWindow::containing(BudgetPeriod::Day, at_ms);
    let month = BudgetWindow::containing(BudgetPeriod::Month, at_ms);
    let installation = sql_ms(installation.0);
    let transaction = connection.transaction().map_err(sql_error)?;
    let inserted = transaction
        .prepare_cached(
            "INSERT INTO token_charges (job, installation, tokens, at_ms, expires_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (job) DO NOTHING",
        )
        .and_then(|mut insert| {
            insert.execute(params![
                job,
                installation,
                sql_tokens(tokens),
                sql_ms(at_ms),
                sql_ms(month.keep_until_ms())
            ])
        })
        .map_err(sql_error)?;
    if inserted == 0 {
        return Ok(false);
    }
    for window in [&day, &month] {
        transaction
            .prepare_cached(
                "INSERT INTO token_counters (installation, period, window_label, tokens)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (installation, period, window_label)
                     DO UPDATE SET tokens = min(tokens + excluded.tokens, 9223372036854775807)",
            )
            .and_then(|mut upsert| {
                upsert.execute(params![
                    installation,
                    window.period.as_str(),
                    window.label,
                    sql_tokens(tokens)
                ])
            })
            .map_err(sql_error)?;
    }
    transaction
        .prepare_cached("DELETE FROM token_charges WHERE expires_at_ms < ?1")
        .and_then(|mut delete| delete.execute([sql_ms(at_ms)]))
        .map_err(sql_error)?;
    transaction.commit().map_err(sql_error)?;
    Ok(true)
}

fn used(
    connection: &Connection,
    installation: InstallationId,
    window: &BudgetWindow,
) -> Result<u64, StoreError> {
    let tokens: Option<i64> = connection
        .prepare_cached(
            "SELECT tokens FROM token_counters
             WHERE installation = ?1 AND period = ?2 AND window_label = ?3",
        )
        .and_then(|mut select| {
            select
                .query_row(
                    params![sql_ms(installation.0), window.period.as_str(), window.label],
                    |row| row.get(0),
                )
                .optional()
        })
        .map_err(sql_error)?;
    Ok(tokens.map_or(0, |tokens| u64::try_from(tokens).unwrap_or(0)))
}

impl TokenLedger for Database {
    async fn add_tokens(
        &self,
        installation: InstallationId,
        job: &JobId,
        tokens: u64,
        at_ms: u64,
    ) -> Result<bool, StoreError> {
        let job = job.as_str().to_owned();
        self.call(move |connection| add(connection, installation, &job, tokens, at_ms))
            .await
    }

    async fn tokens_used(
        &self,
        installation: InstallationId,
        now_ms: u64,
    ) -> Result<TokensUsed, StoreError> {
        self.call(move |connection| {
            Ok(TokensUsed {
                day: used(
                    connection,
                    installation,
                    &BudgetWindow::containing(BudgetPeriod::Day, now_ms),
                )?,
                month: used(
                    connection,
                    installation,
                    &BudgetWindow::containing(BudgetPeriod::Month, now_ms),
                )?,
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::database;
    use shared::ids::DeliveryId;

    #[tokio::test]
    async fn counters_keep_the_token_ledger_contract() {
        let (_dir, db) = database();
        e2e::store_contract::token_ledger_contract(&db).await;
    }

    #[tokio::test]
    async fn concurrent_adds_all_count_and_each_job_once() {
        let (_dir, db) = database();
        let at = e2e::store_contract::TOKENS_AT;
        let adds: Vec<_> = (0..20u64)
            .map(|n| {
                let db = db.clone();
                tokio::spawn(async move {
                    let delivery =
                        DeliveryId::parse(&format!("72d3162e-cc78-11e3-81ab-{:012}", n % 10))
                            .expect("delivery id");
                    db.add_tokens(
                        InstallationId(9),
                        &JobId::for_command(&delivery, 0),
                        100,
                        at,
                    )
                    .await
                })
            })
            .collect();
        let mut counted = 0;
        for add in adds {
            if add.await.expect("task").expect("add") {
                counted += 1;
            }
        }
        assert_eq!(counted, 10, "ten jobs, each added twice");
        assert_eq!(
            db.tokens_used(InstallationId(9), at).await,
            Ok(TokensUsed {
                day: 1_000,
                month: 1_000
            })
        );
    }
}
