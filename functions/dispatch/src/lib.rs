//! The dispatch Lambda: takes the workflow's dispatch messages (one per attempt) and
//! hands each to the dispatch stage, reporting failed messages one by one so a bad
//! message neither fails nor repeats the others. A message that keeps failing ends in the
//! queue's dead-letter queue, and the attempt's heartbeat timeout retries the job.

pub mod message;
mod settings;

pub use settings::{Settings, Stage, build_stage};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_support::{Failed, process_batch};
use shared::dispatch::{Dispatcher, Store};
use shared::launcher::TaskLauncher;
use shared::workflow::Workflow;
use tracing::Instrument;

/// Processes a batch; the response names the messages to deliver again.
pub async fn handle_batch<S: Store, W: Workflow, L: TaskLauncher>(
    stage: &Dispatcher<S, W, L>,
    event: SqsEvent,
) -> SqsBatchResponse {
    process_batch(
        event,
        |message| async move { process(stage, &message).await },
    )
    .await
}

async fn process<S: Store, W: Workflow, L: TaskLauncher>(
    stage: &Dispatcher<S, W, L>,
    message: &SqsMessage,
) -> Result<(), Failed> {
    let message_id = message.message_id.as_deref().unwrap_or("");
    // The body holds a task token: it is never logged, only parsed.
    let body = message.body.as_deref().unwrap_or("");
    let dispatch = message::parse(body).map_err(|problem| {
        tracing::error!(message_id, error = %problem, "undecodable dispatch message");
        Failed
    })?;
    let span = tracing::info_span!("dispatch", job = %dispatch.job, attempt = dispatch.attempt);
    async {
        // Boxed: the stage's future is deep enough to overflow the compiler's layout
        // recursion limit inside the Lambda runtime's own futures.
        match Box::pin(stage.handle(&dispatch)).await {
            Ok(outcome) => {
                tracing::info!(?outcome, "dispatched");
                Ok(())
            }
            Err(err) => {
                if err.is_transient() {
                    tracing::warn!(error = %err, "dispatch will be retried");
                } else {
                    tracing::error!(error = %err, "dispatch failed");
                }
                Err(Failed)
            }
        }
    }
    .instrument(span)
    .await
}
