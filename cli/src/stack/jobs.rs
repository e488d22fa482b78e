//! `ota --stack NAME jobs | job | approve | cancel | retry`: the local commands' twins on
//! the stack's DynamoDB table and Step Functions state machine, rendered by the same
//! functions ([`crate::commands`]) and acting through the same operations
//! ([`shared::policy_stage::operations`]) the policy function uses for `/approve`,
//! `/cancel` and `/retry`. The operator acts as `local:<user>` in the audit log.

use super::Stack;
use crate::commands::{
    self, JobArgs, JobsArgs, approved, cancelled, check_reference, operator, pick, retried,
    status_filter,
};
use ota_aws::DynamoStore;
use shared::clock::now_ms;
use shared::job::JobRecord;
use shared::policy_stage::operations;
use std::process::ExitCode;

/// The job `reference` names on the stack (its whole id, or its first characters).
async fn find(store: &DynamoStore, reference: &str) -> anyhow::Result<JobRecord> {
    let reference = check_reference(reference)?;
    pick(reference, store.jobs_by_prefix(reference).await?)
}

pub async fn jobs(stack: &Stack, args: JobsArgs) -> anyhow::Result<ExitCode> {
    let status = status_filter(&args)?;
    let jobs = stack.store()?.recent_jobs(args.limit, status).await?;
    print!("{}", commands::jobs_table(&jobs, now_ms()));
    Ok(ExitCode::SUCCESS)
}

pub async fn job(stack: &Stack, args: JobArgs) -> anyhow::Result<ExitCode> {
    let store = stack.store()?;
    let job = find(&store, &args.id).await?;
    let audit = store.audit_for_job(&job).await?;
    print!("{}", commands::job_details(&job, &audit, now_ms()));
    Ok(ExitCode::SUCCESS)
}

pub async fn approve(stack: &Stack, args: JobArgs) -> anyhow::Result<ExitCode> {
    let (store, workflow) = (stack.store()?, stack.workflow()?);
    let job = find(&store, &args.id).await?;
    let origin = operator(&job, "ota approve");
    approved(
        operations::approve(&store, &workflow, job, &origin).await?,
        "try again in a moment",
    )
}

pub async fn cancel(stack: &Stack, args: JobArgs) -> anyhow::Result<ExitCode> {
    let (store, workflow) = (stack.store()?, stack.workflow()?);
    let job = find(&store, &args.id).await?;
    let origin = operator(&job, "ota cancel");
    cancelled(operations::cancel(&store, &workflow, job, &origin).await?)
}

pub async fn retry(stack: &Stack, args: JobArgs) -> anyhow::Result<ExitCode> {
    let store = stack.store()?;
    let old = find(&store, &args.id).await?;
    retried(retry_job(stack, &store, &old).await?, &old.id)
}

/// Retries `old` with the timeouts its execution ran with (the defaults when Step
/// Functions no longer knows it), as the operator.
pub(super) async fn retry_job(
    stack: &Stack,
    store: &DynamoStore,
    old: &JobRecord,
) -> anyhow::Result<operations::Retried> {
    let workflow = stack.workflow()?;
    let timeouts = workflow.retry_timeouts(&old.id).await?;
    let origin = operator(old, "ota retry");
    Ok(operations::retry(store, &workflow, old, &origin, timeouts).await?)
}
