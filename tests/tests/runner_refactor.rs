//! The runner's main path end to end, with its logs captured at every level: a refactor
//! job in DynamoDB (moto) waiting on a real task token, the repository on a real Git
//! server, GitHub and Ollama faked at the network edge. Checks what reached the remote,
//! GitHub and Step Functions, that heartbeats went out, and that the installation token
//! appears nowhere. Its own test binary: capturing logs per test races with other tests'
//! threads.

use aws_sdk_sfn::types::ExecutionStatus;
use base64::Engine;
use e2e::fake_ollama::{ChatReply, Reply};
use e2e::logs::CapturedLogs;
use e2e::runner_world::{REFACTORED, World};
use ota_runner::job::Finished;
use serde_json::json;
use shared::job::JobStatus;
use shared::ports::JobStore;
use std::time::Duration;

/// The refactor's check: shows the clone's git config and the command's environment (for
/// the token checks), then passes only if the refactoring is in place.
const CHECK: &str = "cat .git/config; env; grep -q retry_with_backoff src/lib.rs";

fn every_form_of(tokens: &[String]) -> Vec<String> {
    tokens
        .iter()
        .flat_map(|token| {
            let basic =
                base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"));
            [token.clone(), basic]
        })
        .collect()
}

fn assert_absent(what: &str, text: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(
            !text.contains(secret.as_str()),
            "a token leaked into {what}"
        );
    }
}

#[tokio::test]
async fn a_refactor_is_committed_pushed_and_proposed() {
    let logs = CapturedLogs::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    let world = World::with_lib(CHECK).await;
    let job = world
        .start_job("refactor", "extract the retry loop into a function")
        .await;
    world
        .ollama
        .push(ChatReply::call("search", json!({"pattern": "for attempt"})).with_counts(4_000, 10))
        .push(ChatReply::read_file("src/lib.rs").with_counts(4_000, 10))
        .push(
            ChatReply::call(
                "write_file",
                json!({"path": "src/lib.rs", "content": REFACTORED}),
            )
            .with_counts(4_000, 10),
        )
        // Slow enough for a few heartbeats to be sent while the job runs.
        .push(
            Reply::from(ChatReply::call("run_command", json!({})).with_counts(4_000, 10))
                .after(Duration::from_secs(2)),
        )
        .push(
            ChatReply::finish(
                "Extracted the retry loop into `retry_with_backoff` so `fetch` reads as one step.",
            )
            .with_counts(4_000, 10),
        );

    let finished = world.run(&job).await;

    let Finished::Succeeded(output) = finished else {
        panic!("the job should succeed: {finished:?}");
    };
    let branch = job.record.branch_name();
    assert!(branch.starts_with("ollama/refactor-"), "{branch}");

    // The remote: the branch, one commit on the job's commit, the file, the trailer.
    let head = world
        .git
        .branch_head(&world.repo, &branch)
        .expect("branch pushed");
    let parent = world
        .git
        .git(&world.repo, &["rev-parse", &format!("{head}^")]);
    assert_eq!(parent.trim(), world.head);
    assert_eq!(
        world.git.show(&world.repo, &branch, "src/lib.rs"),
        REFACTORED
    );
    let message = world
        .git
        .git(&world.repo, &["log", "-1", "--format=%B", &branch]);
    // The request as its subject, the model's summary, the job as a trailer.
    insta::assert_snapshot!("commit_message", world.redact(&job, &message));
    let author = world.git.git(
        &world.repo,
        &["log", "-1", "--format=%an <%ae>|%cn", &branch],
    );
    assert_eq!(
        author.trim(),
        "ollama-turbo-agent[bot] <ollama-turbo-agent[bot]@users.noreply.github.com>|ollama-turbo-agent[bot]"
    );
    assert!(
        world
            .git
            .requests()
            .iter()
            .all(|request| request.authorized)
    );

    // GitHub: one pull request from the branch into the branch the request came from.
    let pulls = world.github.opened_pulls(&world.repo);
    assert_eq!(pulls.len(), 1, "{pulls:?}");
    let pull = &pulls[0];
    assert_eq!(
        (pull.head.as_str(), pull.base.as_str()),
        (branch.as_str(), "main")
    );
    assert_eq!(
        pull.title,
        "ollama refactor: extract the retry loop into a function"
    );
    // What changed and why, the files, the check and its result, the model, the tokens,
    // the turns, the job.
    insta::assert_snapshot!("pull_request_body", world.redact(&job, &pull.body));
    let check = world.github.check_runs(&world.repo);
    assert_eq!(check[0].fields["status"], "in_progress");
    // The live steps carry timings, and how far they got depends on when the last
    // update went out: checked in part.
    let text = check[0].fields["output"]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("run_command done"), "{text}");
    assert!(
        text.contains("Full log: https://logs.example/runner/abc"),
        "{text}"
    );
    world.github.assert_nothing_unexpected();

    // Step Functions: the wait ended with the run's output.
    let execution = world.finished(&job.execution_arn).await;
    assert_eq!(execution.status, ExecutionStatus::Succeeded);
    let sent: serde_json::Value =
        serde_json::from_str(execution.output.as_deref().unwrap_or("{}")).expect("output");
    assert_eq!(sent["pull_request_url"], json!(pull.url()));
    assert_eq!(sent["branch"], json!(branch));
    assert_eq!(sent["tests"][0]["passed"], json!(true));
    assert_eq!(sent["tokens"], json!({"prompt": 20_000, "completion": 50}));
    assert_eq!(
        output.pull_request_url.as_deref(),
        Some(pull.url().as_str())
    );
    let stored = world
        .store
        .job(&job.record.id)
        .await
        .expect("read")
        .expect("job");
    assert_eq!(stored.status, JobStatus::Running);
    assert!(stored.started_at_ms.is_some());
    let logged = logs.text();
    // Step Functions took heartbeats while the job ran.
    assert!(logged.contains("heartbeat sent"), "no heartbeat was taken");

    // The token: nowhere in logs, the clone's config, the command's environment, the
    // pull request, the commit, the answer.
    let results = world
        .ollama
        .calls()
        .iter()
        .flat_map(|c| c.tool_results())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        results.contains("[remote \"origin\"]"),
        "the check showed the clone's config"
    );
    assert!(
        results.contains("PATH="),
        "the check showed its environment"
    );
    assert!(
        !results.contains("GIT_CONFIG"),
        "git's credential variables reached the command"
    );
    let secrets = every_form_of(&world.minted_tokens());
    assert!(!secrets.is_empty());
    assert_absent("the logs", &logged, &secrets);
    assert_absent(
        "the clone's .git/config or the command's environment",
        &results,
        &secrets,
    );
    assert_absent(
        "the pull request",
        &format!("{} {}", pull.title, pull.body),
        &secrets,
    );
    assert_absent("the commit", &message, &secrets);
    assert_absent("the task output", &sent.to_string(), &secrets);
}
