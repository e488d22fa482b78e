//! The dispatch queue's messages, read into what the dispatch stage is asked to do
//! ([`DispatchMessage`]). Three kinds arrive:
//!
//! - the workflow's `Dispatch` state asks for an attempt ([`DispatchRequest`]):
//!
//!   ```json
//!   {"job": "j…", "token": "<task token>", "retry": 0,
//!    "timeouts": {"approval_seconds": 259200, "heartbeat_seconds": 300, "max_runtime_seconds": 1800}}
//!   ```
//!
//!   `retry` is `$$.State.RetryCount`: 0 on the first attempt, one more per retry;
//! - ECS's "Task State Change" event for a runner task that stopped, which an EventBridge
//!   rule on the runner cluster puts here: the task's `startedBy` is its job, its
//!   container's `OTA_ATTEMPT` override the attempt (as `ota_aws::EcsLauncher` starts it);
//! - the scheduled sweep, `{"kind": "sweep"}` (or EventBridge's own "Scheduled Event").
//!
//! An event that is not about one of our runners having stopped is [`DispatchMessage::Ignored`]:
//! retrying it could never help.

use serde::Deserialize;
use shared::dispatch::DispatchRequest;
use shared::job::{JobId, TaskToken, Timeouts};
use shared::ports::ATTEMPT_VAR;

/// The body as sent. Not `Debug`: it holds the token as plain text.
#[derive(Deserialize)]
struct Raw {
    job: JobId,
    token: String,
    retry: u32,
    timeouts: Timeouts,
}

/// Why a body is not a dispatch message. Names the field, never quotes the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a dispatch message: {0}")]
pub struct MessageError(pub String);

/// What a dispatch queue message asks for.
#[derive(Debug)]
pub enum DispatchMessage {
    /// Dispatch an attempt.
    Dispatch(DispatchRequest),
    /// The runner task of `job`'s attempt `attempt` stopped: its slot is free.
    RunnerStopped {
        job: JobId,
        attempt: u32,
        task: String,
    },
    /// Wake the line: dispatch who can go, keep the others' waits alive.
    Sweep,
    /// An event with nothing for the stage (not a stopped runner of ours, or malformed):
    /// why, for the log. Dropped, never retried.
    Ignored(String),
}

/// The `detail-type` of ECS's task events.
pub const TASK_STATE_CHANGE: &str = "ECS Task State Change";
/// The `detail-type` of EventBridge's schedules.
pub const SCHEDULED_EVENT: &str = "Scheduled Event";

/// A task state change as far as it is read: the rest of the event is left alone.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TaskDetail {
    #[serde(default)]
    task_arn: Option<String>,
    #[serde(default)]
    last_status: Option<String>,
    #[serde(default)]
    started_by: Option<String>,
    #[serde(default)]
    overrides: Option<TaskOverrides>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TaskOverrides {
    #[serde(default)]
    container_overrides: Vec<ContainerOverride>,
}

#[derive(Deserialize)]
struct ContainerOverride {
    #[serde(default)]
    environment: Vec<EnvironmentVariable>,
}

#[derive(Deserialize)]
struct EnvironmentVariable {
    name: String,
    #[serde(default)]
    value: Option<String>,
}

/// Reads a dispatch queue message. `Err` only for a body that is none of the kinds
/// (which the queue retries, then sets aside in its dead-letter queue).
pub fn parse_message(body: &str) -> Result<DispatchMessage, MessageError> {
    let value: serde_json::Value =
        serde_json::from_str(body).map_err(|err| MessageError(format!("not JSON: {err}")))?;
    if let Some(detail_type) = value.get("detail-type") {
        return Ok(match detail_type.as_str() {
            Some(TASK_STATE_CHANGE) => task_state_change(value.get("detail")),
            Some(SCHEDULED_EVENT) => DispatchMessage::Sweep,
            _ => DispatchMessage::Ignored(format!("an event of another kind: {detail_type}")),
        });
    }
    if value.get("kind").and_then(serde_json::Value::as_str) == Some("sweep") {
        return Ok(DispatchMessage::Sweep);
    }
    parse(body).map(DispatchMessage::Dispatch)
}

/// A stopped runner task, or why the event is not one.
fn task_state_change(detail: Option<&serde_json::Value>) -> DispatchMessage {
    let Some(detail) = detail else {
        return DispatchMessage::Ignored("a task state change without `detail`".to_owned());
    };
    let detail: TaskDetail = match serde_json::from_value(detail.clone()) {
        Ok(detail) => detail,
        Err(err) => {
            return DispatchMessage::Ignored(format!("a malformed task state change: {err}"));
        }
    };
    let task = detail.task_arn.unwrap_or_default();
    if detail.last_status.as_deref() != Some("STOPPED") {
        return DispatchMessage::Ignored(format!(
            "task {task} is {}, not stopped",
            detail.last_status.as_deref().unwrap_or("of no status")
        ));
    }
    let Some(job) = detail
        .started_by
        .as_deref()
        .and_then(|started_by| JobId::parse(started_by).ok())
    else {
        return DispatchMessage::Ignored(format!(
            "task {task} was not started for a job (startedBy {:?})",
            detail.started_by.unwrap_or_default()
        ));
    };
    let attempt = detail
        .overrides
        .iter()
        .flat_map(|overrides| &overrides.container_overrides)
        .flat_map(|container| &container.environment)
        .find(|variable| variable.name == ATTEMPT_VAR)
        .and_then(|variable| variable.value.as_deref())
        .and_then(|value| value.trim().parse::<u32>().ok())
        .filter(|attempt| *attempt >= 1);
    let Some(attempt) = attempt else {
        return DispatchMessage::Ignored(format!(
            "task {task} of job {job} has no {ATTEMPT_VAR} override: its slot frees when its \
             lease expires"
        ));
    };
    DispatchMessage::RunnerStopped { job, attempt, task }
}

