//! The messages the report function receives, read into the report stage's [`Incoming`]:
//! the workflow's reports on the report queue (a FIFO queue, grouped by job, so one job's
//! reports arrive in order), the dispatch function's word that a job waits in line for a
//! runner slot (on the same queue and group), the approval waits on the approvals queue, and Step
//! Functions' own "execution status change" events, which an EventBridge rule puts on the
//! report queue for executions that were stopped or failed.
//!
//! ```json
//! {"kind": "approval", "job": "j…", "token": "<task token>"}
//! {"kind": "queued", "job": "j…", "reason": "all 4 slots of the self-hosted GPU are busy …"}
//! {"kind": "running", "job": "j…"}
//! {"kind": "succeeded", "job": "j…", "run": {<RunOutput>}}
//! {"kind": "ended", "job": "j…", "error": {"Error": "Runner.BadConfig", "Cause": "…"}}
//! {"kind": "dead_lettered", "job": "j…", "error": {"Error": "Runner.GitHubUnavailable", "Cause": "…"}}
//! {"detail-type": "Step Functions Execution Status Change", "source": "aws.states",
//!  "detail": {"name": "j…", "status": "ABORTED", "error": "Job.Cancelled", "cause": "…"}}
//! ```

use serde::Deserialize;
use serde_json::Value;
use shared::job::{JobId, TaskToken};
use shared::report::Incoming;

/// The `detail-type` of Step Functions' execution events.
pub const EXECUTION_STATUS_CHANGE: &str = "Step Functions Execution Status Change";

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

#[derive(Deserialize)]
struct EventJson {
    detail: DetailJson,
}

