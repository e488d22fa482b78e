//! The wall clock as the local adapters stamp and compare times: Unix milliseconds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Unix milliseconds now. A clock before 1970 counts as 0.
pub fn clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, millis)
}

/// A duration in whole milliseconds; one too long for 64 bits counts as `u64::MAX`.
pub fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
