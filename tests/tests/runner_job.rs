//! The runner's other endings end to end (the main path is in `runner_refactor.rs`): no
//! changes, a spent budget, a review, an unreachable model, short-lived tokens. Each checks
//! what reached the Git remote, GitHub and Step Functions.

use aws_sdk_sfn::types::ExecutionStatus;
use e2e::fake_ollama::ChatReply;
use e2e::runner_world::{PULL_NUMBER, REFACTORED, World};
use ota_runner::job::Finished;
use serde_json::json;
use shared::job::JobError;
use std::time::{Duration, Instant};

#[tokio::test]
async fn no_changes_means_no_commit_and_no_pull_request() {
    let world = World::with_lib("true").await;
    let job = world.start_job("refactor", "tidy up fetch").await;
    world
        .ollama
        .push(ChatReply::read_file("src/lib.rs"))
        .push(ChatReply::finish("The code is already as tidy as it gets."));

    let finished = world.run(&job).await;

    let Finished::Succeeded(output) = finished else {
        panic!("the job should succeed: {finished:?}");
    };
    insta::assert_snapshot!("no_changes_summary", world.redact(&job, &output.summary));
    assert_eq!((output.branch, output.pull_request_url), (None, None));
    assert_eq!(
        world
            .git
            .branch_head(&world.repo, &job.record.branch_name()),
        None
    );
    assert!(world.github.opened_pulls(&world.repo).is_empty());
    let execution = world.finished(&job.execution_arn).await;
    assert_eq!(execution.status, ExecutionStatus::Succeeded);
    assert!(execution.output.unwrap_or_default().contains("No changes"));
    world.github.assert_nothing_unexpected();
}

#[tokio::test]
async fn a_spent_budget_pushes_the_partial_work_and_fails_without_a_pull_request() {
    let world = World::with_lib("true").await;
    let job = world.start_job("refactor", "extract the retry loop").await;
    world
        .ollama
        .push(ChatReply::call(
            "write_file",
            json!({"path": "src/lib.rs", "content": REFACTORED}),
        ))
        .push(ChatReply::read_file("src/lib.rs"));
    let mut runner = world.runner(&job).await;
    runner.agent.max_turns = 2;

    let finished = runner.run_job(&job.record.id).await.expect("runner");

    let Finished::Failed(failure) = finished else {
        panic!("the job should fail: {finished:?}");
    };
    assert_eq!(failure.error, JobError::RunnerBudgetExceeded);
    let branch = job.record.branch_name();
    // Names the branch with the partial work.
    insta::assert_snapshot!("budget_spent_cause", world.redact(&job, &failure.cause));
    assert_eq!(
        world.git.show(&world.repo, &branch, "src/lib.rs"),
        REFACTORED
    );
    let message = world
        .git
        .git(&world.repo, &["log", "-1", "--format=%B", &branch]);
    insta::assert_snapshot!("partial_work_commit_message", world.redact(&job, &message));
    assert!(world.github.opened_pulls(&world.repo).is_empty());
    let execution = world.finished(&job.execution_arn).await;
    assert_eq!(execution.status, ExecutionStatus::Failed);
    assert_eq!(execution.error.as_deref(), Some("Runner.BudgetExceeded"));
}

