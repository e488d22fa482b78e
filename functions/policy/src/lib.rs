//! The policy Lambda: takes batches of intake messages (GitHub deliveries, and requests
//! from outside GitHub) and hands each to the policy stage, reporting failed messages one
//! by one so a bad message neither fails nor repeats the others.

mod settings;

pub use settings::{Settings, Stage, build_stage};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_support::{QueueMessages, handle_each};
use shared::inbound::Inbound;
use shared::policy_stage::{PolicyStage, StageError, Store};
use shared::ports::GitHub;
use shared::ports::Workflow;

/// The intake queue's messages: normalized deliveries and requests.
const EVENTS: QueueMessages<Inbound, StageError> = QueueMessages {
    message: "intake",
    work: "event",
    decode: |body| Inbound::from_queue_message(body.ok_or("message has no body")?),
    span: Inbound::span,
    is_transient: StageError::is_transient,
};

/// Processes a batch; on the FIFO intake queue a repository's events stay in order. A
/// message that keeps failing ends in the queue's dead-letter queue after its
/// `maxReceiveCount`.
pub async fn handle_batch<G: GitHub, S: Store, W: Workflow>(
    stage: &PolicyStage<G, S, W>,
    event: SqsEvent,
) -> SqsBatchResponse {
    handle_each(event, &EVENTS, |inbound| async move {
        stage.handle_inbound(&inbound).await
    })
    .await
}
