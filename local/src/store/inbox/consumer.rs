//! Taking deliveries out of the inbox, on [`Database`]: the head of each group when it is
//! due, and what became of it (done, to be retried later, dead). Also what the status page
//! and `ota` commands show of the inbox.

use crate::store::db::{Database, sql_error};
use crate::store::record::sql_ms;
use rusqlite::{Connection, Params, params};
use shared::ids::DeliveryId;
use shared::ports::StoreError;

/// How much of an error is kept with a delivery: enough for any message the consumer
/// writes, not a whole HTTP body quoted in one.
pub const MAX_ERROR_CHARS: usize = 2_000;

/// A delivery to process: the oldest pending one of its group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingDelivery {
    /// Its place in the inbox, for [`Database::delivery_done`] and the like.
    pub seq: u64,
    pub delivery: DeliveryId,
    /// The [`Envelope`](shared::envelope::Envelope) as JSON: decoding it is the
    /// consumer's business (one that does not decode goes to [`Database::delivery_dead`]).
    pub envelope_json: String,
    /// Failed attempts so far.
    pub attempts: u32,
}

/// How many deliveries wait, and how many gave up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InboxCounts {
    pub pending: u64,
    pub dead: u64,
}

/// A delivery that failed for good, for an operator to look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadDelivery {
    pub seq: u64,
    pub delivery: DeliveryId,
    /// The webhook event (`issue_comment`, ...); `None` when the envelope is unreadable.
    pub event: Option<String>,
    pub error: Option<String>,
    pub attempts: u32,
    pub received_at_ms: u64,
}

/// The head of every group with pending deliveries, if due, oldest first. The recursive
/// part walks the groups through the `inbox_pending` index (one seek per group), so the
/// cost follows the number of groups, not the number of pending deliveries.
const NEXT_DELIVERIES: &str = "
    WITH RECURSIVE groups (grp) AS (
        SELECT MIN(grp) FROM inbox WHERE state = 'pending'
        UNION ALL
        SELECT (SELECT MIN(grp) FROM inbox WHERE state = 'pending' AND grp > groups.grp)
        FROM groups WHERE groups.grp IS NOT NULL
    ),
    heads (seq) AS (
        SELECT (SELECT MIN(seq) FROM inbox WHERE state = 'pending' AND grp = groups.grp)
        FROM groups WHERE groups.grp IS NOT NULL
    )
    SELECT inbox.seq, inbox.delivery, inbox.envelope, inbox.attempts
    FROM heads JOIN inbox ON inbox.seq = heads.seq
    WHERE inbox.due_at_ms <= ?1
    ORDER BY inbox.seq
    LIMIT ?2";

fn delivery_id(raw: &str) -> Result<DeliveryId, StoreError> {
    DeliveryId::parse(raw)
        .map_err(|err| StoreError::Corrupt(format!("inbox row: delivery id `{raw}` {err}")))
}

/// At most [`MAX_ERROR_CHARS`] of `error`.
fn kept_error(error: &str) -> String {
    match error.char_indices().nth(MAX_ERROR_CHARS) {
        Some((cut, _)) => format!("{}…", &error[..cut]),
        None => error.to_owned(),
    }
}

fn next_deliveries(
    connection: &Connection,
    now_ms: u64,
    limit: usize,
) -> Result<Vec<PendingDelivery>, StoreError> {
    let mut select = connection
        .prepare_cached(NEXT_DELIVERIES)
        .map_err(sql_error)?;
    let rows = select
        .query_map(params![sql_ms(now_ms), limit], |row| {
            Ok((
                row.get::<_, u64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, u32>(3)?,
            ))
        })
        .map_err(sql_error)?;
    rows.map(|row| {
        let (seq, delivery, envelope_json, attempts) = row.map_err(sql_error)?;
        Ok(PendingDelivery {
            seq,
            delivery: delivery_id(&delivery)?,
            envelope_json,
            attempts,
        })
    })
    .collect()
}

fn dead_deliveries(connection: &Connection, limit: usize) -> Result<Vec<DeadDelivery>, StoreError> {
    let mut select = connection
        .prepare_cached(
            "SELECT seq, delivery,
                    CASE WHEN json_valid(envelope) THEN json_extract(envelope, '$.event') END,
                    last_error, attempts, received_at_ms
             FROM inbox WHERE state = 'dead' ORDER BY seq DESC LIMIT ?1",
        )
        .map_err(sql_error)?;
    let rows = select
        .query_map([limit], |row| {
            Ok((
                row.get::<_, u64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Option<String>>(2)?,
                row.get::<_, Option<String>>(3)?,
                row.get::<_, u32>(4)?,
                row.get::<_, u64>(5)?,
            ))
        })
        .map_err(sql_error)?;
    rows.map(|row| {
        let (seq, delivery, event, error, attempts, received_at_ms) = row.map_err(sql_error)?;
        Ok(DeadDelivery {
            seq,
            delivery: delivery_id(&delivery)?,
            event,
            error,
            attempts,
            received_at_ms,
        })
    })
    .collect()
}

