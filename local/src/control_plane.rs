//! [`ControlPlane`] on one machine: the dashboard's listings from the SQLite store, a
//! job's log from its runners' log files, and its actions through the same operations
//! as `/approve`, `/cancel`, `/retry` and the `ota` commands
//! ([`shared::policy_stage::operations`]), woken on the engine's bell.

use crate::engine::LocalWorkflow;
use crate::store::Database;
use shared::clock::now_ms;
use shared::ids::InstallationId;
use shared::job::{JobId, JobRecord, JobStatus, Timeouts, Wait};
use shared::policy::InstallationPolicy;
use shared::policy_stage::dashboard;
use shared::ports::{
    ActionOutcome, AttemptView, AuditFilter, AuditPage, ControlPlane, DashboardActor,
    DeadLetterAction, DeadLetterView, InstallationStore, InstallationView, JobAction, JobDetail,
    JobFilter, JobPage, JobStore, PolicyStore, StoreError, TokenLedger, TokensUsed,
};
use std::io::{Read, Seek, SeekFrom};

/// The most of a log the job page shows: its end, the part a reader wants.
pub const LOG_TAIL_BYTES: u64 = 64 * 1024;

/// The dashboard's view of the local store and engine.
#[derive(Clone)]
pub struct LocalControlPlane {
    db: Database,
    workflow: LocalWorkflow,
}

impl LocalControlPlane {
    pub fn new(db: Database, workflow: LocalWorkflow) -> Self {
        Self { db, workflow }
    }
}

/// The last [`LOG_TAIL_BYTES`] of the file at `path`, by line; a missing file has none.
fn log_tail(path: &str) -> Vec<String> {
    let Ok(mut file) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let length = file.metadata().map(|meta| meta.len()).unwrap_or(0);
    let start = length.saturating_sub(LOG_TAIL_BYTES);
    if file.seek(SeekFrom::Start(start)).is_err() {
        return Vec::new();
    }
    let mut bytes = Vec::new();
    if file.take(LOG_TAIL_BYTES).read_to_end(&mut bytes).is_err() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    // A tail cut in the middle of a line starts with the rest of it.
    if start > 0 && !lines.is_empty() {
        lines.remove(0);
    }
    lines
}

impl ControlPlane for LocalControlPlane {
    async fn jobs(
        &self,
        filter: &JobFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<JobPage, StoreError> {
        self.db.job_page(filter, after, limit).await
    }

    async fn audit(
        &self,
        filter: &AuditFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<AuditPage, StoreError> {
        self.db.audit_page(filter, after, limit).await
    }

    async fn installations(&self) -> Result<Vec<InstallationView>, StoreError> {
        let mut views = Vec::new();
        for record in self.db.all_installations().await? {
            let repos = self.db.repositories(record.id).await?;
            views.push(InstallationView { record, repos });
        }
        Ok(views)
    }

    async fn installation_policies(
        &self,
        id: InstallationId,
    ) -> Result<Vec<InstallationPolicy>, StoreError> {
        self.db.policies(id).await
    }

    async fn set_policies(
        &self,
        id: InstallationId,
        policies: Vec<InstallationPolicy>,
        actor: &DashboardActor,
    ) -> Result<(), StoreError> {
        self.db.replace_policies(id, &policies).await?;
        dashboard::record_policies_set(&self.db, id, &policies, actor, now_ms()).await
    }

    async fn tokens_used(&self, id: InstallationId) -> Result<TokensUsed, StoreError> {
        self.db.tokens_used(id, now_ms()).await
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetterView>, StoreError> {
        Ok(self
            .db
            .dead_deliveries(limit)
            .await?
            .into_iter()
            .map(|dead| DeadLetterView {
                id: dead.delivery.as_str().to_owned(),
                kind: dead
                    .event
                    .unwrap_or_else(|| "an unreadable delivery".to_owned()),
                received_at_ms: dead.received_at_ms,
                attempts: dead.attempts,
                error: dead.error,
            })
            .collect())
    }

    async fn dead_letter_act(
        &self,
        id: &str,
        action: DeadLetterAction,
        // A delivery handled again is not a job action: nothing names who asked.
        _actor: &DashboardActor,
    ) -> Result<bool, StoreError> {
        match action {
            DeadLetterAction::Retry => self.db.redeliver_dead(id, now_ms()).await,
            DeadLetterAction::Discard => self.db.discard_dead(id).await,
        }
    }

    async fn job_detail(&self, id: &JobId) -> Result<Option<JobDetail>, StoreError> {
        let Some(job) = self.db.job(id).await? else {
            return Ok(None);
        };
        let runners = self.db.runner_attempts(id).await?;
        let audit = self.db.audit_for_job(id).await?;
        let approvable = job.status == JobStatus::AwaitingApproval
            && self.db.task_token(id, Wait::Approval).await?.is_some();
        let mut log = Vec::new();
        for runner in &runners {
            let path = runner.log.clone();
            let lines = tokio::task::spawn_blocking(move || log_tail(&path))
                .await
                .unwrap_or_default();
            if runners.len() > 1 && !lines.is_empty() {
                log.push(format!("── attempt {} ──", runner.attempt));
            }
            log.extend(lines);
        }
        Ok(Some(JobDetail {
            job,
            attempts: runners
                .into_iter()
                .map(|runner| AttemptView {
                    attempt: runner.attempt,
                    exit_code: runner.exit_code,
                })
                .collect(),
            audit,
            log,
            approvable,
        }))
    }

    async fn act(
        &self,
        job: JobRecord,
        action: JobAction,
        actor: &DashboardActor,
    ) -> Result<ActionOutcome, StoreError> {
        let id = job.id.clone();
        let timeouts = async move {
            Ok(self
                .db
                .execution_timeouts(&id)
                .await?
                .unwrap_or(Timeouts::DEFAULT))
        };
        dashboard::act(
            &self.db,
            &self.workflow,
            job,
            action,
            actor,
            now_ms,
            timeouts,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::database;
    use e2e::control_plane_contract;
    use std::sync::Arc;
    use tokio::sync::Notify;

    fn plane(db: &Database) -> LocalControlPlane {
        LocalControlPlane::new(
            db.clone(),
            LocalWorkflow::new(db.clone(), Arc::new(Notify::new())),
        )
    }

    #[tokio::test]
    async fn job_listings_keep_the_contract() {
        let (_dir, db) = database();
        control_plane_contract::job_listing_contract(&db, &plane(&db)).await;
    }

    #[tokio::test]
    async fn audit_listings_keep_the_contract() {
        let (_dir, db) = database();
        control_plane_contract::audit_listing_contract(&db, &plane(&db)).await;
    }

    #[tokio::test]
    async fn installations_keep_the_contract() {
        let (_dir, db) = database();
        control_plane_contract::installations_contract(&db, &plane(&db)).await;
    }

    #[tokio::test]
    async fn tokens_used_keep_the_contract() {
        let (_dir, db) = database();
        control_plane_contract::tokens_used_contract(&db, &plane(&db)).await;
    }
}
