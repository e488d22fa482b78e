//! [`ScheduleRegistry`] on DynamoDB: every repository's schedule is an item of the one
//! partition `SCHEDULES` (sort key `REPO#<id>`), with its next fire time in an attribute
//! a tick filters on; the registry holds only repositories that have a schedule, so the
//! query never reads every repository. A fire is claimed by a put conditional on the next
//! fire time read. A repository's tracking issue is an item of its own.

use super::keys::{self, PK, SK};
use super::{
    DynamoStore, Item, RECORD, TYPE, conditional_failure, decode, encode, key, number, string,
    string_attribute, unavailable,
};
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, WriteRequest};
use shared::ids::{InstallationId, RepoId};
use shared::ports::{ScheduleEntry, ScheduleRegistry, StoreError};

/// When the schedule fires next (Unix milliseconds); absent when it never does.
const NEXT_FIRE: &str = "next_fire_ms";
/// The installation, for removing its schedules.
const INSTALLATION: &str = "installation";
/// The tracking issue's number.
const ISSUE: &str = "issue";

fn schedule_item(entry: &ScheduleEntry) -> Result<Item, StoreError> {
    let mut item = key(
        keys::SCHEDULES_PK.to_owned(),
        keys::schedule_sk(entry.repository.id),
    );
    item.insert(TYPE.to_owned(), string("schedule"));
    item.insert(INSTALLATION.to_owned(), number(entry.installation.0));
    if let Some(next) = entry.next_fire_ms {
        item.insert(NEXT_FIRE.to_owned(), number(next));
    }
    item.insert(RECORD.to_owned(), encode("schedule", entry)?);
    Ok(item)
}

fn delete_request(key: Item) -> Result<WriteRequest, StoreError> {
    let request = DeleteRequest::builder()
        .set_key(Some(key))
        .build()
        .map_err(|err| StoreError::Unavailable(format!("building a delete request: {err}")))?;
    Ok(WriteRequest::builder().delete_request(request).build())
}

impl DynamoStore {
    /// The schedules the query's filter keeps, following pages.
    async fn schedules_where(
        &self,
        what: &str,
        filter: &str,
        name: &str,
        value: AttributeValue,
    ) -> Result<Vec<Item>, StoreError> {
        let query = self
            .partition_query("#pk = :pk", PK, keys::SCHEDULES_PK.to_owned())
            .filter_expression(filter)
            .expression_attribute_names("#f", name)
            .expression_attribute_values(":v", value)
            .consistent_read(true);
        self.query_items(what, query, None).await
    }
}

impl ScheduleRegistry for DynamoStore {
    async fn put_schedule(&self, entry: &ScheduleEntry) -> Result<(), StoreError> {
        self.put_request(schedule_item(entry)?)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| unavailable("storing a schedule", &err))
    }

    async fn schedule(&self, repo: RepoId) -> Result<Option<ScheduleEntry>, StoreError> {
        let output = self
            .get_request(key(keys::SCHEDULES_PK.to_owned(), keys::schedule_sk(repo)))
            .send()
            .await
            .map_err(|err| unavailable("reading a schedule", &err))?;
        output
            .item
            .map(|item| decode(&item, "schedule"))
            .transpose()
    }

    /// Read, then deleted in a batch: the roles may not `DeleteItem` (a test of the
    /// template holds them to it), as for an installation's items.
    async fn remove_schedule(&self, repo: RepoId) -> Result<bool, StoreError> {
        if self.schedule(repo).await?.is_none() {
            return Ok(false);
        }
        let delete = delete_request(key(keys::SCHEDULES_PK.to_owned(), keys::schedule_sk(repo)))?;
        self.batch_write("removing a schedule", vec![delete])
            .await?;
        Ok(true)
    }

    async fn remove_installation_schedules(
        &self,
        installation: InstallationId,
    ) -> Result<u64, StoreError> {
        let items = self
            .schedules_where(
                "listing an installation's schedules",
                "#f = :v",
                INSTALLATION,
                number(installation.0),
            )
            .await?;
        let count = items.len() as u64;
        let deletes = items
            .iter()
            .map(|item| {
                let pk = string_attribute(item, PK, "schedule")?.to_owned();
                let sk = string_attribute(item, SK, "schedule")?.to_owned();
                delete_request(key(pk, sk))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.batch_write("removing an installation's schedules", deletes)
            .await?;
        Ok(count)
    }

    async fn due_schedules(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<ScheduleEntry>, StoreError> {
        let items = self
            .schedules_where(
                "listing the due schedules",
                "#f <= :v",
                NEXT_FIRE,
                number(now_ms),
            )
            .await?;
        let mut entries = items
            .iter()
            .map(|item| decode::<ScheduleEntry>(item, "schedule"))
            .collect::<Result<Vec<_>, _>>()?;
        entries.sort_by_key(|entry| (entry.next_fire_ms, entry.repository.id.0));
        entries.truncate(limit);
        Ok(entries)
    }

    async fn claim_fire(
        &self,
        repo: RepoId,
        expected_ms: u64,
        fired_ms: Option<u64>,
        next_ms: Option<u64>,
    ) -> Result<bool, StoreError> {
        let Some(mut entry) = self.schedule(repo).await? else {
            return Ok(false);
        };
        if entry.next_fire_ms != Some(expected_ms) {
            return Ok(false);
        }
        entry.last_fired_ms = fired_ms;
        entry.next_fire_ms = next_ms;
        let sent = self
            .put_request(schedule_item(&entry)?)
            .condition_expression("#next = :expected")
            .expression_attribute_names("#next", NEXT_FIRE)
            .expression_attribute_values(":expected", number(expected_ms))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            Err(err) => conditional_failure("claiming a schedule's fire time", err).map(|_| false),
        }
    }

    async fn tracking_issue(&self, repo: RepoId) -> Result<Option<u64>, StoreError> {
        let output = self
            .get_request(key(keys::tracking_pk(repo), keys::TRACKING_SK))
            .send()
            .await
            .map_err(|err| unavailable("reading a tracking issue", &err))?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        match item.get(ISSUE) {
            Some(AttributeValue::N(text)) => text.parse().map(Some).map_err(|_| {
                StoreError::Corrupt(format!("tracking issue: `{ISSUE}` is not a number"))
            }),
            _ => Err(StoreError::Corrupt(format!(
                "tracking issue: attribute `{ISSUE}` is missing"
            ))),
        }
    }

    async fn put_tracking_issue(&self, repo: RepoId, issue: u64) -> Result<(), StoreError> {
        let mut item = key(keys::tracking_pk(repo), keys::TRACKING_SK);
        item.insert(TYPE.to_owned(), string("tracking_issue"));
        item.insert(ISSUE.to_owned(), number(issue));
        self.put_request(item)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| unavailable("storing a tracking issue", &err))
    }
}