impl Database {
    /// The deliveries to process now, oldest first, at most `limit`: of each group only
    /// its oldest pending delivery, and only once it is due. The same heads come back
    /// until they are marked ([`Self::delivery_done`], ...): a consumer that processes
    /// several at once skips the `seq`s it already holds.
    pub async fn next_deliveries(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<PendingDelivery>, StoreError> {
        self.call(move |connection| next_deliveries(connection, now_ms, limit))
            .await
    }

    /// The delivery was processed: its group's next delivery may go.
    pub async fn delivery_done(&self, seq: u64) -> Result<(), StoreError> {
        self.update_delivery(
            "UPDATE inbox SET state = 'done' WHERE seq = ?1 AND state = 'pending'",
            (seq,),
        )
        .await
    }

    /// The attempt failed with a transient error: counts it, and holds the delivery (and
    /// its group) back until `due_at_ms`.
    pub async fn delivery_retry_later(
        &self,
        seq: u64,
        due_at_ms: u64,
        error: &str,
    ) -> Result<(), StoreError> {
        self.update_delivery(
            "UPDATE inbox SET attempts = attempts + 1, due_at_ms = ?2, last_error = ?3
             WHERE seq = ?1 AND state = 'pending'",
            (seq, sql_ms(due_at_ms), kept_error(error)),
        )
        .await
    }

    /// The delivery failed for good (counted as one more attempt): it is kept for an
    /// operator ([`Self::dead_deliveries`]) and no longer holds its group back.
    pub async fn delivery_dead(&self, seq: u64, error: &str) -> Result<(), StoreError> {
        self.update_delivery(
            "UPDATE inbox SET state = 'dead', attempts = attempts + 1, last_error = ?2
             WHERE seq = ?1 AND state = 'pending'",
            (seq, kept_error(error)),
        )
        .await
    }

    /// Runs one of the updates above. A delivery that is no longer pending (marked twice,
    /// or purged) is left as it is.
    async fn update_delivery<P: Params + Send + 'static>(
        &self,
        sql: &'static str,
        params: P,
    ) -> Result<(), StoreError> {
        self.call(move |connection| {
            connection
                .prepare_cached(sql)
                .and_then(|mut update| update.execute(params))
                .map(|_| ())
                .map_err(sql_error)
        })
        .await
    }

    /// Deletes the processed deliveries received before `older_than_ms`; how many. Until
    /// then a redelivery of one of them is recognized and ignored.
    pub async fn purge_done_deliveries(&self, older_than_ms: u64) -> Result<usize, StoreError> {
        self.call(move |connection| {
            connection
                .prepare_cached("DELETE FROM inbox WHERE state = 'done' AND received_at_ms < ?1")
                .and_then(|mut delete| delete.execute([sql_ms(older_than_ms)]))
                .map_err(sql_error)
        })
        .await
    }

    /// How many deliveries are pending and dead.
    pub async fn inbox_counts(&self) -> Result<InboxCounts, StoreError> {
        self.call(|connection| {
            connection
                .prepare_cached(
                    "SELECT (SELECT COUNT(*) FROM inbox WHERE state = 'pending'),
                            (SELECT COUNT(*) FROM inbox WHERE state = 'dead')",
                )
                .and_then(|mut select| {
                    select.query_row([], |row| {
                        Ok(InboxCounts {
                            pending: row.get(0)?,
                            dead: row.get(1)?,
                        })
                    })
                })
                .map_err(sql_error)
        })
        .await
    }

    /// How many deliveries the inbox holds, in any state (until purged).
    pub async fn inbox_len(&self) -> Result<u64, StoreError> {
        self.call(|connection| {
            connection
                .query_row("SELECT COUNT(*) FROM inbox", [], |row| row.get(0))
                .map_err(sql_error)
        })
        .await
    }

    /// Whether the inbox holds `delivery`, in any state (until purged).
    pub async fn inbox_holds(&self, delivery: &str) -> Result<bool, StoreError> {
        let delivery = delivery.to_owned();
        let count: u64 = self
            .call(move |connection| {
                connection
                    .query_row(
                        "SELECT COUNT(*) FROM inbox WHERE delivery = ?1",
                        [delivery],
                        |row| row.get(0),
                    )
                    .map_err(sql_error)
            })
            .await?;
        Ok(count == 1)
    }

