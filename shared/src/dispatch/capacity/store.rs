//! The capacity rules against a [`SlotStore`]: each change reads the slots, applies the
//! pure rule and writes them back with the version it read, again when another writer
//! got there first.

use super::{Admission, Endpoints, Limits, SlotRequest};
use crate::dispatch::gpu::{self, GpuAction};
use crate::job::JobId;
use crate::ports::{GpuState, SlotStore, Slots, StoreError, VersionedSlots, Waiter};
use std::time::Duration;

/// How often a change reads and writes the slots again after losing a race to another
/// writer. Every dispatch writes (a lease or a place in line) and each round has a
/// winner, so `n` racing dispatches need up to `n` rounds: room for a burst of jobs, each
/// round trip taking milliseconds.
const VERSION_ATTEMPTS: usize = 32;

/// Applies `change` to the stored slots; writes only when it changed something.
async fn update<S: SlotStore, T>(
    store: &S,
    mut change: impl FnMut(&mut Slots) -> T,
) -> Result<T, StoreError> {
    for _ in 0..VERSION_ATTEMPTS {
        let VersionedSlots { mut slots, version } = store.slots().await?;
        let before = slots.clone();
        let out = change(&mut slots);
        if slots == before {
            return Ok(out);
        }
        match store.put_slots(&slots, version).await {
            Ok(()) => return Ok(out),
            Err(StoreError::Conflict { .. }) => continue,
            Err(err) => return Err(err),
        }
    }
    Err(StoreError::Unavailable(format!(
        "the runner slots kept changing over {VERSION_ATTEMPTS} attempts"
    )))
}

/// [`Slots::admit`] against the store: a lease, or a place in line.
pub async fn acquire<S: SlotStore>(
    store: &S,
    request: &SlotRequest,
    limits: &Limits,
    endpoints: &Endpoints,
) -> Result<Admission, StoreError> {
    Ok(acquire_telling(store, request, limits, endpoints).await?.0)
}

/// [`acquire`], also telling whether a wait is news: `true` when the attempt just joined
/// the line or waits for another reason than before, so that whoever tells its check run
/// tells it once per reason.
pub async fn acquire_telling<S: SlotStore>(
    store: &S,
    request: &SlotRequest,
    limits: &Limits,
    endpoints: &Endpoints,
) -> Result<(Admission, bool), StoreError> {
    update(store, |slots| {
        let before = reason_in_line(slots, request);
        let admission = slots.admit(request, limits, endpoints);
        let news = matches!(&admission, Admission::Full(reason) if before.as_ref() != Some(reason));
        (admission, news)
    })
    .await
}

/// Why `request`'s attempt waits in line, if it is there.
fn reason_in_line(slots: &Slots, request: &SlotRequest) -> Option<String> {
    slots
        .waiting
        .iter()
        .find(|waiter| waiter.job == request.job && waiter.attempt == request.attempt)
        .map(|waiter| waiter.reason.clone())
}

/// [`Slots::release`] against the store: the runner of `job`'s attempt `attempt` exited.
/// Releasing a lease that is gone is harmless.
pub async fn release<S: SlotStore>(
    store: &S,
    job: &JobId,
    attempt: u32,
) -> Result<bool, StoreError> {
    update(store, |slots| slots.release(job, attempt)).await
}

/// [`Slots::withdraw`] against the store: `job` leaves the line.
pub async fn withdraw<S: SlotStore>(store: &S, job: &JobId) -> Result<bool, StoreError> {
    update(store, |slots| slots.withdraw(job)).await
}

/// The launcher had no room for a runner it was given a slot for (Fargate capacity, a
/// throttled `RunTask`): the slot goes back and the attempt waits in line with `reason`.
/// `true` when that wait is news (as [`acquire_telling`] tells it).
pub async fn wait_for_launch_capacity<S: SlotStore>(
    store: &S,
    request: &SlotRequest,
    reason: &str,
) -> Result<bool, StoreError> {
    update(store, |slots| {
        let before = reason_in_line(slots, request);
        slots.release(&request.job, request.attempt);
        slots.queue(request, reason);
        before.as_deref() != Some(reason)
    })
    .await
}

/// The line, oldest first.
pub async fn waiting<S: SlotStore>(store: &S) -> Result<Vec<Waiter>, StoreError> {
    Ok(store.slots().await?.slots.waiting)
}

/// [`gpu::idle_check`] against the store: keeps the GPU service's idle clock in the slots
/// and says whether to stop the service now.
pub async fn check_gpu_idle<S: SlotStore>(
    store: &S,
    state: GpuState,
    now_ms: u64,
    idle: Duration,
) -> Result<GpuAction, StoreError> {
    update(store, |slots| gpu::idle_check(slots, state, now_ms, idle)).await
}
