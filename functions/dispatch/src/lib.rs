//! The dispatch Lambda: takes the dispatch queue's messages — the workflow's dispatch
//! requests (one per attempt), ECS's events for runner tasks that stopped, and the
//! scheduled sweep — and hands each to the dispatch stage, reporting failed messages one
//! by one so a bad message neither fails nor repeats the others. A message that keeps
//! failing ends in the queue's dead-letter queue, and the attempt's heartbeat timeout
//! retries the job. An event with nothing for the stage is logged and dropped.
//!
//! No room for a runner is a wait: the attempt stays in line (its wait open), the report
//! queue is told why (once per reason) for the job's check run, and a stopped runner or
//! the sweep dispatches it again.
//!
//! The runners it starts invoke it directly for their job's token ([`token`]).

pub mod message;
mod notices;
mod settings;
pub mod token;

pub use message::DispatchMessage;
pub use notices::ReportQueue;
pub use settings::{Settings, Stage, build_reports, build_stage, build_token_desk};
pub use token::{Invocation, TokenDesk, UnknownEvent};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_support::{QueueMessages, handle_each};
use shared::dispatch::{DispatchError, Dispatched, Dispatcher, Store};
use shared::job::JobId;
use shared::ports::Workflow;
use shared::ports::{GpuService, TaskLauncher};

/// The dispatch queue's messages. A dispatch request's body holds a task token: it is
/// never logged, only parsed.
const DISPATCHES: QueueMessages<DispatchMessage, DispatchError> = QueueMessages {
    message: "dispatch",
    work: "dispatch",
    decode: |body| message::parse_message(body.unwrap_or("")).map_err(|err| err.to_string()),
    span: |message| match message {
        DispatchMessage::Dispatch(dispatch) => {
            tracing::info_span!("dispatch", job = %dispatch.job, attempt = dispatch.attempt)
        }
        DispatchMessage::RunnerStopped { job, attempt, task } => {
            tracing::info_span!("runner_stopped", %job, attempt, task)
        }
        DispatchMessage::Sweep => tracing::info_span!("sweep"),
        DispatchMessage::Ignored(_) => tracing::info_span!("event_ignored"),
    },
    is_transient: DispatchError::is_transient,
};

/// Processes a batch; the response names the messages to deliver again. `reports`
/// hears of each job that waits in line, once per reason.
pub async fn handle_batch<S: Store, W: Workflow, L: TaskLauncher, G: GpuService>(
    stage: &Dispatcher<S, W, L, G>,
    reports: &ReportQueue,
    event: SqsEvent,
) -> SqsBatchResponse {
    // Boxed: the stage's futures are deep enough to overflow the compiler's layout
    // recursion limit inside the Lambda runtime's own futures.
    handle_each(event, &DISPATCHES, |message| {
        Box::pin(handle(stage, reports, message))
    })
    .await
}

/// Handles one invocation: an SQS batch (answered with the messages to deliver again) or
/// a runner's token request (answered with its token or refusal).
pub async fn handle_invocation<S: Store, W: Workflow, L: TaskLauncher, G: GpuService>(
    stage: &Dispatcher<S, W, L, G>,
    reports: &ReportQueue,
    desk: &TokenDesk,
    event: serde_json::Value,
) -> Result<serde_json::Value, UnknownEvent> {
    match Invocation::read(event)? {
        Invocation::Batch(batch) => {
            let response = handle_batch(stage, reports, batch).await;
            serde_json::to_value(&response)
                .map_err(|err| UnknownEvent(format!("the batch's answer is unwritable: {err}")))
        }
        Invocation::Token(request) => Ok(desk.answer(&request).await),
    }
}

async fn handle<S: Store, W: Workflow, L: TaskLauncher, G: GpuService>(
    stage: &Dispatcher<S, W, L, G>,
    reports: &ReportQueue,
    message: DispatchMessage,
) -> Result<(), DispatchError> {
    match message {
        DispatchMessage::Dispatch(dispatch) => {
            let outcome = Box::pin(stage.handle(&dispatch)).await?;
            tracing::info!(?outcome, "dispatched");
            if let Dispatched::Queued { reason, news: true } = &outcome {
                tell_queued(reports, &dispatch.job, reason).await;
            }
        }
        DispatchMessage::RunnerStopped { job, attempt, .. } => {
            let woken = Box::pin(stage.runner_exited(&job, attempt)).await?;
            tracing::info!(?woken, "runner stopped; the line moved");
            tell_all_queued(reports, &woken.news).await;
        }
        DispatchMessage::Sweep => {
            let woken = Box::pin(stage.wake()).await?;
            tracing::info!(?woken, "swept the line");
            tell_all_queued(reports, &woken.news).await;
        }
        DispatchMessage::Ignored(why) => {
            tracing::warn!(why, "event ignored: nothing to dispatch");
        }
    }
    Ok(())
}

async fn tell_all_queued(reports: &ReportQueue, news: &[(JobId, String)]) {
    for (job, reason) in news {
        tell_queued(reports, job, reason).await;
    }
}

/// The check run's "queued" is a courtesy: failing to send it leaves the job in line
/// all the same, so it is logged, not retried.
async fn tell_queued(reports: &ReportQueue, job: &JobId, reason: &str) {
    if let Err(err) = reports.queued(job, reason).await {
        tracing::warn!(%job, error = %err, "could not say the job is queued");
    }
}
