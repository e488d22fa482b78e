//! The dispatch Lambda: takes the workflow's dispatch messages (one per attempt) and
//! hands each to the dispatch stage, reporting failed messages one by one so a bad
//! message neither fails nor repeats the others. A message that keeps failing ends in the
//! queue's dead-letter queue, and the attempt's heartbeat timeout retries the job. The
//! runners it starts invoke it directly for their job's token ([`token`]).

pub mod message;
mod settings;
pub mod token;

pub use settings::{Settings, Stage, build_stage, build_token_desk};
pub use token::{Invocation, TokenDesk, UnknownEvent};

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

/// Handles one invocation: an SQS batch (answered with the messages to deliver again) or
/// a runner's token request (answered with its token or refusal).
pub async fn handle_invocation<S: Store, W: Workflow, L: TaskLauncher>(
    stage: &Dispatcher<S, W, L>,
    desk: &TokenDesk,
    event: serde_json::Value,
) -> Result<serde_json::Value, UnknownEvent> {
    match Invocation::read(event)? {
        Invocation::Batch(batch) => {
            let response = handle_batch(stage, batch).await;
            serde_json::to_value(&response)
                .map_err(|err| UnknownEvent(format!("the batch's answer is unwritable: {err}")))
        }
        Invocation::Token(request) => Ok(desk.answer(&request).await),
    }
}
