//! The approval gate of the job workflow, run by moto from `statemachine/job.asl.json`:
//! the wait's token kept for `/approve`, an approval, a refusal, the timeout, and
//! `/cancel` while waiting.

use e2e::workflow::Harness;
use e2e::workflow::actors::TEST_TIMEOUTS;
use e2e::workflow::seen::error_name;
use shared::job::{JobStatus, Timeouts, Wait};
use shared::ports::JobStore;
use std::time::Duration;

#[tokio::test]
async fn an_approved_job_runs() {
    let harness = Harness::start().await;
    let id = harness.start_job(true, TEST_TIMEOUTS).await;
    let token = harness.token(&id, Wait::Approval).await;
    assert!(!token.expose().is_empty());
    // Waiting: nothing dispatched, nothing said (the policy stage asked for the approval).
    assert_eq!(harness.job(&id).await.status, JobStatus::AwaitingApproval);
    assert!(harness.runner_tasks(&id, "RUNNING").await.is_empty());
    assert!(harness.comments().is_empty());
    assert_eq!(harness.check_run_fields()["status"], "queued");

    harness.approve(&id, "maintainer").await;
    let token = harness.runner_starts(&id, 1).await;
    let run = harness.check_run_fields();
    assert_eq!(run["status"], "in_progress");
    insta::assert_snapshot!(
        "approved_and_running_check_run",
        harness.redact(&id, &harness.check_run().shown()).await
    );
    harness.runner_succeeds(&token).await.expect("answer");

    assert_eq!(harness.finished_job(&id).await.status, JobStatus::Succeeded);
    assert_eq!(
        harness.states_entered(&id).await,
        [
            "NeedsApproval",
            "AwaitApproval",
            "ReportRunning",
            "Dispatch",
            "ReportSucceeded",
            "Succeeded"
        ]
    );
    assert_eq!(harness.check_run_fields()["conclusion"], "success");
    assert_eq!(harness.comments().len(), 1);
    harness.assert_nothing_unexpected();
}

#[tokio::test]
async fn a_refused_approval_cancels_the_job() {
    let harness = Harness::start().await;
    let id = harness.start_job(true, TEST_TIMEOUTS).await;
    harness.deny(&id, "refused by @maintainer").await;

    let job = harness.finished_job(&id).await;
    assert_eq!(job.status, JobStatus::Cancelled);
    assert_eq!(error_name(&job).as_deref(), Some("Approval.Denied"));
    assert_eq!(
        harness.states_entered(&id).await,
        ["NeedsApproval", "AwaitApproval", "ReportEnded", "Ended"]
    );
    assert_eq!(harness.check_run_fields()["conclusion"], "cancelled");
    insta::assert_snapshot!(
        "refused_comment",
        harness.redact(&id, &harness.the_comment()).await
    );
    assert!(harness.runner_tasks(&id, "RUNNING").await.is_empty());
    assert!(harness.runner_tasks(&id, "STOPPED").await.is_empty());
    assert!(harness.labels().is_empty());
    harness.assert_nothing_unexpected();
}

#[tokio::test]
async fn an_approval_that_never_comes_expires_the_job() {
    let harness = Harness::start().await;
    let timeouts = Timeouts {
        approval: Duration::from_secs(2),
        ..TEST_TIMEOUTS
    };
    let id = harness.start_job(true, timeouts).await;

    let job = harness.finished_job(&id).await;
    assert_eq!(job.status, JobStatus::Expired);
    assert_eq!(job.attempts, 0, "never dispatched");
    assert_eq!(
        harness.states_entered(&id).await,
        [
            "NeedsApproval",
            "AwaitApproval",
            "ApprovalExpired",
            "ReportEnded",
            "Ended"
        ]
    );
    let run = harness.check_run_fields();
    assert_eq!(run["conclusion"], "timed_out");
    assert_eq!(run["output"]["title"], "Expired: not approved in time");
    insta::assert_snapshot!(
        "expired_check_run",
        harness.redact(&id, &harness.check_run().shown()).await
    );
    insta::assert_snapshot!(
        "expired_comment",
        harness.redact(&id, &harness.the_comment()).await
    );
    harness.assert_nothing_unexpected();
}

#[tokio::test]
async fn cancel_while_waiting_for_approval() {
    let harness = Harness::start().await;
    let id = harness.start_job(true, TEST_TIMEOUTS).await;
    harness.token(&id, Wait::Approval).await;

    harness.cancel(&id, "octocat").await;
    harness.pump_all().await;

    let job = harness.job(&id).await;
    assert_eq!(job.status, JobStatus::Cancelled);
    assert_eq!(job.attempts, 0);
    assert!(harness.runner_tasks(&id, "RUNNING").await.is_empty());
    assert_eq!(harness.check_run_fields()["conclusion"], "cancelled");
    let comments = harness.comments();
    assert_eq!(comments.len(), 1, "only the policy stage's: {comments:#?}");
    // The token stays stored, but the wait it belonged to is over.
    assert!(
        harness
            .store
            .task_token(&id, Wait::Approval)
            .await
            .expect("read")
            .is_some()
    );
    harness.assert_nothing_unexpected();
}
