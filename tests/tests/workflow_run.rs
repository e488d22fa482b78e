//! The job workflow without approval, run by moto from `statemachine/job.asl.json`, with
//! the real dispatch and report handlers on its queues: a job that succeeds, a duplicate
//! answer, a permanent failure, `/cancel` while the runner runs, and a job's tokens
//! counted once for its installation.

use aws_sdk_sfn::types::ExecutionStatus;
use e2e::workflow::actors::TEST_TIMEOUTS;
use e2e::workflow::seen::{assert_ignored, error_name};
use e2e::workflow::{CONTAINER, Harness};
use shared::job::{JobError, JobStatus};

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
    assert_eq!(harness.check_run_fields()["status"], "in_progress");
    assert_eq!(harness.labels(), ["automation:pending"]);
    harness.runner_succeeds(&token).await.expect("answer");

    let job = harness.finished_job(&id).await;
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

    let run = harness.check_run_fields();
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
    insta::assert_snapshot!(
        "succeeded_check_run",
        harness.redact(&id, &harness.check_run().shown()).await
    );
    insta::assert_snapshot!(
        "succeeded_comment",
        harness.redact(&id, &harness.the_comment()).await
    );
    assert_eq!(harness.labels(), ["automation:applied"]);
    // The slot is the runner's until ECS says its task stopped.
    assert_eq!(harness.leases().await.len(), 1);
    harness
        .dispatcher
        .runner_exited(&id, 1)
        .await
        .expect("the runner's task stopped");
    assert!(harness.leases().await.is_empty());
    harness.assert_nothing_unexpected();

    // The runner was told its job and endpoint, never its token.
    let tasks = harness.runner_tasks(&id, "RUNNING").await;
    assert_eq!(
        tasks.len(),
        1,
        "the runner of a succeeded job is left to exit"
    );
    let task = harness.describe_task(&tasks[0]).await;
    assert_eq!(task.started_by(), Some(id.as_str()));
    let overrides = task.overrides().expect("overrides");
    let container = &overrides.container_overrides()[0];
    assert_eq!(container.name(), Some(CONTAINER));
    let mut environment: Vec<(&str, &str)> = container
        .environment()
        .iter()
        .map(|pair| (pair.name().unwrap_or(""), pair.value().unwrap_or("")))
        .collect();
    // Besides, its attempt's credential: the one the job's grant admits (the job is over
    // by now, so the credential gets only that answer, but not "wrong credential").
    let (name, credential) = environment.pop().expect("the credential");
    assert_eq!(name, shared::ports::CREDENTIAL_VAR);
    let request = shared::dispatch::TokenRequest {
        job: id.clone(),
        attempt: 1,
        credential: shared::job::RunnerCredential::parse(credential).expect("a credential"),
    };
    let grants =
        shared::dispatch::GrantKey::from_app_key(&e2e::fake_github::PRIVATE_KEY_PEM.into());
    let refusal = shared::dispatch::check_token_request(&harness.store, &grants, &request)
        .await
        .expect_err("the job is over");
    assert!(
        matches!(refusal, shared::dispatch::TokenRefusal::Finished { .. }),
        "{refusal}"
    );
    assert_eq!(
        environment,
        [
            ("OTA_JOB_ID", id.as_str()),
            ("OTA_ATTEMPT", "1"),
            ("OTA_MODEL_ENDPOINT", "self_hosted"),
            ("OTA_OLLAMA_URL", "http://gpu.internal:11434"),
            ("OTA_MAX_RUNTIME_SECONDS", "40"),
        ]
    );
    assert!(!format!("{overrides:?}").contains(token.expose()));
}

