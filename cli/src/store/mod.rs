//! The embedded store of `ota serve`: one SQLite database in the data directory holding
//! what DynamoDB and SQS hold on AWS — jobs and their task tokens, installations,
//! policies, the audit log, rate-limit counters, runner slots, and the inbox of accepted
//! deliveries. The engine keeps its executions and waits in the same file
//! (`crate::engine`). The `ota` commands and the runner child processes open the same
//! file; SQLite's WAL mode lets them read while one writes.

mod db;

pub use db::{DATABASE_FILE, Database, sql_error};
