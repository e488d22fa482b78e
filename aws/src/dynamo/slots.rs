//! [`SlotStore`] on DynamoDB: the runner slots are one item (`SLOTS`/`SLOTS`) holding
//! their JSON and a `version` number. A write is a conditional put on the version it read
//! (or on the item's absence for version 0), so of two dispatches racing for the last slot
//! one wins and the other reads again.

use super::keys::{self, PK};
use super::{
    DynamoStore, RECORD, TYPE, conditional_failure, decode, encode, key, number, string,
    unavailable,
};
use aws_sdk_dynamodb::types::AttributeValue;
use shared::dispatch::{Slots, VersionedSlots};
use shared::ports::SlotStore;
use shared::ports::StoreError;

/// The slots' version, one more on every write.
const VERSION: &str = "version";

impl SlotStore for DynamoStore {
    async fn slots(&self) -> Result<VersionedSlots, StoreError> {
        let output = self
            .get_request(key(keys::SLOTS_PK.to_owned(), keys::SLOTS_SK))
            .send()
            .await
            .map_err(|err| unavailable("reading the runner slots", &err))?;
        let Some(item) = output.item else {
            return Ok(VersionedSlots::default());
        };
        let version = match item.get(VERSION) {
            Some(AttributeValue::N(version)) => version.parse().map_err(|_| {
                StoreError::Corrupt(format!("runner slots: version `{version}` is not a number"))
            })?,
            _ => {
                return Err(StoreError::Corrupt(
                    "runner slots: no numeric version".to_owned(),
                ));
            }
        };
        Ok(VersionedSlots {
            slots: decode(&item, "runner slots")?,
            version,
        })
    }

    async fn put_slots(&self, slots: &Slots, expected: u64) -> Result<(), StoreError> {
        let mut item = key(keys::SLOTS_PK.to_owned(), keys::SLOTS_SK);
        item.insert(TYPE.to_owned(), string("slots"));
        item.insert(RECORD.to_owned(), encode("runner slots", slots)?);
        item.insert(VERSION.to_owned(), number(expected.saturating_add(1)));
        let request = self.put_request(item);
        let request = if expected == 0 {
            request
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK)
        } else {
            request
                .condition_expression("#version = :expected")
                .expression_attribute_names("#version", VERSION)
                .expression_attribute_values(":expected", number(expected))
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(err) => {
                conditional_failure("writing the runner slots", err)?;
                Err(StoreError::Conflict { current: None })
            }
        }
    }
}
