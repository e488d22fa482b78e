//! The policy stage's consumer of the inbox: what the policy Lambda does with the SQS
//! intake queue. A repository's deliveries are handled in the order they arrived, one at
//! a time; one that fails for a passing reason holds its repository's later ones back
//! and is tried again with a backoff; one that cannot work is set aside (dead).

use ota_local::store::{Database, Inbox, PendingDelivery};
use shared::clock::{millis, now_ms};
use shared::inbound::Inbound;
use shared::policy_stage::{PolicyStage, Store};
use shared::ports::GitHub;
use shared::ports::Workflow;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// Deliveries handled at once (of different repositories).
const BATCH: usize = 16;
/// Tries of a delivery before it is set aside, as the intake queue's `maxReceiveCount`.
const MAX_TRIES: u32 = 8;
/// How long handled deliveries are kept, so that a redelivery within it is still
/// recognised by its id.
const KEEP_DONE: Duration = Duration::from_secs(24 * 60 * 60);
/// How often the worker looks without being woken (for backoffs that ended).
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// The backoff after the `tries`-th failure: 1 s, 2 s, 4 s, … at most five minutes.
fn backoff(tries: u32) -> Duration {
    Duration::from_secs(1u64 << tries.min(9)).min(Duration::from_secs(300))
}

pub async fn run<G, S, W>(db: Database, inbox: Inbox, stage: Arc<PolicyStage<G, S, W>>)
where
    G: GitHub + 'static,
    S: Store + 'static,
    W: Workflow + 'static,
{
    let mut last_purge = 0;
    loop {
        let now = now_ms();
        match db.next_deliveries(now, BATCH).await {
            Ok(deliveries) => {
                let handled = deliveries.into_iter().map(|delivery| {
                    let db = db.clone();
                    let stage = Arc::clone(&stage);
                    async move { handle(&db, &stage, delivery).await }
                });
                futures_join_all(handled).await;
            }
            Err(err) => tracing::error!(error = %err, "cannot read the inbox; trying again"),
        }
        if now.saturating_sub(last_purge) > 60_000 {
            last_purge = now;
            let cutoff = now.saturating_sub(millis(KEEP_DONE));
            if let Err(err) = db.purge_done_deliveries(cutoff).await {
                tracing::warn!(error = %err, "could not purge handled deliveries");
            }
        }
        tokio::select! {
            () = inbox.wait_for_new() => {}
            () = tokio::time::sleep(POLL_INTERVAL) => {}
        }
    }
}

/// Runs the futures concurrently and waits for all of them.
async fn futures_join_all(
    futures: impl Iterator<Item = impl std::future::Future<Output = ()> + Send + 'static>,
) {
    let mut set = tokio::task::JoinSet::new();
    for future in futures {
        set.spawn(future);
    }
    while set.join_next().await.is_some() {}
}

async fn handle<G: GitHub, S: Store, W: Workflow>(
    db: &Database,
    stage: &PolicyStage<G, S, W>,
    delivery: PendingDelivery,
) {
    let message = match Inbound::from_queue_message(&delivery.envelope_json) {
        Ok(message) => message,
        Err(problem) => {
            tracing::error!(delivery = %delivery.delivery, error = %problem, "undecodable delivery set aside");
            if let Err(err) = db.delivery_dead(delivery.seq, &problem).await {
                tracing::error!(delivery = %delivery.delivery, error = %err, "could not set the delivery aside");
            }
            return;
        }
    };
    let span = message.span();
    async {
        let result = stage.handle_inbound(&message).await;
        let recorded = match result {
            Ok(()) => db.delivery_done(delivery.seq).await,
            Err(err) if err.is_transient() && delivery.attempts + 1 < MAX_TRIES => {
                let wait = backoff(delivery.attempts + 1);
                tracing::warn!(error = %err, retry_in_ms = millis(wait), "event will be retried");
                let due = now_ms() + millis(wait);
                db.delivery_retry_later(delivery.seq, due, &err.to_string()).await
            }
            Err(err) => {
                tracing::error!(error = %err, tries = delivery.attempts + 1, "event failed; set aside");
                db.delivery_dead(delivery.seq, &err.to_string()).await
            }
        };
        if let Err(err) = recorded {
            tracing::error!(error = %err, "could not record how the delivery went; it will be handled again");
        }
    }
    .instrument(span)
    .await;
}
