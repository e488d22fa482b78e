//! The slot store port: the runner slots in use, written with a version check so two
//! dispatches racing for the last slot cannot both win.

use super::EndpointKind;
use super::StoreError;
use crate::ids::InstallationId;
use crate::job::JobId;
use serde::{Deserialize, Serialize};
use std::future::Future;

/// One running job's hold on a slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub job: JobId,
    pub installation: InstallationId,
    pub endpoint: EndpointKind,
    /// Unix milliseconds after which the lease no longer counts.
    pub expires_at_ms: u64,
}

/// Every lease: the one record the caps are computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slots {
    pub leases: Vec<Lease>,
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
