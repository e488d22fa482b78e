//! Opening the database and running statements off the async threads.

use super::lock::nap_while_locked;
use rusqlite::Connection;
use shared::ports::StoreError;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The database's file name inside the data directory.
pub const DATABASE_FILE: &str = "ota.db";

/// Every table, created on open when missing.
const SCHEMA: &str = include_str!("schema.sql");

/// A handle on the database; clones share one connection.
#[derive(Clone)]
pub struct Database {
    shared: Arc<Shared>,
}

struct Shared {
    path: PathBuf,
    connection: Mutex<Connection>,
}

/// A SQLite error as the ports name it: a busy or locked database may work in a moment,
/// anything else is reported as unavailable too, with SQLite's own words.
pub(crate) fn sql_error(err: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!("SQLite: {err}"))
}

impl Database {
    /// Opens (creating if need be) the database in `data_dir`, and its tables.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|err| {
            StoreError::Unavailable(format!(
                "cannot create the data directory {}: {err}",
                data_dir.display()
            ))
        })?;
        let path = data_dir.join(DATABASE_FILE);
        let connection = connect(&path)?;
        connection.execute_batch(SCHEMA).map_err(sql_error)?;
        Ok(Self {
            shared: Arc::new(Shared {
                path,
                connection: Mutex::new(connection),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// A connection of its own, for a thread that writes on its own (the inbox writer).
    pub(crate) fn connect(&self) -> Result<Connection, StoreError> {
        connect(&self.shared.path)
    }

    /// Runs `work` on the shared connection on a blocking thread.
    pub(crate) async fn call<R, F>(&self, work: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || {
            let mut connection = shared.connection.lock().map_err(|_| {
                StoreError::Unavailable(
                    "the database connection was poisoned by a panic".to_owned(),
                )
            })?;
            work(&mut connection)
        })
        .await
        .map_err(|err| StoreError::Unavailable(format!("database task failed: {err}")))?
    }
}

/// A connection in WAL mode. `synchronous = NORMAL` in WAL mode makes every commit
/// survive the process being killed (the WAL is written before the commit returns); only
/// a power loss can undo the last commits before a checkpoint, never corrupt the file.
fn connect(path: &Path) -> Result<Connection, StoreError> {
    let connection = Connection::open(path)
        .map_err(|err| StoreError::Unavailable(format!("cannot open {}: {err}", path.display())))?;
    connection
        .busy_handler(Some(nap_while_locked))
        .map_err(sql_error)?;
    connection
        .execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = ON;",
        )
        .map_err(sql_error)?;
    Ok(connection)
}