    /// Puts the dead delivery `delivery` back in line, due now, as if it had just
    /// arrived; `false` when no dead delivery has that id.
    pub async fn redeliver_dead(&self, delivery: &str, now_ms: u64) -> Result<bool, StoreError> {
        let delivery = delivery.to_owned();
        self.call(move |connection| {
            connection
                .prepare_cached(
                    "UPDATE inbox SET state = 'pending', attempts = 0, due_at_ms = ?2
                     WHERE delivery = ?1 AND state = 'dead'",
                )
                .and_then(|mut update| update.execute((delivery, sql_ms(now_ms))))
                .map(|changed| changed == 1)
                .map_err(sql_error)
        })
        .await
    }

    /// Drops the dead delivery `delivery`: marked done, so that it is not handled again
    /// and a redelivery of it is still recognized until it is purged; `false` when no
    /// dead delivery has that id.
    pub async fn discard_dead(&self, delivery: &str) -> Result<bool, StoreError> {
        let delivery = delivery.to_owned();
        self.call(move |connection| {
            connection
                .prepare_cached(
                    "UPDATE inbox SET state = 'done' WHERE delivery = ?1 AND state = 'dead'",
                )
                .and_then(|mut update| update.execute([delivery]))
                .map(|changed| changed == 1)
                .map_err(sql_error)
        })
        .await
    }

