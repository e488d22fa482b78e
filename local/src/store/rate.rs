//! [`RateLimiter`] on SQLite: one counter row per key and fixed window, counted up by a
//! single upsert that only counts while the count is under the limit. SQLite runs each
//! statement atomically, so concurrent callers (in this process or another) never
//! overshoot the limit.

use super::db::{Database, sql_error};
use super::record::sql_ms;
use rusqlite::{Connection, OptionalExtension, params};
use shared::clock::millis;
use shared::ports::{RATE_COUNTER_SLACK, RateDecision, RateLimiter, RateWindow, StoreError};
use std::time::Duration;

/// Counts one use unless `limit` were counted already; `true` when counted. The counter
/// is kept [`RATE_COUNTER_SLACK`] after its window ends, as on DynamoDB, where the same
/// slack goes into the counter's TTL.
fn count_use(
    connection: &Connection,
    key: &str,
    limit: u32,
    window: RateWindow,
    now_ms: u64,
) -> Result<bool, StoreError> {
    let counted: Option<u64> = connection
        .prepare_cached(
            "INSERT INTO rate_counters (key, window_ms, window_start_ms, count, expires_at_ms)
             VALUES (?1, ?2, ?3, 1, ?4)
             ON CONFLICT (key, window_ms, window_start_ms)
                 DO UPDATE SET count = count + 1 WHERE count < ?5
             RETURNING count",
        )
        .and_then(|mut upsert| {
            upsert
                .query_row(
                    params![
                        key,
                        sql_ms(window.length_ms),
                        sql_ms(window.start_ms),
                        sql_ms(window.end_ms.saturating_add(millis(RATE_COUNTER_SLACK))),
                        limit
                    ],
                    |row| row.get(0),
                )
                .optional()
        })
        .map_err(sql_error)?;
    if counted == Some(1) {
        // A new window began: a good moment to drop the counters long past theirs.
        connection
            .prepare_cached("DELETE FROM rate_counters WHERE expires_at_ms < ?1")
            .and_then(|mut delete| delete.execute([sql_ms(now_ms)]))
            .map_err(sql_error)?;
    }
    Ok(counted.is_some())
}

impl RateLimiter for Database {
    async fn acquire(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now_ms: u64,
    ) -> Result<RateDecision, StoreError> {
        let bounds = RateWindow::containing(window, now_ms);
        let key = key.to_owned();
        // A limit of zero allows nothing: no counter to look at.
        let counted = limit > 0
            && self
                .call(move |connection| count_use(connection, &key, limit, bounds, now_ms))
                .await?;
        Ok(if counted {
            RateDecision::Allowed
        } else {
            bounds.limited()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::database;

    const HOUR: Duration = Duration::from_secs(3_600);
    const START: u64 = 1_700_000_000_000 - 1_700_000_000_000 % 3_600_000;

    #[tokio::test]
    async fn counters_keep_the_rate_limiter_contract() {
        let (_dir, db) = database();
        e2e::store_contract::rate_limiter_contract(&db).await;
    }

    #[tokio::test]
    async fn concurrent_callers_never_overshoot_the_limit() {
        let (_dir, db) = database();
        let callers: Vec<_> = (0..20)
            .map(|_| {
                let db = db.clone();
                tokio::spawn(async move { db.acquire("installation:42", 5, HOUR, START).await })
            })
            .collect();
        let mut allowed = 0;
        for caller in callers {
            match caller.await.expect("task").expect("answer") {
                RateDecision::Allowed => allowed += 1,
                RateDecision::Limited { retry_at_ms } => {
                    assert_eq!(retry_at_ms, START + 3_600_000);
                }
            }
        }
        assert_eq!(allowed, 5);
    }

    #[tokio::test]
    async fn counters_go_once_their_window_and_the_slack_are_over() {
        let (_dir, db) = database();
        let counters = |db: Database| async move {
            db.call(|connection| {
                connection
                    .query_row("SELECT COUNT(*) FROM rate_counters", [], |row| {
                        row.get::<_, u64>(0)
                    })
                    .map_err(sql_error)
            })
            .await
            .expect("count")
        };
        db.acquire("a", 5, HOUR, START).await.expect("count");
        db.acquire("b", 5, HOUR, START).await.expect("count");
        assert_eq!(counters(db.clone()).await, 2);
        // Within the slack after the window, the old counters stay.
        db.acquire("a", 5, HOUR, START + 3_600_000)
            .await
            .expect("count");
        assert_eq!(counters(db.clone()).await, 3);
        // Past it, a new window's first use drops them.
        db.acquire("c", 5, HOUR, START + 4 * 3_600_000)
            .await
            .expect("count");
        assert_eq!(counters(db.clone()).await, 1);
    }
}
