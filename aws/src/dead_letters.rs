//! A dead-letter queue as the operator handles it: how many messages it holds, a look at
//! them that leaves them in place, deleting one once it is dealt with, and SQS's own
//! redrive (`StartMessageMoveTask`) back to the queues they came from.

use crate::describe;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use serde_json::Value;
use shared::job::JobId;
use std::collections::BTreeSet;

/// SQS hands out at most ten messages per receive.
const RECEIVE_BATCH: i32 = 10;
/// How many receives [`DeadLetterQueue::peek`] makes at most: a receive returns a sample
/// of the queue (and FIFO queues one group at a time), so a look takes a few.
const PEEK_RECEIVES: usize = 10;

/// The longest error cause a summary shows.
const CAUSE_CHARS: usize = 100;

/// The output that names the jobs' dead-letter queue (its messages are jobs, not events).
pub const JOB_DLQ_OUTPUT: &str = "JobDeadLetterQueueUrl";

/// The dead-letter queues of a stack, by the name `ota dlq` gives them, with their output
/// and what lands there.
pub const DEAD_LETTER_QUEUES: [DeadLetterQueueSpec; 5] = [
    DeadLetterQueueSpec {
        name: "intake",
        output: "IntakeDeadLetterQueueUrl",
        env: "INTAKE_DLQ_URL",
        what: "deliveries and requests the policy function kept failing on",
    },
    DeadLetterQueueSpec {
        name: "approvals",
        output: "ApprovalsDeadLetterQueueUrl",
        env: "APPROVALS_DLQ_URL",
        what: "approval waits the report function could not record",
    },
    DeadLetterQueueSpec {
        name: "dispatch",
        output: "DispatchDeadLetterQueueUrl",
        env: "DISPATCH_DLQ_URL",
        what: "dispatches the dispatch function kept failing on",
    },
    DeadLetterQueueSpec {
        name: "report",
        output: "ReportDeadLetterQueueUrl",
        env: "REPORT_DLQ_URL",
        what: "reports the report function kept failing on",
    },
    DeadLetterQueueSpec {
        name: "jobs",
        output: JOB_DLQ_OUTPUT,
        env: "JOB_DLQ_URL",
        what: "jobs the workflow set aside",
    },
];

/// One dead-letter queue of the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadLetterQueueSpec {
    /// Its name on the command line (`ota dlq redrive intake`).
    pub name: &'static str,
    /// The stack output holding its URL (for `ota --stack`).
    pub output: &'static str,
    /// The dashboard function's setting holding its URL.
    pub env: &'static str,
    pub what: &'static str,
}

impl DeadLetterQueueSpec {
    /// The jobs' queue: its messages are redriven by retrying their jobs.
    pub fn holds_jobs(&self) -> bool {
        self.output == JOB_DLQ_OUTPUT
    }
}

/// A failed SQS call, naming the queue and what was being done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} ({queue}): {reason}")]
pub struct DeadLetterError {
    pub what: String,
    pub queue: String,
    pub reason: String,
}

/// How many messages a queue holds (SQS's approximate counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Depth {
    /// Waiting to be received.
    pub visible: u64,
    /// Received and not yet deleted.
    pub in_flight: u64,
}

/// One message as received: its body and the handle that deletes it.
#[derive(Clone)]
pub struct DeadLetter {
    pub message_id: String,
    pub body: String,
    pub receipt_handle: String,
    /// When it was first sent to the queue it is in (Unix ms), if SQS said.
    pub sent_at_ms: Option<u64>,
    /// How often it was received, in every queue it went through, looks included (SQS's
    /// `ApproximateReceiveCount`).
    pub receive_count: u32,
}

/// One dead-letter queue, by URL.
#[derive(Clone)]
pub struct DeadLetterQueue {
    client: Client,
    url: String,
}

