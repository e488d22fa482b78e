//! What the report stage reads: the workflow's reports on the report queue (a FIFO queue,
//! grouped by job, so one job's reports arrive in order), the approval waits on the
//! approvals queue, and Step Functions' own "execution status change" events, which an
//! EventBridge rule puts on the report queue for executions that were stopped or failed.
//!
//! ```json
//! {"kind": "approval", "job": "j…", "token": "<task token>"}
//! {"kind": "running", "job": "j…"}
//! {"kind": "succeeded", "job": "j…", "run": {<RunOutput>}}
//! {"kind": "ended", "job": "j…", "error": {"Error": "Runner.BadConfig", "Cause": "…"}}
//! {"kind": "dead_lettered", "job": "j…", "error": {"Error": "Dispatch.NoCapacity", "Cause": "…"}}
//! {"detail-type": "Step Functions Execution Status Change", "source": "aws.states",
//!  "detail": {"name": "j…", "status": "ABORTED", "error": "Job.Cancelled", "cause": "…"}}
//! ```

use crate::dispatch::RunOutput;
use crate::job::{JobId, TaskToken};
use serde::Deserialize;
use serde_json::Value;

/// The `detail-type` of Step Functions' execution events.
pub const EXECUTION_STATUS_CHANGE: &str = "Step Functions Execution Status Change";

/// An error as a `Catch` with `ResultPath` records it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StepError {
    #[serde(rename = "Error")]
    pub name: String,
    /// Step Functions leaves it out or `null` when nobody gave one.
    #[serde(rename = "Cause", default)]
    pub cause: Option<String>,
}

/// A report the workflow sends.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WorkflowReport {
    /// Approval (if any) is done; the job is being dispatched.
    Running { job: JobId },
    /// The runner answered with its result.
    Succeeded { job: JobId, run: RunOutput },
    /// The job ended with a named, final error (or the approval ran out).
    Ended { job: JobId, error: StepError },
    /// The catch-all: retries are used up, or something nobody named went wrong. The
    /// job and its error are on the jobs' dead-letter queue.
    DeadLettered { job: JobId, error: StepError },
}

impl WorkflowReport {
    pub fn job(&self) -> &JobId {
        match self {
            Self::Running { job }
            | Self::Succeeded { job, .. }
            | Self::Ended { job, .. }
            | Self::DeadLettered { job, .. } => job,
        }
    }
}

/// How an execution ended, from its status change event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
    PendingRedrive,
}

/// An execution's status change: the job is the execution's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionEnded {
    pub job: JobId,
    pub status: ExecutionStatus,
    pub error: Option<String>,
    pub cause: Option<String>,
}

#[derive(Deserialize)]
struct EventJson {
    detail: DetailJson,
}

#[derive(Deserialize)]
struct DetailJson {
    name: JobId,
    status: ExecutionStatus,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    cause: Option<String>,
}

/// A message for the report stage.
#[derive(Debug, Clone)]
pub enum Incoming {
    /// The approval wait began: keep its token for `/approve`.
    ApprovalWait {
        job: JobId,
        token: TaskToken,
    },
    Workflow(WorkflowReport),
    Execution(ExecutionEnded),
}

/// Why a body is none of the messages above. Never quotes a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a report message: {0}")]
pub struct ReportMessageError(pub String);

/// The approval message as sent. Not `Debug`: it holds the token as plain text.
#[derive(Deserialize)]
struct ApprovalJson {
    job: JobId,
    token: String,
}

fn read<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, ReportMessageError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        if path == "token" {
            ReportMessageError("`token` is not a string".to_owned())
        } else {
            ReportMessageError(format!("{path}: {}", err.inner()))
        }
    })
}

