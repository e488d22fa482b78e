//! The dispatch stage: for each attempt the workflow's `Dispatch` state asks for (a
//! [`DispatchRequest`]), pick the model endpoint within the concurrency caps
//! ([`capacity`]), hand the runner its task token through the job store, and start it
//! ([`crate::ports::TaskLauncher`]). The runner, not this stage, answers the token;
//! this stage answers it only to fail the attempt (`Dispatch.NoCapacity`, or a job that
//! is gone or finished).
//!
//! Every step is safe to repeat: a repeated request (a redelivered message) finds the
//! attempt already counted, its lease already held, and replaces a runner it may have
//! started already (runners of a job are stopped before a new one starts, so at most one
//! runs).

pub mod capacity;
pub mod credential;
pub mod request;
pub mod runner;

pub use crate::ports::{Lease, Slots, VersionedSlots};
pub use capacity::{Admission, Endpoints, Limits, SlotRequest, lease_duration};
pub use credential::{
    GrantKey, Granted, TokenAnswer, TokenRefusal, TokenRequest, TokenRequestError,
    check_token_request,
};
pub use request::DispatchRequest;
pub use runner::{MAX_RUN_OUTPUT_BYTES, RunOutput, TestRun, runner_started};

use crate::job::{JobError, JobRecord, JobStatus, RunnerCredential, Wait};
use crate::policy::matching_policy;
use crate::ports::{JobStore, PolicyStore, StoreError};
use crate::ports::{LaunchError, ModelEndpoint, RunnerLaunch, SlotStore, TaskLauncher};
use crate::ports::{Workflow, WorkflowError};

/// How often a write that races with another writer of the job is tried again.
const CONFLICT_ATTEMPTS: usize = 3;

/// Every record the stage reads and writes.
pub trait Store: JobStore + PolicyStore + SlotStore {}
impl<T: JobStore + PolicyStore + SlotStore> Store for T {}

/// What the deployment offers runners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchSettings {
    pub limits: Limits,
    pub endpoints: Endpoints,
}

pub struct Dispatcher<S, W, L> {
    pub store: S,
    pub workflow: W,
    pub launcher: L,
    pub settings: DispatchSettings,
    /// Keys the digests of the runners' credentials ([`credential`]).
    pub grants: GrantKey,
    /// Unix milliseconds now.
    pub clock: fn() -> u64,
}

/// What a dispatch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dispatched {
    /// A runner was started on `endpoint`.
    Launched {
        task: String,
        endpoint: ModelEndpoint,
    },
    /// No room: the attempt failed with `Dispatch.NoCapacity`, for the workflow to retry.
    NoCapacity(String),
    /// The runner of this attempt already reported that it runs (a repeated request).
    AlreadyRunning,
    /// The job had finished (e.g. cancelled) before its runner started; the wait was
    /// failed with the matching error.
    JobFinished(JobStatus),
    /// The job cannot run at all (its record is missing, the launcher refused); the wait
    /// was failed with `Runner.Failed`.
    Refused(String),
}

/// Why a dispatch could not be carried out (yet). Transient ones are retried by the
/// queue; the wait's heartbeat timeout bounds how long.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Workflow(#[from] WorkflowError),
    #[error(transparent)]
    Launch(#[from] LaunchError),
}

impl DispatchError {
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Store(err) => err.is_transient(),
            Self::Workflow(err) => err.is_transient(),
            Self::Launch(err) => err.is_transient(),
        }
    }
}