/// An execution's status change: the job is the execution's name.
#[derive(Deserialize)]
struct DetailJson {
    name: JobId,
    status: ExecutionStatus,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    cause: Option<String>,
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

/// The dispatch function's "queued" message.
#[derive(Deserialize)]
struct QueuedJson {
    job: JobId,
    reason: String,
}

/// What a report or approvals queue message tells the report stage. `None`: an
/// execution's status change that ends nothing (`RUNNING`, `SUCCEEDED`,
/// `PENDING_REDRIVE`), which leaves the stage nothing to do.
pub fn parse(body: &str) -> Result<Option<Incoming>, ReportMessageError> {
    let value: Value =
        serde_json::from_str(body).map_err(|err| ReportMessageError(format!("not JSON: {err}")))?;
    if let Some(detail_type) = value.get("detail-type") {
        if detail_type != EXECUTION_STATUS_CHANGE {
            return Err(ReportMessageError(format!(
                "an event of another kind: {detail_type}"
            )));
        }
        let event: EventJson = read(value)?;
        return Ok(execution_ended(event.detail));
    }
    if value.get("kind").and_then(Value::as_str) == Some("approval") {
        let approval: ApprovalJson = read(value)?;
        if approval.token.is_empty() {
            return Err(ReportMessageError("`token` is empty".to_owned()));
        }
        return Ok(Some(Incoming::ApprovalWait {
            job: approval.job,
            token: TaskToken::new(approval.token),
        }));
    }
    if value.get("kind").and_then(Value::as_str) == Some("queued") {
        let QueuedJson { job, reason } = read(value)?;
        return Ok(Some(Incoming::Queued { job, reason }));
    }
    read(value).map(|report| Some(Incoming::Workflow(report)))
}

/// A stopped execution (`ABORTED`: its `error` is the one `StopExecution` was given, and
/// the stage needs none) or a broken one (`FAILED`, `TIMED_OUT`).
fn execution_ended(detail: DetailJson) -> Option<Incoming> {
    let DetailJson {
        name: job,
        status,
        error,
        cause,
    } = detail;
    match status {
        ExecutionStatus::Aborted => Some(Incoming::Stopped { job, cause }),
        ExecutionStatus::Failed | ExecutionStatus::TimedOut => {
            Some(Incoming::Broke { job, error, cause })
        }
        ExecutionStatus::Running | ExecutionStatus::Succeeded | ExecutionStatus::PendingRedrive => {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::report::WorkflowReport;

    const JOB: &str = "j0123456789abcdef0123";

    fn incoming(body: &str) -> Incoming {
        parse(body)
            .expect("a report message")
            .expect("news for the stage")
    }

    fn execution_event(status: &str, error: &str) -> String {
        format!(
            r#"{{"version":"0","id":"e1","detail-type":"Step Functions Execution Status Change",
                "source":"aws.states","account":"123456789012","region":"us-east-1",
                "detail":{{"executionArn":"arn:aws:states:us-east-1:123456789012:execution:ota-job:{JOB}",
                          "name":"{JOB}","status":"{status}","error":{error},
                          "cause":"cancelled by @octocat","input":"{{}}","output":null}}}}"#
        )
    }

    #[test]
    fn reads_each_kind_of_message() {
        let approval = incoming(&format!(
            r#"{{"kind":"approval","job":"{JOB}","token":"AQCsecret"}}"#
        ));
        let Incoming::ApprovalWait { job, token } = &approval else {
            panic!("{approval:?}");
        };
        assert_eq!((job.as_str(), token.expose()), (JOB, "AQCsecret"));
        assert!(!format!("{approval:?}").contains("secret"));

        let ended = incoming(&format!(
            r#"{{"kind":"ended","job":"{JOB}","error":{{"Error":"Runner.BadConfig","Cause":null}}}}"#
        ));
        assert_eq!(ended.kind(), "ended");
        let Incoming::Workflow(WorkflowReport::Ended { error, .. }) = ended else {
            panic!("ended");
        };
        assert_eq!(error.name, "Runner.BadConfig");
        assert_eq!(error.cause, None);

        let queued = incoming(&format!(
            r#"{{"kind":"queued","job":"{JOB}","reason":"all 1 slot of the self-hosted GPU are busy"}}"#
        ));
        let Incoming::Queued { job, reason } = queued else {
            panic!("queued");
        };
        assert_eq!(job.as_str(), JOB);
        assert_eq!(reason, "all 1 slot of the self-hosted GPU are busy");

        let succeeded = incoming(&format!(
            r#"{{"kind":"succeeded","job":"{JOB}","run":{{"summary":"Done.","model":"llama3"}}}}"#
        ));
        assert_eq!(succeeded.job().as_str(), JOB);
    }

    #[test]
    fn reads_step_functions_execution_events() {
        let event = incoming(&execution_event("ABORTED", r#""Job.Cancelled""#));
        let Incoming::Stopped { job, cause } = event else {
            panic!("a stopped execution");
        };
        assert_eq!(job.as_str(), JOB);
        assert_eq!(cause.as_deref(), Some("cancelled by @octocat"));

        for status in ["FAILED", "TIMED_OUT"] {
            let event = incoming(&execution_event(status, r#""States.Timeout""#));
            let Incoming::Broke { job, error, cause } = event else {
                panic!("a broken execution: {status}");
            };
            assert_eq!(job.as_str(), JOB);
            assert_eq!(error.as_deref(), Some("States.Timeout"));
            assert_eq!(cause.as_deref(), Some("cancelled by @octocat"));
        }
        let Incoming::Broke { error, .. } = incoming(&execution_event("FAILED", "null")) else {
            panic!("a broken execution without an error");
        };
        assert_eq!(error, None);

        for status in ["RUNNING", "SUCCEEDED", "PENDING_REDRIVE"] {
            let event = parse(&execution_event(status, "null")).expect(status);
            assert!(event.is_none(), "{status}: {event:?}");
        }
    }

    #[test]
    fn anything_else_is_refused_without_quoting_tokens() {
        for body in [
            "",
            "{}",
            r#"{"kind":"celebrate","job":"j0123456789abcdef0123"}"#,
            r#"{"kind":"queued","job":"j0123456789abcdef0123"}"#,
            r#"{"detail-type":"EC2 Instance State-change Notification","detail":{}}"#,
        ] {
            assert!(parse(body).is_err(), "{body}");
        }
        let err = parse(r#"{"kind":"approval","job":"j0123456789abcdef0123","token":7}"#)
            .expect_err("numeric token");
        assert_eq!(err.0, "`token` is not a string");
    }
}