impl DeadLetterQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn error(&self, what: &str, err: &(dyn std::error::Error + 'static)) -> DeadLetterError {
        DeadLetterError {
            what: what.to_owned(),
            queue: self.url.clone(),
            reason: describe(err),
        }
    }

    /// The queue's approximate depth and its ARN.
    pub async fn depth(&self) -> Result<(Depth, String), DeadLetterError> {
        let output = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|err| self.error("reading the queue's depth", &err))?;
        let attributes = output.attributes.unwrap_or_default();
        let count = |name: QueueAttributeName| {
            attributes
                .get(&name)
                .and_then(|value| value.parse().ok())
                .unwrap_or(0)
        };
        let depth = Depth {
            visible: count(QueueAttributeName::ApproximateNumberOfMessages),
            in_flight: count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        };
        let arn = attributes
            .get(&QueueAttributeName::QueueArn)
            .cloned()
            .unwrap_or_default();
        Ok((depth, arn))
    }

    /// Up to `max` messages, received with a visibility timeout of 0 so they stay where
    /// they are for everyone else; each message once.
    pub async fn peek(&self, max: usize) -> Result<Vec<DeadLetter>, DeadLetterError> {
        let mut seen = BTreeSet::new();
        let mut letters = Vec::new();
        for _ in 0..PEEK_RECEIVES {
            if letters.len() >= max {
                break;
            }
            let batch = self.receive(0).await?;
            if batch.is_empty() {
                break;
            }
            let mut new = 0;
            for letter in batch {
                if seen.insert(letter.message_id.clone()) && letters.len() < max {
                    letters.push(letter);
                    new += 1;
                }
            }
            if new == 0 {
                break;
            }
        }
        Ok(letters)
    }

    /// Up to ten messages, hidden from other receivers for `visibility_seconds`.
    pub async fn receive(
        &self,
        visibility_seconds: i32,
    ) -> Result<Vec<DeadLetter>, DeadLetterError> {
        let output = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(RECEIVE_BATCH)
            .visibility_timeout(visibility_seconds)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|err| self.error("receiving messages", &err))?;
        Ok(output
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|message| {
                let attribute = |name: MessageSystemAttributeName| {
                    message
                        .attributes
                        .as_ref()
                        .and_then(|attributes| attributes.get(&name))
                        .and_then(|value| value.parse().ok())
                };
                let sent_at_ms = attribute(MessageSystemAttributeName::SentTimestamp);
                let receive_count =
                    attribute(MessageSystemAttributeName::ApproximateReceiveCount).unwrap_or(0);
                DeadLetter {
                    message_id: message.message_id.unwrap_or_default(),
                    body: message.body.unwrap_or_default(),
                    receipt_handle: message.receipt_handle.unwrap_or_default(),
                    sent_at_ms,
                    receive_count: u32::try_from(receive_count).unwrap_or(u32::MAX),
                }
            })
            .collect())
    }

    /// The message `message_id`, received and hidden from others for
    /// `visibility_seconds`; the other messages received while looking for it are shown
    /// again at once. `None` when it is not (any more) in the queue.
    pub async fn take(
        &self,
        message_id: &str,
        visibility_seconds: i32,
    ) -> Result<Option<DeadLetter>, DeadLetterError> {
        let mut passed = Vec::new();
        let mut found = None;
        for _ in 0..PEEK_RECEIVES {
            let batch = self.receive(visibility_seconds).await?;
            if batch.is_empty() {
                break;
            }
            for letter in batch {
                if letter.message_id == message_id && found.is_none() {
                    found = Some(letter);
                } else {
                    passed.push(letter);
                }
            }
            if found.is_some() {
                break;
            }
        }
        for letter in &passed {
            self.release(letter).await?;
        }
        Ok(found)
    }

    /// Shows a received message to receivers again at once.
    pub async fn release(&self, letter: &DeadLetter) -> Result<(), DeadLetterError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(&letter.receipt_handle)
            .visibility_timeout(0)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| self.error("showing a message again", &err))
    }

    /// Deletes a message received with [`Self::receive`].
    pub async fn delete(&self, letter: &DeadLetter) -> Result<(), DeadLetterError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(&letter.receipt_handle)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| self.error("deleting a message", &err))
    }

    /// Starts SQS's redrive of the whole queue (`arn` is its ARN) back to the queues its
    /// messages came from; returns the task's handle. SQS moves them in the background.
    pub async fn start_redrive(&self, arn: &str) -> Result<String, DeadLetterError> {
        let output = self
            .client
            .start_message_move_task()
            .source_arn(arn)
            .send()
            .await
            .map_err(|err| self.error("starting the redrive", &err))?;
        Ok(output.task_handle.unwrap_or_default())
    }
}

