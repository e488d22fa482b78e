//! [`JobStore`] on DynamoDB: one item per job under `JOB#<id>`/`JOB`, its task tokens
//! beside it under `TOKEN#<wait>`, and the jobs-by-thread index for `jobs_for_thread`.
//! Creation and updates are conditional writes, so two writers racing cannot both win.

use super::keys::{self, GSI1PK, GSI1SK, GSI2PK, GSI2SK, PK};
use super::{
    DynamoStore, Item, RECORD, TYPE, conditional_failure, decode, encode, key, string,
    string_attribute, unavailable,
};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use shared::ids::RepoFullName;
use shared::job::{JobId, JobRecord, JobStatus, TaskToken, Wait};
use shared::ports::{Created, JobStore, StoreError};

/// The job's status beside its record, for the condition of [`JobStore::update_job`].
const STATUS: &str = "status";
/// The task token of a token item.
const TOKEN: &str = "token";

impl DynamoStore {
    fn job_item(job: &JobRecord) -> Result<Item, StoreError> {
        let mut item = key(keys::job_pk(&job.id), keys::JOB_SK);
        item.insert(TYPE.to_owned(), string("job"));
        item.insert(STATUS.to_owned(), string(job.status.as_str()));
        item.insert(RECORD.to_owned(), encode("job record", job)?);
        // Every job is in the by-time index, under its thread's sort key (time, then id).
        item.insert(GSI2PK.to_owned(), string(keys::JOBS_LIST_PK));
        item.insert(
            GSI2SK.to_owned(),
            string(keys::thread_sk(job.created_at_ms, &job.id)),
        );
        if let Some(number) = job.trigger.number() {
            item.insert(
                GSI1PK.to_owned(),
                string(keys::thread_pk(&job.repo, number)),
            );
            item.insert(
                GSI1SK.to_owned(),
                string(keys::thread_sk(job.created_at_ms, &job.id)),
            );
        }
        Ok(item)
    }

    /// The item a failed conditional put found, as DynamoDB returned it with the error;
    /// read again if it did not (`None`: there is no such item).
    async fn found_after_conflict(
        &self,
        err: PutItemError,
        id: &JobId,
    ) -> Result<Option<Item>, StoreError> {
        match err {
            PutItemError::ConditionalCheckFailedException(failed) if failed.item.is_some() => {
                Ok(failed.item)
            }
            _ => self.job_item_by_id(id).await,
        }
    }

    async fn job_item_by_id(&self, id: &JobId) -> Result<Option<Item>, StoreError> {
        let output = self
            .get_request(key(keys::job_pk(id), keys::JOB_SK))
            .send()
            .await
            .map_err(|err| unavailable("reading a job", &err))?;
        Ok(output.item)
    }
}

fn job_from(item: &Item) -> Result<JobRecord, StoreError> {
    decode(item, "job record")
}

fn status_from(item: &Item) -> Result<JobStatus, StoreError> {
    let name = string_attribute(item, STATUS, "job item")?;
    JobStatus::from_name(name)
        .ok_or_else(|| StoreError::Corrupt(format!("job item: unknown status `{name}`")))
}

impl JobStore for DynamoStore {
    async fn create_job(&self, job: &JobRecord) -> Result<Created, StoreError> {
        let sent = self
            .put_request(Self::job_item(job)?)
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let Err(err) = sent else {
            return Ok(Created::New);
        };
        let failed = conditional_failure("creating a job", err)?;
        match self.found_after_conflict(failed, &job.id).await? {
            Some(item) => Ok(Created::Existing(Box::new(job_from(&item)?))),
            // Deleted between the failed write and the read: only an operator does that.
            None => Err(StoreError::Unavailable(format!(
                "job {} existed and then vanished while being created",
                job.id
            ))),
        }
    }

    async fn job(&self, id: &JobId) -> Result<Option<JobRecord>, StoreError> {
        self.job_item_by_id(id)
            .await?
            .map(|item| job_from(&item))
            .transpose()
    }

    async fn update_job(&self, job: &JobRecord, expected: JobStatus) -> Result<(), StoreError> {
        let sent = self
            .put_request(Self::job_item(job)?)
            .condition_expression("#status = :expected")
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_values(":expected", string(expected.as_str()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let Err(err) = sent else {
            return Ok(());
        };
        let failed = conditional_failure("updating a job", err)?;
        let current = match self.found_after_conflict(failed, &job.id).await? {
            Some(item) => Some(status_from(&item)?),
            None => None,
        };
        Err(StoreError::Conflict { current })
    }

    async fn jobs_for_thread(
        &self,
        repo: &RepoFullName,
        number: u64,
        limit: usize,
    ) -> Result<Vec<JobRecord>, StoreError> {
        let query = self
            .partition_query("#pk = :pk", GSI1PK, keys::thread_pk(repo, number))
            .index_name(keys::THREAD_INDEX);
        let items = self
            .newest_items("listing a thread's jobs", query, limit)
            .await?;
        items.iter().map(job_from).collect()
    }

    async fn put_task_token(
        &self,
        job: &JobId,
        wait: Wait,
        token: &TaskToken,
    ) -> Result<(), StoreError> {
        let mut item = key(keys::job_pk(job), keys::token_sk(wait));
        item.insert(TYPE.to_owned(), string("task_token"));
        item.insert(TOKEN.to_owned(), string(token.expose()));
        self.put_request(item)
            .send()
            .await
            .map(|_| ())
            // Only the code: the text of an error about this item must not carry the token.
            .map_err(|err| token_error("storing a task token", &err))
    }

    async fn task_token(&self, job: &JobId, wait: Wait) -> Result<Option<TaskToken>, StoreError> {
        let output = self
            .get_request(key(keys::job_pk(job), keys::token_sk(wait)))
            .send()
            .await
            .map_err(|err| token_error("reading a task token", &err))?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        match item.get(TOKEN) {
            Some(AttributeValue::S(token)) => Ok(Some(TaskToken::new(token.clone()))),
            _ => Err(StoreError::Corrupt(format!(
                "task token item of job {job} has no string `{TOKEN}`"
            ))),
        }
    }
}

/// Like [`unavailable`], but with the error's code only, never its message.
fn token_error<E, R>(what: &str, err: &SdkError<E, R>) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    let kind = match err {
        SdkError::ServiceError(service) => service.err().code().unwrap_or("service error"),
        SdkError::TimeoutError(_) => "timed out",
        SdkError::DispatchFailure(_) => "could not reach DynamoDB",
        SdkError::ResponseError(_) => "unreadable response",
        SdkError::ConstructionFailure(_) => "could not build the request",
        _ => "unknown error",
    };
    StoreError::Unavailable(format!("{what}: {kind}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_attribute_outside_the_lifecycle_is_corrupt() {
        let mut item = Item::new();
        item.insert(STATUS.to_owned(), string("paused"));
        assert!(matches!(status_from(&item), Err(StoreError::Corrupt(_))));
        item.insert(STATUS.to_owned(), string("running"));
        assert_eq!(status_from(&item), Ok(JobStatus::Running));
    }
}
