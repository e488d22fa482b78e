//! The report Lambda: takes the workflow's reports (a FIFO queue grouped by job, which
//! also receives Step Functions' events about stopped and failed executions) and the
//! approval waits (the approvals queue), and hands each to the report stage. Failed
//! messages are reported one by one; once a job's message fails, that job's later
//! messages in the batch are returned too, so its reports never overtake each other.

pub mod message;
mod settings;

pub use settings::{Settings, Stage, build_stage};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_support::{Failed, process_batch};
use shared::github::GitHub;
use shared::launcher::TaskLauncher;
use shared::report::{Reporter, Store};
use tracing::Instrument;

/// Processes a batch; the response names the messages to deliver again.
pub async fn handle_batch<G: GitHub, S: Store, L: TaskLauncher>(
    stage: &Reporter<G, S, L>,
    event: SqsEvent,
) -> SqsBatchResponse {
    process_batch(
        event,
        |message| async move { process(stage, &message).await },
    )
    .await
}

async fn process<G: GitHub, S: Store, L: TaskLauncher>(
    stage: &Reporter<G, S, L>,
    message: &SqsMessage,
) -> Result<(), Failed> {
    let message_id = message.message_id.as_deref().unwrap_or("");
    // An approval message holds a task token: the body is never logged, only parsed.
    let body = message.body.as_deref().unwrap_or("");
    let incoming = message::parse(body).map_err(|problem| {
        tracing::error!(message_id, error = %problem, "undecodable report message");
        Failed
    })?;
    let Some(incoming) = incoming else {
        tracing::debug!(message_id, "an execution status change that ends nothing");
        return Ok(());
    };
    let span = tracing::info_span!("report", job = %incoming.job(), kind = incoming.kind());
    async {
        stage.handle(incoming).await.map_err(|err| {
            if err.is_transient() {
                tracing::warn!(error = %err, "report will be retried");
            } else {
                tracing::error!(error = %err, "report failed");
            }
            Failed
        })
    }
    .instrument(span)
    .await
}
