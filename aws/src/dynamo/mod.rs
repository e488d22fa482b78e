//! Every store port on one DynamoDB table: jobs and their task tokens, installations with
//! their repositories and policies, the audit log and rate-limit counters. The layout
//! (keys, the jobs-by-thread index, TTL) is in [`keys`] and described in
//! `docs/storage.md`; each port's implementation has its own file.
//!
//! Records are stored as their JSON under `record`, with the few attributes a key,
//! an index or a condition needs beside it (`status`, `GSI1PK`, ...), so a record can grow
//! a field without a migration.

mod audit;
mod installations;
mod jobs;
mod keys;
mod listing;
mod operator;

pub use listing::{MAX_PAGE, READ_BUDGET};
pub use operator::{AUDIT_LEEWAY_MS, MAX_PREFIX_MATCHES, Reindexed};
mod rate;
mod schedules;
mod slots;
mod tokens;

use crate::describe;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::get_item::builders::GetItemFluentBuilder;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, WriteRequest};
use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::ports::StoreError;
use std::collections::HashMap;
use std::time::Duration;

/// One item as the SDK hands it over.
type Item = HashMap<String, AttributeValue>;

/// The attribute that holds a record's JSON.
const RECORD: &str = "record";
/// What kind of item this is, for people browsing the table; the code goes by the keys.
const TYPE: &str = "type";
/// `BatchWriteItem` takes at most 25 requests.
const BATCH_SIZE: usize = 25;
/// How often a batch write resends the items DynamoDB left unprocessed (it does so when
/// throttled) before the write counts as failed.
const BATCH_ATTEMPTS: u32 = 5;
/// The pause before resending unprocessed items, doubled on each attempt.
const BATCH_BACKOFF: Duration = Duration::from_millis(50);

/// The store ports on one DynamoDB table, whose key layout `docs/storage.md` describes
/// (and `template.yaml` creates).
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// `table` is the table's name (or ARN).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// A consistent read of the item under `key`.
    fn get_request(&self, key: Item) -> GetItemFluentBuilder {
        self.client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
    }

    /// A put of `item`, unconditional until the caller adds a condition.
    fn put_request(&self, item: Item) -> PutItemFluentBuilder {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
    }

    /// A query of the partition `pk` of the attribute `pk_name` (the table's partition
    /// key, or an index's): `condition` names them `#pk` and `:pk`.
    fn partition_query(&self, condition: &str, pk_name: &str, pk: String) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression(condition)
            .expression_attribute_names("#pk", pk_name)
            .expression_attribute_values(":pk", string(pk))
    }

    /// At most `limit` items of `query`, the highest sort keys (the newest) first.
    async fn newest_items(
        &self,
        what: &str,
        query: QueryFluentBuilder,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let query = query.scan_index_forward(false);
        let mut items = self.query_items(what, query, Some(limit)).await?;
        items.truncate(limit);
        Ok(items)
    }

    /// Every item a query returns, following pages, at most `max` when given.
    async fn query_items(
        &self,
        what: &str,
        query: QueryFluentBuilder,
        max: Option<usize>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let mut page = query.clone().set_exclusive_start_key(start);
            if let Some(max) = max {
                let left = max.saturating_sub(items.len());
                page = page.limit(i32::try_from(left).unwrap_or(i32::MAX));
            }
            let output = page.send().await.map_err(|err| unavailable(what, &err))?;
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            let full = max.is_some_and(|max| items.len() >= max);
            if full || start.is_none() {
                return Ok(items);
            }
        }
    }

    /// Writes (puts and deletes) in batches of [`BATCH_SIZE`], resending what DynamoDB
    /// leaves unprocessed. Not atomic: a failure may leave part of the requests done, so
    /// callers only batch writes that are harmless to repeat.
    async fn batch_write(&self, what: &str, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        let mut requests = requests.into_iter().peekable();
        while requests.peek().is_some() {
            let mut chunk: Vec<WriteRequest> = requests.by_ref().take(BATCH_SIZE).collect();
            let mut backoff = BATCH_BACKOFF;
            for attempt in 1..=BATCH_ATTEMPTS {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, chunk)
                    .send()
                    .await
                    .map_err(|err| unavailable(what, &err))?;
                chunk = output
                    .unprocessed_items
                    .and_then(|mut unprocessed| unprocessed.remove(&self.table))
                    .unwrap_or_default();
                if chunk.is_empty() {
                    break;
                }
                if attempt == BATCH_ATTEMPTS {
                    return Err(StoreError::Unavailable(format!(
                        "{what}: DynamoDB left {} writes unprocessed after {BATCH_ATTEMPTS} \
                         attempts",
                        chunk.len()
                    )));
                }
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
        Ok(())
    }
}

/// A failed call as [`StoreError::Unavailable`], naming what was being done and the
/// service's error code and message. The request itself is never part of the text.
fn unavailable<E, R>(what: &str, err: &SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match err.as_service_error() {
        Some(service) => StoreError::Unavailable(format!(
            "{what}: {}: {}",
            service.code().unwrap_or("unknown error"),
            service.message().unwrap_or("no message")
        )),
        None => StoreError::Unavailable(format!("{what}: {}", describe(err))),
    }
}

/// The service error of a put that failed on its condition; any other failure as
/// [`StoreError::Unavailable`].
fn conditional_failure<R>(
    what: &str,
    err: SdkError<PutItemError, R>,
) -> Result<PutItemError, StoreError>
where
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match err {
        SdkError::ServiceError(service)
            if matches!(
                service.err(),
                PutItemError::ConditionalCheckFailedException(_)
            ) =>
        {
            Ok(service.into_err())
        }
        other => Err(unavailable(what, &other)),
    }
}

fn string(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A record's JSON, for the [`RECORD`] attribute.
fn encode<T: Serialize>(what: &str, record: &T) -> Result<AttributeValue, StoreError> {
    serde_json::to_string(record)
        .map(AttributeValue::S)
        .map_err(|err| StoreError::Corrupt(format!("{what} could not be encoded: {err}")))
}

/// A string attribute of an item; its absence means the item was not written by this code.
fn string_attribute<'i>(item: &'i Item, name: &str, what: &str) -> Result<&'i str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value),
        Some(_) => Err(StoreError::Corrupt(format!(
            "{what}: attribute `{name}` is not a string"
        ))),
        None => Err(StoreError::Corrupt(format!(
            "{what}: attribute `{name}` is missing"
        ))),
    }
}

/// The record kept in an item's [`RECORD`] attribute.
fn decode<T: DeserializeOwned>(item: &Item, what: &str) -> Result<T, StoreError> {
    let json = string_attribute(item, RECORD, what)?;
    let deserializer = &mut serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(deserializer)
        .map_err(|err| StoreError::Corrupt(format!("{what}: {err}")))
}

/// The key of one item.
fn key(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([
        (keys::PK.to_owned(), string(pk)),
        (keys::SK.to_owned(), string(sk)),
    ])
}
