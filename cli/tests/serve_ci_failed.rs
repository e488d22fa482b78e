//! The `ci_failed` trigger end to end through `ota serve`: a pull request's failing check
//! suite starts `fix` on its head with the failing checks' output in the task text, once
//! per head however many suites fail or deliveries repeat; the fix is pushed onto the
//! pull request's branch with `output.push_to_pr_branch`, else proposed in a pull
//! request against it; and the App stops after `max_attempts` failures of its own fixes.

use e2e::fake_github::{BOT_LOGIN, FakeCiRun, FakePull};
use e2e::git_server::DEFAULT_BRANCH;
use e2e::ota_server::{JOB_TIMEOUT, PR, PR_BRANCH, REPO, ServeWorld, eventually, refactor_request};
use e2e::runner_world::{LIB, REFACTORED, TASK_MODEL, config_with_command};
use e2e::serve_events::check_suite_completed;
use std::time::Duration;

const OTA: &str = env!("CARGO_BIN_EXE_ota");

const CHECK: &str = "grep -q retry_with_backoff src/lib.rs";

/// How long a delivery that must start nothing is given to start something anyway.
const SETTLE: Duration = Duration::from_secs(3);

/// What the failing CI says: one failed run with an annotation, one that passed.
fn failing_ci() -> Vec<FakeCiRun> {
    vec![
        FakeCiRun {
            name: "test".to_owned(),
            conclusion: "failure".to_owned(),
            title: "1 test failed".to_owned(),
            summary: "fetch_retries_with_backoff failed".to_owned(),
            text: String::new(),
            annotations: vec![
                (
                    "src/lib.rs".to_owned(),
                    2,
                    "failure".to_owned(),
                    "cannot find function `retry_with_backoff`".to_owned(),
                ),
                (
                    "src/lib.rs".to_owned(),
                    1,
                    "notice".to_owned(),
                    "a notice is not a failure".to_owned(),
                ),
            ],
        },
        FakeCiRun {
            name: "lint".to_owned(),
            conclusion: "success".to_owned(),
            ..FakeCiRun::default()
        },
    ]
}

/// The usual repository with `ci_failed` starting `fix`, and `output` as given.
async fn ci_world(extra: &str) -> ServeWorld {
    let config = format!(
        "version: 1\nautomation:\n  defaults:\n    model: {TASK_MODEL}\n  tasks:\n    fix:\n      command: \"{CHECK}\"\n  triggers:\n    ci_failed:\n      tasks: [fix]\n{extra}"
    );
    ServeWorld::new(&[("src/lib.rs", LIB)], &config).await
}

/// The jobs `ota jobs` lists (the lines below its header).
fn job_count(world: &ServeWorld) -> usize {
    world
        .job_list(OTA)
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .count()
}

#[tokio::test]
async fn a_failing_suite_starts_one_fix_pushed_onto_the_pull_requests_branch() {
    let world = ci_world("  output:\n    push_to_pr_branch: true\n").await;
    world.script_checked_refactor();
    world.github.set_ci_suite(REPO, 501, &failing_ci());
    world.github.set_ci_suite(REPO, 502, &failing_ci());
    let server = world.serve(OTA, &["--retry-interval-seconds", "1"]);

    let delivery =
        check_suite_completed(501, "failure", &world.head, "Codertocat").delivery_id("suite-501");
    let (status, body) = server.post(&delivery).await;
    assert_eq!(status, 202, "{body}");

    let pushed = eventually(&server, "the fix on the branch", JOB_TIMEOUT, || {
        world
            .git
            .branch_head(REPO, PR_BRANCH)
            .filter(|head| *head != world.head)
    })
    .await;
    assert_eq!(world.git.show(REPO, &pushed, "src/lib.rs"), REFACTORED);
    let parent = world.git.git(REPO, &["rev-parse", &format!("{pushed}^")]);
    assert_eq!(parent.trim(), world.head, "a fast-forward of the branch");
    let finished = world
        .first_completed_check_run(&server, "the completed check run")
        .await;
    assert_eq!(
        finished.fields["conclusion"], "success",
        "{:?}",
        finished.fields
    );
    assert!(world.github.opened_pulls(REPO).is_empty());

    // The failing checks are in the task's text; the passing one and the notice are not.
    let prompt = world
        .ollama
        .calls()
        .first()
        .map(|call| serde_json::to_string(&call.messages).unwrap())
        .expect("a chat call");
    assert!(prompt.contains("## test (failure)"), "{prompt}");
    assert!(
        prompt.contains("src/lib.rs:2: cannot find function `retry_with_backoff`"),
        "{prompt}"
    );
    assert!(!prompt.contains("lint"), "{prompt}");
    assert!(!prompt.contains("a notice is not a failure"), "{prompt}");

    // The same delivery again, and another workflow's suite failing on the same head:
    // the job is found by its id, nothing starts again.
    assert_eq!(server.post(&delivery).await.0, 202);
    let other =
        check_suite_completed(502, "failure", &world.head, "Codertocat").delivery_id("suite-502");
    assert_eq!(server.post(&other).await.0, 202);
    tokio::time::sleep(SETTLE).await;
    assert_eq!(job_count(&world), 1, "{}", world.job_list(OTA));
    assert_eq!(world.ollama.calls().len(), 4, "one job's turns only");
}

