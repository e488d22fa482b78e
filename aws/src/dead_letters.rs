//! A dead-letter queue as the operator handles it: how many messages it holds, a look at
//! them that leaves them in place, deleting one once it is dealt with, and SQS's own
//! redrive (`StartMessageMoveTask`) back to the queues they came from.

use crate::describe;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use std::collections::BTreeSet;

/// SQS hands out at most ten messages per receive.
const RECEIVE_BATCH: i32 = 10;
/// How many receives [`DeadLetterQueue::peek`] makes at most: a receive returns a sample
/// of the queue (and FIFO queues one group at a time), so a look takes a few.
const PEEK_RECEIVES: usize = 10;

/// A failed SQS call, naming the queue and what was being done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} ({queue}): {reason}")]
pub struct DeadLetterError {
    pub what: String,
    pub queue: String,
    pub reason: String,
}

/// How many messages a queue holds (SQS's approximate counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Depth {
    /// Waiting to be received.
    pub visible: u64,
    /// Received and not yet deleted.
    pub in_flight: u64,
}

/// One message as received: its body and the handle that deletes it.
#[derive(Clone)]
pub struct DeadLetter {
    pub message_id: String,
    pub body: String,
    pub receipt_handle: String,
    /// When it was first sent to the queue it is in (Unix ms), if SQS said.
    pub sent_at_ms: Option<u64>,
}

/// One dead-letter queue, by URL.
#[derive(Clone)]
pub struct DeadLetterQueue {
    client: Client,
    url: String,
}

impl DeadLetterQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn error(&self, what: &str, err: &(dyn std::error::Error + 'static)) -> DeadLetterError {
        DeadLetterError {
            what: what.to_owned(),
            queue: self.url.clone(),
            reason: describe(err),
        }
    }

    /// The queue's approximate depth and its ARN.
    pub async fn depth(&self) -> Result<(Depth, String), DeadLetterError> {
        let output = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|err| self.error("reading the queue's depth", &err))?;
        let attributes = output.attributes.unwrap_or_default();
        let count = |name: QueueAttributeName| {
            attributes
                .get(&name)
                .and_then(|value| value.parse().ok())
                .unwrap_or(0)
        };
        let depth = Depth {
            visible: count(QueueAttributeName::ApproximateNumberOfMessages),
            in_flight: count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        };
        let arn = attributes
            .get(&QueueAttributeName::QueueArn)
            .cloned()
            .unwrap_or_default();
        Ok((depth, arn))
    }

    /// Up to `max` messages, received with a visibility timeout of 0 so they stay where
    /// they are for everyone else; each message once.
    pub async fn peek(&self, max: usize) -> Result<Vec<DeadLetter>, DeadLetterError> {
        let mut seen = BTreeSet::new();
        let mut letters = Vec::new();
        for _ in 0..PEEK_RECEIVES {
            if letters.len() >= max {
                break;
            }
            let batch = self.receive(0).await?;
            if batch.is_empty() {
                break;
            }
            let mut new = 0;
            for letter in batch {
                if seen.insert(letter.message_id.clone()) && letters.len() < max {
                    letters.push(letter);
                    new += 1;
                }
            }
            if new == 0 {
                break;
            }
        }
        Ok(letters)
    }

    /// Up to ten messages, hidden from other receivers for `visibility_seconds`.
    pub async fn receive(
        &self,
        visibility_seconds: i32,
    ) -> Result<Vec<DeadLetter>, DeadLetterError> {
        let output = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(RECEIVE_BATCH)
            .visibility_timeout(visibility_seconds)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .map_err(|err| self.error("receiving messages", &err))?;
        Ok(output
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|message| {
                let sent_at_ms = message
                    .attributes
                    .as_ref()
                    .and_then(|attributes| {
                        attributes.get(&MessageSystemAttributeName::SentTimestamp)
                    })
                    .and_then(|value| value.parse().ok());
                DeadLetter {
                    message_id: message.message_id.unwrap_or_default(),
                    body: message.body.unwrap_or_default(),
                    receipt_handle: message.receipt_handle.unwrap_or_default(),
                    sent_at_ms,
                }
            })
            .collect())
    }

    /// Deletes a message received with [`Self::receive`].
    pub async fn delete(&self, letter: &DeadLetter) -> Result<(), DeadLetterError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(&letter.receipt_handle)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| self.error("deleting a message", &err))
    }

    /// Starts SQS's redrive of the whole queue (`arn` is its ARN) back to the queues its
    /// messages came from; returns the task's handle. SQS moves them in the background.
    pub async fn start_redrive(&self, arn: &str) -> Result<String, DeadLetterError> {
        let output = self
            .client
            .start_message_move_task()
            .source_arn(arn)
            .send()
            .await
            .map_err(|err| self.error("starting the redrive", &err))?;
        Ok(output.task_handle.unwrap_or_default())
    }
}
