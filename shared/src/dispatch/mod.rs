//! The dispatch stage: for each attempt the workflow's `Dispatch` state asks for (a
//! [`DispatchRequest`]), pick the model endpoint within the concurrency caps
//! ([`capacity`]), hand the runner its task token through the job store, and start it
//! ([`crate::ports::TaskLauncher`]). The runner, not this stage, answers the token;
//! this stage answers it only to fail the attempt of a job that is gone or finished, or
//! whose runner cannot be started at all.
//!
//! No room is a wait, never a failure: the attempt joins the line ([`Dispatched::Queued`])
//! with its wait left open, and is dispatched again from the line ([`Dispatcher::wake`])
//! when a runner exits ([`Dispatcher::runner_exited`]) or at the next sweep, which also
//! keeps the waits of those in line alive with heartbeats.
//!
//! A deployment with a managed GPU Ollama service ([`gpu`]) starts it when a job needs it
//! and stops it when idle: until it is ready, a job for the GPU waits in line like any
//! other, with the reason "the GPU Ollama service is starting".
//!
//! Every step is safe to repeat: a repeated request (a redelivered message) finds the
//! attempt already counted, its lease already held, and replaces a runner it may have
//! started already (runners of a job are stopped before a new one starts, so at most one
//! runs).

pub mod capacity;
pub mod credential;
pub mod gpu;
pub mod request;
pub mod runner;

pub use crate::ports::Waiter;
pub use crate::ports::{Lease, Slots, VersionedSlots};
pub use capacity::{Admission, Endpoints, Limits, SlotRequest, lease_duration};
pub use credential::{
    GrantKey, Granted, TokenAnswer, TokenRefusal, TokenRequest, TokenRequestError,
    check_token_request,
};
pub use gpu::{GpuAction, ManagedGpu};
pub use request::DispatchRequest;
pub use runner::{MAX_RUN_OUTPUT_BYTES, RunOutput, TestRun, json_size, runner_started};

use crate::job::{JobError, JobId, JobRecord, JobStatus, RunnerCredential, Timeouts, Wait};
use crate::metrics::{self, Metric};
use crate::policy::matching_policy;
use crate::ports::{GpuError, GpuService, GpuState, NoGpuService};
use crate::ports::{JobStore, PolicyStore, StoreError};
use crate::ports::{LaunchError, ModelEndpoint, RunnerLaunch, SlotStore, TaskLauncher};
use crate::ports::{Workflow, WorkflowError};
use gpu::Seen;

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

pub struct Dispatcher<S, W, L, G = NoGpuService> {
    pub store: S,
    pub workflow: W,
    pub launcher: L,
    pub settings: DispatchSettings,
    /// The GPU Ollama service this dispatcher starts and stops, serving
    /// `settings.endpoints.self_hosted`; `None` when that Ollama is always there (one
    /// machine, an Ollama of one's own) or there is none.
    pub gpu: Option<ManagedGpu<G>>,
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
    /// No room: the attempt waits in line, its wait open, until a slot frees; why.
    /// `news`: it just joined the line or waits for another reason now, so its check run
    /// should be told (once per reason).
    Queued { reason: String, news: bool },
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
    #[error(transparent)]
    Gpu(#[from] GpuError),
}

impl DispatchError {
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Store(err) => err.is_transient(),
            Self::Workflow(err) => err.is_transient(),
            Self::Launch(err) => err.is_transient(),
            Self::Gpu(err) => err.is_transient(),
        }
    }
}

/// What a [`Dispatcher::wake`] did with the line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Woken {
    /// Attempts taken out of the line and dispatched (or finished, if their job was).
    pub dispatched: Vec<JobId>,
    /// Attempts still waiting, their waits kept alive.
    pub waiting: usize,
    /// Attempts whose wait was over (the execution stopped or timed out): out of line.
    pub dropped: usize,
    /// Attempts still waiting whose reason to wait changed: job and reason, for their
    /// check runs.
    pub news: Vec<(JobId, String)>,
    /// The GPU service was asked to stop: it had been idle for its idle period.
    pub gpu_stopped: bool,
}

/// Whether a job may run on Ollama's hosted service, its policy allowing: when its task
/// names a `hosted_model` (the hosted service's models differ from a GPU's, so the task's
/// `model` may not exist there), or when no GPU is configured and the hosted service is the
/// only place to run (then the task's `model` is meant for it). Otherwise the job waits for
/// the GPU rather than overflowing with a model the hosted service lacks.
pub fn may_use_hosted(hosted_model: Option<&str>, endpoints: &Endpoints) -> bool {
    hosted_model.is_some() || endpoints.self_hosted.is_none()
}

impl<S: Store, W: Workflow, L: TaskLauncher, G: GpuService> Dispatcher<S, W, L, G> {
    pub async fn handle(&self, request: &DispatchRequest) -> Result<Dispatched, DispatchError> {
        self.dispatch(request, &mut Seen::default()).await
    }

