//! The DynamoDB rate limiter against moto, through the real SDK client: the port's
//! contract (`e2e::store_contract`: fixed windows, the limit), concurrent callers and the
//! counters' expiry. Each test has a table of its own, created as `docs/storage.md`
//! describes it.

use aws_sdk_dynamodb::types::AttributeValue;
use e2e::aws::fresh_store;
use e2e::unique;
use shared::ports::{RateDecision, RateLimiter};
use std::sync::Arc;
use std::time::Duration;

const HOUR: Duration = Duration::from_secs(3_600);

#[tokio::test]
async fn counters_keep_the_rate_limiter_contract() {
    e2e::store_contract::rate_limiter_contract(&fresh_store("ota-rate").await.0).await;
}

/// DynamoDB applies each conditional `UpdateItem` atomically, so of 20 concurrent callers
/// with a limit of 5 exactly 5 get through. Moto does not reproduce that: it serves each
/// request on its own thread and checks the condition and applies the update without a
/// lock (`moto/dynamodb/models/__init__.py`, `update_item`), so a few concurrent callers
/// can both pass the check (seen: 6 to 9 allowed, about one run in ten). What moto does
/// reproduce is checked: every concurrent caller gets an answer, none is refused while
/// the count is under the limit, and the window closes.
#[tokio::test]
async fn concurrent_callers_all_get_an_answer_and_fill_the_window() {
    let (store, _, _) = fresh_store("ota-rate").await;
    let store = Arc::new(store);
    let key = unique("installation:42");
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(&store);
            let key = key.clone();
            tokio::spawn(async move { store.acquire(&key, 5, HOUR, 1_000).await })
        })
        .collect();
    let mut allowed = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(RateDecision::Allowed) => allowed += 1,
            Ok(RateDecision::Limited { retry_at_ms }) => assert_eq!(retry_at_ms, 3_600_000),
            Err(err) => panic!("acquire failed: {err}"),
        }
    }
    assert!(
        allowed >= 5,
        "only {allowed} of 20 allowed with a limit of 5"
    );
    // On DynamoDB the window is closed now; moto may have lost a few increments, but the
    // window closes within `limit` more uses either way.
    let mut more = 0;
    while store.acquire(&key, 5, HOUR, 2_000).await == Ok(RateDecision::Allowed) {
        more += 1;
        assert!(more <= 5, "the window never closed");
    }
}

#[tokio::test]
async fn rate_counters_carry_their_expiry() {
    let (store, client, table) = fresh_store("ota-rate").await;
    store
        .acquire("user:octocat", 1, HOUR, 1_000)
        .await
        .expect("acquire");
    let item = client
        .get_item()
        .table_name(&table)
        .key(
            "PK",
            AttributeValue::S("RATE#user:octocat#3600000#00000000000000000000".to_owned()),
        )
        .key("SK", AttributeValue::S("RATE".to_owned()))
        .send()
        .await
        .expect("raw read")
        .item
        .expect("counter");
    // Window end (3,600 s) plus an hour of slack, in epoch seconds.
    assert_eq!(
        item.get("expires_at"),
        Some(&AttributeValue::N("7200".to_owned()))
    );
    assert_eq!(item.get("count"), Some(&AttributeValue::N("1".to_owned())));
}
