//! The event queue on SQS. On a FIFO queue, the delivery id is the deduplication id and
//! the repository is the message group, so a redelivery within SQS's five-minute window
//! leaves one message and events of one repository stay in order.

use crate::describe;
use aws_sdk_sqs::Client;
use shared::inbound::Inbound;
use shared::ports::{EventQueue, QueueError};

#[derive(Clone)]
pub struct SqsEventQueue {
    client: Client,
    queue_url: String,
    fifo: bool,
}

impl SqsEventQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        let queue_url = queue_url.into();
        let fifo = queue_url.ends_with(".fifo");
        Self {
            client,
            queue_url,
            fifo,
        }
    }
}

impl EventQueue for SqsEventQueue {
    async fn enqueue(&self, message: &Inbound) -> Result<(), QueueError> {
        let body = message
            .to_queue_message()
            .map_err(|err| QueueError(format!("could not encode the message: {err}")))?;
        let mut request = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body);
        if self.fifo {
            request = request
                .message_group_id(message.ordering_key())
                .message_deduplication_id(message.id().as_str());
        }
        request
            .send()
            .await
            .map(|_| ())
            .map_err(|err| QueueError(describe(&err)))
    }
}
