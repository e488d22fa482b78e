//! What a workflow test reads back: the job's one check run and its comments on the pull
//! request as GitHub shows them, its labels, the runner slots, and texts made
//! deterministic for snapshots.

use super::{Harness, PULL, REPO};
use crate::fake_github::FakeCheckRun;
use crate::redact::Redact;
use shared::dispatch::Lease;
use shared::job::{JobId, JobRecord};
use shared::ports::SlotStore;
use shared::ports::WorkflowError;

impl Harness {
    /// The job's check run as the fake GitHub last saw it: there is exactly one.
    pub fn check_run(&self) -> FakeCheckRun {
        let runs = self.github.check_runs(REPO);
        assert_eq!(runs.len(), 1, "one check run per job: {runs:#?}");
        runs[0].clone()
    }

    /// The check run's fields.
    pub fn check_run_fields(&self) -> serde_json::Map<String, serde_json::Value> {
        self.check_run().fields
    }

    /// The bodies of the comments on the pull request, oldest first.
    pub fn comments(&self) -> Vec<String> {
        self.github.comment_bodies(REPO, PULL)
    }

    /// The one comment on the pull request.
    pub fn the_comment(&self) -> String {
        let comments = self.comments();
        assert_eq!(comments.len(), 1, "{comments:#?}");
        comments[0].clone()
    }

    /// The pull request's labels.
    pub fn labels(&self) -> Vec<String> {
        self.github.labels(REPO, PULL)
    }

    /// The runner slots leased now.
    pub async fn leases(&self) -> Vec<Lease> {
        self.store.slots().await.expect("slots").slots.leases
    }

    /// Fails the test if the bot asked GitHub for anything nobody expected.
    pub fn assert_nothing_unexpected(&self) {
        self.github.assert_nothing_unexpected();
    }

    /// Pumps until the job's execution ended — as a success, which is how the workflow
    /// ends whatever became of the job — and returns the job.
    pub async fn finished_job(&self, id: &JobId) -> JobRecord {
        assert_eq!(
            self.finish_execution(id).await,
            aws_sdk_sfn::types::ExecutionStatus::Succeeded
        );
        self.job(id).await
    }

    /// Pumps until no queue has anything left.
    pub async fn pump_all(&self) {
        while self.pump().await > 0 {}
    }

    /// The job's runner task `arn`, described.
    pub async fn describe_task(&self, arn: &str) -> aws_sdk_ecs::types::Task {
        let described = self
            .ecs
            .describe_tasks()
            .cluster(&self.cluster)
            .tasks(arn)
            .send()
            .await
            .expect("describe");
        described.tasks()[0].clone()
    }

    /// `text` with the job's id (and its short form) and the varying parts of a report —
    /// the log's address, the time it took — replaced by placeholders.
    pub async fn redact(&self, id: &JobId, text: &str) -> String {
        let log = self.job(id).await.log.unwrap_or_default();
        Redact::new()
            .value(log, "[log]")
            .value(id.as_str(), "[job]")
            .value(id.short(), "[short]")
            .after("| Time | ", "[time] |")
            .apply(text)
    }
}

/// The name of the error the job ended with, if it ended with one.
pub fn error_name(job: &JobRecord) -> Option<String> {
    job.result
        .as_ref()
        .and_then(|result| result.error.as_ref())
        .map(|error| error.name.clone())
}

/// A second answer to a wait that is over: Step Functions refuses it, moto accepts and
/// ignores it; either way it changes nothing.
pub fn assert_ignored(answer: &Result<(), WorkflowError>) {
    assert!(
        matches!(answer, Ok(()) | Err(WorkflowError::TokenExpired)),
        "{answer:?}"
    );
}
