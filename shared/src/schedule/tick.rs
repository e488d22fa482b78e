//! One tick: the due schedules from the registry, each fire time claimed, then its request
//! queued for the policy stage. `ota serve`'s ticker and the scheduler Lambda call it.

use super::due::{due, request_for};
use crate::inbound::Inbound;
use crate::ports::{EventQueue, QueueError, ScheduleEntry, ScheduleRegistry, StoreError};

/// The most schedules one tick fires; more wait for the next tick, a minute later.
pub const TICK_LIMIT: usize = 500;

/// What a tick did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickReport {
    /// The requests queued, by id.
    pub queued: Vec<String>,
    /// Fire times another tick claimed first.
    pub taken: usize,
}

/// Why a tick stopped: the registry or the queue is unavailable. The next tick tries again.
#[derive(Debug, thiserror::Error)]
pub enum TickError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Fires every schedule due at `now_ms`.
pub async fn tick<R: ScheduleRegistry, Q: EventQueue>(
    registry: &R,
    queue: &Q,
    now_ms: u64,
) -> Result<TickReport, TickError> {
    let mut report = TickReport::default();
    for entry in registry.due_schedules(now_ms, TICK_LIMIT).await? {
        let repo = entry.repository.full_name.as_str().to_owned();
        let Some(expected) = entry.next_fire_ms else {
            continue;
        };
        let fire = match due(&entry, now_ms) {
            Ok(Some(fire)) => fire,
            Ok(None) => continue,
            Err(problem) => {
                tracing::warn!(repo, error = %problem, "a registered schedule does not read; it will not fire");
                registry
                    .claim_fire(entry.repository.id, expected, expected, None)
                    .await?;
                continue;
            }
        };
        let request = match request_for(&entry, fire) {
            Ok(request) => request,
            Err(problem) => {
                tracing::warn!(repo, error = %problem, "a schedule's request could not be made");
                continue;
            }
        };
        // Claimed first: a tick that repeats this one, or runs beside it, finds the fire
        // time taken and queues nothing.
        if !registry
            .claim_fire(entry.repository.id, expected, fire.fired_ms, fire.next_ms)
            .await?
        {
            report.taken += 1;
            continue;
        }
        let id = request.id.to_string();
        if let Err(err) = queue.enqueue(&Inbound::Request(request)).await {
            put_back(registry, &entry, fire.next_ms).await;
            return Err(err.into());
        }
        tracing::info!(
            repo,
            request = id,
            cron = entry.cron,
            timezone = entry.timezone,
            fired_ms = fire.fired_ms,
            "schedule fired"
        );
        report.queued.push(id);
    }
    Ok(report)
}

/// A fire whose request could not be queued is given back, so that the next tick fires it
/// (under the same id, which the queue deduplicates on).
async fn put_back<R: ScheduleRegistry>(registry: &R, entry: &ScheduleEntry, next: Option<u64>) {
    let (Some(claimed), Some(original)) = (next, entry.next_fire_ms) else {
        return;
    };
    let last = entry.last_fired_ms.unwrap_or(0);
    if let Err(err) = registry
        .claim_fire(entry.repository.id, claimed, last, Some(original))
        .await
    {
        tracing::error!(repo = entry.repository.full_name.as_str(), error = %err, "a fire that was not queued could not be given back; it is lost");
    }
}
