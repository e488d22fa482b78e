//! AWS implementations of the ports in `shared`: SQS for the event queue, Secrets
//! Manager for secrets, DynamoDB for the stores, Step Functions for the job's workflow.
//! Kept out of `shared` so the domain compiles without the SDKs.

pub mod asl;
mod dynamo;
mod ecs;
mod secrets_manager;
mod sqs;
mod step_functions;

pub use dynamo::DynamoStore;
pub use ecs::{EcsLauncher, RunnerLogs, RunnerTasks, console_log_url};
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

/// The full text of an SDK error (its `Display` alone says only "service error").
pub(crate) fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    aws_sdk_sqs::error::DisplayErrorContext(err).to_string()
}
