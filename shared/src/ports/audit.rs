//! The audit log port: one append-only entry per decision.

use super::StoreError;
use crate::ids::{InstallationId, RepoFullName};
use crate::job::JobId;
use serde::{Deserialize, Serialize};
use std::future::Future;

/// One decision, for the append-only audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub installation: InstallationId,
    pub repo: Option<RepoFullName>,
    pub at_ms: u64,
    pub delivery: String,
    /// Login of whoever acted.
    pub actor: String,
    /// What was asked, e.g. `/ollama refactor`, `/approve j1a2b3c4`, `pr_opened`.
    pub command: String,
    /// `accepted`, `denied`, `approval_required`, `rate_limited`, `invalid`, ...
    pub decision: String,
    pub reason: String,
    /// The installation policy that decided, if one matched.
    pub policy: Option<String>,
    pub job: Option<JobId>,
}

pub trait AuditLog: Send + Sync {
    fn append(&self, entry: &AuditEntry) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The newest entries of an installation, newest first.
    fn recent(
        &self,
        installation: InstallationId,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, StoreError>> + Send;
}
