//! [`RateLimiter`] on DynamoDB: one counter item per key and fixed window, incremented by
//! a conditional `UpdateItem` (`ADD count :one` only while `count < limit`), which
//! DynamoDB applies atomically, so concurrent callers never overshoot the limit. Counters
//! expire through the table's TTL once their window is over.

use super::keys::{self, EXPIRES_AT};
use super::{DynamoStore, TYPE, key, number, string, unavailable};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use shared::ports::{RATE_COUNTER_SLACK, RateDecision, RateLimiter, RateWindow, StoreError};
use std::time::Duration;

/// The counter of uses in the window.
const COUNT: &str = "count";

/// The TTL of a counter whose window ends at `end_ms`, in epoch seconds as TTL wants: the
/// counter outlives its window by [`RATE_COUNTER_SLACK`] before TTL may delete it.
fn expires_at(end_ms: u64) -> u64 {
    end_ms
        .div_ceil(1000)
        .saturating_add(RATE_COUNTER_SLACK.as_secs())
}

impl RateLimiter for DynamoStore {
    async fn acquire(
        &self,
        key_name: &str,
        limit: u32,
        window: Duration,
        now_ms: u64,
    ) -> Result<RateDecision, StoreError> {
        let bounds = RateWindow::containing(window, now_ms);
        let limited = bounds.limited();
        if limit == 0 {
            return Ok(limited);
        }
        let sent = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                keys::rate_pk(key_name, bounds.length_ms, bounds.start_ms),
                keys::RATE_SK,
            )))
            .update_expression("ADD #count :one SET #expires = :expires, #type = :type")
            .condition_expression("attribute_not_exists(#count) OR #count < :limit")
            .expression_attribute_names("#count", COUNT)
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_names("#type", TYPE)
            .expression_attribute_values(":one", number(1))
            .expression_attribute_values(":limit", number(u64::from(limit)))
            .expression_attribute_values(":expires", number(expires_at(bounds.end_ms)))
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
    fn counters_expire_after_their_window_and_the_slack() {
        assert_eq!(expires_at(3_600_000), 3_600 + 3_600);
        assert_eq!(expires_at(3_600_001), 3_601 + 3_600);
    }
}
