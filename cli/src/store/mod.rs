//! The embedded store of `ota serve`: one SQLite database in the data directory holding
//! what DynamoDB and SQS hold on AWS — jobs and their task tokens, installations,
//! policies, the audit log, rate-limit counters, runner slots, and the inbox of accepted
//! deliveries. The engine keeps its executions and waits in the same file
//! (`crate::engine`). The `ota` commands and the runner child processes open the same
//! file; SQLite's WAL mode lets them read while one writes.
//!
//! [`Database`] implements the domain's store ports (`shared::store`'s `JobStore`,
//! `InstallationStore`, `PolicyStore`, `AuditLog`, `RateLimiter`, and
//! `shared::dispatch::SlotStore`) with the semantics of the DynamoDB store
//! (`docs/storage.md`); [`Inbox`] implements `shared::ports::EventQueue`. The tables are
//! in `schema.sql`.

mod audit;
mod db;
mod inbox;
mod installations;
mod jobs;
mod lock;
mod rate;
mod record;
mod slots;

pub use db::{DATABASE_FILE, Database, sql_error};
pub use inbox::{DeadDelivery, Inbox, InboxCounts, MAX_BATCH, MAX_ERROR_CHARS, PendingDelivery};
pub use jobs::MAX_PREFIX_MATCHES;

#[cfg(test)]
mod test_support;
