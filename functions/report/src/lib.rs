//! The report Lambda: takes the workflow's reports (a FIFO queue grouped by job, which
//! also receives Step Functions' events about stopped and failed executions) and the
//! approval waits (the approvals queue), and hands each to the report stage. Failed
//! messages are reported one by one; once a job's message fails, that job's later
//! messages in the batch are returned too, so its reports never overtake each other.

pub mod message;
mod settings;

pub use settings::{Settings, Stage, build_stage};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_support::{QueueMessages, handle_each};
use shared::ports::GitHub;
use shared::ports::TaskLauncher;
use shared::report::{Incoming, ReportError, Reporter, Store};

/// The report and approvals queues' messages: a report, or nothing to do (an execution
/// status change that ends nothing). An approval message holds a task token: the body is
/// never logged, only parsed.
const REPORTS: QueueMessages<Option<Incoming>, ReportError> = QueueMessages {
    message: "report",
    work: "report",
    decode: |body| message::parse(body.unwrap_or("")).map_err(|err| err.to_string()),
    span: |incoming| match incoming {
        Some(incoming) => {
            tracing::info_span!("report", job = %incoming.job(), kind = incoming.kind())
        }
        None => tracing::info_span!("report", kind = "status_change_ignored"),
    },
    is_transient: ReportError::is_transient,
};

/// Processes a batch; the response names the messages to deliver again.
pub async fn handle_batch<G: GitHub, S: Store, L: TaskLauncher>(
    stage: &Reporter<G, S, L>,
    event: SqsEvent,
) -> SqsBatchResponse {
    handle_each(event, &REPORTS, |incoming| async move {
        match incoming {
            Some(incoming) => stage.handle(incoming).await,
            None => Ok(()),
        }
    })
    .await
}
