//! The inbox: accepted webhook deliveries on their way to the policy stage, kept in the
//! database (the SQS FIFO intake queue on AWS). The webhook hands each delivery over with
//! [`Inbox`] ([`shared::ports::EventQueue`]), which answers only once the delivery is
//! committed; the consumer takes them back with [`crate::store::Database::next_deliveries`]
//! in the queue's order: oldest first, and one at a time per ordering key (a repository,
//! or an installation), so a repository's later deliveries wait behind a failing one.

mod checkpoint;
mod consumer;
mod writer;

pub use consumer::{DeadDelivery, InboxCounts, MAX_ERROR_CHARS, PendingDelivery};
pub use writer::{Inbox, MAX_BATCH};
