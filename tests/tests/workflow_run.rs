//! The job workflow without approval, run by moto from `statemachine/job.asl.json`, with
//! the real dispatch and report handlers on its queues: a job that succeeds, a duplicate
//! answer, a permanent failure, and `/cancel` while the runner runs.

use aws_sdk_sfn::types::ExecutionStatus;
use e2e::workflow::actors::TEST_TIMEOUTS;
use e2e::workflow::{CONTAINER, Harness, PULL, REPO};
use shared::dispatch::SlotStore;
use shared::job::{JobError, JobStatus};
use shared::workflow::WorkflowError;

fn assert_nothing_unexpected(harness: &Harness) {
    let unexpected = harness.github.unexpected();
    assert!(
        unexpected.is_empty(),
        "unexpected GitHub requests: {unexpected:#?}"
    );
}

/// The check run's fields as the fake GitHub last saw them.
fn check_run(harness: &Harness) -> serde_json::Map<String, serde_json::Value> {
    let runs = harness.github.check_runs(REPO);
    assert_eq!(runs.len(), 1, "one check run per job: {runs:#?}");
    runs[0].fields.clone()
}

fn comments(harness: &Harness) -> Vec<String> {
    harness
        .github
        .comments(REPO, PULL)
        .into_iter()
        .map(|comment| comment.body)
        .collect()
}

#[tokio::test]
async fn a_job_runs_and_is_reported_on_github() {
    let harness = Harness::start().await;
    let id = harness.start_job(false, TEST_TIMEOUTS).await;

    let running = harness
        .pump_until(&id, "a running check run", |job| {
            job.status == JobStatus::Dispatching
        })
        .await;
    assert_eq!(running.attempts, 1);
    let token = harness.runner_starts(&id, 1).await;
    assert_eq!(check_run(&harness)["status"], "in_progress");
    assert_eq!(harness.github.labels(REPO, PULL), ["automation:pending"]);
    harness.runner_succeeds(&token).await.expect("answer");

    assert_eq!(
        harness.finish_execution(&id).await,
        ExecutionStatus::Succeeded
    );
    let job = harness.job(&id).await;
    assert_eq!(job.status, JobStatus::Succeeded);
    assert_eq!(job.attempts, 1);
    let result = job.result.clone().expect("result");
    assert_eq!(
        result.pull_request_url.as_deref(),
        Some("https://github.com/octo-org/hello-world/pull/8")
    );
    assert_eq!(
        harness.states_entered(&id).await,
        [
            "NeedsApproval",
            "ReportRunning",
            "Dispatch",
            "ReportSucceeded",
            "Succeeded"
        ]
    );

    let run = check_run(&harness);
    assert_eq!(run["status"], "completed");
    assert_eq!(run["conclusion"], "success");
    assert_eq!(run["output"]["title"], "Done: pull request #8");
    let log = job.log.clone().expect("a log pointer");
    assert!(log.contains("log-events/runner$252Frunner$252F"), "{log}");
    assert!(
        run["output"]["summary"]
            .as_str()
            .is_some_and(|summary| summary.ends_with(&format!("Full log: {log}"))),
        "{run:#?}"
    );
    let comments = comments(&harness);
    assert_eq!(comments.len(), 1, "{comments:#?}");
    for expected in [
        "is done.** Pull request: https://github.com/octo-org/hello-world/pull/8",
        "| Tests | ✅ `cargo test` |",
        "| Model | `qwen3-coder:30b` on the self-hosted GPU |",
        "| Tokens | 12,000 in · 3,400 out |",
        "| Time |",
    ] {
        assert!(
            comments[0].contains(expected),
            "{expected}: {}",
            comments[0]
        );
    }
    assert_eq!(harness.github.labels(REPO, PULL), ["automation:applied"]);
    assert!(
        harness
            .store
            .slots()
            .await
            .expect("slots")
            .slots
            .leases
            .is_empty()
    );
    assert_nothing_unexpected(&harness);

    // The runner was told its job and endpoint, never its token.
    let tasks = harness.runner_tasks(&id, "RUNNING").await;
    assert_eq!(
        tasks.len(),
        1,
        "the runner of a succeeded job is left to exit"
    );
    let described = harness
        .ecs
        .describe_tasks()
        .cluster(&harness.cluster)
        .tasks(&tasks[0])
        .send()
        .await
        .expect("describe");
    let task = &described.tasks()[0];
    assert_eq!(task.started_by(), Some(id.as_str()));
    let overrides = task.overrides().expect("overrides");
    let container = &overrides.container_overrides()[0];
    assert_eq!(container.name(), Some(CONTAINER));
    let environment: Vec<(&str, &str)> = container
        .environment()
        .iter()
        .map(|pair| (pair.name().unwrap_or(""), pair.value().unwrap_or("")))
        .collect();
    assert_eq!(
        environment,
        [
            ("OTA_JOB_ID", id.as_str()),
            ("OTA_ATTEMPT", "1"),
            ("OTA_MODEL_ENDPOINT", "self_hosted"),
            ("OTA_OLLAMA_URL", "http://gpu.internal:11434"),
        ]
    );
    assert!(!format!("{overrides:?}").contains(token.expose()));
}

