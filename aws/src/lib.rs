//! AWS implementations of the ports in `shared`: SQS for the event queue, Secrets
//! Manager for secrets, DynamoDB for the stores, Step Functions for the job's workflow,
//! ECS for the runners and the GPU Ollama service.
//! Kept out of `shared` so the domain compiles without the SDKs.

pub mod asl;
mod cloudformation;
mod control_plane;
mod dead_letters;
mod dynamo;
mod ecs;
pub mod emf;
mod gpu_service;
mod logs;
mod secrets_manager;
mod sqs;
mod step_functions;

pub use cloudformation::{StackError, StackOutputs};
pub use control_plane::{DeadLetterSource, DynamoControlPlane};
pub use dead_letters::{
    DEAD_LETTER_QUEUES, DeadLetter, DeadLetterError, DeadLetterQueue, DeadLetterQueueSpec, Depth,
    JOB_DLQ_OUTPUT, dead_letter_job, dead_letter_summary,
};
pub use dynamo::{
    AUDIT_LEEWAY_MS, DynamoStore, MAX_PAGE, MAX_PREFIX_MATCHES, READ_BUDGET, Reindexed,
};
pub use ecs::{EcsLauncher, RunnerLogs, RunnerTasks, console_log_stream, console_log_url};
pub use gpu_service::{EcsGpuService, GpuServiceTarget};
pub use logs::{LOG_TAIL_LINES, RunnerLogReader};
pub use secrets_manager::SecretsManagerSecret;
pub use sqs::SqsEventQueue;
pub use step_functions::{START_REQUEST_FIELD, StateMachineArnError, StepFunctionsWorkflow};

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use std::time::Duration;

/// How long one AWS call may take, retries included, before the caller answers with an
/// error. A webhook must be answered within GitHub's 10 seconds.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

/// The SDK configuration from the environment (region, credentials, and
/// `AWS_ENDPOINT_URL` when set), with bounded timeouts.
pub async fn load_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts())
        .load()
        .await
}

pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(2))
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// The SDK's request and response bodies are traced by `aws_smithy_runtime` (at `trace`),
/// and they hold what the project keeps out of logs: task tokens in DynamoDB items, a
/// runner's credential and its token in the dispatch function's invocation. This
/// directive keeps the SDK at `debug` at most, whatever `RUST_LOG` asks.
pub const SDK_BODIES_UNLOGGED: &str = "aws_smithy_runtime=debug";

/// The log filter of every AWS binary (the Lambdas, the Fargate runner): `rust_log`
/// (`RUST_LOG`; `info` when unset or unreadable), with the SDK's bodies never logged
/// ([`SDK_BODIES_UNLOGGED`]).
pub fn log_filter(rust_log: Option<&str>) -> tracing_subscriber::EnvFilter {
    let filter = rust_log
        .and_then(|directives| tracing_subscriber::EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("info"));
    match SDK_BODIES_UNLOGGED.parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    }
}

/// The full text of an SDK error (its `Display` alone says only "service error").
pub(crate) fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    aws_sdk_sqs::error::DisplayErrorContext(err).to_string()
}
