//! Records as JSON in a column, as on DynamoDB: the types in `shared` are the schema. A
//! record that no longer parses is reported as corrupt, never as missing.

use super::db::sql_error;
use rusqlite::{Connection, OptionalExtension, Params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::job::Wait;
use shared::ports::StoreError;

/// `record` as the JSON stored in its column.
pub(crate) fn encode<T: Serialize>(what: &str, record: &T) -> Result<String, StoreError> {
    serde_json::to_string(record)
        .map_err(|err| StoreError::Corrupt(format!("{what} could not be encoded: {err}")))
}

/// The record stored as `json`; [`StoreError::Corrupt`] if it does not parse.
pub(crate) fn decode<T: DeserializeOwned>(what: &str, json: &str) -> Result<T, StoreError> {
    serde_json::from_str(json).map_err(|err| StoreError::Corrupt(format!("{what}: {err}")))
}

/// The record a query selects as its only column, if it selects a row.
pub(crate) fn select_record<T: DeserializeOwned, P: Params>(
    connection: &Connection,
    what: &str,
    sql: &str,
    params: P,
) -> Result<Option<T>, StoreError> {
    let json: Option<String> = connection
        .prepare_cached(sql)
        .and_then(|mut select| select.query_row(params, |row| row.get(0)).optional())
        .map_err(sql_error)?;
    json.map(|json| decode(what, &json)).transpose()
}

/// The records a query selects as its only column, in the query's order.
pub(crate) fn select_records<T: DeserializeOwned, P: Params>(
    connection: &Connection,
    what: &str,
    sql: &str,
    params: P,
) -> Result<Vec<T>, StoreError> {
    let mut select = connection.prepare_cached(sql).map_err(sql_error)?;
    let rows = select
        .query_map(params, |row| row.get::<_, String>(0))
        .map_err(sql_error)?;
    rows.map(|json| decode(what, &json.map_err(sql_error)?))
        .collect()
}

/// A wait's name in its rows (task tokens, the engine's waits).
pub(crate) fn wait_name(wait: Wait) -> &'static str {
    match wait {
        Wait::Approval => "approval",
        Wait::Run => "run",
    }
}

/// A time or duration in milliseconds as SQLite stores integers (signed 64 bits): anything
/// past `i64::MAX` (292 million years) counts as `i64::MAX`, so that callers may pass
/// `u64::MAX` for "no bound".
pub(crate) fn sql_ms(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}
