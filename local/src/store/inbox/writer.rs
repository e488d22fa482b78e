//! Enqueuing with group commit, the webhook's hot path. Every [`Inbox`] handle feeds one
//! writer thread with a connection of its own; the thread takes everything queued (up to
//! [`MAX_BATCH`]), inserts it in one transaction, commits, then answers every waiting
//! enqueue. One commit per batch rather than per delivery is what lets a few cores take
//! thousands of deliveries a second: the cost of a commit is shared by every delivery
//! that arrived while the previous one ran.

use super::checkpoint::checkpoint_until_stopped;
use crate::store::db::{Database, sql_error};
use crate::store::lock::{FairShare, nap_quietly};
use rusqlite::{Connection, TransactionBehavior, params};
use shared::clock::now_ms;
use shared::inbound::Inbound;
use shared::ports::StoreError;
use shared::ports::{EventQueue, QueueError};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Instant;
use tokio::sync::{Notify, oneshot};

/// The most deliveries one transaction commits. Large enough that a burst is written in a
/// few commits; small enough that the first delivery of a batch does not wait long for the
/// last one's insert (a few microseconds each).
pub const MAX_BATCH: usize = 256;

/// A redelivery (the same delivery id) leaves the stored row as it is.
const INSERT: &str = "INSERT INTO inbox (delivery, grp, envelope, received_at_ms, due_at_ms)
     VALUES (?1, ?2, ?3, ?4, ?4)
     ON CONFLICT (delivery) DO NOTHING";

/// What an enqueue answers when the writer thread is gone (it panicked).
const WRITER_STOPPED: &str = "the inbox writer has stopped";

/// The durable hand-off of accepted deliveries ([`EventQueue`]). Clones share the writer
/// thread, which ends when the last clone is dropped.
#[derive(Clone)]
pub struct Inbox {
    requests: Sender<Request>,
    committed: Arc<Notify>,
}

/// One delivery waiting for the writer, and where its answer goes.
struct Request {
    row: Row,
    answer: oneshot::Sender<Result<(), String>>,
}

/// An inbox row as the caller prepared it: the envelope is serialized on the caller's
/// thread, so the writer only inserts.
struct Row {
    delivery: String,
    group: String,
    envelope: String,
    received_at_ms: u64,
}

impl Database {
    /// Starts the inbox's writer thread on a connection of its own. Call it once and
    /// clone the handle: a second inbox works, but its writer competes for the write lock.
    pub fn inbox(&self) -> Result<Inbox, StoreError> {
        let connection = self.connect()?;
        connection
            .busy_handler(Some(nap_quietly))
            .map_err(sql_error)?;
        // The checkpoint thread copies the log back instead: see `checkpoint`.
        connection
            .pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(sql_error)?;
        // Fails now rather than at the first delivery if the table is not as expected.
        connection.prepare_cached(INSERT).map_err(sql_error)?;
        let checkpoints = self.connect()?;

        let (requests, queued) = mpsc::channel();
        let committed = Arc::new(Notify::new());
        let wake = Arc::clone(&committed);
        let (writer_running, writer_ended) = mpsc::channel::<()>();
        spawn("ota-inbox-checkpoint", move || {
            checkpoint_until_stopped(&checkpoints, &writer_ended);
        })?;
        spawn("ota-inbox-writer", move || {
            write_batches(connection, &queued, &wake);
            drop(writer_running);
        })?;
        Ok(Inbox {
            requests,
            committed,
        })
    }
}

fn spawn(name: &str, work: impl FnOnce() + Send + 'static) -> Result<(), StoreError> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(work)
        .map(|_| ())
        .map_err(|err| StoreError::Unavailable(format!("cannot start the thread {name}: {err}")))
}

impl Inbox {
    /// Resolves after a commit stored a new delivery, at once if one did since the last
    /// wait. For the one consumer: a commit wakes one waiter.
    pub async fn wait_for_new(&self) {
        self.committed.notified().await;
    }
}

impl EventQueue for Inbox {
    /// Resolves once the delivery is committed (or was already stored). An error means it
    /// is not stored: the caller answers 5xx and GitHub may deliver it again.
    async fn enqueue(&self, message: &Inbound) -> Result<(), QueueError> {
        let row = Row {
            delivery: message.id().as_str().to_owned(),
            group: message.ordering_key(),
            envelope: message
                .to_queue_message()
                .map_err(|err| QueueError(format!("could not encode the message: {err}")))?,
            received_at_ms: now_ms(),
        };
        let (answer, answered) = oneshot::channel();
        self.requests
            .send(Request { row, answer })
            .map_err(|_| QueueError(WRITER_STOPPED.to_owned()))?;
        match answered.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(QueueError(format!(
                "could not store the delivery: {message}"
            ))),
            Err(_) => Err(QueueError(WRITER_STOPPED.to_owned())),
        }
    }
}

