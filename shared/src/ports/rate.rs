//! The rate limiter port: counters per fixed window, and the window both stores count
//! in.

use super::StoreError;
use std::future::Future;
use std::time::Duration;

/// The answer of a rate-limit counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    Allowed,
    /// Over the limit until `retry_at_ms` (the end of the current window).
    Limited {
        retry_at_ms: u64,
    },
}

/// How long a rate counter is kept after its window ends: a caller whose clock lags a
/// little still finds (and respects) the counter of the window it thinks it is in.
pub const RATE_COUNTER_SLACK: Duration = Duration::from_secs(60 * 60);

/// The fixed window of a rate limit that contains a moment, in Unix milliseconds, as
/// every [`RateLimiter`] counts in it. Windows start at multiples of their length, so
/// every caller agrees on them without coordination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateWindow {
    /// The window's length; a zero window counts as one millisecond.
    pub length_ms: u64,
    pub start_ms: u64,
    /// Its end, exclusive.
    pub end_ms: u64,
}

impl RateWindow {
    /// The window of length `window` that contains `now_ms`.
    pub fn containing(window: Duration, now_ms: u64) -> Self {
        let length_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        let start_ms = now_ms - now_ms % length_ms;
        Self {
            length_ms,
            start_ms,
            end_ms: start_ms.saturating_add(length_ms),
        }
    }

    /// The answer once the window's uses are spent: try again when it ends.
    pub fn limited(self) -> RateDecision {
        RateDecision::Limited {
            retry_at_ms: self.end_ms,
        }
    }
}

pub trait RateLimiter: Send + Sync {
    /// Counts one use of `key` in the fixed window of `window` containing `now_ms`, unless
    /// `limit` uses were already counted there. Atomic across concurrent callers.
    fn acquire(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now_ms: u64,
    ) -> impl Future<Output = Result<RateDecision, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_windows_are_aligned_to_their_length() {
        let window = |length: Duration, now_ms: u64| {
            let window = RateWindow::containing(length, now_ms);
            (window.length_ms, window.start_ms, window.end_ms)
        };
        let hour = Duration::from_secs(3_600);
        assert_eq!(window(hour, 0), (3_600_000, 0, 3_600_000));
        assert_eq!(window(hour, 3_599_999), (3_600_000, 0, 3_600_000));
        assert_eq!(window(hour, 3_600_000), (3_600_000, 3_600_000, 7_200_000));
        assert_eq!(window(Duration::ZERO, 42), (1, 42, 43));
        assert_eq!(window(Duration::MAX, 42), (u64::MAX, 0, u64::MAX));
    }
}
