//! One job, from its record to its answer: the runner's side of the workflow contract
//! (`shared::dispatch::runner`).
//!
//! [`Runner::run_job`] reads the job and its task token from the job store, marks the job
//! running, and keeps the wait alive with a heartbeat every
//! [`shared::job::HEARTBEAT_INTERVAL`] while it works: the task's configuration from
//! `.ollama-turbo.yml` on the default branch, a clone at the job's commit, the agent,
//! then a commit on `ollama/<task>-<short id>`, a push and a pull request (or, for a
//! review, a pull-request review with inline comments). It ends the wait once:
//! `SendTaskSuccess` with a [`shared::dispatch::RunOutput`], or `SendTaskFailure` with a
//! named [`shared::job::JobError`]. A refused heartbeat (the job was cancelled or another
//! attempt replaced this one) stops the work at once.
//!
//! When a budget runs out, the work done so far is committed and pushed to the job's
//! branch (so that nothing is lost and a person can pick it up), no pull request is
//! opened, and the job fails with `Runner.BudgetExceeded` (`Runner.TimedOut` for the
//! time budget), naming the branch.

mod broker;
#[cfg(feature = "aws")]
mod lambda_broker;
mod live;
mod run;
mod settings;
mod text;

pub use broker::{
    BrokerError, ControlPlane, Grant, HttpBroker, TOKEN_PATH, brokered_client, read_answer,
};
#[cfg(feature = "aws")]
pub use lambda_broker::LambdaBroker;
pub use live::{LIVE_UPDATE_INTERVAL, LogTail, MAX_LOG_TAIL_BYTES};
pub use run::{Failure, Finished, Runner, RunnerError};
pub use settings::{DEFAULT_APP_SLUG, RunnerEnv, git_base_url};
pub use text::{JOB_TRAILER, commit_message, pull_request_body, pull_request_title};
