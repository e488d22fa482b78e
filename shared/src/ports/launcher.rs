//! Starting and stopping a job's runner, as a port: a Fargate task on AWS (`ota-aws`'s
//! `EcsLauncher`), a child process on one machine.
//!
//! What a runner is told travels in its launch environment ([`environment`]: written by
//! [`RunnerLaunch::to_env`], read by [`RunnerLaunch::from_env`]): the job id, the attempt
//! and the model endpoint, nothing secret. The runner reads the rest from the job store,
//! including its task token (`task_token(job, Wait::Run)`): the token is a bearer
//! credential for the execution, and ECS keeps task overrides in its API responses and
//! event history, where any reader of the account could take it. Besides, each launch
//! hands the runner its attempt's [`RunnerCredential`], with which it asks the control
//! plane for the job's installation token: the runner holds no App key.

pub mod environment;

pub use environment::{
    ATTEMPT_VAR, CREDENTIAL_VAR, JOB_ID_VAR, LaunchEnvError, LaunchVarError, MAX_RUNTIME_VAR,
    MODEL_ENDPOINT_VAR, OLLAMA_URL_VAR,
};

use crate::job::{JobId, RunnerCredential};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::future::Future;
use std::time::Duration;

/// Where a job's model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointKind {
    /// The installation's own GPU Ollama.
    SelfHosted,
    /// Ollama's hosted service (ollama.com), when the installation policy allows it.
    Hosted,
}

impl EndpointKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SelfHosted => "self_hosted",
            Self::Hosted => "hosted",
        }
    }

    /// How reports name it.
    pub const fn description(self) -> &'static str {
        match self {
            Self::SelfHosted => "the self-hosted GPU",
            Self::Hosted => "Ollama's hosted service",
        }
    }
}

impl fmt::Display for EndpointKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An Ollama to send a job's model calls to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelEndpoint {
    pub kind: EndpointKind,
    /// Base URL, e.g. `http://ollama.internal:11434` or `https://ollama.com`.
    pub url: String,
}

impl ModelEndpoint {
    /// Whether the hosted service's API key goes with this endpoint's calls: only to
    /// Ollama's hosted service, never to a self-hosted Ollama, which is often reached over
    /// plain HTTP and has no use for it.
    pub fn takes_api_key(&self) -> bool {
        self.kind == EndpointKind::Hosted
    }
}

/// One runner to start, and what a runner is started with: its launch environment
/// ([`RunnerLaunch::to_env`], [`RunnerLaunch::from_env`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerLaunch {
    pub job: JobId,
    /// 1 for the first dispatch, one more per retry.
    pub attempt: u32,
    pub endpoint: ModelEndpoint,
    /// The job's maximum runtime: the runner gives up on its attempt after that long
    /// (`Runner.TimedOut`), as the workflow's run wait also holds the time in line.
    pub max_runtime: Duration,
}

/// A runner that was started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchedRunner {
    /// The launcher's handle on it (an ECS task ARN, a process id).
    pub task: String,
    /// Where its full log will be (a CloudWatch Logs console link, a file path).
    pub log: Option<String>,
}

/// Why a runner could not be started or stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LaunchError {
    /// No capacity for a runner now (Fargate capacity, a throttled `RunTask`): the job
    /// fails its attempt with `Dispatch.NoCapacity` and the workflow retries it later.
    #[error("no capacity to start a runner: {0}")]
    NoCapacity(String),
    /// The launcher's API did not answer; the same call may work in a moment.
    #[error("the task launcher is unavailable: {0}")]
    Unavailable(String),
    /// The launcher refused the request (a wrong task definition, missing permissions):
    /// a deployment problem that retrying cannot fix.
    #[error("the task launcher refused: {0}")]
    Rejected(String),
}

impl LaunchError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

pub trait TaskLauncher: Send + Sync {
    /// Starts one runner for `launch.job`, tagged with the job id so that
    /// [`stop_job`](Self::stop_job) finds it, and hands it `credential` (its one way to
    /// its installation token) by a way other processes cannot read where possible.
    fn launch(
        &self,
        launch: &RunnerLaunch,
        credential: &RunnerCredential,
    ) -> impl Future<Output = Result<LaunchedRunner, LaunchError>> + Send;

    /// Stops every runner of `job` still running, and says how many it stopped. Stopping
    /// none is not an error: the runner may have finished, or never started.
    fn stop_job(
        &self,
        job: &JobId,
        reason: &str,
    ) -> impl Future<Output = Result<usize, LaunchError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_hosted_service_takes_the_api_key() {
        let endpoint = |kind| ModelEndpoint {
            kind,
            url: "http://127.0.0.1:11434".to_owned(),
        };
        assert!(endpoint(EndpointKind::Hosted).takes_api_key());
        assert!(!endpoint(EndpointKind::SelfHosted).takes_api_key());
    }

    #[test]
    fn endpoint_kinds_serialize_as_their_names() {
        for kind in [EndpointKind::SelfHosted, EndpointKind::Hosted] {
            assert_eq!(
                serde_json::to_value(kind).expect("serialize"),
                serde_json::json!(kind.as_str())
            );
        }
    }
}