/// The writer thread: a batch per turn until every [`Inbox`] handle is gone.
fn write_batches(mut connection: Connection, queued: &Receiver<Request>, committed: &Notify) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut fair_share = FairShare::new();
    loop {
        let waiting_since = Instant::now();
        let Ok(first) = queued.recv() else {
            return;
        };
        fair_share.idled(waiting_since.elapsed());
        batch.push(first);
        // Before the rest of the batch is taken: what arrives meanwhile joins it.
        fair_share.make_way();
        batch.extend(queued.try_iter().take(MAX_BATCH - 1));
        let written = write_batch(&mut connection, &batch);
        let outcome = match written {
            Ok(inserted) => {
                if inserted > 0 {
                    committed.notify_one();
                }
                Ok(())
            }
            Err(err) => {
                tracing::error!(deliveries = batch.len(), error = %err, "inbox commit failed");
                Err(err.to_string())
            }
        };
        for request in batch.drain(..) {
            // An enqueue that stopped waiting (its request was cancelled) needs no answer.
            let _ = request.answer.send(outcome.clone());
        }
    }
}

/// Inserts the batch in one transaction; how many rows are new (redeliveries are not).
/// On error nothing of the batch is stored.
fn write_batch(connection: &mut Connection, batch: &[Request]) -> Result<usize, rusqlite::Error> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut inserted = 0;
    {
        let mut insert = transaction.prepare_cached(INSERT)?;
        for Request { row, .. } in batch {
            inserted += insert.execute(params![
                row.delivery,
                row.group,
                row.envelope,
                row.received_at_ms
            ])?;
        }
    }
    transaction.commit()?;
    Ok(inserted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::{database, envelope, unique_delivery};
    use std::time::Duration;

    async fn stored_rows(db: &Database) -> Vec<(String, String, String)> {
        db.call(|connection| {
            let mut select = connection
                .prepare("SELECT delivery, grp, envelope FROM inbox ORDER BY seq")
                .map_err(sql_error)?;
            let rows = select
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .map_err(sql_error)?;
            rows.collect::<Result<_, _>>().map_err(sql_error)
        })
        .await
        .expect("read the inbox")
    }

    #[tokio::test]
    async fn an_enqueued_delivery_is_stored_with_its_group_and_a_redelivery_is_not() {
        let (_dir, db) = database();
        let inbox = db.inbox().expect("inbox");
        let delivery = unique_delivery();
        let sent = envelope(&delivery, Some(1296269));
        inbox.enqueue(&sent.clone().into()).await.expect("enqueue");
        let mut redelivered = sent.clone();
        redelivered.action = Some("edited".to_owned());
        inbox
            .enqueue(&redelivered.clone().into())
            .await
            .expect("enqueue again");

        let rows = stored_rows(&db).await;
        assert_eq!(rows.len(), 1, "{rows:?}");
        let (stored_delivery, group, json) = &rows[0];
        assert_eq!(stored_delivery, delivery.as_str());
        assert_eq!(group, "repo-1296269");
        let stored: shared::envelope::Envelope = serde_json::from_str(json).expect("envelope");
        assert_eq!(stored, sent);
    }

    #[tokio::test]
    async fn a_request_from_outside_github_is_queued_beside_deliveries_and_read_back() {
        use shared::inbound::{Request, RequestSource};
        let (_dir, db) = database();
        let inbox = db.inbox().expect("inbox");
        let repository = envelope(&unique_delivery(), Some(7))
            .repository
            .expect("repository");
        let request = Inbound::Request(Request {
            id: shared::ids::DeliveryId::parse("operator-run-1").expect("id"),
            source: RequestSource::Operator {
                login: "local:alice".to_owned(),
            },
            installation: shared::ids::InstallationId(42),
            repository: repository.into(),
            tasks: vec!["docs".to_owned()],
            text: String::new(),
        });
        inbox.enqueue(&request).await.expect("enqueue");
        inbox.enqueue(&request).await.expect("enqueue again");

        let rows = stored_rows(&db).await;
        assert_eq!(rows.len(), 1, "{rows:?}");
        let (id, group, json) = &rows[0];
        assert_eq!(id, "operator-run-1");
        assert_eq!(group, "repo-7");
        assert_eq!(Inbound::from_queue_message(json), Ok(request));
    }

    #[tokio::test]
    async fn enqueued_deliveries_survive_closing_and_reopening_the_database() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let deliveries = [unique_delivery(), unique_delivery(), unique_delivery()];
        {
            let db = Database::open(dir.path()).expect("open");
            let inbox = db.inbox().expect("inbox");
            for (delivery, repo) in deliveries.iter().zip([1, 2, 1]) {
                inbox
                    .enqueue(&envelope(delivery, Some(repo)).into())
                    .await
                    .expect("enqueue");
            }
        }
        let reopened = Database::open(dir.path()).expect("reopen");
        let pending = reopened.next_deliveries(u64::MAX, 10).await.expect("read");
        let ids: Vec<_> = pending.iter().map(|p| p.delivery.clone()).collect();
        // The third waits behind the first, in the same repository.
        assert_eq!(ids, [deliveries[0].clone(), deliveries[1].clone()]);
        assert_eq!(reopened.inbox_counts().await.expect("counts").pending, 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_enqueues_are_all_answered_and_all_stored() {
        let (_dir, db) = database();
        let inbox = db.inbox().expect("inbox");
        let senders: Vec<_> = (0..32u64)
            .map(|sender| {
                let inbox = inbox.clone();
                tokio::spawn(async move {
                    let mut sent = Vec::new();
                    for _ in 0..50 {
                        let delivery = unique_delivery();
                        inbox
                            .enqueue(&envelope(&delivery, Some(sender % 4)).into())
                            .await
                            .expect("enqueue");
                        sent.push(delivery.as_str().to_owned());
                    }
                    sent
                })
            })
            .collect();
        let mut sent = Vec::new();
        for sender in senders {
            sent.extend(sender.await.expect("sender"));
        }
        let mut stored: Vec<String> = stored_rows(&db)
            .await
            .into_iter()
            .map(|(delivery, _, _)| delivery)
            .collect();
        sent.sort();
        stored.sort();
        assert_eq!(stored.len(), 32 * 50);
        assert_eq!(stored, sent);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_commit_answers_every_waiter_with_an_error() {
        let (_dir, db) = database();
        let inbox = db.inbox().expect("inbox");
        db.call(|connection| {
            connection
                .execute_batch("DROP TABLE inbox")
                .map_err(sql_error)
        })
        .await
        .expect("drop the table");
        let senders: Vec<_> = (0..8)
            .map(|_| {
                let inbox = inbox.clone();
                tokio::spawn(async move {
                    inbox
                        .enqueue(&envelope(&unique_delivery(), Some(1)).into())
                        .await
                })
            })
            .collect();
        for sender in senders {
            let answer = sender.await.expect("sender");
            assert!(
                matches!(&answer, Err(QueueError(message)) if message.contains("inbox")),
                "{answer:?}"
            );
        }
    }

    #[tokio::test]
    async fn the_writer_ends_with_the_last_handle_and_empties_the_log() {
        let (_dir, db) = database();
        let inbox = db.inbox().expect("inbox");
        let other_handle = inbox.clone();
        inbox
            .enqueue(&envelope(&unique_delivery(), Some(1)).into())
            .await
            .expect("enqueue");
        let wal = db.path().with_extension("db-wal");
        let wal_size = || std::fs::metadata(&wal).map(|file| file.len()).ok();
        assert!(wal_size() > Some(0));
        drop(inbox);
        other_handle
            .enqueue(&envelope(&unique_delivery(), Some(1)).into())
            .await
            .expect("a clone still works");
        drop(other_handle);
        // The checkpoint thread stops with the writer, emptying the log as it goes.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while wal_size() != Some(0) {
            assert!(
                std::time::Instant::now() < deadline,
                "the log was not emptied"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(db.inbox_counts().await.expect("counts").pending, 2);
    }

    #[tokio::test]
    async fn a_commit_wakes_the_consumer() {
        let (_dir, db) = database();
        let inbox = db.inbox().expect("inbox");
        let consumer = inbox.clone();
        let woken = tokio::spawn(async move { consumer.wait_for_new().await });
        tokio::task::yield_now().await;
        assert!(!woken.is_finished());
        inbox
            .enqueue(&envelope(&unique_delivery(), None).into())
            .await
            .expect("enqueue");
        tokio::time::timeout(Duration::from_secs(5), woken)
            .await
            .expect("woken")
            .expect("task");

        // A commit while nobody waits is remembered for the next wait.
        inbox
            .enqueue(&envelope(&unique_delivery(), None).into())
            .await
            .expect("enqueue");
        tokio::time::timeout(Duration::from_secs(5), inbox.wait_for_new())
            .await
            .expect("woken at once");
    }
}
