//! The DynamoDB store against moto, through the real SDK client. The ports' contract
//! (`e2e::store_contract`: jobs, installations with their repositories and policies, the
//! audit log) is checked here as for the SQLite store; what is DynamoDB's own stays here:
//! the stored items, corrupt items, an unreachable or missing table. Rate-limit counters
//! are in `dynamo_rate_limit.rs`. Each test has a table of its own, created as
//! `docs/storage.md` describes it.

use aws_sdk_dynamodb::types::AttributeValue;
use e2e::aws::{closed_port, config_for, fresh_store};
use e2e::store_contract::{self, job};
use e2e::unique;
use ota_aws::DynamoStore;
use shared::job::{TaskToken, Wait};
use shared::ports::JobStore;

#[tokio::test]
async fn jobs_keep_the_job_store_contract() {
    store_contract::job_store_contract(&fresh_store("ota-store").await.0).await;
}

#[tokio::test]
async fn installations_keep_the_installation_store_contract() {
    store_contract::installation_store_contract(&fresh_store("ota-store").await.0).await;
}

#[tokio::test]
async fn schedules_keep_the_schedule_registry_contract() {
    store_contract::schedule_registry_contract(&fresh_store("ota-store").await.0).await;
}

#[tokio::test]
async fn the_audit_log_keeps_the_audit_log_contract() {
    store_contract::audit_log_contract(&fresh_store("ota-store").await.0).await;
}

#[tokio::test]
async fn the_job_item_never_holds_its_task_token() {
    let (store, client, table) = fresh_store("ota-store").await;
    let job = job(1_000);
    store.create_job(&job).await.expect("create");
    store
        .put_task_token(&job.id, Wait::Approval, &TaskToken::new("approval-token"))
        .await
        .expect("put");
    let stored = client
        .get_item()
        .table_name(&table)
        .key("PK", AttributeValue::S(format!("JOB#{}", job.id)))
        .key("SK", AttributeValue::S("JOB".to_owned()))
        .send()
        .await
        .expect("raw read");
    assert!(stored.item.is_some());
    assert!(!format!("{:?}", stored.item).contains("token"));
}

#[tokio::test]
async fn an_unreadable_record_is_corrupt_not_missing() {
    let (store, client, table) = fresh_store("ota-store").await;
    let job = job(1_000);
    client
        .put_item()
        .table_name(&table)
        .item("PK", AttributeValue::S(format!("JOB#{}", job.id)))
        .item("SK", AttributeValue::S("JOB".to_owned()))
        .item("status", AttributeValue::S("queued".to_owned()))
        .item("record", AttributeValue::S(r#"{"id": 5}"#.to_owned()))
        .send()
        .await
        .expect("raw write");
    store_contract::an_unreadable_job_is_corrupt(&store, &job).await;
}

#[tokio::test]
async fn failures_to_reach_dynamodb_are_transient_and_keep_tokens_out() {
    let unreachable = config_for(&format!("http://127.0.0.1:{}", closed_port())).await;
    let offline = DynamoStore::new(aws_sdk_dynamodb::Client::new(&unreachable), "ota-jobs");
    let id = job(1).id;
    let err = offline
        .put_task_token(&id, Wait::Run, &TaskToken::new("run-token-secret"))
        .await
        .expect_err("unreachable");
    assert!(err.is_transient(), "{err}");
    assert!(!err.to_string().contains("secret"), "{err}");
    assert!(
        offline
            .job(&id)
            .await
            .expect_err("unreachable")
            .is_transient()
    );

    // A table that does not exist: answered, but still no store to use.
    let (_, client, _) = fresh_store("ota-store").await;
    let missing = DynamoStore::new(client, unique("no-such-table"));
    let err = missing.job(&id).await.expect_err("no table");
    assert!(
        err.to_string().contains("ResourceNotFoundException"),
        "{err}"
    );
}