impl Incoming {
    pub fn parse(body: &str) -> Result<Self, ReportMessageError> {
        let value: Value = serde_json::from_str(body)
            .map_err(|err| ReportMessageError(format!("not JSON: {err}")))?;
        if let Some(detail_type) = value.get("detail-type") {
            if detail_type != EXECUTION_STATUS_CHANGE {
                return Err(ReportMessageError(format!(
                    "an event of another kind: {detail_type}"
                )));
            }
            let event: EventJson = read(value)?;
            return Ok(Self::Execution(ExecutionEnded {
                job: event.detail.name,
                status: event.detail.status,
                error: event.detail.error,
                cause: event.detail.cause,
            }));
        }
        if value.get("kind").and_then(Value::as_str) == Some("approval") {
            let approval: ApprovalJson = read(value)?;
            if approval.token.is_empty() {
                return Err(ReportMessageError("`token` is empty".to_owned()));
            }
            return Ok(Self::ApprovalWait {
                job: approval.job,
                token: TaskToken::new(approval.token),
            });
        }
        read(value).map(Self::Workflow)
    }

    /// The job the message is about.
    pub fn job(&self) -> &JobId {
        match self {
            Self::ApprovalWait { job, .. } => job,
            Self::Workflow(report) => report.job(),
            Self::Execution(event) => &event.job,
        }
    }

    /// The message kind, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ApprovalWait { .. } => "approval",
            Self::Workflow(WorkflowReport::Running { .. }) => "running",
            Self::Workflow(WorkflowReport::Succeeded { .. }) => "succeeded",
            Self::Workflow(WorkflowReport::Ended { .. }) => "ended",
            Self::Workflow(WorkflowReport::DeadLettered { .. }) => "dead_lettered",
            Self::Execution(_) => "execution_status_change",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JOB: &str = "j0123456789abcdef0123";

    #[test]
    fn reads_each_kind_of_message() {
        let approval = Incoming::parse(&format!(
            r#"{{"kind":"approval","job":"{JOB}","token":"AQCsecret"}}"#
        ))
        .expect("approval");
        let Incoming::ApprovalWait { job, token } = &approval else {
            panic!("{approval:?}");
        };
        assert_eq!((job.as_str(), token.expose()), (JOB, "AQCsecret"));
        assert!(!format!("{approval:?}").contains("secret"));

        let ended = Incoming::parse(&format!(
            r#"{{"kind":"ended","job":"{JOB}","error":{{"Error":"Runner.BadConfig","Cause":null}}}}"#
        ))
        .expect("ended");
        assert_eq!(ended.kind(), "ended");
        let Incoming::Workflow(WorkflowReport::Ended { error, .. }) = ended else {
            panic!("ended");
        };
        assert_eq!(error.name, "Runner.BadConfig");
        assert_eq!(error.cause, None);

        let succeeded = Incoming::parse(&format!(
            r#"{{"kind":"succeeded","job":"{JOB}","run":{{"summary":"Done.","model":"llama3"}}}}"#
        ))
        .expect("succeeded");
        assert_eq!(succeeded.job().as_str(), JOB);
    }

    #[test]
    fn reads_step_functions_execution_events() {
        let event = Incoming::parse(&format!(
            r#"{{"version":"0","id":"e1","detail-type":"Step Functions Execution Status Change",
                "source":"aws.states","account":"123456789012","region":"us-east-1",
                "detail":{{"executionArn":"arn:aws:states:us-east-1:123456789012:execution:ota-job:{JOB}",
                          "name":"{JOB}","status":"ABORTED","error":"Job.Cancelled",
                          "cause":"cancelled by @octocat","input":"{{}}","output":null}}}}"#
        ))
        .expect("event");
        let Incoming::Execution(ended) = event else {
            panic!("execution event");
        };
        assert_eq!(ended.status, ExecutionStatus::Aborted);
        assert_eq!(ended.cause.as_deref(), Some("cancelled by @octocat"));
    }

    #[test]
    fn anything_else_is_refused_without_quoting_tokens() {
        for body in [
            "",
            "{}",
            r#"{"kind":"celebrate","job":"j0123456789abcdef0123"}"#,
            r#"{"detail-type":"EC2 Instance State-change Notification","detail":{}}"#,
        ] {
            assert!(Incoming::parse(body).is_err(), "{body}");
        }
        let err = Incoming::parse(r#"{"kind":"approval","job":"j0123456789abcdef0123","token":7}"#)
            .expect_err("numeric token");
        assert_eq!(err.0, "`token` is not a string");
    }
}