#[tokio::test]
async fn a_second_answer_to_the_same_wait_changes_nothing() {
    let harness = Harness::start().await;
    let id = harness.start_job(false, TEST_TIMEOUTS).await;
    let token = harness.runner_starts(&id, 1).await;
    harness.runner_succeeds(&token).await.expect("first answer");
    let second = harness.runner_succeeds(&token).await;
    // Step Functions refuses it (the wait is over); moto accepts and ignores it.
    assert!(
        matches!(second, Ok(()) | Err(WorkflowError::TokenExpired)),
        "{second:?}"
    );
    assert_eq!(
        harness.finish_execution(&id).await,
        ExecutionStatus::Succeeded
    );
    let third = harness.runner_succeeds(&token).await;
    assert!(
        matches!(third, Ok(()) | Err(WorkflowError::TokenExpired)),
        "{third:?}"
    );
    while harness.pump().await > 0 {}

    assert_eq!(harness.job(&id).await.status, JobStatus::Succeeded);
    let entered = harness.states_entered(&id).await;
    assert_eq!(
        entered
            .iter()
            .filter(|state| *state == "ReportSucceeded")
            .count(),
        1,
        "{entered:?}"
    );
    assert_eq!(comments(&harness).len(), 1);
    assert_nothing_unexpected(&harness);
}

#[tokio::test]
async fn a_permanent_failure_is_reported_and_not_retried() {
    let harness = Harness::start().await;
    let id = harness.start_job(false, TEST_TIMEOUTS).await;
    let token = harness.runner_starts(&id, 1).await;
    harness
        .runner_fails(
            &token,
            JobError::RunnerBadConfig,
            "`.ollama-turbo.yml` line 3: unknown task `refactr`",
        )
        .await;

    assert_eq!(
        harness.finish_execution(&id).await,
        ExecutionStatus::Succeeded
    );
    let job = harness.job(&id).await;
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(job.attempts, 1, "not retried");
    let error = job.result.and_then(|result| result.error).expect("error");
    assert_eq!(error.name, "Runner.BadConfig");
    assert_eq!(
        harness.states_entered(&id).await,
        [
            "NeedsApproval",
            "ReportRunning",
            "Dispatch",
            "ReportEnded",
            "Ended"
        ]
    );
    let run = check_run(&harness);
    assert_eq!(run["conclusion"], "failure");
    assert_eq!(run["output"]["title"], "Failed: Runner.BadConfig");
    let comments = comments(&harness);
    assert_eq!(comments.len(), 1, "{comments:#?}");
    assert!(
        comments[0].contains("failed:** The repository's configuration"),
        "{}",
        comments[0]
    );
    assert_eq!(harness.github.labels(REPO, PULL), ["automation:failed"]);
    // A failed job's runner is stopped, in case it lingers.
    assert!(harness.runner_tasks(&id, "RUNNING").await.is_empty());
    assert_eq!(harness.runner_tasks(&id, "STOPPED").await.len(), 1);
    assert!(harness.dead_letters().await.is_empty());
    assert_nothing_unexpected(&harness);
}

