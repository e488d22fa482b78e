//! Best-of-N end to end through `ota serve`: a task with `candidates: 3` makes three
//! changes from the same commit, each checked with the task's command in the sandbox; the
//! pull request carries the one that passes with the smallest diff, and says how many were
//! tried and why this one won. When candidates tie, the model is shown their diffs and its
//! answer picks one.

use e2e::fake_ollama::ChatReply;
use e2e::ota_server::{
    JOB_TIMEOUT, OtaServer, REPO, ServeWorld, eventually, first_job_id, refactor_request,
};
use e2e::redact::Redact;
use e2e::runner_world::{LIB, REFACTORED, TASK_MODEL};
use serde_json::json;

const OTA: &str = env!("CARGO_BIN_EXE_ota");

/// Passes when the retry loop is extracted and nothing is marked broken.
const CHECK: &str = "grep -q retry_with_backoff src/lib.rs && ! grep -q BROKEN src/lib.rs";

fn config() -> String {
    format!(
        "version: 1\nautomation:\n  defaults:\n    model: {TASK_MODEL}\n  tasks:\n    refactor:\n      command: \"{CHECK}\"\n      auto_fix: false\n      candidates: 3\n"
    )
}

/// A candidate's replies: `content` written to `src/lib.rs`, then `finish`.
fn candidate(world: &ServeWorld, content: &str, summary: &str) {
    world
        .ollama
        .push(ChatReply::call(
            "write_file",
            json!({"path": "src/lib.rs", "content": content}),
        ))
        .push(ChatReply::finish(summary).with_counts(1_000, 50));
}

async fn run_job(world: &ServeWorld) -> (OtaServer, e2e::fake_github::FakeOpenedPull) {
    let server = world.serve(OTA, &[]);
    assert_eq!(server.post(&refactor_request("Codertocat")).await.0, 202);
    let id = eventually(&server, "the job", JOB_TIMEOUT, || {
        first_job_id(&world.job_list(OTA))
    })
    .await;
    let pull = world.opened_pull(&server).await;
    eventually(&server, "the job to succeed", JOB_TIMEOUT, || {
        (world.job_status(OTA, &id) == "succeeded").then_some(())
    })
    .await;
    (server, pull)
}

/// The prompt and completion tokens the pull request's body reports.
fn tokens_in(body: &str) -> (u64, u64) {
    let line = body
        .lines()
        .find_map(|line| line.strip_prefix("- Tokens: "))
        .unwrap_or_else(|| panic!("no tokens line: {body}"));
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|part| part.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}

#[tokio::test]
async fn the_candidate_that_passes_with_the_smallest_diff_is_proposed() {
    let world = ServeWorld::new(&[("src/lib.rs", LIB)], &config()).await;
    // 1: extracted, but marked broken: its check fails.
    let broken = format!("{REFACTORED}// BROKEN\n");
    candidate(&world, &broken, "Extracted the loop (first try).");
    // 2: the plain refactor.
    candidate(&world, REFACTORED, "Extracted the retry loop.");
    // 3: passes too, with more lines.
    let wordy = format!("{REFACTORED}\n/// Retries.\n/// Three times.\nfn unused() {{}}\n");
    candidate(&world, &wordy, "Extracted the loop and documented it.");

    let (_server, pull) = run_job(&world).await;

    // The pushed branch holds candidate 2, and only it.
    assert_eq!(world.git.show(REPO, &pull.head, "src/lib.rs"), REFACTORED);
    assert!(
        pull.body
            .contains("Tried 3 candidates from the same start; kept candidate 2"),
        "{}",
        pull.body
    );
    insta::assert_snapshot!(
        "smallest_passing_candidate_pull_body",
        Redact::new()
            .ids()
            .value(&world.head, "[head]")
            .between("- Time: ", " (", "[time]")
            .after("- Tokens: ", "[tokens]")
            .apply(&pull.body)
    );
    // Each candidate started from the job's commit: every candidate's first write found
    // the original file (the model's first call of each run has only the task prompt).
    let calls = world.ollama.calls();
    assert_eq!(calls.len(), 6, "three runs of two calls, no tie to break");
    for run in [0, 2, 4] {
        assert!(
            calls[run].tool_results().is_empty(),
            "call {run} starts a fresh conversation"
        );
    }
    // All three runs' tokens are the job's: the three finishing calls alone count 3,000
    // prompt and 150 completion tokens.
    let (prompt, completion) = tokens_in(&pull.body);
    assert!(prompt > 3_000 && completion > 150, "{}", pull.body);
    assert_eq!(world.ollama.remaining(), 0);
}

#[tokio::test]
async fn candidates_that_tie_are_chosen_between_by_the_model() {
    let world = ServeWorld::new(&[("src/lib.rs", LIB)], &config()).await;
    // 1 fails; 2 and 3 pass with diffs of the same size.
    candidate(&world, &format!("{REFACTORED}// BROKEN\n"), "First try.");
    candidate(&world, REFACTORED, "Extracted the retry loop.");
    let renamed = REFACTORED.replace("times", "tries");
    candidate(&world, &renamed, "Extracted the retry loop as `tries`.");
    world
        .ollama
        .push(ChatReply::text("3. `tries` says what the number counts."));

    let (_server, pull) = run_job(&world).await;

    assert_eq!(world.git.show(REPO, &pull.head, "src/lib.rs"), renamed);
    assert!(
        pull.body.contains(
            "kept candidate 3: candidates passed with diffs of the same size, and the model \
             chose this one: `tries` says what the number counts."
        ),
        "{}",
        pull.body
    );
    // The question: no tools, both tied diffs, not the failed one.
    let calls = world.ollama.calls();
    assert_eq!(calls.len(), 7);
    let question = &calls[6];
    assert!(
        question.tool_names().is_empty(),
        "the tie question offers no tools"
    );
    let asked = question.with_role("user")[0]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        asked.contains("Candidate 2:") && asked.contains("Candidate 3:"),
        "{asked}"
    );
    assert!(!asked.contains("Candidate 1:"), "{asked}");
    assert!(
        asked.contains("+fn retry_with_backoff(tries: u32) {"),
        "{asked}"
    );
}
