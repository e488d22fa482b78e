//! The installation store port: the App's installations and their repositories.

use super::StoreError;
use crate::ids::{InstallationId, RepoFullName};
use serde::{Deserialize, Serialize};
use std::future::Future;

/// An installation of the App, kept in step with `installation` and
/// `installation_repositories` events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallationRecord {
    pub id: InstallationId,
    pub account: String,
    /// `all` or `selected`.
    pub repository_selection: Option<String>,
    pub suspended: bool,
    pub updated_at_ms: u64,
}

pub trait InstallationStore: Send + Sync {
    fn upsert_installation(
        &self,
        installation: &InstallationRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes the installation and everything kept for it (its repositories, policies).
    fn remove_installation(
        &self,
        id: InstallationId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn installation(
        &self,
        id: InstallationId,
    ) -> impl Future<Output = Result<Option<InstallationRecord>, StoreError>> + Send;

    fn add_repositories(
        &self,
        id: InstallationId,
        repos: &[RepoFullName],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn remove_repositories(
        &self,
        id: InstallationId,
        repos: &[RepoFullName],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn repositories(
        &self,
        id: InstallationId,
    ) -> impl Future<Output = Result<Vec<RepoFullName>, StoreError>> + Send;
}