    /// The dead deliveries, newest first, at most `limit`.
    pub async fn dead_deliveries(&self, limit: usize) -> Result<Vec<DeadDelivery>, StoreError> {
        self.call(move |connection| dead_deliveries(connection, limit))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::{database, envelope, unique_delivery};
    use shared::clock::now_ms;
    use shared::envelope::Envelope;
    use shared::ports::EventQueue;

    /// Enqueues one delivery per repository id (`None`: installation-wide), in order.
    async fn enqueue(db: &Database, repos: &[Option<u64>]) -> Vec<DeliveryId> {
        let inbox = db.inbox().expect("inbox");
        let mut sent = Vec::new();
        for repo in repos {
            let delivery = unique_delivery();
            inbox
                .enqueue(&envelope(&delivery, *repo).into())
                .await
                .expect("enqueue");
            sent.push(delivery);
        }
        sent
    }

    fn ids(pending: &[PendingDelivery]) -> Vec<DeliveryId> {
        pending.iter().map(|p| p.delivery.clone()).collect()
    }

    #[tokio::test]
    async fn each_group_hands_out_its_oldest_delivery_first_and_one_at_a_time() {
        let (_dir, db) = database();
        let sent = enqueue(&db, &[Some(1), Some(2), Some(1), None, Some(2), Some(1)]).await;
        let first = db.next_deliveries(u64::MAX, 10).await.expect("next");
        assert_eq!(
            ids(&first),
            [sent[0].clone(), sent[1].clone(), sent[3].clone()]
        );
        assert!(first.iter().all(|p| p.attempts == 0));
        let stored: Envelope = serde_json::from_str(&first[0].envelope_json).expect("envelope");
        assert_eq!(stored.delivery, sent[0]);
        // Asking again before anything is marked gives the same heads; `limit` cuts them.
        assert_eq!(
            ids(&db.next_deliveries(u64::MAX, 2).await.expect("next")),
            [sent[0].clone(), sent[1].clone()]
        );

        for done in &first {
            db.delivery_done(done.seq).await.expect("done");
        }
        let second = db.next_deliveries(u64::MAX, 10).await.expect("next");
        assert_eq!(ids(&second), [sent[2].clone(), sent[4].clone()]);
        for done in &second {
            db.delivery_done(done.seq).await.expect("done");
        }
        let third = db.next_deliveries(u64::MAX, 10).await.expect("next");
        assert_eq!(ids(&third), [sent[5].clone()]);
        db.delivery_done(third[0].seq).await.expect("done");
        assert_eq!(db.next_deliveries(u64::MAX, 10).await, Ok(Vec::new()));
        assert_eq!(db.inbox_counts().await, Ok(InboxCounts::default()));
    }

    #[tokio::test]
    async fn a_delivery_to_retry_holds_its_group_back_until_due() {
        let (_dir, db) = database();
        let sent = enqueue(&db, &[Some(1), Some(1), Some(2)]).await;
        let now = now_ms();
        let heads = db.next_deliveries(now, 10).await.expect("next");
        assert_eq!(ids(&heads), [sent[0].clone(), sent[2].clone()]);

        let due = now + 60_000;
        db.delivery_retry_later(heads[0].seq, due, "GitHub answered 502")
            .await
            .expect("retry later");
        db.delivery_done(heads[1].seq).await.expect("done");
        // Repository 1's later delivery waits behind the failing one.
        assert_eq!(db.next_deliveries(now, 10).await, Ok(Vec::new()));
        assert_eq!(db.inbox_counts().await.expect("counts").pending, 2);

        assert_eq!(db.next_deliveries(due - 1, 10).await, Ok(Vec::new()));
        let retried = db.next_deliveries(due, 10).await.expect("next");
        assert_eq!(ids(&retried), [sent[0].clone()]);
        assert_eq!(retried[0].attempts, 1);
        db.delivery_done(retried[0].seq).await.expect("done");
        assert_eq!(
            ids(&db.next_deliveries(now, 10).await.expect("next")),
            [sent[1].clone()]
        );
    }

    #[tokio::test]
    async fn a_dead_delivery_releases_its_group_and_is_kept_for_an_operator() {
        let (_dir, db) = database();
        let sent = enqueue(&db, &[Some(1), Some(1)]).await;
        let head = db.next_deliveries(u64::MAX, 10).await.expect("next");
        db.delivery_retry_later(head[0].seq, 0, "first try")
            .await
            .expect("retry later");
        let long_error = "x".repeat(MAX_ERROR_CHARS + 10);
        db.delivery_dead(head[0].seq, &long_error)
            .await
            .expect("dead");
        // Marking a dead delivery again changes nothing.
        db.delivery_done(head[0].seq).await.expect("done");

        assert_eq!(
            ids(&db.next_deliveries(u64::MAX, 10).await.expect("next")),
            [sent[1].clone()]
        );
        assert_eq!(
            db.inbox_counts().await,
            Ok(InboxCounts {
                pending: 1,
                dead: 1
            })
        );
        let dead = db.dead_deliveries(10).await.expect("dead");
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].delivery, sent[0]);
        assert_eq!(dead[0].event.as_deref(), Some("issue_comment"));
        assert_eq!(dead[0].attempts, 2);
        let error = dead[0].error.as_deref().unwrap_or_default();
        assert_eq!(error.chars().count(), MAX_ERROR_CHARS + 1);
        assert!(error.ends_with('…'));
    }

    #[tokio::test]
    async fn an_unreadable_envelope_is_listed_dead_without_an_event() {
        let (_dir, db) = database();
        db.call(|connection| {
            connection
                .execute(
                    "INSERT INTO inbox (delivery, grp, envelope, received_at_ms, due_at_ms)
                     VALUES ('d-1', 'unscoped', 'not json', 1, 1)",
                    [],
                )
                .map_err(sql_error)
        })
        .await
        .expect("raw write");
        let pending = db.next_deliveries(u64::MAX, 10).await.expect("next");
        assert_eq!(pending[0].envelope_json, "not json");
        db.delivery_dead(pending[0].seq, "not an envelope")
            .await
            .expect("dead");
        let dead = db.dead_deliveries(10).await.expect("dead");
        assert_eq!(dead[0].event, None);
        assert_eq!(dead[0].error.as_deref(), Some("not an envelope"));
    }

    #[tokio::test]
    async fn purging_removes_only_old_processed_deliveries() {
        let (_dir, db) = database();
        let sent = enqueue(&db, &[Some(1), Some(2), Some(3)]).await;
        let heads = db.next_deliveries(u64::MAX, 10).await.expect("next");
        db.delivery_done(heads[0].seq).await.expect("done");
        db.delivery_dead(heads[1].seq, "broken")
            .await
            .expect("dead");

        assert_eq!(db.purge_done_deliveries(0).await, Ok(0));
        assert_eq!(db.purge_done_deliveries(u64::MAX).await, Ok(1));
        assert_eq!(
            db.inbox_counts().await,
            Ok(InboxCounts {
                pending: 1,
                dead: 1
            })
        );
        assert_eq!(
            ids(&db.next_deliveries(u64::MAX, 10).await.expect("next")),
            [sent[2].clone()]
        );
        // Once purged, the same delivery id is taken as new.
        let inbox = db.inbox().expect("inbox");
        inbox
            .enqueue(&envelope(&sent[0], Some(1)).into())
            .await
            .expect("enqueue");
        assert_eq!(db.inbox_counts().await.expect("counts").pending, 2);
    }
}