#[tokio::test]
async fn without_push_to_pr_branch_the_fix_is_proposed_and_own_failures_stop_at_max_attempts() {
    let world = ci_world("      max_attempts: 1\n").await;
    world.script_checked_refactor();
    world.github.set_ci_suite(REPO, 601, &failing_ci());
    let server = world.serve(OTA, &["--retry-interval-seconds", "1"]);

    // A passing suite starts nothing.
    let passed = check_suite_completed(600, "success", &world.head, "Codertocat");
    assert_eq!(server.post(&passed).await.0, 202);
    tokio::time::sleep(SETTLE).await;
    assert_eq!(job_count(&world), 0, "{}", world.job_list(OTA));

    let failed = check_suite_completed(601, "failure", &world.head, "Codertocat");
    assert_eq!(server.post(&failed).await.0, 202);
    let pull = world.opened_pull(&server).await;
    assert_eq!(
        pull.base, PR_BRANCH,
        "proposed against the pull request's branch"
    );
    assert_eq!(world.git.show(REPO, &pull.head, "src/lib.rs"), REFACTORED);
    assert_eq!(
        world.git.branch_head(REPO, PR_BRANCH).as_deref(),
        Some(world.head.as_str())
    );

    // The App's fix lands on the branch and its checks fail too: with `max_attempts: 1`,
    // no second fix starts, and the pull request is told why.
    let own = world.git.commit(
        REPO,
        PR_BRANCH,
        &[("src/lib.rs", REFACTORED)],
        "Fix the build",
    );
    world.github.set_pull_request(
        REPO,
        FakePull {
            number: PR,
            state: "open".to_owned(),
            head_sha: own.clone(),
            head_ref: PR_BRANCH.to_owned(),
            base_ref: DEFAULT_BRANCH.to_owned(),
            head_repo: Some(REPO.to_owned()),
        },
    );
    world.github.set_ci_suite(REPO, 602, &failing_ci());
    let again = check_suite_completed(602, "failure", &own, BOT_LOGIN);
    assert_eq!(server.post(&again).await.0, 202);
    let comment = world
        .comment_containing(&server, "the comment that gives up", "fix attempt")
        .await;
    let shown = comment
        .body
        .replace(&own, "HEAD")
        .replace(&own[..7], "SHORT");
    insta::assert_snapshot!(shown);
    assert_eq!(job_count(&world), 1, "{}", world.job_list(OTA));
}

#[tokio::test]
async fn push_direct_pushes_a_commented_job_onto_the_pull_requests_branch() {
    let config = format!(
        "{}  output:\n    push_direct: true\n",
        config_with_command(CHECK)
    );
    let world = ServeWorld::new(&[("src/lib.rs", LIB)], &config).await;
    world.script_checked_refactor();
    let server = world.serve(OTA, &["--retry-interval-seconds", "1"]);

    let (status, body) = server.post(&refactor_request("Codertocat")).await;
    assert_eq!(status, 202, "{body}");
    let pushed = eventually(&server, "the commit on the branch", JOB_TIMEOUT, || {
        world
            .git
            .branch_head(REPO, PR_BRANCH)
            .filter(|head| *head != world.head)
    })
    .await;
    assert_eq!(world.git.show(REPO, &pushed, "src/lib.rs"), REFACTORED);
    let finished = world
        .first_completed_check_run(&server, "the completed check run")
        .await;
    assert_eq!(
        finished.fields["conclusion"], "success",
        "{:?}",
        finished.fields
    );
    assert!(world.github.opened_pulls(REPO).is_empty());
}
