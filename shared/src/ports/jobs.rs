//! The job store port: job records, with the task tokens that resume their waits.
//! DynamoDB implements it on AWS (`ota-aws`), SQLite on one machine (`ota-local`).

use super::StoreError;
use crate::ids::RepoFullName;
use crate::job::{JobId, JobRecord, JobStatus, TaskToken, Wait};
use std::future::Future;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// The job is new.
    New,
    /// A job with this id existed already (the same delivery processed again): here it is.
    Existing(Box<JobRecord>),
}

pub trait JobStore: Send + Sync {
    /// Creates the job unless one with its id exists (a conditional write).
    fn create_job(
        &self,
        job: &JobRecord,
    ) -> impl Future<Output = Result<Created, StoreError>> + Send;

    fn job(&self, id: &JobId)
    -> impl Future<Output = Result<Option<JobRecord>, StoreError>> + Send;

    /// Replaces the job if, and only if, its stored status is still `expected`.
    fn update_job(
        &self,
        job: &JobRecord,
        expected: JobStatus,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The jobs of one issue or pull request, newest first, at most `limit`.
    fn jobs_for_thread(
        &self,
        repo: &RepoFullName,
        number: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<JobRecord>, StoreError>> + Send;

    fn put_task_token(
        &self,
        job: &JobId,
        wait: Wait,
        token: &TaskToken,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn task_token(
        &self,
        job: &JobId,
        wait: Wait,
    ) -> impl Future<Output = Result<Option<TaskToken>, StoreError>> + Send;
}
