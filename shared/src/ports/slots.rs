//! The slot store port: the runner slots in use, written with a version check so two
//! dispatches racing for the last slot cannot both win.

use super::StoreError;
use crate::dispatch::{Slots, VersionedSlots};
use std::future::Future;

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
