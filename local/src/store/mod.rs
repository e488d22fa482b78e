//! The embedded store of `ota serve`: one SQLite database in the data directory holding
//! what DynamoDB, SQS and Step Functions hold on AWS — jobs and their task tokens,
//! installations, policies, the audit log, rate-limit and token counters, runner slots, the inbox of
//! accepted deliveries, and the engine's executions, waits, runner processes and dead
//! letters. The `ota` commands and the runner child processes open the same file;
//! SQLite's WAL mode lets them read while one writes. Every SQL statement of the project
//! is in this module, and every table in `schema.sql`.
//!
//! [`Database`] implements the domain's store ports (`shared::ports`'s `JobStore`,
//! `InstallationStore`, `PolicyStore`, `AuditLog`, `RateLimiter`, `TokenLedger`, and
//! `shared::ports::SlotStore`) with the semantics of the DynamoDB store
//! (`docs/storage.md`), and the statements the engine runs ([`executions`], [`waits`]);
//! [`Inbox`] implements `shared::ports::EventQueue`; [`RunnerRecords`] keeps the runner
//! processes.

mod audit;
mod db;
pub mod executions;
mod inbox;
mod installations;
mod jobs;
mod listing;
mod lock;
mod rate;
mod record;
mod runners;
mod schedules;
mod slots;
mod tokens;
pub mod waits;

pub use db::{DATABASE_FILE, Database};
pub use executions::{ErrorValue, Execution, Move, Step, StepData};
pub use inbox::{DeadDelivery, Inbox, InboxCounts, MAX_BATCH, MAX_ERROR_CHARS, PendingDelivery};
pub use jobs::MAX_PREFIX_MATCHES;
pub use listing::{MAX_PAGE, RunnerAttempt};
pub use runners::{LOST_WITH_SERVER, RunnerRecords, RunningRunner};
pub use waits::{Answer, OpenWait};

#[cfg(test)]
pub(crate) mod test_support;
