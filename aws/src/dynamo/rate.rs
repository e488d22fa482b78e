//! [`RateLimiter`] on DynamoDB: one counter item per key and fixed window, incremented by
//! a conditional `UpdateItem` (`ADD count :one` only while `count < limit`), which
//! DynamoDB applies atomically, so concurrent callers never overshoot the limit. Counters
//! expire through the table's TTL once their window is over.

use super::keys::{self, EXPIRES_AT};
use super::{DynamoStore, TYPE, key, number, string, unavailable};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use shared::store::{RateDecision, RateLimiter, StoreError};
use std::time::Duration;

/// The counter of uses in the window.
const COUNT: &str = "count";
/// How long a counter outlives its window before TTL may delete it: a caller whose clock
/// lags a little still finds (and respects) the counter of the window it thinks it is in.
const EXPIRY_SLACK: Duration = Duration::from_secs(60 * 60);

/// The fixed window of length `window` that contains `now_ms`: its length, start and end
/// (Unix milliseconds, end exclusive). Windows start at multiples of their length, so every
/// caller agrees on them without coordination. A zero window counts as one millisecond.
fn window_bounds(window: Duration, now_ms: u64) -> (u64, u64, u64) {
    let length = shared::clock::millis(window).max(1);
    let start = now_ms - now_ms % length;
    (length, start, start.saturating_add(length))
}

/// The TTL of a counter whose window ends at `end_ms`, in epoch seconds as TTL wants.
fn expires_at(end_ms: u64) -> u64 {
    end_ms.div_ceil(1000).saturating_add(EXPIRY_SLACK.as_secs())
}

impl RateLimiter for DynamoStore {
    async fn acquire(
        &self,
        key_name: &str,
        limit: u32,
        window: Duration,
        now_ms: u64,
    ) -> Result<RateDecision, StoreError> {
        let (length, start, end) = window_bounds(window, now_ms);
        let limited = RateDecision::Limited { retry_at_ms: end };
        if limit == 0 {
            return Ok(limited);
        }
        let sent = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                keys::rate_pk(key_name, length, start),
                keys::RATE_SK,
            )))
            .update_expression("ADD #count :one SET #expires = :expires, #type = :type")
            .condition_expression("attribute_not_exists(#count) OR #count < :limit")
            .expression_attribute_names("#count", COUNT)
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_names("#type", TYPE)
            .expression_attribute_values(":one", number(1))
            .expression_attribute_values(":limit", number(u64::from(limit)))
            .expression_attribute_values(":expires", number(expires_at(end)))
            .expression_attribute_values(":type", string("rate_counter"))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(RateDecision::Allowed),
            Err(SdkError::ServiceError(service))
                if matches!(
                    service.err(),
                    UpdateItemError::ConditionalCheckFailedException(_)
                ) =>
            {
                Ok(limited)
            }
            Err(err) => Err(unavailable("counting a rate-limited use", &err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_aligned_to_their_length() {
        let hour = Duration::from_secs(3600);
        assert_eq!(window_bounds(hour, 0), (3_600_000, 0, 3_600_000));
        assert_eq!(window_bounds(hour, 3_599_999), (3_600_000, 0, 3_600_000));
        assert_eq!(
            window_bounds(hour, 3_600_000),
            (3_600_000, 3_600_000, 7_200_000)
        );
        assert_eq!(window_bounds(Duration::ZERO, 42), (1, 42, 43));
        assert_eq!(window_bounds(Duration::MAX, 42), (u64::MAX, 0, u64::MAX));
    }

    #[test]
    fn counters_expire_after_their_window_and_the_slack() {
        assert_eq!(expires_at(3_600_000), 3_600 + 3_600);
        assert_eq!(expires_at(3_600_001), 3_601 + 3_600);
    }
}
