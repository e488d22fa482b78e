//! The policy Lambda: takes batches of normalized events from the intake queue and hands
//! each to the policy stage, reporting failed messages one by one so a bad message
//! neither fails nor repeats the others.

mod settings;

pub use settings::{Settings, Stage, build_stage};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_support::{Failed, process_batch};
use shared::github::GitHub;
use shared::inbound::Inbound;
use shared::policy::stage::{PolicyStage, StageError, Store};
use shared::workflow::Workflow;
use tracing::Instrument;

/// Processes a batch; on the FIFO intake queue a repository's events stay in order. A
/// message that keeps failing ends in the queue's dead-letter queue after its
/// `maxReceiveCount`.
pub async fn handle_batch<G: GitHub, S: Store, W: Workflow>(
    stage: &PolicyStage<G, S, W>,
    event: SqsEvent,
) -> SqsBatchResponse {
    process_batch(
        event,
        |message| async move { process(stage, &message).await },
    )
    .await
}

async fn process<G: GitHub, S: Store, W: Workflow>(
    stage: &PolicyStage<G, S, W>,
    message: &SqsMessage,
) -> Result<(), Failed> {
    let message_id = message.message_id.as_deref().unwrap_or("");
    let inbound = decode(message).map_err(|problem| {
        tracing::error!(message_id, error = %problem, "undecodable intake message");
        Failed
    })?;
    async {
        stage
            .handle_inbound(&inbound)
            .await
            .map_err(|err: StageError| {
                if err.is_transient() {
                    tracing::warn!(error = %err, "event will be retried");
                } else {
                    tracing::error!(error = %err, "event failed");
                }
                Failed
            })
    }
    .instrument(inbound.span())
    .await
}

fn decode(message: &SqsMessage) -> Result<Inbound, String> {
    let body = message.body.as_deref().ok_or("message has no body")?;
    Inbound::from_queue_message(body)
}
