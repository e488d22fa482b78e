//! The job's workflow on Step Functions: one execution per job, named after the job id, on
//! the state machine `template.yaml` defines from `statemachine/job.asl.json`. Waits are
//! answered with `SendTaskSuccess`/`SendTaskFailure`; `/cancel` is `StopExecution`.

use aws_sdk_sfn::Client;
use aws_sdk_sfn::error::{ProvideErrorMetadata, SdkError};
use shared::job::{JobError, JobId, TaskToken, Timeouts};
use shared::ports::{Started, Workflow, WorkflowError, WorkflowInput};
use std::sync::atomic::{AtomicU64, Ordering};

/// The field of the execution input that holds [`start_request_id`]. Step Functions
/// answers a second `StartExecution` with the same name *and the same input* as a running
/// execution with success, as if it had started it; a per-call id makes a second call
/// differ, so it gets `ExecutionAlreadyExists` and `start` can say
/// [`Started::AlreadyStarted`]. The SDK's own retries of one call resend the same input
/// and still succeed, as they should. The state machine ignores the field.
pub const START_REQUEST_FIELD: &str = "start_request";

/// Step Functions accepts at most this many characters of `cause`.
const MAX_CAUSE_CHARS: usize = 32_768;

/// Error codes that say "not now" rather than "never".
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "ExecutionLimitExceeded",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalServerError",
];

/// Error codes of `SendTask*` that mean the wait is over: answered already, timed out,
/// its execution ended, or the token was never one (e.g. from an execution long gone).
const TOKEN_EXPIRED_CODES: &[&str] = &["TaskDoesNotExist", "TaskTimedOut", "InvalidToken"];

/// The state machine's ARN is not `arn:<partition>:states:<region>:<account>:stateMachine:<name>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a Step Functions state machine ARN (arn:aws:states:REGION:ACCOUNT:stateMachine:NAME)"
)]
pub struct StateMachineArnError(pub String);

#[derive(Clone)]
pub struct StepFunctionsWorkflow {
    client: Client,
    state_machine_arn: String,
    /// `arn:<partition>:states:<region>:<account>:execution:<machine>:`, to which the
    /// job id is appended to name its execution.
    execution_arn_prefix: String,
}

impl StepFunctionsWorkflow {
    /// Checks the ARN once, at start-up, so that `stop` can derive execution ARNs.
    pub fn new(
        client: Client,
        state_machine_arn: impl Into<String>,
    ) -> Result<Self, StateMachineArnError> {
        let state_machine_arn = state_machine_arn.into();
        let execution_arn_prefix = execution_arn_prefix(&state_machine_arn)
            .ok_or_else(|| StateMachineArnError(state_machine_arn.clone()))?;
        Ok(Self {
            client,
            state_machine_arn,
            execution_arn_prefix,
        })
    }

    /// The ARN of the job's execution (which may not exist).
    pub fn execution_arn(&self, job: &JobId) -> String {
        format!("{}{}", self.execution_arn_prefix, job.as_str())
    }

    /// The input the job's execution started with (its timeouts, for a retry), or `None`
    /// when Step Functions no longer knows the execution (it keeps them 90 days).
    pub async fn execution_input(
        &self,
        job: &JobId,
    ) -> Result<Option<WorkflowInput>, WorkflowError> {
        let sent = self
            .client
            .describe_execution()
            .execution_arn(self.execution_arn(job))
            .send()
            .await;
        let output = match sent {
            Ok(output) => output,
            Err(err) if code(&err) == Some("ExecutionDoesNotExist") => return Ok(None),
            Err(err) => return Err(workflow_error("reading the job's execution", &err)),
        };
        let Some(input) = output.input else {
            return Ok(None);
        };
        serde_json::from_str(&input).map(Some).map_err(|err| {
            WorkflowError::Rejected(format!("the execution's input is not a job's: {err}"))
        })
    }

    /// The timeouts `job`'s execution ran with, for its retry; the defaults when Step
    /// Functions no longer knows it (executions are kept 90 days).
    pub async fn retry_timeouts(&self, job: &JobId) -> Result<Timeouts, WorkflowError> {
        Ok(self
            .execution_input(job)
            .await?
            .map_or(Timeouts::DEFAULT, |input| input.timeouts))
    }
}

/// The execution ARN prefix of a state machine ARN; a version or alias suffix
/// (`...:stateMachine:name:3`) is ignored, executions are named after the machine.
fn execution_arn_prefix(state_machine_arn: &str) -> Option<String> {
    let parts: Vec<&str> = state_machine_arn.split(':').collect();
    match parts.as_slice() {
        [
            "arn",
            partition,
            "states",
            region,
            account,
            "stateMachine",
            name,
            ..,
        ] if [partition, region, account, name]
            .iter()
            .all(|p| !p.is_empty()) =>
        {
            Some(format!(
                "arn:{partition}:states:{region}:{account}:execution:{name}:"
            ))
        }
        _ => None,
    }
}

/// An id no other `start` call uses (this process's id, the time, a counter).
fn start_request_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = shared::clock::since_epoch().as_nanos();
    format!(
        "{}-{nanos:x}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The execution input: the workflow input plus [`START_REQUEST_FIELD`].
fn execution_input(input: &WorkflowInput) -> Result<String, WorkflowError> {
    let mut value = serde_json::to_value(input)
        .map_err(|err| WorkflowError::Rejected(format!("encoding the input: {err}")))?;
    if let Some(object) = value.as_object_mut() {
        object.insert(START_REQUEST_FIELD.to_owned(), start_request_id().into());
    }
    serde_json::to_string(&value)
        .map_err(|err| WorkflowError::Rejected(format!("encoding the input: {err}")))
}

/// The service's error code, if the call got as far as an answer.
fn code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    match err {
        SdkError::ServiceError(service) => service.err().code(),
        _ => None,
    }
}