#[tokio::test]
async fn cancel_while_running_stops_the_runner_task() {
    let harness = Harness::start().await;
    let id = harness.start_job(false, TEST_TIMEOUTS).await;
    let token = harness.runner_starts(&id, 1).await;
    assert_eq!(harness.runner_tasks(&id, "RUNNING").await.len(), 1);
    assert!(
        !harness
            .store
            .slots()
            .await
            .expect("slots")
            .slots
            .leases
            .is_empty()
    );

    harness.cancel(&id, "maintainer").await;
    harness
        .pump_until(&id, "its runner stopped", |_| true)
        .await;
    while harness.pump().await > 0 {}

    assert!(harness.runner_tasks(&id, "RUNNING").await.is_empty());
    let stopped = harness.runner_tasks(&id, "STOPPED").await;
    assert_eq!(stopped.len(), 1, "StopTask was called");
    let described = harness
        .ecs
        .describe_tasks()
        .cluster(&harness.cluster)
        .tasks(&stopped[0])
        .send()
        .await
        .expect("describe");
    assert_eq!(
        described.tasks()[0].stopped_reason(),
        Some(format!("job {id} ended cancelled").as_str())
    );
    let job = harness.job(&id).await;
    assert_eq!(job.status, JobStatus::Cancelled);
    assert_eq!(check_run(&harness)["conclusion"], "cancelled");
    let comments = comments(&harness);
    assert_eq!(comments.len(), 1, "only the policy stage's: {comments:#?}");
    assert!(
        comments[0].contains("@maintainer cancelled job"),
        "{}",
        comments[0]
    );
    assert!(harness.github.labels(REPO, PULL).is_empty());
    assert!(
        harness
            .store
            .slots()
            .await
            .expect("slots")
            .slots
            .leases
            .is_empty()
    );
    // A late answer from the stopped runner cannot revive the job.
    let late = harness.runner_succeeds(&token).await;
    assert!(
        matches!(late, Ok(()) | Err(WorkflowError::TokenExpired)),
        "{late:?}"
    );
    while harness.pump().await > 0 {}
    assert_eq!(harness.job(&id).await.status, JobStatus::Cancelled);
    assert_nothing_unexpected(&harness);
}

#[tokio::test]
async fn a_redelivered_dispatch_starts_no_second_runner() {
    let harness = Harness::start().await;
    let id = harness.start_job(false, TEST_TIMEOUTS).await;
    let token = harness.runner_starts(&id, 1).await;
    // The same message again, as SQS delivers it when a function times out after the
    // runner started.
    let again = serde_json::json!({
        "job": id.as_str(),
        "token": token.expose(),
        "retry": 0,
        "timeouts": TEST_TIMEOUTS,
    });
    harness
        .sqs
        .send_message()
        .queue_url(&harness.queues.dispatch)
        .message_body(again.to_string())
        .send()
        .await
        .expect("redeliver");
    while harness.pump().await > 0 {}

    let job = harness.job(&id).await;
    assert_eq!((job.status, job.attempts), (JobStatus::Running, 1));
    assert_eq!(harness.runner_tasks(&id, "RUNNING").await.len(), 1);
    assert!(harness.runner_tasks(&id, "STOPPED").await.is_empty());
    harness.runner_succeeds(&token).await.expect("answer");
    assert_eq!(
        harness.finish_execution(&id).await,
        ExecutionStatus::Succeeded
    );
    assert_eq!(comments(&harness).len(), 1);
}
