//! Tells the report function that a job waits in line for a runner slot, and why: a
//! `{"kind": "queued", "job": "j…", "reason": "…"}` message on the report queue (FIFO,
//! grouped by job like the workflow's own reports), which it reads into
//! `Incoming::Queued` and shows on the job's check run.

use aws_sdk_sqs::Client;
use shared::job::JobId;

/// The report queue, as the dispatch function sends to it.
#[derive(Clone)]
pub struct ReportQueue {
    client: Client,
    queue_url: String,
}

impl ReportQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }

    /// Says that `job` waits for `reason`. The queue deduplicates by content, so a
    /// repeat within its window is one message.
    pub async fn queued(&self, job: &JobId, reason: &str) -> Result<(), String> {
        let body = serde_json::json!({"kind": "queued", "job": job.as_str(), "reason": reason});
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_group_id(job.as_str())
            .message_body(body.to_string())
            .send()
            .await
            .map(|_| ())
            .map_err(|err| aws_sdk_sqs::error::DisplayErrorContext(&err).to_string())
    }
}
