//! The job: its id, the one lifecycle (states and allowed transitions), named errors and
//! the retry policy shared by both engines.
//!
//! Step Functions (`statemachine/job.asl.json`, rendered from [`JOB_MACHINE`]) and `ota
//! serve`'s in-process engine both take their rules from here: the workflow's states and
//! edges ([`JOB_MACHINE`]), which moves of a job's status are allowed ([`JobStatus`]), which errors
//! are retried ([`TRANSIENT_ERRORS`], [`RetryPolicy`]), how long each wait lasts
//! ([`Timeouts`]). Everything here is pure; stores and engines live elsewhere.

mod credential;
mod error;
mod id;
mod layers;
mod machine;
mod record;
mod retry;
mod status;
mod wait;

pub use credential::{CREDENTIAL_BYTES, CredentialFormatError, RunnerCredential, RunnerGrant};
pub use error::{JobError, STATES_TIMEOUT, TRANSIENT_ERRORS, status_after_error};
pub use id::{
    BRANCH_PREFIX, JOB_ID_HEX_LEN, JOB_ID_LEN, JOB_ID_PREFIX, JOB_ID_SHORT_LEN, JobId, JobIdError,
    JobRef, MAX_BRANCH_TASK_LEN,
};
pub use layers::{AllowedOverrides, BaseFile, ConfigLayers};
pub use machine::{
    APPROVAL_EXPIRED_CAUSE, APPROVAL_REPORTED_ERRORS, AfterError, Catcher, Caught, Ending, Errors,
    JOB_MACHINE, Machine, RUN_REPORTED_ERRORS, RUN_TIMED_OUT_CAUSE, ReportKind, STATES_ALL,
    STATES_HEARTBEAT_TIMEOUT, State, StateKind, StateName, after_error,
};
pub use record::{
    Approval, ErrorReport, JobRecord, JobRequest, JobResult, MAX_PLAN_CHARS, PlanStep, TokenUsage,
    Trigger, plan_text,
};
pub use retry::{
    APPROVAL_TIMEOUT, BACKOFF_RATE, HEARTBEAT_INTERVAL, HEARTBEAT_TIMEOUT, Jitter, MAX_QUEUE,
    MAX_RETRIES, MAX_RETRY_DELAY, MAX_RUNTIME, RETRY_INTERVAL, RetryPolicy, Timeouts,
    TimeoutsError,
};
pub use status::{JobStatus, TransitionError};
pub use wait::{TaskToken, Wait};
