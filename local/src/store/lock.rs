//! Sharing SQLite's one write lock between the inbox writer and everyone else. Under a
//! burst of webhooks the inbox writer commits back to back, releasing the lock for a few
//! microseconds between batches; a connection that found the lock taken naps and looks
//! again, and would seldom look at the right moment. So waiters nap briefly and say that
//! they wait, and the writer makes way: at once for a waiter of this process, and
//! regularly for the other processes (runners, `ota` commands), which it cannot hear.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a statement waits for another connection's write lock before giving up with
/// `StoreError::Unavailable`. The runner processes and `ota` commands write rarely and
/// briefly; five seconds covers a slow disk.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a waiter naps between looks at the lock. SQLite's own busy handler naps
/// 1 ms, then longer and longer, up to 100 ms: far longer than the writer's gaps.
const LOCK_NAP: Duration = Duration::from_micros(100);

/// Naps in [`BUSY_TIMEOUT`].
const LOCK_NAPS: u128 = BUSY_TIMEOUT.as_micros() / LOCK_NAP.as_micros();

/// How long the writer holds back for a waiter of this process: two naps, so that the
/// waiter wakes up and takes the lock.
const MAKE_WAY: Duration = Duration::from_micros(200);

/// How recent a waiter's nap must be for the writer to make way: a waiter naps every
/// [`LOCK_NAP`], give or take the scheduler's delays on busy cores.
const STILL_WAITING: Duration = Duration::from_millis(1);

/// The gap the writer leaves regularly for other processes: ten of their naps.
const GAP: Duration = Duration::from_millis(1);

/// How often at least the writer leaves a [`GAP`]: other processes get one look in 50 ms
/// at worst, for 2% of the writer's time.
const GAP_INTERVAL: Duration = Duration::from_millis(50);

/// The process's clock for [`LAST_WAIT_US`].
static CLOCK: LazyLock<Instant> = LazyLock::new(Instant::now);

/// When (microseconds on [`CLOCK`]) a connection of this process last napped for the lock.
static LAST_WAIT_US: AtomicU64 = AtomicU64::new(0);

fn clock_us() -> u64 {
    u64::try_from(CLOCK.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// The busy handler of every connection but the inbox writer's: short naps, each one
/// announced, up to [`BUSY_TIMEOUT`].
pub(crate) fn nap_while_locked(naps_so_far: i32) -> bool {
    announce_wait();
    nap_quietly(naps_so_far)
}

fn announce_wait() {
    LAST_WAIT_US.store(clock_us(), Ordering::Relaxed);
}

/// The inbox writer's busy handler: naps that nobody needs to make way for.
pub(crate) fn nap_quietly(naps_so_far: i32) -> bool {
    if u128::try_from(naps_so_far).unwrap_or(0) >= LOCK_NAPS {
        return false;
    }
    std::thread::sleep(LOCK_NAP);
    true
}

/// The inbox writer's manners: call [`Self::idled`] with each wait for work and
/// [`Self::make_way`] before taking the lock.
pub(crate) struct FairShare {
    last_gap: Instant,
}

impl FairShare {
    pub(crate) fn new() -> Self {
        Self {
            last_gap: Instant::now(),
        }
    }

    /// The writer waited `idle` for work: a long enough wait was a gap.
    pub(crate) fn idled(&mut self, idle: Duration) {
        if idle >= GAP {
            self.last_gap = Instant::now();
        }
    }

    /// Holds back if a connection of this process waits for the lock, or if other
    /// processes have had no gap for [`GAP_INTERVAL`].
    pub(crate) fn make_way(&mut self) {
        if self.last_gap.elapsed() >= GAP_INTERVAL {
            std::thread::sleep(GAP);
            self.last_gap = Instant::now();
        } else if someone_waits() {
            std::thread::sleep(MAKE_WAY);
        }
    }
}

/// A connection of this process napped for the lock within [`STILL_WAITING`].
fn someone_waits() -> bool {
    let last = LAST_WAIT_US.load(Ordering::Relaxed);
    let still_waiting = u64::try_from(STILL_WAITING.as_micros()).unwrap_or(u64::MAX);
    last != 0 && clock_us().saturating_sub(last) <= still_waiting
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiter_is_heard_and_gives_up_after_the_timeout() {
        announce_wait();
        assert!(someone_waits());
        assert!(nap_while_locked(0));
        let last = i32::try_from(LOCK_NAPS).expect("naps fit");
        assert!(!nap_while_locked(last));
        assert!(!nap_quietly(last));
    }

    #[test]
    fn the_writer_leaves_a_gap_when_it_had_none_for_a_while() {
        let mut fair_share = FairShare::new();
        fair_share.last_gap = Instant::now() - GAP_INTERVAL;
        let started = Instant::now();
        fair_share.make_way();
        assert!(started.elapsed() >= GAP);
        assert!(fair_share.last_gap >= started);

        // A long enough wait for work counts as a gap; a short one does not.
        let before = fair_share.last_gap;
        fair_share.idled(GAP / 2);
        assert_eq!(fair_share.last_gap, before);
        fair_share.idled(GAP);
        assert!(fair_share.last_gap > before);
    }
}
