//! What every [`crate::ports::ControlPlane`] does alike for the dashboard: a person's
//! action on a job, through the same [`operations`] as `/approve`, `/cancel`, `/retry`
//! and the `ota` commands, with its outcome in the dashboard's words; and the audit entry
//! of a policy change. The SQLite and DynamoDB control planes differ only in their store,
//! their workflow and where a retry's timeouts come from.

use super::operations::{self, Actor, Approved, Cancelled, OperationError, Origin, Retried};
use crate::ids::InstallationId;
use crate::job::{JobRecord, Timeouts};
use crate::policy::InstallationPolicy;
use crate::ports::{
    ActionOutcome, AuditEntry, AuditLog, DashboardActor, JobAction, JobStore, RepoScope,
    StoreError, Workflow,
};
use std::future::Future;

/// The server's owner signed in with the operator's token, in jobs and the audit log:
/// `local:dashboard`.
pub const OPERATOR_NAME: &str = "dashboard";

/// Who acts, as the operations name them.
pub fn actor(actor: &DashboardActor) -> Actor {
    match actor {
        DashboardActor::User(login) => Actor::Web(login.clone()),
        DashboardActor::Operator => Actor::operator(OPERATOR_NAME),
    }
}

fn failed(err: OperationError) -> StoreError {
    match err {
        OperationError::Store(err) => err,
        other => StoreError::Unavailable(other.to_string()),
    }
}

/// Does `action` to `job` for `who`, writing the audit entry. A retry's new job runs
/// with `retry_timeouts` (awaited only for a retry): the old job's, where they are known.
pub async fn act<S, W>(
    store: &S,
    workflow: &W,
    job: JobRecord,
    action: JobAction,
    who: &DashboardActor,
    clock: fn() -> u64,
    retry_timeouts: impl Future<Output = Result<Timeouts, StoreError>>,
) -> Result<ActionOutcome, StoreError>
where
    S: JobStore + AuditLog,
    W: Workflow,
{
    let origin = Origin {
        actor: actor(who),
        command: format!("dashboard {}", action.as_str()),
        delivery: None,
        scope: RepoScope {
            installation: job.installation,
            repo: job.repo.clone(),
        },
        clock,
    };
    Ok(match action {
        JobAction::Approve => approved(
            operations::approve(store, workflow, job, &origin)
                .await
                .map_err(failed)?,
        ),
        JobAction::Cancel => cancelled(
            operations::cancel(store, workflow, job, &origin)
                .await
                .map_err(failed)?,
        ),
        JobAction::Retry => {
            let timeouts = retry_timeouts.await?;
            retried(
                operations::retry(store, workflow, &job, &origin, timeouts)
                    .await
                    .map_err(failed)?,
            )
        }
    })
}

/// An approval's outcome on the page.
pub fn approved(outcome: Approved) -> ActionOutcome {
    match outcome {
        Approved::Approved(_) => ActionOutcome::Done("Approved; it runs next.".into()),
        Approved::NotWaiting(job) => ActionOutcome::NotPossible(format!(
            "The job is {}, not waiting for an approval.",
            job.status
        )),
        Approved::NotReady(_) => ActionOutcome::NotPossible(
            "The job has not reached its approval wait yet; try again in a moment.".into(),
        ),
        Approved::Raced(job) => ActionOutcome::NotPossible(format!(
            "The job changed meanwhile; it is {} now.",
            job.status
        )),
        Approved::WindowOver(_) => {
            ActionOutcome::NotPossible("The approval wait is over (expired or cancelled).".into())
        }
    }
}

/// A cancellation's outcome on the page.
pub fn cancelled(outcome: Cancelled) -> ActionOutcome {
    match outcome {
        Cancelled::Stopped(_) => ActionOutcome::Done(
            "Cancelling: its runner is stopped and the cancellation reported.".into(),
        ),
        Cancelled::AlreadyFinished(job) => {
            ActionOutcome::NotPossible(format!("The job is already {}.", job.status))
        }
    }
}

/// A retry's outcome on the page.
pub fn retried(outcome: Retried) -> ActionOutcome {
    match outcome {
        Retried::Started(new) => ActionOutcome::Retried(new.id),
        Retried::NotRetryable(old) => ActionOutcome::NotPossible(format!(
            "The job is {}; only a failed, cancelled, expired or dead-lettered job can be retried.",
            old.status
        )),
    }
}

/// The audit entry of making `installation`'s policies exactly `policies`, by `who`.
pub fn policies_set_entry(
    installation: InstallationId,
    policies: &[InstallationPolicy],
    who: &DashboardActor,
    at_ms: u64,
) -> AuditEntry {
    let names: Vec<&str> = policies.iter().map(|policy| policy.name.as_str()).collect();
    AuditEntry {
        installation,
        repo: None,
        at_ms,
        delivery: format!("dashboard-{at_ms}"),
        actor: actor(who).name().to_owned(),
        command: "dashboard policy set".to_owned(),
        decision: "accepted".to_owned(),
        reason: if names.is_empty() {
            "no policies: the defaults apply".to_owned()
        } else {
            format!(
                "{} polic{}: {}",
                names.len(),
                if names.len() == 1 { "y" } else { "ies" },
                names.join(", ")
            )
        },
        policy: None,
        job: None,
    }
}

/// Writes the audit entry of a policy change (see [`policies_set_entry`]).
pub async fn record_policies_set<A: AuditLog>(
    log: &A,
    installation: InstallationId,
    policies: &[InstallationPolicy],
    who: &DashboardActor,
    at_ms: u64,
) -> Result<(), StoreError> {
    log.append(&policies_set_entry(installation, policies, who, at_ms))
        .await
}
