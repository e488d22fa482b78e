//! A job's log on AWS, read back for the dashboard: the runner writes to its task's
//! CloudWatch Logs stream (the task definition's `awslogs` driver, streams named
//! `<prefix>/<container>/<task id>` in the runners' log group), and the launcher keeps a
//! console link to that stream in the job record's `log` ([`crate::console_log_url`]).
//! The reader takes the group and stream from that link, reads only from its own log
//! group (a link naming another is not followed), and returns the newest lines.

use crate::{console_log_stream, describe};
use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::error::{ProvideErrorMetadata, SdkError};
use shared::job::JobRecord;

/// The most lines of a job's log the page shows: the end, the part a reader wants.
pub const LOG_TAIL_LINES: i32 = 500;

/// The runners' log group, read by job.
#[derive(Clone)]
pub struct RunnerLogReader {
    client: Client,
    group: String,
}

impl RunnerLogReader {
    pub fn new(client: Client, group: impl Into<String>) -> Self {
        Self {
            client,
            group: group.into(),
        }
    }

    /// The newest lines (at most [`LOG_TAIL_LINES`]) of the stream `job`'s record names,
    /// oldest first; none when the job has no runner's stream yet, or it is gone. A failed
    /// read is an error naming the stream.
    pub async fn tail(&self, job: &JobRecord) -> Result<Vec<String>, String> {
        let Some((group, stream)) = job.log.as_deref().and_then(console_log_stream) else {
            return Ok(Vec::new());
        };
        if group != self.group {
            return Ok(Vec::new());
        }
        let sent = self
            .client
            .get_log_events()
            .log_group_name(&self.group)
            .log_stream_name(&stream)
            .start_from_head(false)
            .limit(LOG_TAIL_LINES)
            .send()
            .await;
        match sent {
            Ok(output) => Ok(output
                .events
                .unwrap_or_default()
                .into_iter()
                .filter_map(|event| event.message)
                .collect()),
            Err(SdkError::ServiceError(service))
                if service.err().code() == Some("ResourceNotFoundException") =>
            {
                // The stream is made when the runner's container starts, and expires with
                // the group's retention.
                Ok(Vec::new())
            }
            Err(err) => Err(format!(
                "reading the log stream {stream} of {}: {}",
                self.group,
                describe(&err)
            )),
        }
    }
}
