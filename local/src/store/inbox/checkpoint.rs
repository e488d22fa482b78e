//! Checkpoints off the webhook's path. In WAL mode every commit appends to the
//! write-ahead log, and a checkpoint copies the log back into the database file. SQLite
//! runs it inside the commit that crosses its threshold (1,000 pages), and a checkpoint
//! costs two `fsync`s, tens of milliseconds on an ordinary disk: one enqueue in a few
//! hundred would wait that long. So the inbox writer's connection turns that off, and this
//! thread, with a connection of its own, copies the log in the background while the writer
//! goes on committing.
//!
//! A background (passive) checkpoint never blocks the writer, but it cannot empty the log
//! while commits keep arriving. Once the log passes [`RESTART_FRAMES`], a restarting
//! checkpoint waits for the writer's current transaction, copies the little the passive
//! ones left, and makes the next commit start the log over: one short pause per
//! [`RESTART_FRAMES`] pages written, which bounds the log's size.

use crate::store::db::sql_error;
use rusqlite::Connection;
use shared::ports::StoreError;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

/// How often the log is copied back. A pass with nothing to copy costs nothing; under
/// load, a pass takes about this long anyway (two `fsync`s and the copying), so the
/// passes follow each other and each has a few thousand pages to copy at most.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(50);

/// The log's size (in pages, 4 KiB each) past which it is started over: 64 MiB, a few
/// seconds of the heaviest webhook traffic, so that the pause this costs the writer is
/// rare, and the log stays small enough to read through quickly.
const RESTART_FRAMES: u64 = 16_384;

/// Checkpoints every [`CHECKPOINT_INTERVAL`] until `stop`'s sender is dropped (the writer
/// thread ended), then empties the log.
pub(super) fn checkpoint_until_stopped(connection: &Connection, stop: &Receiver<()>) {
    let mut log_frames = 0;
    loop {
        match stop.recv_timeout(CHECKPOINT_INTERVAL) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => {
                if let Err(err) = run(connection, "TRUNCATE") {
                    tracing::warn!(error = %err, "could not empty the log as the inbox closed");
                }
                return;
            }
        }
        match checkpoint(connection, log_frames) {
            Ok(frames) => log_frames = frames,
            Err(err) => {
                tracing::warn!(error = %err, "inbox checkpoint failed; trying again later");
            }
        }
    }
}

/// One pass: copies what the log holds; empties the log if nothing was committed since
/// the last pass (it had `last_log_frames` too), or starts it over if it has grown past
/// [`RESTART_FRAMES`]. The log's size in frames.
fn checkpoint(connection: &Connection, last_log_frames: u64) -> Result<u64, StoreError> {
    let log_frames = run(connection, "PASSIVE")?;
    if log_frames > 0 && log_frames == last_log_frames {
        run(connection, "TRUNCATE")
    } else if log_frames > RESTART_FRAMES {
        run(connection, "RESTART")
    } else {
        Ok(log_frames)
    }
}

/// Runs `PRAGMA wal_checkpoint(<mode>)`; the log's size in frames afterwards.
fn run(connection: &Connection, mode: &str) -> Result<u64, StoreError> {
    connection
        .query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
            // (busy, frames in the log, frames copied); -1 when not in WAL mode.
            row.get::<_, i64>(1)
        })
        .map(|frames| u64::try_from(frames).unwrap_or(0))
        .map_err(sql_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::database;

    #[tokio::test]
    async fn a_quiet_log_is_emptied() {
        let (_dir, db) = database();
        let connection = db.connect().expect("connect");
        connection
            .pragma_update(None, "wal_autocheckpoint", 0)
            .expect("no automatic checkpoints");
        connection
            .execute_batch("CREATE TABLE filler (x); INSERT INTO filler VALUES (1), (2);")
            .expect("write");
        let log_frames = checkpoint(&connection, 0).expect("checkpoint");
        assert!(log_frames > 0);
        assert_eq!(checkpoint(&connection, log_frames), Ok(0));
        let wal = db.path().with_extension("db-wal");
        assert_eq!(std::fs::metadata(wal).map(|file| file.len()).ok(), Some(0));
    }
}