    /// The endpoints as they take jobs now: the self-hosted GPU is down while its managed
    /// service is not ready.
    fn endpoints_now(&self, gpu: Option<GpuState>) -> Endpoints {
        let mut endpoints = self.settings.endpoints.clone();
        if let Some(state) = gpu {
            endpoints.self_hosted_down = gpu::down_reason(state);
        }
        endpoints
    }

    /// [`Dispatcher::handle`], with what was seen of the GPU service so far.
    async fn dispatch(
        &self,
        request: &DispatchRequest,
        seen: &mut Seen,
    ) -> Result<Dispatched, DispatchError> {
        let job = match self.current(request).await? {
            Ok(job) => job,
            Err(done) => return Ok(done),
        };
        // Kept before the slot is asked for: an attempt in line is dispatched again from
        // the line with this token.
        self.store
            .put_task_token(&job.id, Wait::Run, &request.token)
            .await?;
        let slot = self
            .slot_request(&job, request.attempt, &request.timeouts)
            .await?;
        let endpoints = self.endpoints_now(seen.demand(self.gpu.as_ref()).await?);
        let endpoint = match capacity::acquire_telling(
            &self.store,
            &slot,
            &self.settings.limits,
            &endpoints,
        )
        .await?
        {
            (Admission::Admitted(endpoint), _) => endpoint,
            (Admission::Full(reason), news) => {
                tracing::info!(job = %job.id, attempt = request.attempt, reason, "waiting for a runner slot");
                if news {
                    // Counted once per wait (and reason), not at every sweep.
                    metrics::record(&Metric::Dispatch {
                        launched: false,
                        endpoint: "none",
                    });
                }
                return Ok(Dispatched::Queued { reason, news });
            }
        };
        let job = match self.enter_attempt(request).await? {
            Ok(job) => job,
            Err(done) => {
                capacity::release(&self.store, &request.job, request.attempt).await?;
                return Ok(done);
            }
        };
        let replaced = format!("replaced by attempt {} of job {}", request.attempt, job.id);
        let stopped = self.launcher.stop_job(&job.id, &replaced).await?;
        if stopped > 0 {
            tracing::info!(job = %job.id, stopped, "stopped the runners of earlier attempts");
        }
        let launch = RunnerLaunch {
            job: job.id.clone(),
            attempt: request.attempt,
            endpoint: endpoint.clone(),
            max_runtime: request.timeouts.max_runtime,
        };
        let (job, credential) = self.grant_credential(job, &launch).await?;
        match self.launcher.launch(&launch, &credential).await {
            Ok(launched) => {
                self.record_log(&job, launched.log).await?;
                metrics::record(&Metric::Dispatch {
                    launched: true,
                    endpoint: endpoint.kind.as_str(),
                });
                Ok(Dispatched::Launched {
                    task: launched.task,
                    endpoint,
                })
            }
            Err(LaunchError::NoCapacity(reason)) => {
                let news = capacity::wait_for_launch_capacity(&self.store, &slot, &reason).await?;
                tracing::info!(job = %job.id, attempt = request.attempt, reason, "waiting for room to start a runner");
                if news {
                    // Counted once per wait (and reason), not at every sweep.
                    metrics::record(&Metric::Dispatch {
                        launched: false,
                        endpoint: endpoint.kind.as_str(),
                    });
                }
                Ok(Dispatched::Queued { reason, news })
            }
            Err(LaunchError::Rejected(reason)) => {
                capacity::release(&self.store, &job.id, request.attempt).await?;
                let cause = format!("the runner could not be started: {reason}");
                self.fail(request, JobError::RunnerFailed, &cause).await?;
                Ok(Dispatched::Refused(cause))
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Whether attempt `attempt` of `job` has a slot now (taking it) or waits in line;
    /// `None` when the job is gone or finished. The one-machine engine asks this before it
    /// opens the attempt's wait, so time in line never counts against the runtime.
    pub async fn admit(
        &self,
        job: &JobId,
        attempt: u32,
        timeouts: &Timeouts,
    ) -> Result<Option<Admission>, DispatchError> {
        let Some(job) = self.store.job(job).await? else {
            return Ok(None);
        };
        if job.status.is_terminal() {
            capacity::withdraw(&self.store, &job.id).await?;
            return Ok(None);
        }
        let slot = self.slot_request(&job, attempt, timeouts).await?;
        let endpoints = self.endpoints_now(Seen::default().demand(self.gpu.as_ref()).await?);
        Ok(Some(
            capacity::acquire(&self.store, &slot, &self.settings.limits, &endpoints).await?,
        ))
    }

    /// The runner of `job`'s attempt `attempt` has exited: its slot is free, and the line
    /// moves up.
    pub async fn runner_exited(&self, job: &JobId, attempt: u32) -> Result<Woken, DispatchError> {
        if capacity::release(&self.store, job, attempt).await? {
            tracing::info!(%job, attempt, "runner exited; its slot is free");
        }
        self.wake().await
    }

    /// Dispatches again, oldest first, every attempt in line (each gets a slot if one is
    /// free for it, else keeps its place), and keeps the waits of those still waiting
    /// alive with a heartbeat. An attempt whose wait is over leaves the line. Safe to
    /// repeat: a crash part-way leaves the rest in line for the next wake. Then, with a
    /// managed GPU service, stops it if it has been idle long enough ([`gpu::idle_check`]).
    pub async fn wake(&self) -> Result<Woken, DispatchError> {
        let mut woken = Woken::default();
        let mut seen = Seen::default();
        for waiter in capacity::waiting(&self.store).await? {
            let Some(token) = self.store.task_token(&waiter.job, Wait::Run).await? else {
                capacity::withdraw(&self.store, &waiter.job).await?;
                woken.dropped += 1;
                continue;
            };
            let request = DispatchRequest {
                job: waiter.job.clone(),
                token,
                attempt: waiter.attempt,
                timeouts: waiter.timeouts,
            };
            let span = tracing::info_span!("dispatch", job = %waiter.job, attempt = waiter.attempt);
            let _entered = span.enter();
            match Box::pin(self.dispatch(&request, &mut seen)).await? {
                Dispatched::Queued { reason, news } => {
                    match self.workflow.heartbeat(&request.token).await {
                        Ok(()) => {
                            woken.waiting += 1;
                            if news {
                                woken.news.push((waiter.job, reason));
                            }
                        }
                        Err(WorkflowError::TokenExpired) => {
                            tracing::info!("the attempt's wait is over; it leaves the line");
                            capacity::withdraw(&self.store, &waiter.job).await?;
                            woken.dropped += 1;
                        }
                        Err(err) => return Err(err.into()),
                    }
                }
                outcome => {
                    tracing::info!(?outcome, "dispatched from the line");
                    woken.dispatched.push(waiter.job);
                }
            }
        }
        woken.gpu_stopped = self.stop_gpu_if_idle(&mut seen).await?;
        Ok(woken)
    }

    /// Keeps the GPU service's idle clock and stops the service once it has been idle for
    /// its idle period; `true` when it asked it to stop.
    async fn stop_gpu_if_idle(&self, seen: &mut Seen) -> Result<bool, DispatchError> {
        let (Some(managed), Some(state)) = (&self.gpu, seen.state(self.gpu.as_ref()).await?) else {
            return Ok(false);
        };
        let now_ms = (self.clock)();
        let action = capacity::check_gpu_idle(&self.store, state, now_ms, managed.idle).await?;
        if action != GpuAction::Stop {
            return Ok(false);
        }
        tracing::info!(
            idle_seconds = managed.idle.as_secs(),
            "no job ran on the GPU nor waited for it in its idle period: stopping the GPU Ollama service"
        );
        managed.service.stop().await?;
        Ok(true)
    }

    /// The job as the request finds it, unless there is nothing to dispatch: a missing or
    /// finished job (its wait failed, and out of the line), or a runner already running.
    async fn current(
        &self,
        request: &DispatchRequest,
    ) -> Result<Result<JobRecord, Dispatched>, DispatchError> {
        let Some(job) = self.store.job(&request.job).await? else {
            let cause = format!("job {} has no record", request.job);
            capacity::withdraw(&self.store, &request.job).await?;
            self.fail(request, JobError::RunnerFailed, &cause).await?;
            return Ok(Err(Dispatched::Refused(cause)));
        };
        if job.status.is_terminal() {
            capacity::withdraw(&self.store, &job.id).await?;
            let error = match job.status {
                JobStatus::Cancelled | JobStatus::Expired => JobError::JobCancelled,
                _ => JobError::RunnerFailed,
            };
            let cause = format!("job {} is already {}", job.id, job.status);
            self.fail(request, error, &cause).await?;
            return Ok(Err(Dispatched::JobFinished(job.status)));
        }
        if job.attempts >= request.attempt && job.status == JobStatus::Running {
            return Ok(Err(Dispatched::AlreadyRunning));
        }
        Ok(Ok(job))
    }

    async fn slot_request(
        &self,
        job: &JobRecord,
        attempt: u32,
        timeouts: &Timeouts,
    ) -> Result<SlotRequest, StoreError> {
        let policies = self.store.policies(job.installation).await?;
        let policy_allows = matching_policy(&policies, &job.repo)
            .and_then(|policy| policy.allow_hosted_model)
            .unwrap_or(false);
        let allow_hosted =
            policy_allows && may_use_hosted(job.hosted_model.as_deref(), &self.settings.endpoints);
        Ok(SlotRequest {
            job: job.id.clone(),
            installation: job.installation,
            attempt,
            allow_hosted,
            now_ms: (self.clock)(),
            timeouts: *timeouts,
        })
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