/// The request a dispatch queue message carries; its attempt is `retry` + 1.
pub fn parse(body: &str) -> Result<DispatchRequest, MessageError> {
    let deserializer = &mut serde_json::Deserializer::from_str(body);
    let raw: Raw = serde_path_to_error::deserialize(deserializer).map_err(|err| {
        // A type error's text can quote the value; the path alone says enough.
        let path = err.path().to_string();
        let text = if path == "token" {
            "`token` is not a string".to_owned()
        } else {
            format!("{path}: {}", err.inner())
        };
        MessageError(text)
    })?;
    if raw.token.is_empty() {
        return Err(MessageError("`token` is empty".to_owned()));
    }
    Ok(DispatchRequest {
        job: raw.job,
        token: TaskToken::new(raw.token),
        attempt: raw.retry.saturating_add(1),
        timeouts: raw.timeouts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn reads_what_the_dispatch_state_sends() {
        let request = parse(
            r#"{"job": "j0123456789abcdef0123", "token": "AQCsecret", "retry": 2,
                "timeouts": {"approval_seconds": 60, "heartbeat_seconds": 5, "max_runtime_seconds": 30}}"#,
        )
        .expect("message");
        assert_eq!(request.job.as_str(), "j0123456789abcdef0123");
        assert_eq!(request.token.expose(), "AQCsecret");
        assert_eq!(request.attempt, 3);
        assert_eq!(request.timeouts.heartbeat, Duration::from_secs(5));
        assert!(!format!("{request:?}").contains("secret"));
    }

    /// ECS's event for a stopped runner task, as the EventBridge rule puts it on the
    /// dispatch queue.
    const TASK_STOPPED: &str = include_str!("../../../events/dispatch/ecs_task_stopped.json");

    fn with_detail(change: impl FnOnce(&mut serde_json::Value)) -> String {
        let mut event: serde_json::Value = serde_json::from_str(TASK_STOPPED).expect("sample");
        change(&mut event["detail"]);
        event.to_string()
    }

    #[test]
    fn reads_a_stopped_runner_task_from_ecs_event() {
        let message = parse_message(TASK_STOPPED).expect("an event");
        let DispatchMessage::RunnerStopped { job, attempt, task } = message else {
            panic!("a stopped runner: {message:?}");
        };
        assert_eq!(job.as_str(), "j0123456789abcdef0123");
        assert_eq!(attempt, 2);
        assert!(task.ends_with("/ota-runners/c13b4cb40f1f4fe4a2971f76ae5a47ad"));
    }

    #[test]
    fn reads_the_sweep_in_either_shape() {
        let sweep = include_str!("../../../events/dispatch/sweep.json");
        assert!(matches!(parse_message(sweep), Ok(DispatchMessage::Sweep)));
        let scheduled = r#"{"version":"0","id":"53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type":"Scheduled Event","source":"aws.events","account":"123456789012",
            "time":"2026-01-23T18:13:00Z","region":"us-east-1",
            "resources":["arn:aws:events:us-east-1:123456789012:rule/ota-sweep"],"detail":{}}"#;
        assert!(matches!(
            parse_message(scheduled),
            Ok(DispatchMessage::Sweep)
        ));
    }

    #[test]
    fn events_with_nothing_to_dispatch_are_ignored_with_the_reason() {
        let ignored = |body: &str| match parse_message(body) {
            Ok(DispatchMessage::Ignored(why)) => why,
            other => panic!("ignored: {other:?}"),
        };
        let running = with_detail(|detail| detail["lastStatus"] = "RUNNING".into());
        assert!(ignored(&running).contains("is RUNNING, not stopped"));
        let theirs = with_detail(|detail| detail["startedBy"] = "ecs-svc/1234".into());
        assert!(
            ignored(&theirs).contains("was not started for a job (startedBy \"ecs-svc/1234\")"),
            "{}",
            ignored(&theirs)
        );
        let no_attempt = with_detail(|detail| {
            detail["overrides"] = serde_json::json!({"containerOverrides": [{"name": "runner"}]});
        });
        assert!(ignored(&no_attempt).contains("has no OTA_ATTEMPT override"));
        let malformed = with_detail(|detail| detail["lastStatus"] = 7.into());
        assert!(ignored(&malformed).starts_with("a malformed task state change"));
        assert!(
            ignored(r#"{"detail-type":"ECS Task State Change","source":"aws.ecs"}"#)
                .contains("without `detail`")
        );
        assert!(
            ignored(r#"{"detail-type":"EC2 Instance State-change Notification","detail":{}}"#)
                .contains("another kind")
        );
    }

    #[test]
    fn a_body_of_no_kind_is_an_error() {
        for body in ["", "not json", "{}", r#"{"kind":"celebrate"}"#] {
            assert!(parse_message(body).is_err(), "{body}");
        }
    }

    #[test]
    fn a_bad_message_names_the_field_and_never_the_token() {
        let err =
            parse(r#"{"job": "j0123456789abcdef0123", "token": 12345}"#).expect_err("bad token");
        assert_eq!(err.0, "`token` is not a string");
        let err = parse(
            r#"{"job": "nope", "token": "AQCsecret", "retry": 0,
                "timeouts": {"approval_seconds": 1, "heartbeat_seconds": 1, "max_runtime_seconds": 2}}"#,
        )
        .expect_err("bad job");
        assert!(err.0.starts_with("job:"), "{err}");
        assert!(!err.0.contains("secret"), "{err}");
    }
}
