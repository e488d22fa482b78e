//! The one wall clock: "now" as the project stamps it (Unix milliseconds), and durations
//! in the same unit. Code that needs a fixed time in tests takes a `clock: fn() -> u64`
//! and is given [`now_ms`] in production.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Time since the Unix epoch now; a clock set before 1970 counts as 0.
pub fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
}

/// Unix milliseconds now; a clock set before 1970 counts as 0.
pub fn now_ms() -> u64 {
    millis(since_epoch())
}

/// `duration` in whole milliseconds; one too long to count (585 million years) is
/// `u64::MAX`.
pub fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_milliseconds_since_1970() {
        let before = now_ms();
        // 2020-09-13: any machine running this is past it.
        assert!(before > 1_600_000_000_000, "{before}");
        assert!(now_ms() >= before);
        assert!(since_epoch().as_millis() >= u128::from(before));
    }

    #[test]
    fn converts_durations_and_saturates() {
        assert_eq!(millis(Duration::from_secs(3)), 3_000);
        assert_eq!(millis(Duration::from_micros(1_999)), 1);
        assert_eq!(millis(Duration::MAX), u64::MAX);
    }
}
