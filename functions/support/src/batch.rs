//! An SQS batch, message by message: each message is decoded and handled on its own, in
//! a span of its own, and the failed ones are reported one by one
//! (`ReportBatchItemFailures`), so a bad message neither fails nor repeats the others.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use std::collections::HashSet;
use std::fmt::Display;
use std::future::Future;
use tracing::{Instrument, Span};

/// A message that could not be processed; the processor has already logged why.
#[derive(Debug)]
pub struct Failed;

/// Processes a batch with `process`, one message at a time, and names the messages to
/// deliver again (the event source mapping needs `ReportBatchItemFailures`). A failed
/// message never fails or repeats the others — except that on a FIFO queue, once a
/// message of a group fails, the group's later messages in the batch are returned
/// unprocessed, so that a group's messages are never handled out of order.
pub async fn process_batch<F, Fut>(event: SqsEvent, mut process: F) -> SqsBatchResponse
where
    F: FnMut(SqsMessage) -> Fut,
    Fut: Future<Output = Result<(), Failed>>,
{
    let mut response = SqsBatchResponse::default();
    let mut failed_groups = HashSet::new();
    for message in event.records {
        let id = message.message_id.clone().unwrap_or_default();
        let group = message.attributes.get("MessageGroupId").cloned();
        if group
            .as_ref()
            .is_some_and(|group| failed_groups.contains(group))
        {
            response.add_failure(id);
            continue;
        }
        if process(message).await.is_err() {
            response.add_failure(id);
            failed_groups.extend(group);
        }
    }
    response
}

/// What a function's queue carries and how its log lines speak of it. The functions
/// differ only in these; the handling of a batch is [`handle_each`] for all of them.
pub struct QueueMessages<M, E> {
    /// The kind of message, in `undecodable {message} message`.
    pub message: &'static str,
    /// What handling one is called, in `{work} will be retried` and `{work} failed`.
    pub work: &'static str,
    /// The message from its body. The body may hold a task token: it is never logged,
    /// and neither may the error quote it.
    pub decode: fn(Option<&str>) -> Result<M, String>,
    /// The span the message is handled in, with the ids that name it.
    pub span: fn(&M) -> Span,
    /// Whether a failure may pass on a later delivery (logged as a warning) or not
    /// (logged as an error). Either way the message is returned to the queue.
    pub is_transient: fn(&E) -> bool,
}

/// Processes a batch with [`process_batch`]: each message is decoded (an undecodable one
/// fails alone) and handed to `handle` in its span; the response names the messages to
/// deliver again.
pub async fn handle_each<M, E, H, Fut>(
    event: SqsEvent,
    queue: &QueueMessages<M, E>,
    handle: H,
) -> SqsBatchResponse
where
    E: Display,
    H: Fn(M) -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    let handle = &handle;
    process_batch(event, |message| async move {
        let decoded = decode(queue, &message)?;
        let span = (queue.span)(&decoded);
        async {
            handle(decoded).await.map_err(|err| {
                if (queue.is_transient)(&err) {
                    tracing::warn!(error = %err, "{} will be retried", queue.work);
                } else {
                    tracing::error!(error = %err, "{} failed", queue.work);
                }
                Failed
            })
        }
        .instrument(span)
        .await
    })
    .await
}

fn decode<M, E>(queue: &QueueMessages<M, E>, message: &SqsMessage) -> Result<M, Failed> {
    (queue.decode)(message.body.as_deref()).map_err(|problem| {
        let message_id = message.message_id.as_deref().unwrap_or("");
        tracing::error!(message_id, error = %problem, "undecodable {} message", queue.message);
        Failed
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(messages: &[(&str, Option<&str>)]) -> SqsEvent {
        let records: Vec<String> = messages
            .iter()
            .map(|(id, group)| {
                let attributes = group
                    .map(|group| format!(r#"{{"MessageGroupId":"{group}"}}"#))
                    .unwrap_or_else(|| "{}".to_owned());
                format!(r#"{{"messageId":"{id}","body":"{id}","attributes":{attributes},"messageAttributes":{{}}}}"#)
            })
            .collect();
        let json = format!(r#"{{"Records":[{}]}}"#, records.join(","));
        serde_json::from_str(&json).expect("a valid SQS event")
    }

    fn failed(response: &SqsBatchResponse) -> Vec<&str> {
        response
            .batch_item_failures
            .iter()
            .map(|failure| failure.item_identifier.as_str())
            .collect()
    }

    #[tokio::test]
    async fn a_failure_returns_only_that_message_on_a_standard_queue() {
        let mut seen = Vec::new();
        let response = process_batch(event(&[("a", None), ("b", None), ("c", None)]), |m| {
            let id = m.message_id.unwrap_or_default();
            seen.push(id.clone());
            async move { if id == "b" { Err(Failed) } else { Ok(()) } }
        })
        .await;
        assert_eq!(failed(&response), vec!["b"]);
        assert_eq!(seen, vec!["a", "b", "c"]);
    }

    #[tokio::test]
    async fn a_failure_holds_back_the_rest_of_its_fifo_group_only() {
        let mut seen = Vec::new();
        let batch = event(&[
            ("a1", Some("a")),
            ("b1", Some("b")),
            ("a2", Some("a")),
            ("b2", Some("b")),
        ]);
        let response = process_batch(batch, |m| {
            let id = m.message_id.unwrap_or_default();
            seen.push(id.clone());
            async move { if id == "a1" { Err(Failed) } else { Ok(()) } }
        })
        .await;
        assert_eq!(failed(&response), vec!["a1", "a2"]);
        assert_eq!(
            seen,
            vec!["a1", "b1", "b2"],
            "a2 was not processed out of order"
        );
    }
}
