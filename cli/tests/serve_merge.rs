//! `output.merge: after_approval` end to end through `ota serve`: the App merges a pull
//! request it opened once someone with write access approved its head and the head's
//! checks passed, in either order (the approval last, or the check suite last), with the
//! configured method and once however often the events come; never an approval of an
//! older head, a reader's approval, a pull request of a person's, or without the setting.

use e2e::fake_github::{BOT_LOGIN, FakeHeadRun, FakePull, Route};
use e2e::git_server::DEFAULT_BRANCH;
use e2e::ota_server::{JOB_TIMEOUT, OtaServer, PR, PR_BRANCH, REPO, ServeWorld, eventually};
use e2e::runner_world::{LIB, TASK_MODEL};
use e2e::serve_events::{check_suite_completed, review_submitted};
use std::time::Duration;

const OTA: &str = env!("CARGO_BIN_EXE_ota");

/// How long a delivery that must merge nothing is given to merge anyway.
const SETTLE: Duration = Duration::from_secs(3);

/// A user with read access only.
const READER: &str = "octoreader";

/// The usual repository with `output` as given; pull request #2 is the App's unless
/// `app_pull` is false, and its head's CI passed.
async fn merge_world(output: &str, app_pull: bool) -> ServeWorld {
    let config = format!("version: 1\nautomation:\n  defaults:\n    model: {TASK_MODEL}\n{output}");
    let world = ServeWorld::new(&[("src/lib.rs", LIB)], &config).await;
    if app_pull {
        world.github.set_pull_author(REPO, PR, BOT_LOGIN);
    }
    world.github.set_role(REPO, READER, "read");
    world.github.set_head_runs(
        REPO,
        &world.head,
        &[FakeHeadRun::completed("test", "success")],
    );
    world
}

const MERGE_SQUASH: &str = "  output:\n    merge: after_approval\n    merge_method: squash\n";

/// Waits until the server asked GitHub for `login`'s role: the delivery was looked at.
async fn role_asked(world: &ServeWorld, server: &OtaServer, login: &str) {
    let path = format!("/repos/{REPO}/collaborators/{login}/permission");
    eventually(server, "the reviewer's role asked", JOB_TIMEOUT, || {
        world
            .github
            .requests_to(Route::Permission)
            .iter()
            .any(|request| request.path == path)
            .then_some(())
    })
    .await;
}

/// The App's comments on pull request #2 that say it merged.
fn merge_comments(world: &ServeWorld) -> Vec<String> {
    world
        .github
        .comment_bodies(REPO, PR)
        .into_iter()
        .filter(|body| body.contains("Merged"))
        .collect()
}

#[tokio::test]
async fn a_writers_approval_of_a_green_head_merges_once_with_the_configured_method() {
    let world = merge_world(MERGE_SQUASH, true).await;
    let server = world.serve(OTA, &["--retry-interval-seconds", "1"]);

    world
        .github
        .add_user_review(REPO, PR, "Codertocat", "APPROVED", &world.head);
    let approval = review_submitted(
        "approved",
        "Codertocat",
        &world.head,
        &world.head,
        BOT_LOGIN,
    );
    let (status, body) = server.post(&approval).await;
    assert_eq!(status, 202, "{body}");
    let merge = eventually(&server, "the merge", JOB_TIMEOUT, || {
        world.github.merges(REPO).into_iter().next()
    })
    .await;
    assert_eq!(merge.number, PR);
    assert_eq!(merge.head, world.head, "pinned to the approved head");
    assert_eq!(merge.method, "squash");
    let comment = world
        .comment_containing(&server, "the merge comment", "Merged")
        .await;
    let shown = comment
        .body
        .replace(&world.head, "HEAD")
        .replace(&world.head[..7], "SHORT");
    insta::assert_snapshot!(shown);
    // The merge, and nothing else the stage did, had a token that writes contents.
    let writers: Vec<_> = world
        .github
        .minted_tokens()
        .into_iter()
        .filter(|token| token.permissions.get("contents").map(String::as_str) == Some("write"))
        .map(|token| token.permissions)
        .collect();
    assert_eq!(writers.len(), 1, "{writers:#?}");
    assert_eq!(
        writers[0].keys().collect::<Vec<_>>(),
        ["contents", "metadata"],
        "a token for the merge alone"
    );

    // The same delivery again, and a check suite completing afterwards: the pull request
    // is merged, nothing happens twice.
    assert_eq!(server.post(&approval).await.0, 202);
    let suite = check_suite_completed(701, "success", &world.head, "Codertocat");
    assert_eq!(server.post(&suite).await.0, 202);
    tokio::time::sleep(SETTLE).await;
    assert_eq!(world.github.merges(REPO).len(), 1);
    assert_eq!(
        merge_comments(&world).len(),
        1,
        "{:?}",
        merge_comments(&world)
    );
}