/// The tokens a job used are added to its installation's counters of the UTC day and
/// month it ended in, by the report Lambda; the report of its end delivered again (SQS
/// delivers at least once) counts nothing twice.
#[tokio::test]
async fn a_job_s_tokens_count_once_even_when_its_end_is_reported_again() {
    use e2e::workflow::actors::run_output;
    use shared::ports::{TokenLedger, TokensUsed};
    use shared::report::{Incoming, WorkflowReport};

    let harness = Harness::start().await;
    let id = harness.start_job(false, TEST_TIMEOUTS).await;
    harness
        .pump_until(&id, "the runner's dispatch", |job| {
            job.status == JobStatus::Dispatching
        })
        .await;
    let token = harness.runner_starts(&id, 1).await;
    harness.runner_succeeds(&token).await.expect("answer");
    let job = harness.finished_job(&id).await;
    assert_eq!(job.status, JobStatus::Succeeded);
    let ended = job.completed_at_ms.expect("the job ended");
    // 12,000 prompt and 3,400 completion tokens, as the runner reported them.
    let counted = TokensUsed {
        day: 15_400,
        month: 15_400,
    };
    assert_eq!(
        harness.store.tokens_used(job.installation, ended).await,
        Ok(counted)
    );

    harness
        .reporter
        .handle(Incoming::Workflow(WorkflowReport::Succeeded {
            job: id.clone(),
            run: run_output(),
        }))
        .await
        .expect("the same report again");
    assert_eq!(
        harness.store.tokens_used(job.installation, ended).await,
        Ok(counted)
    );
}

/// GitHub counts a check run's output in bytes: a long non-ASCII summary (34,000 `é`,
/// 68,000 bytes) within 65,535 characters is still refused with 422 "summary exceeds a
/// maximum bytesize of 65535", and the job's check run must not stay "in progress".
#[tokio::test]
async fn a_long_non_ascii_output_still_completes_the_check_run_and_posts_the_comment() {
    let harness = Harness::start().await;
    let id = harness.start_job(false, TEST_TIMEOUTS).await;
    harness
        .pump_until(&id, "a running check run", |job| {
            job.status == JobStatus::Dispatching
        })
        .await;
    let token = harness.runner_starts(&id, 1).await;
    let mut output = e2e::workflow::actors::run_output();
    output.summary = "é".repeat(34_000);
    output.details = None;
    harness
        .runner_succeeds_with(&token, &output)
        .await
        .expect("answer");

    let job = harness.finished_job(&id).await;
    assert_eq!(
        job.status,
        JobStatus::Succeeded,
        "{:#?} {:#?}",
        job.result,
        harness.github.unexpected()
    );
    let run = harness.check_run_fields();
    assert_eq!(run["status"], "completed", "{:?}", run["status"]);
    assert_eq!(run["conclusion"], "success");
    let summary = run["output"]["summary"].as_str().expect("summary");
    assert!(summary.len() <= 65_535, "{} bytes", summary.len());
    assert!(summary.contains("cut to fit GitHub's limit"));
    assert!(harness.the_comment().contains(&"é".repeat(1_000)));
    assert_eq!(harness.labels(), ["automation:applied"]);
    harness.assert_nothing_unexpected();
}

/// Step Functions counts a state's size in bytes of a JSON text; moto writes it with
/// non-ASCII escaped (`\u00e9`, six bytes for two), which the runner's output budget counts
/// too. A run whose account is 150,000 `é` (300 KB) still ends as a succeeded job, with
/// the account cut, instead of `States.DataLimitExceeded` failing the execution.
#[tokio::test]
async fn a_run_output_of_non_ascii_text_fits_the_workflow_state() {
    let harness = Harness::start().await;
    let id = harness.start_job(false, TEST_TIMEOUTS).await;
    harness
        .pump_until(&id, "a running check run", |job| {
            job.status == JobStatus::Dispatching
        })
        .await;
    let token = harness.runner_starts(&id, 1).await;
    let mut output = e2e::workflow::actors::run_output();
    output.details = Some("é".repeat(150_000));
    harness
        .runner_succeeds_with(&token, &output)
        .await
        .expect("answer");

    let job = harness.finished_job(&id).await;
    assert_eq!(job.status, JobStatus::Succeeded, "{:#?}", job.result);
    let run = harness.check_run_fields();
    assert_eq!(run["conclusion"], "success");
    let text = run["output"]["text"].as_str().expect("text");
    assert!(text.contains(&"é".repeat(1_000)), "{} bytes", text.len());
    harness.assert_nothing_unexpected();
}

