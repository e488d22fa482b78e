//! The schedules' ticker: what the scheduler Lambda and its EventBridge schedule are on
//! AWS. Every `--schedule-tick-seconds` (a minute by default), on the boundary, it fires
//! the schedules due in the registry into the inbox, where the intake worker takes them
//! through the policy stage like any delivery. It ticks once at start, so fire times
//! missed while the server was down fire (once each schedule) as soon as it is back. It
//! runs as long as the server does.

use ota_local::store::{Database, Inbox};
use shared::clock::now_ms;
use shared::schedule::tick;
use std::time::Duration;

pub async fn run(db: Database, inbox: Inbox, interval: Duration) {
    let interval_ms = u64::try_from(interval.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    loop {
        match tick(&db, &inbox, now_ms()).await {
            Ok(report) if !report.queued.is_empty() || report.taken > 0 => {
                tracing::info!(
                    queued = report.queued.len(),
                    taken = report.taken,
                    "schedules ticked"
                );
            }
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(error = %err, "the schedules could not be ticked; trying again at the next tick")
            }
        }
        // Aligned on the interval: with a minute, at the start of each minute, when cron
        // times fall.
        let now = now_ms();
        let wait = interval_ms - now % interval_ms;
        tokio::time::sleep(Duration::from_millis(wait)).await;
    }
}
