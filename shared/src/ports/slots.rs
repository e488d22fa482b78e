//! The slot store port: the runner slots in use and the line of attempts waiting for one,
//! written with a version check so two dispatches racing for the last slot cannot both win.

use super::EndpointKind;
use super::StoreError;
use crate::ids::InstallationId;
use crate::job::{JobId, Timeouts};
use serde::{Deserialize, Serialize};
use std::future::Future;

/// One running job's hold on a slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub job: JobId,
    pub installation: InstallationId,
    pub endpoint: EndpointKind,
    /// The attempt whose runner holds it: only that runner's exit (or a later one's)
    /// frees it, never the exit of an earlier attempt's runner.
    #[serde(default)]
    pub attempt: u32,
    /// Unix milliseconds after which the lease no longer counts.
    pub expires_at_ms: u64,
}

/// An attempt waiting in line for a slot: its workflow wait stays open meanwhile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiter {
    pub job: JobId,
    pub installation: InstallationId,
    pub attempt: u32,
    /// Whether its installation's policy lets it use Ollama's hosted service.
    pub allow_hosted: bool,
    /// Unix milliseconds it joined the line.
    pub since_ms: u64,
    /// Why it waits, in a sentence.
    pub reason: String,
    /// Its job's timeouts, to dispatch it again from the line.
    pub timeouts: Timeouts,
}

/// Every lease and the line: the one record the caps are computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slots {
    pub leases: Vec<Lease>,
    /// Oldest first.
    #[serde(default)]
    pub waiting: Vec<Waiter>,
    /// Unix milliseconds since which no job has run on the managed GPU service nor waited
    /// in line (`shared::dispatch::gpu`); `None` while one does, or with no such service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_idle_since_ms: Option<u64>,
}

/// The slots as stored, with the version a write must still find.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionedSlots {
    pub slots: Slots,
    /// 0 when nothing is stored yet.
    pub version: u64,
}

/// Where the slots are kept (a DynamoDB item, a SQLite row).
pub trait SlotStore: Send + Sync {
    /// The slots and their version; empty slots at version 0 when none are stored.
    fn slots(&self) -> impl Future<Output = Result<VersionedSlots, StoreError>> + Send;

    /// Stores `slots` as the next version if the stored version is still `expected`;
    /// [`StoreError::Conflict`] if another writer got there first.
    fn put_slots(
        &self,
        slots: &Slots,
        expected: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