#[tokio::test]
async fn a_review_posts_inline_comments_and_opens_no_pull_request() {
    let world = World::with_lib("true").await;
    world.github.set_issue(
        &world.repo,
        PULL_NUMBER,
        "Retry fetches",
        "Fetching fails now and then; retry it.",
    );
    let patch = "@@ -1,3 +1,5 @@\n pub fn fetch() {\n+    for attempt in 0..3 {\n+        let _ = attempt;\n+    }\n }";
    world
        .github
        .set_pull_files(&world.repo, PULL_NUMBER, &[("src/lib.rs", patch)]);
    let job = world.start_job("review", "").await;
    world
        .ollama
        .push(ChatReply::read_file("src/lib.rs"))
        .push(ChatReply::call(
            "submit_review",
            json!({"summary": "One thing to look at.", "comments": [
                {"path": "src/lib.rs", "line": 2, "body": "Name the number of attempts."}
            ]}),
        ));

    let finished = world.run(&job).await;

    assert!(matches!(finished, Finished::Succeeded(_)), "{finished:?}");
    // The model was shown what it reviews: the pull request's text and its diff.
    let first = &world.ollama.calls()[0];
    let prompt = serde_json::to_string(&first.messages).expect("messages");
    for expected in [
        "#7: Retry fetches",
        "retry it.",
        "--- a/src/lib.rs",
        "+    for attempt in 0..3 {",
    ] {
        assert!(
            prompt.contains(&expected.replace('"', "\\\"")),
            "prompt lacks {expected}: {prompt}"
        );
    }
    let reviews = world.github.reviews(&world.repo);
    assert_eq!(reviews.len(), 1, "{reviews:?}");
    let review = &reviews[0].fields;
    assert_eq!(reviews[0].number, PULL_NUMBER);
    assert_eq!(review["event"], "COMMENT");
    assert_eq!(review["commit_id"], json!(world.head));
    assert!(
        review["body"]
            .as_str()
            .unwrap_or_default()
            .starts_with("One thing to look at.")
    );
    assert_eq!(
        review["comments"],
        json!([{"path": "src/lib.rs", "line": 2, "side": "RIGHT", "body": "Name the number of attempts."}])
    );
    assert!(world.github.opened_pulls(&world.repo).is_empty());
    assert_eq!(
        world
            .git
            .branch_head(&world.repo, &job.record.branch_name()),
        None
    );
    let execution = world.finished(&job.execution_arn).await;
    assert_eq!(execution.status, ExecutionStatus::Succeeded);
    world.github.assert_nothing_unexpected();
}