impl<S: Store, W: Workflow, L: TaskLauncher> Dispatcher<S, W, L> {
    pub async fn handle(&self, request: &DispatchRequest) -> Result<Dispatched, DispatchError> {
        let job = match self.enter_attempt(request).await? {
            Ok(job) => job,
            Err(done) => return Ok(done),
        };
        let policies = self.store.policies(job.installation).await?;
        let allow_hosted = matching_policy(&policies, &job.repo)
            .and_then(|policy| policy.allow_hosted_model)
            .unwrap_or(false);
        let slot = SlotRequest {
            job: job.id.clone(),
            installation: job.installation,
            allow_hosted,
            now_ms: (self.clock)(),
            lease: lease_duration(&request.timeouts),
        };
        let settings = &self.settings;
        let endpoint =
            match capacity::acquire(&self.store, &slot, &settings.limits, &settings.endpoints)
                .await?
            {
                Admission::Admitted(endpoint) => endpoint,
                Admission::Full(reason) => {
                    self.fail(request, JobError::DispatchNoCapacity, &reason)
                        .await?;
                    return Ok(Dispatched::NoCapacity(reason));
                }
            };
        self.store
            .put_task_token(&job.id, Wait::Run, &request.token)
            .await?;
        let replaced = format!("replaced by attempt {} of job {}", request.attempt, job.id);
        let stopped = self.launcher.stop_job(&job.id, &replaced).await?;
        if stopped > 0 {
            tracing::info!(job = %job.id, stopped, "stopped the runners of earlier attempts");
        }
        let launch = RunnerLaunch {
            job: job.id.clone(),
            attempt: request.attempt,
            endpoint: endpoint.clone(),
        };
        let (job, credential) = self.grant_credential(job, &launch).await?;
        match self.launcher.launch(&launch, &credential).await {
            Ok(launched) => {
                self.record_log(&job, launched.log).await?;
                Ok(Dispatched::Launched {
                    task: launched.task,
                    endpoint,
                })
            }
            Err(LaunchError::NoCapacity(reason)) => {
                capacity::release(&self.store, &job.id).await?;
                self.fail(request, JobError::DispatchNoCapacity, &reason)
                    .await?;
                Ok(Dispatched::NoCapacity(reason))
            }
            Err(LaunchError::Rejected(reason)) => {
                capacity::release(&self.store, &job.id).await?;
                let cause = format!("the runner could not be started: {reason}");
                self.fail(request, JobError::RunnerFailed, &cause).await?;
                Ok(Dispatched::Refused(cause))
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Counts the attempt (`dispatching`), unless a repeat of this request already
    /// did. `Err` carries the outcome when there is nothing to launch.
    async fn enter_attempt(
        &self,
        request: &DispatchRequest,
    ) -> Result<Result<JobRecord, Dispatched>, DispatchError> {
        for _ in 0..CONFLICT_ATTEMPTS {
            let Some(job) = self.store.job(&request.job).await? else {
                let cause = format!("job {} has no record", request.job);
                self.fail(request, JobError::RunnerFailed, &cause).await?;
                return Ok(Err(Dispatched::Refused(cause)));
            };
            if job.status.is_terminal() {
                let error = match job.status {
                    JobStatus::Cancelled | JobStatus::Expired => JobError::JobCancelled,
                    _ => JobError::RunnerFailed,
                };
                let cause = format!("job {} is already {}", job.id, job.status);
                self.fail(request, error, &cause).await?;
                return Ok(Err(Dispatched::JobFinished(job.status)));
            }
            if job.attempts >= request.attempt {
                match job.status {
                    JobStatus::Running => return Ok(Err(Dispatched::AlreadyRunning)),
                    JobStatus::Dispatching => return Ok(Ok(job)),
                    _ => {}
                }
            }
            let expected = job.status;
            let mut moved = job;
            moved
                .move_to(JobStatus::Dispatching, (self.clock)())
                .map_err(|err| StoreError::Corrupt(err.to_string()))?;
            // The workflow counts the attempts; a lost request must not make them drift.
            moved.attempts = moved.attempts.max(request.attempt);
            match self.store.update_job(&moved, expected).await {
                Ok(()) => return Ok(Ok(moved)),
                Err(StoreError::Conflict { .. }) => continue,
                Err(err) => return Err(err.into()),
            }
        }
        Err(StoreError::Unavailable(format!("job {} kept changing", request.job)).into())
    }

    /// A new credential for the runner about to start, its grant in the job record: it
    /// replaces any earlier attempt's (or an earlier launch's of this attempt), so only
    /// the runner started next can ask for the job's installation token.
    async fn grant_credential(
        &self,
        job: JobRecord,
        launch: &RunnerLaunch,
    ) -> Result<(JobRecord, RunnerCredential), DispatchError> {
        let credential = RunnerCredential::generate().map_err(StoreError::Unavailable)?;
        let grant = self.grants.grant(
            &job.id,
            launch.attempt,
            launch.endpoint.takes_api_key(),
            &credential,
        );
        let mut current = job;
        for _ in 0..CONFLICT_ATTEMPTS {
            let expected = current.status;
            current.runner_grant = Some(grant.clone());
            match self.store.update_job(&current, expected).await {
                Ok(()) => return Ok((current, credential)),
                Err(StoreError::Conflict { .. }) => {
                    current = self.store.job(&current.id).await?.ok_or_else(|| {
                        StoreError::Corrupt(format!("job {} vanished", current.id))
                    })?;
                }
                Err(err) => return Err(err.into()),
            }
        }
        Err(StoreError::Unavailable(format!("job {} kept changing", current.id)).into())
    }

    /// Keeps where the runner's log is, unless the job moved on meanwhile.
    async fn record_log(&self, job: &JobRecord, log: Option<String>) -> Result<(), StoreError> {
        if log.is_none() {
            return Ok(());
        }
        let mut current = job.clone();
        for _ in 0..CONFLICT_ATTEMPTS {
            if current.log == log || current.status.is_terminal() {
                return Ok(());
            }
            let expected = current.status;
            current.log.clone_from(&log);
            match self.store.update_job(&current, expected).await {
                Ok(()) => return Ok(()),
                Err(StoreError::Conflict { .. }) => {
                    let Some(fresh) = self.store.job(&job.id).await? else {
                        return Ok(());
                    };
                    current = fresh;
                }
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }

    /// Ends the attempt's wait with `error`. A wait that is already over (the execution
    /// was stopped) needs no answer.
    async fn fail(
        &self,
        request: &DispatchRequest,
        error: JobError,
        cause: &str,
    ) -> Result<(), WorkflowError> {
        tracing::info!(job = %request.job, attempt = request.attempt, error = error.name(), cause, "failing the attempt");
        match self.workflow.fail(&request.token, error, cause).await {
            Ok(()) | Err(WorkflowError::TokenExpired) => Ok(()),
            Err(err) => Err(err),
        }
    }
}
