//! Schedules: what the registry keeps of a repository's `schedule` trigger
//! ([`entry_for`]), which schedules fire at a tick ([`due`], I/O-free), and the tick
//! itself ([`tick`]), which both deployments run every minute — `ota serve`'s ticker and
//! the scheduler Lambda. A tick claims each due fire time in the registry before it
//! queues the request, so a repeated or concurrent tick starts nothing twice; the
//! request's id names the repository, the schedule and the fire time, so the queue's and
//! the jobs' deduplication refuse a repeat too.

mod due;
mod tick;

pub use due::{Fire, due, entry_for, request_for};
pub use tick::{TICK_LIMIT, TickError, TickReport, tick};
