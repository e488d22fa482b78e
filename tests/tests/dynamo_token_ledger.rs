//! The DynamoDB token ledger against moto, through the real SDK client: the port's
//! contract (`e2e::store_contract`: UTC days and months, each job counted once), and the
//! items it writes — the counters and the job's mark, each with its TTL. Each test has a
//! table of its own, created as `docs/storage.md` describes it.

use aws_sdk_dynamodb::types::AttributeValue;
use e2e::aws::fresh_store;
use e2e::store_contract::TOKENS_AT;
use shared::ids::{DeliveryId, InstallationId};
use shared::job::JobId;
use shared::ports::{TokenLedger, TokensUsed};

#[tokio::test]
async fn counters_keep_the_token_ledger_contract() {
    e2e::store_contract::token_ledger_contract(&fresh_store("ota-tokens").await.0).await;
}

#[tokio::test]
async fn a_counted_job_leaves_a_mark_and_two_counters_that_expire() {
    let (store, client, table) = fresh_store("ota-tokens").await;
    let delivery = DeliveryId::parse(&e2e::unique("delivery")).expect("delivery id");
    let job = JobId::for_command(&delivery, 0);
    assert_eq!(
        store
            .add_tokens(InstallationId(7), &job, 1_234, TOKENS_AT)
            .await,
        Ok(true)
    );
    let item = |pk: String, sk: &str| {
        let client = client.clone();
        let table = table.clone();
        let sk = sk.to_owned();
        async move {
            client
                .get_item()
                .table_name(table)
                .key("PK", AttributeValue::S(pk))
                .key("SK", AttributeValue::S(sk))
                .send()
                .await
                .expect("get")
                .item
                .expect("the item is there")
        }
    };
    let number = |item: &std::collections::HashMap<String, AttributeValue>, name: &str| {
        item.get(name)
            .and_then(|value| value.as_n().ok())
            .and_then(|n| n.parse::<u64>().ok())
            .expect(name)
    };
    let day = item("TOKENS#7#day#2026-12-31".to_owned(), "TOKENS").await;
    assert_eq!(number(&day, "tokens"), 1_234);
    // The day ends 2027-01-01 00:00 UTC; kept 32 days more.
    assert_eq!(number(&day, "expires_at"), 1_798_761_600 + 32 * 86_400);
    let month = item("TOKENS#7#month#2026-12".to_owned(), "TOKENS").await;
    assert_eq!(number(&month, "tokens"), 1_234);
    let mark = item(format!("TOKENCHARGE#{}", job.as_str()), "CHARGE").await;
    assert_eq!(number(&mark, "tokens"), 1_234);
    assert_eq!(number(&mark, "expires_at"), 1_798_761_600 + 32 * 86_400);

    // Counted once: the counters stay as they were.
    assert_eq!(
        store
            .add_tokens(InstallationId(7), &job, 1_234, TOKENS_AT)
            .await,
        Ok(false)
    );
    assert_eq!(
        store.tokens_used(InstallationId(7), TOKENS_AT).await,
        Ok(TokensUsed {
            day: 1_234,
            month: 1_234
        })
    );
}