#[tokio::test]
async fn an_approval_of_an_older_head_or_by_a_reader_merges_nothing() {
    let world = merge_world(MERGE_SQUASH, true).await;
    let server = world.serve(OTA, &["--retry-interval-seconds", "1"]);

    // A reader approves the head: not enough.
    world
        .github
        .add_user_review(REPO, PR, READER, "APPROVED", &world.head);
    let by_reader = review_submitted("approved", READER, &world.head, &world.head, BOT_LOGIN);
    assert_eq!(server.post(&by_reader).await.0, 202);
    role_asked(&world, &server, READER).await;

    // A writer approves, but the head moved since: that approval is of an older commit.
    let older = world.head.clone();
    let newer = world
        .git
        .commit(REPO, PR_BRANCH, &[("NOTES.md", "more work\n")], "More work");
    world.github.set_pull_request(
        REPO,
        FakePull {
            number: PR,
            state: "open".to_owned(),
            head_sha: newer.clone(),
            head_ref: PR_BRANCH.to_owned(),
            base_ref: DEFAULT_BRANCH.to_owned(),
            head_repo: Some(REPO.to_owned()),
        },
    );
    world
        .github
        .set_head_runs(REPO, &newer, &[FakeHeadRun::completed("test", "success")]);
    world
        .github
        .add_user_review(REPO, PR, "Codertocat", "APPROVED", &older);
    let stale = review_submitted("approved", "Codertocat", &older, &older, BOT_LOGIN);
    assert_eq!(server.post(&stale).await.0, 202);
    // Its checks passing on the new head changes nothing either.
    let suite = check_suite_completed(702, "success", &newer, "Codertocat");
    assert_eq!(server.post(&suite).await.0, 202);
    tokio::time::sleep(SETTLE).await;
    assert!(world.github.merges(REPO).is_empty());
    assert!(world.github.requests_to(Route::MergePull).is_empty());
    assert!(merge_comments(&world).is_empty());
    let log = server.log();
    assert!(
        log.contains(&format!(
            "its head's approvers lack write access: {READER} (read)"
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "the approval is of an older head, {}, not of its head {}",
            &older[..7],
            &newer[..7]
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!("no approval of its head {}", &newer[..7])),
        "{log}"
    );
}

#[tokio::test]
async fn checks_that_fail_or_run_at_the_approval_hold_the_merge_until_a_suite_passes() {
    let world = merge_world("  output:\n    merge: after_approval\n", true).await;
    world.github.set_head_runs(
        REPO,
        &world.head,
        &[
            FakeHeadRun::completed("lint", "failure"),
            FakeHeadRun::in_progress("test"),
        ],
    );
    let server = world.serve(OTA, &["--retry-interval-seconds", "1"]);

    world
        .github
        .add_user_review(REPO, PR, "Codertocat", "APPROVED", &world.head);
    let approval = review_submitted(
        "approved",
        "Codertocat",
        &world.head,
        &world.head,
        BOT_LOGIN,
    );
    assert_eq!(server.post(&approval).await.0, 202);
    role_asked(&world, &server, "Codertocat").await;
    tokio::time::sleep(SETTLE).await;
    assert!(world.github.merges(REPO).is_empty(), "a check failed");
    assert!(
        server.log().contains("checks did not pass: lint"),
        "{}",
        server.log()
    );

    // `lint` is fixed by a re-run; `test` still runs.
    world.github.set_head_runs(
        REPO,
        &world.head,
        &[
            FakeHeadRun::completed("lint", "success"),
            FakeHeadRun::in_progress("test"),
        ],
    );
    let lint_passed = check_suite_completed(801, "success", &world.head, "Codertocat");
    assert_eq!(server.post(&lint_passed).await.0, 202);
    tokio::time::sleep(SETTLE).await;
    assert!(world.github.merges(REPO).is_empty(), "a check still runs");
    assert!(
        server.log().contains("checks still running: test"),
        "{}",
        server.log()
    );

    // Everything passed, but branch protection holds the pull request back: GitHub's 405
    // is "not yet", not an error.
    world.github.set_head_runs(
        REPO,
        &world.head,
        &[
            FakeHeadRun::completed("lint", "success"),
            FakeHeadRun::completed("test", "success"),
        ],
    );
    world.github.set_mergeable(REPO, PR, false);
    let test_passed = check_suite_completed(802, "success", &world.head, "Codertocat");
    assert_eq!(server.post(&test_passed).await.0, 202);
    eventually(&server, "the refused merge", JOB_TIMEOUT, || {
        (!world.github.requests_to(Route::MergePull).is_empty()).then_some(())
    })
    .await;
    let refused = world.github.take_unexpected();
    assert!(
        refused.len() == 1 && refused[0].status == 405,
        "GitHub's refusal, and nothing else: {refused:#?}"
    );
    assert!(world.github.merges(REPO).is_empty());

    // Once GitHub allows it, the next suite merges, with the default method.
    world.github.set_mergeable(REPO, PR, true);
    let again = check_suite_completed(803, "success", &world.head, "Codertocat");
    assert_eq!(server.post(&again).await.0, 202);
    let merge = eventually(&server, "the merge", JOB_TIMEOUT, || {
        world.github.merges(REPO).into_iter().next()
    })
    .await;
    assert_eq!(merge.method, "merge");
    world
        .comment_containing(&server, "the merge comment", "Merged with a merge commit")
        .await;
    assert_eq!(world.github.merges(REPO).len(), 1);
}

#[tokio::test]
async fn without_the_setting_or_on_a_persons_pull_request_nothing_is_merged() {
    for (output, app_pull) in [("", true), (MERGE_SQUASH, false)] {
        let world = merge_world(output, app_pull).await;
        let server = world.serve(OTA, &["--retry-interval-seconds", "1"]);
        world
            .github
            .add_user_review(REPO, PR, "Codertocat", "APPROVED", &world.head);
        let author = if app_pull { BOT_LOGIN } else { "Codertocat" };
        let approval = review_submitted("approved", "Codertocat", &world.head, &world.head, author);
        assert_eq!(server.post(&approval).await.0, 202);
        let suite = check_suite_completed(901, "success", &world.head, "Codertocat");
        assert_eq!(server.post(&suite).await.0, 202);
        tokio::time::sleep(SETTLE).await;
        assert!(
            world.github.requests_to(Route::MergePull).is_empty(),
            "output {output:?}, the App's pull request: {app_pull}"
        );
        assert!(world.github.merges(REPO).is_empty());
        assert!(merge_comments(&world).is_empty());
    }
}

#[tokio::test]
async fn a_merge_method_the_repository_does_not_allow_merges_nothing_and_says_why() {
    let world = merge_world(MERGE_SQUASH, true).await;
    world.github.set_merge_methods(REPO, &["merge", "rebase"]);
    let server = world.serve(OTA, &["--retry-interval-seconds", "1"]);

    world
        .github
        .add_user_review(REPO, PR, "Codertocat", "APPROVED", &world.head);
    let approval = review_submitted(
        "approved",
        "Codertocat",
        &world.head,
        &world.head,
        BOT_LOGIN,
    );
    assert_eq!(server.post(&approval).await.0, 202);
    eventually(&server, "the refused merge", JOB_TIMEOUT, || {
        (!world.github.requests_to(Route::MergePull).is_empty()).then_some(())
    })
    .await;
    tokio::time::sleep(SETTLE).await;
    let refused = world.github.take_unexpected();
    assert!(
        refused.len() == 1 && refused[0].status == 405,
        "GitHub's refusal, and nothing else: {refused:#?}"
    );
    assert_eq!(
        world.github.requests_to(Route::MergePull).len(),
        1,
        "a refusal is not retried"
    );
    assert!(world.github.merges(REPO).is_empty());
    assert!(merge_comments(&world).is_empty());
    let log = server.log();
    assert!(
        log.contains("the repository does not allow `automation.output.merge_method`")
            && log.contains("Squash merges are not allowed on this repository."),
        "{log}"
    );
}
