//! The dispatch Lambda: takes the workflow's dispatch messages (one per attempt) and
//! hands each to the dispatch stage, reporting failed messages one by one so a bad
//! message neither fails nor repeats the others. A message that keeps failing ends in the
//! queue's dead-letter queue, and the attempt's heartbeat timeout retries the job.

pub mod message;
mod settings;

pub use settings::{Settings, Stage, build_stage};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_support::{QueueMessages, handle_each};
use shared::dispatch::{DispatchError, DispatchRequest, Dispatcher, Store};
use shared::ports::TaskLauncher;
use shared::ports::Workflow;

/// The dispatch queue's messages. The body holds a task token: it is never logged, only
/// parsed.
const DISPATCHES: QueueMessages<DispatchRequest, DispatchError> = QueueMessages {
    message: "dispatch",
    work: "dispatch",
    decode: |body| message::parse(body.unwrap_or("")).map_err(|err| err.to_string()),
    span: |dispatch| tracing::info_span!("dispatch", job = %dispatch.job, attempt = dispatch.attempt),
    is_transient: DispatchError::is_transient,
};

/// Processes a batch; the response names the messages to deliver again.
pub async fn handle_batch<S: Store, W: Workflow, L: TaskLauncher>(
    stage: &Dispatcher<S, W, L>,
    event: SqsEvent,
) -> SqsBatchResponse {
    handle_each(event, &DISPATCHES, |dispatch| async move {
        // Boxed: the stage's future is deep enough to overflow the compiler's layout
        // recursion limit inside the Lambda runtime's own futures.
        let outcome = Box::pin(stage.handle(&dispatch)).await?;
        tracing::info!(?outcome, "dispatched");
        Ok(())
    })
    .await
}