/// The end of a call about a wait's task token: an expired or unknown token as
/// [`WorkflowError::TokenExpired`], any other failure as [`workflow_error`] says.
fn token_call<O, E: ProvideErrorMetadata, R>(
    what: &str,
    sent: Result<O, SdkError<E, R>>,
) -> Result<(), WorkflowError> {
    match sent {
        Ok(_) => Ok(()),
        Err(err) if code(&err).is_some_and(|c| TOKEN_EXPIRED_CODES.contains(&c)) => {
            Err(WorkflowError::TokenExpired)
        }
        Err(err) => Err(workflow_error(what, &err)),
    }
}

/// A failed call: transient (no answer, throttled, a 5xx) or refused. With the error's
/// code only: the messages of the `SendTask*` calls quote the task token.
fn workflow_error<E: ProvideErrorMetadata, R>(what: &str, err: &SdkError<E, R>) -> WorkflowError {
    let (kind, transient) = match err {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("unknown error");
            (code, TRANSIENT_CODES.contains(&code))
        }
        SdkError::TimeoutError(_) => ("timed out", true),
        SdkError::DispatchFailure(_) => ("could not reach Step Functions", true),
        SdkError::ResponseError(_) => ("unreadable response", true),
        SdkError::ConstructionFailure(_) => ("could not build the request", false),
        _ => ("unknown error", true),
    };
    let text = format!("{what}: {kind}");
    if transient {
        WorkflowError::Unavailable(text)
    } else {
        WorkflowError::Rejected(text)
    }
}

/// `text` cut to what Step Functions accepts as a `cause`.
fn cause(text: &str) -> &str {
    match text.char_indices().nth(MAX_CAUSE_CHARS) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

impl Workflow for StepFunctionsWorkflow {
    async fn start(&self, input: &WorkflowInput) -> Result<Started, WorkflowError> {
        let sent = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(input.job.as_str())
            .input(execution_input(input)?)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(Started::New),
            Err(err) if code(&err) == Some("ExecutionAlreadyExists") => Ok(Started::AlreadyStarted),
            Err(err) => Err(workflow_error("starting the job's execution", &err)),
        }
    }

    async fn succeed(
        &self,
        token: &TaskToken,
        output: &serde_json::Value,
    ) -> Result<(), WorkflowError> {
        let output = serde_json::to_string(output)
            .map_err(|err| WorkflowError::Rejected(format!("encoding the output: {err}")))?;
        let sent = self
            .client
            .send_task_success()
            .task_token(token.expose())
            .output(output)
            .send()
            .await;
        token_call("ending a wait", sent)
    }

    async fn fail(
        &self,
        token: &TaskToken,
        error: JobError,
        cause_text: &str,
    ) -> Result<(), WorkflowError> {
        let sent = self
            .client
            .send_task_failure()
            .task_token(token.expose())
            .error(error.name())
            .cause(cause(cause_text))
            .send()
            .await;
        token_call("failing a wait", sent)
    }

    async fn heartbeat(&self, token: &TaskToken) -> Result<(), WorkflowError> {
        let sent = self
            .client
            .send_task_heartbeat()
            .task_token(token.expose())
            .send()
            .await;
        token_call("sending a heartbeat", sent)
    }

    async fn stop(&self, job: &JobId, cause_text: &str) -> Result<(), WorkflowError> {
        let sent = self
            .client
            .stop_execution()
            .execution_arn(self.execution_arn(job))
            .error(JobError::JobCancelled.name())
            .cause(cause(cause_text))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            // Never started (or long gone): there is nothing to stop.
            Err(err) if code(&err) == Some("ExecutionDoesNotExist") => Ok(()),
            Err(err) => Err(workflow_error("stopping the job's execution", &err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_arns_follow_the_state_machine_arn() {
        assert_eq!(
            execution_arn_prefix("arn:aws:states:eu-west-1:123456789012:stateMachine:ota-job")
                .as_deref(),
            Some("arn:aws:states:eu-west-1:123456789012:execution:ota-job:")
        );
        assert_eq!(
            execution_arn_prefix("arn:aws-cn:states:cn-north-1:123456789012:stateMachine:m:7")
                .as_deref(),
            Some("arn:aws-cn:states:cn-north-1:123456789012:execution:m:")
        );
        for bad in [
            "",
            "ota-job",
            "arn:aws:states:eu-west-1:123456789012:execution:ota-job:j1",
            "arn:aws:lambda:eu-west-1:123456789012:stateMachine:ota-job",
            "arn:aws:states:eu-west-1::stateMachine:ota-job",
            "arn:aws:states:eu-west-1:123456789012:stateMachine:",
        ] {
            assert_eq!(execution_arn_prefix(bad), None, "{bad}");
        }
    }

    #[test]
    fn causes_are_cut_to_the_limit_on_a_character_boundary() {
        assert_eq!(cause("short"), "short");
        let long = "é".repeat(MAX_CAUSE_CHARS + 5);
        assert_eq!(cause(&long).chars().count(), MAX_CAUSE_CHARS);
    }

    #[test]
    fn start_request_ids_differ() {
        assert_ne!(start_request_id(), start_request_id());
    }
}