/// What a dead letter is about, from the fields that say so: the job, the delivery or
/// request, the event, the kind of message, the error's name and the start of its cause.
/// Everything else (task tokens among it) is left out.
pub fn dead_letter_summary(body: &str) -> String {
    let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(body) else {
        return format!("not JSON ({} bytes)", body.len());
    };
    let text = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_owned);
    let mut parts = Vec::new();
    if let Some(job) = text(fields.get("job")) {
        parts.push(format!("job {job}"));
    }
    if let Some(delivery) = text(fields.get("delivery")) {
        parts.push(format!("delivery {delivery}"));
    }
    if let Some(request) = text(fields.get("request").and_then(|r| r.get("id"))) {
        parts.push(format!("request {request}"));
    }
    if let Some(event) = text(fields.get("event")) {
        match text(fields.get("action")) {
            Some(action) => parts.push(format!("{event}.{action}")),
            None => parts.push(event),
        }
    }
    if let Some(kind) = text(fields.get("kind")) {
        parts.push(format!("kind {kind}"));
    }
    if let Some(error) = fields.get("error") {
        let name = text(error.get("Error")).unwrap_or_else(|| "error".to_owned());
        match text(error.get("Cause")) {
            Some(cause) => {
                let cut: String = cause.chars().take(CAUSE_CHARS).collect();
                let more = if cut.len() < cause.len() { "…" } else { "" };
                parts.push(format!("{name}: {cut}{more}"));
            }
            None => parts.push(name),
        }
    }
    if parts.is_empty() {
        let keys: Vec<&str> = fields.keys().map(String::as_str).collect();
        return format!("unrecognised message with fields {}", keys.join(", "));
    }
    parts.join(" · ")
}

/// The job a message of the jobs' dead-letter queue is about (its `job` field).
pub fn dead_letter_job(body: &str) -> Option<JobId> {
    let body = serde_json::from_str::<Value>(body).ok()?;
    JobId::parse(body.get("job")?.as_str()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_names_what_a_message_is_about_and_never_its_token() {
        assert_eq!(
            dead_letter_summary(
                r#"{"job":"j0123456789abcdef0123","error":{"Error":"Dispatch.NoCapacity","Cause":"no endpoint"},"execution":"arn:x"}"#
            ),
            "job j0123456789abcdef0123 · Dispatch.NoCapacity: no endpoint"
        );
        let approval =
            dead_letter_summary(r#"{"kind":"approval","job":"j1","token":"SECRET-TOKEN"}"#);
        assert_eq!(approval, "job j1 · kind approval");
        let dispatch =
            dead_letter_summary(r#"{"job":"j1","token":"SECRET-TOKEN","retry":0,"timeouts":{}}"#);
        assert!(!dispatch.contains("SECRET"), "{dispatch}");
        assert_eq!(
            dead_letter_summary(
                r#"{"version":1,"delivery":"d-1","event":"issue_comment","action":"created","sender":{}}"#
            ),
            "delivery d-1 · issue_comment.created"
        );
        assert_eq!(dead_letter_summary("oops"), "not JSON (4 bytes)");
        assert_eq!(
            dead_letter_summary(r#"{"token":"SECRET"}"#),
            "unrecognised message with fields token"
        );
        let long = format!(
            r#"{{"job":"j1","error":{{"Error":"E","Cause":"{}"}}}}"#,
            "x".repeat(300)
        );
        assert!(dead_letter_summary(&long).ends_with("x…"));
    }

    #[test]
    fn the_job_of_a_dead_letter_is_its_job_field() {
        let id = "j0123456789abcdef0123";
        assert_eq!(
            dead_letter_job(&format!(r#"{{"job":"{id}","error":{{}}}}"#)),
            JobId::parse(id).ok()
        );
        assert_eq!(dead_letter_job(r#"{"job":"not an id"}"#), None);
        assert_eq!(dead_letter_job("oops"), None);
    }
}