#[tokio::test]
async fn an_attempt_that_outlives_its_maximum_runtime_gives_up_as_timed_out() {
    let world = World::with_lib("true").await;
    let job = world.start_job("refactor", "extract the retry loop").await;
    world
        .ollama
        .push(ChatReply::read_file("src/lib.rs").with_pause(Duration::from_secs(30)));
    let mut runner = world.runner(&job).await;
    runner.max_runtime = Duration::from_secs(2);

    let started = Instant::now();
    let finished = runner.run_job(&job.record.id).await.expect("runner");

    let Finished::Failed(failure) = finished else {
        panic!("the job should fail: {finished:?}");
    };
    assert_eq!(failure.error, JobError::RunnerTimedOut);
    assert_eq!(
        failure.cause,
        "The attempt did not finish within its maximum runtime of 2 seconds."
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let execution = world.finished(&job.execution_arn).await;
    assert_eq!(execution.status, ExecutionStatus::Failed);
    assert_eq!(execution.error.as_deref(), Some("Runner.TimedOut"));
    assert!(world.github.opened_pulls(&world.repo).is_empty());
}

#[tokio::test]
async fn an_unreachable_model_fails_the_attempt_as_transient() {
    let world = World::with_lib("true").await;
    let job = world.start_job("refactor", "extract the retry loop").await;
    let down = format!("http://127.0.0.1:{}", e2e::aws::closed_port());

    let finished = world
        .runner_with_ollama(&job, &down)
        .await
        .run_job(&job.record.id)
        .await
        .expect("runner");

    let Finished::Failed(failure) = finished else {
        panic!("the job should fail: {finished:?}");
    };
    assert_eq!(failure.error, JobError::RunnerModelUnavailable);
    assert!(failure.error.is_transient());
    let execution = world.finished(&job.execution_arn).await;
    assert_eq!(execution.status, ExecutionStatus::Failed);
    assert_eq!(execution.error.as_deref(), Some("Runner.ModelUnavailable"));
    assert!(world.github.opened_pulls(&world.repo).is_empty());
}

#[tokio::test]
async fn each_git_operation_and_api_call_asks_for_a_token_so_none_outlives_its_hour() {
    let world = World::with_lib("true").await;
    // Tokens this short-lived are never cached: every ask mints a new one, as happens
    // once a long job's token nears the end of its hour.
    world
        .github
        .set_token_lifetime(std::time::Duration::from_secs(120));
    let job = world.start_job("refactor", "extract the retry loop").await;
    world
        .ollama
        .push(ChatReply::call(
            "write_file",
            json!({"path": "src/lib.rs", "content": REFACTORED}),
        ))
        .push(ChatReply::call("run_command", json!({})))
        .push(ChatReply::finish("Extracted the retry loop."));

    let finished = world.run(&job).await;

    assert!(matches!(finished, Finished::Succeeded(_)), "{finished:?}");
    // The config read, the clone, the push and the pull request each had their own.
    let minted = world.github.minted_tokens().len();
    assert!(minted >= 4, "only {minted} tokens minted");
    assert!(
        world
            .git
            .requests()
            .iter()
            .all(|request| request.authorized)
    );
    assert_eq!(world.github.opened_pulls(&world.repo).len(), 1);
    // The runner's own calls name the App as GitHub asks (the tokens are minted by the
    // control plane, whose client names it too).
    let agents: std::collections::BTreeSet<Option<String>> = world
        .github
        .requests()
        .into_iter()
        .map(|request| request.user_agent)
        .collect();
    let expected = format!(
        "ollama-turbo-agent/{} (+https://github.com/apps/{})",
        env!("CARGO_PKG_VERSION"),
        e2e::fake_github::MANIFEST_APP_SLUG
    );
    assert_eq!(agents, [Some(expected)].into(), "{agents:?}");
}

#[tokio::test]
async fn a_job_whose_command_cant_be_sandboxed_fails_with_the_reason_and_runs_nothing() {
    let world = World::with_lib("touch ran-unsandboxed").await;
    let job = world.start_job("refactor", "extract the retry loop").await;
    let mut runner = world.runner(&job).await;
    runner.agent.sandbox.mode = ota_runner::sandbox::SandboxMode::Missing {
        reason: "`bwrap` (bubblewrap) is not on PATH".to_owned(),
    };

    let finished = runner.run_job(&job.record.id).await.expect("runner");

    let Finished::Failed(failure) = finished else {
        panic!("the job should fail: {finished:?}");
    };
    assert_eq!(failure.error, JobError::RunnerFailed);
    assert_eq!(
        failure.cause,
        "the task's command was not run: this runner can't run the repository's commands \
         in a sandbox: `bwrap` (bubblewrap) is not on PATH"
    );
    assert!(world.ollama.calls().is_empty(), "the agent never started");
    assert!(world.github.opened_pulls(&world.repo).is_empty());
}

#[tokio::test]
async fn a_git_look_alike_written_by_the_command_is_left_out_and_the_work_is_committed() {
    // `git add` refuses `.GIT/...` (it would be the hooks on a case-insensitive file
    // system); a command that writes it must not cost the job its work.
    let world =
        World::with_lib("mkdir -p .GIT/hooks && echo 'exit 1' > .GIT/hooks/pre-commit").await;
    let job = world.start_job("refactor", "extract the retry loop").await;
    world
        .ollama
        .push(ChatReply::call(
            "write_file",
            json!({"path": "src/lib.rs", "content": REFACTORED}),
        ))
        .push(ChatReply::call("run_command", json!({})))
        .push(ChatReply::finish("Extracted the retry loop."));

    let finished = world.run(&job).await;

    let Finished::Succeeded(output) = finished else {
        panic!("the job should succeed: {finished:?}");
    };
    assert!(output.pull_request_url.is_some(), "{output:?}");
    let branch = job.record.branch_name();
    assert_eq!(
        world.git.show(&world.repo, &branch, "src/lib.rs"),
        REFACTORED
    );
    let files = world
        .git
        .git(&world.repo, &["ls-tree", "-r", "--name-only", &branch]);
    assert!(!files.to_ascii_lowercase().contains(".git/"), "{files}");
    assert_eq!(world.github.opened_pulls(&world.repo).len(), 1);
}