#[tokio::test]
async fn a_second_answer_to_the_same_wait_changes_nothing() {
    let harness = Harness::start().await;
    let id = harness.start_job(false, TEST_TIMEOUTS).await;
    let token = harness.runner_starts(&id, 1).await;
    harness.runner_succeeds(&token).await.expect("first answer");
    let second = harness.runner_succeeds(&token).await;
    assert_ignored(&second);
    assert_eq!(
        harness.finish_execution(&id).await,
        ExecutionStatus::Succeeded
    );
    let third = harness.runner_succeeds(&token).await;
    assert_ignored(&third);
    harness.pump_all().await;

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
    assert_eq!(harness.comments().len(), 1);
    harness.assert_nothing_unexpected();
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

    let job = harness.finished_job(&id).await;
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(job.attempts, 1, "not retried");
    assert_eq!(error_name(&job).as_deref(), Some("Runner.BadConfig"));
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
    let run = harness.check_run_fields();
    assert_eq!(run["conclusion"], "failure");
    assert_eq!(run["output"]["title"], "Failed: Runner.BadConfig");
    insta::assert_snapshot!(
        "failed_check_run",
        harness.redact(&id, &harness.check_run().shown()).await
    );
    insta::assert_snapshot!(
        "failed_comment",
        harness.redact(&id, &harness.the_comment()).await
    );
    assert_eq!(harness.labels(), ["automation:failed"]);
    // A failed job's runner is stopped, in case it lingers.
    assert!(harness.runner_tasks(&id, "RUNNING").await.is_empty());
    assert_eq!(harness.runner_tasks(&id, "STOPPED").await.len(), 1);
    assert!(harness.dead_letters().await.is_empty());
    harness.assert_nothing_unexpected();
}

#[tokio::test]
async fn cancel_while_running_stops_the_runner_task() {
    let harness = Harness::start().await;
    let id = harness.start_job(false, TEST_TIMEOUTS).await;
    let token = harness.runner_starts(&id, 1).await;
    assert_eq!(harness.runner_tasks(&id, "RUNNING").await.len(), 1);
    assert!(!harness.leases().await.is_empty());

    harness.cancel(&id, "maintainer").await;
    harness
        .pump_until(&id, "its runner stopped", |_| true)
        .await;
    harness.pump_all().await;

    assert!(harness.runner_tasks(&id, "RUNNING").await.is_empty());
    let stopped = harness.runner_tasks(&id, "STOPPED").await;
    assert_eq!(stopped.len(), 1, "StopTask was called");
    assert_eq!(
        harness.describe_task(&stopped[0]).await.stopped_reason(),
        Some(format!("job {id} ended cancelled").as_str())
    );
    let job = harness.job(&id).await;
    assert_eq!(job.status, JobStatus::Cancelled);
    assert_eq!(harness.check_run_fields()["conclusion"], "cancelled");
    // Only the policy stage's comment.
    insta::assert_snapshot!(
        "cancelled_comment",
        harness.redact(&id, &harness.the_comment()).await
    );
    assert!(harness.labels().is_empty());
    // The stopped runner task's STOPPED event frees its slot.
    assert_eq!(harness.leases().await.len(), 1);
    harness
        .dispatcher
        .runner_exited(&id, 1)
        .await
        .expect("the runner's task stopped");
    assert!(harness.leases().await.is_empty());
    // A late answer from the stopped runner cannot revive the job.
    let late = harness.runner_succeeds(&token).await;
    assert_ignored(&late);
    harness.pump_all().await;
    assert_eq!(harness.job(&id).await.status, JobStatus::Cancelled);
    harness.assert_nothing_unexpected();
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
    harness.pump_all().await;

    let job = harness.job(&id).await;
    assert_eq!((job.status, job.attempts), (JobStatus::Running, 1));
    assert_eq!(harness.runner_tasks(&id, "RUNNING").await.len(), 1);
    assert!(harness.runner_tasks(&id, "STOPPED").await.is_empty());
    harness.runner_succeeds(&token).await.expect("answer");
    assert_eq!(
        harness.finish_execution(&id).await,
        ExecutionStatus::Succeeded
    );
    assert_eq!(harness.comments().len(), 1);
}
