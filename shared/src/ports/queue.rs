//! The event queue port: the durable hand-off of deliveries and requests to the policy
//! stage. SQS FIFO on AWS, the SQLite inbox on one machine.

use crate::inbound::Inbound;
use std::future::Future;

/// Durable hand-off of normalized deliveries and requests to the policy stage.
pub trait EventQueue: Send + Sync {
    /// Resolves once the message is durably stored. Enqueuing the same delivery or
    /// request twice must leave one message (deduplication by [`Inbound::id`]).
    fn enqueue(&self, message: &Inbound) -> impl Future<Output = Result<(), QueueError>> + Send;
}

/// The queue could not take the event; the caller must not acknowledge it.
#[derive(Debug, thiserror::Error)]
#[error("event queue unavailable: {0}")]
pub struct QueueError(pub String);
