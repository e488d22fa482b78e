//! The triggers of `.ollama-turbo.yml` beyond comments, end to end through `ota serve`:
//! a label added to a pull request or an issue starts its task once and is removed, and
//! `paths` / `paths_ignore` decide whether a push or a pull request starts anything; a
//! task's `directory` is where its map, search and command start.

use e2e::delivery::Delivery;
use e2e::fake_github::{Fault, Route};
use e2e::fake_ollama::ChatReply;
use e2e::git_server::DEFAULT_BRANCH;
use e2e::ota_server::{
    JOB_TIMEOUT, PR, PR_BRANCH, REPO, SECRET, ServeWorld, eventually, first_job_id,
    refactor_request,
};
use e2e::policy::pull_request_event;
use e2e::runner_world::{LIB, REFACTORED, config_with_command};
use e2e::serve_events::{label_added, label_event, pushed};
use serde_json::json;
use std::time::Duration;

const OTA: &str = env!("CARGO_BIN_EXE_ota");

const CHECK: &str = "grep -q retry_with_backoff src/lib.rs";

/// How long a delivery that must start nothing is given to start something anyway.
const SETTLE: Duration = Duration::from_secs(3);

/// The usual repository, its `refactor` task also started by the label `ollama:refactor`
/// (written in another case than GitHub's, which compares label names regardless of it).
async fn labeled_world() -> ServeWorld {
    let config = format!(
        "{}  triggers:\n    labeled:\n      - label: \"Ollama:Refactor\"\n        tasks: [refactor]\n",
        config_with_command(CHECK)
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
async fn a_label_on_a_pull_request_starts_its_task_once_and_is_removed() {
    let world = labeled_world().await;
    world.script_checked_refactor();
    world
        .github
        .add_labels(REPO, PR, &["bug", "ollama:refactor"]);
    let server = world.serve(OTA, &["--retry-interval-seconds", "1"]);

    let delivery = label_added("ollama:refactor", true, PR, &world.head).delivery_id("label-once");
    let (status, body) = server.post(&delivery).await;
    assert_eq!(status, 202, "{body}");

    let pull = world.opened_pull(&server).await;
    assert_eq!(world.git.show(REPO, &pull.head, "src/lib.rs"), REFACTORED);
    let labels = eventually(&server, "the label removed", JOB_TIMEOUT, || {
        let labels = world.github.labels(REPO, PR);
        (!labels.iter().any(|label| label == "ollama:refactor")).then_some(labels)
    })
    .await;
    assert!(labels.iter().any(|label| label == "bug"), "{labels:?}");
    let finished = world
        .first_completed_check_run(&server, "the completed check run")
        .await;
    assert_eq!(
        finished.fields["conclusion"], "success",
        "{:?}",
        finished.fields
    );
    assert_eq!(finished.fields["head_sha"], world.head.as_str());

    // GitHub redelivers the event: the job is found by its id, nothing starts again.
    let (status, body) = server.post(&delivery).await;
    assert_eq!(status, 202, "{body}");
    tokio::time::sleep(SETTLE).await;
    assert_eq!(job_count(&world), 1, "{}", world.job_list(OTA));
    assert_eq!(world.github.opened_pulls(REPO).len(), 1);

    let id = first_job_id(&world.job_list(OTA)).expect("a job id");
    let (ok, details) = world.ota(OTA, &["job", &id]);
    assert!(ok, "{details}");
    assert!(
        details.contains("labeled ollama:refactor"),
        "the audit names the trigger: {details}"
    );
    assert!(details.contains(&format!("{REPO}#{PR}")), "{details}");
}

#[tokio::test]
async fn a_label_on_an_issue_works_on_the_default_branch_and_other_labels_start_nothing() {
    const ISSUE: u64 = 1;
    let world = labeled_world().await;
    world.script_quick_refactor();
    world.github.add_labels(REPO, ISSUE, &["ollama:refactor"]);
    let server = world.serve(OTA, &["--retry-interval-seconds", "1"]);

    // A label the config doesn't list starts nothing and stays.
    world.github.add_labels(REPO, ISSUE, &["bug"]);
    assert_eq!(
        server.post(&label_added("bug", false, ISSUE, "")).await.0,
        202
    );
    tokio::time::sleep(SETTLE).await;
    assert_eq!(job_count(&world), 0, "{}", world.job_list(OTA));

    assert_eq!(
        server
            .post(&label_added("ollama:refactor", false, ISSUE, ""))
            .await
            .0,
        202
    );
    let pull = world.opened_pull(&server).await;
    assert_eq!(pull.base, DEFAULT_BRANCH);
    assert_eq!(world.git.show(REPO, &pull.head, "src/lib.rs"), REFACTORED);
    let labels = eventually(&server, "the label removed", JOB_TIMEOUT, || {
        let labels = world.github.labels(REPO, ISSUE);
        (!labels.iter().any(|label| label == "ollama:refactor")).then_some(labels)
    })
    .await;
    assert!(labels.iter().any(|label| label == "bug"), "{labels:?}");
    let jobs = world.job_list(OTA);
    assert!(jobs.contains(&format!("{REPO}#{ISSUE}")), "{jobs}");

    // The App's own removal comes back as `unlabeled`, which starts nothing.
    let (status, body) = server
        .post(&label_event(
            "unlabeled",
            "ollama:refactor",
            false,
            ISSUE,
            "",
        ))
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("ignored")),
        "{body}"
    );
    tokio::time::sleep(SETTLE).await;
    assert_eq!(job_count(&world), 1, "{}", world.job_list(OTA));
    assert!(
        world.github.check_runs(REPO).is_empty(),
        "an issue's job has no commit of its own to check"
    );
}

/// The usual repository, whose `refactor` task a push to the default branch starts,
/// filtered by `paths_key: [patterns]`.
async fn push_world(paths_key: &str, patterns: &str) -> ServeWorld {
    let config = format!(
        "{}  triggers:\n    push:\n      {paths_key}: {patterns}\n      tasks: [refactor]\n",
        config_with_command(CHECK)
    );
    ServeWorld::new(&[("src/lib.rs", LIB)], &config).await
}

#[tokio::test]
async fn a_push_of_only_ignored_paths_starts_nothing_and_one_touching_code_starts_its_task() {
    let world = push_world("paths_ignore", r#"["docs/**", "**/*.md"]"#).await;
    world.script_quick_refactor();
    let server = world.serve(OTA, &["--retry-interval-seconds", "1"]);
    let base = world
        .git
        .commit(REPO, DEFAULT_BRANCH, &[("base.txt", "base\n")], "Base");

    let docs = world.git.commit(
        REPO,
        DEFAULT_BRANCH,
        &[("docs/guide.md", "# Guide\n"), ("README.md", "# Hello\n")],
        "Write the docs",
    );
    let push = pushed(&base, &docs, &["docs/guide.md", "README.md"], false);
    assert_eq!(server.post(&push).await.0, 202);
    tokio::time::sleep(SETTLE).await;
    assert_eq!(job_count(&world), 0, "{}", world.job_list(OTA));
    assert!(
        server
            .log()
            .contains("no changed file passes the trigger's paths"),
        "{}",
        server.log()
    );

    let code = world.git.commit(
        REPO,
        DEFAULT_BRANCH,
        &[
            ("src/extra.rs", "pub fn extra() {}\n"),
            ("README.md", "# Hello again\n"),
        ],
        "Add code",
    );
    let push = pushed(&docs, &code, &["src/extra.rs", "README.md"], false);
    assert_eq!(server.post(&push).await.0, 202);
    let pull = world.opened_pull(&server).await;
    assert_eq!(world.git.show(REPO, &pull.head, "src/lib.rs"), REFACTORED);
    assert_eq!(job_count(&world), 1, "{}", world.job_list(OTA));
    assert!(
        world.github.requests_to(Route::Compare).is_empty(),
        "the payload listed the files; nothing to ask GitHub"
    );
}

#[tokio::test]
async fn a_push_that_creates_the_default_branch_starts_its_task_without_a_comparison() {
    let world = push_world("paths", r#"["src/**"]"#).await;
    world.script_quick_refactor();
    let server = world.serve(OTA, &["--retry-interval-seconds", "1"]);
    let head = world.git.commit(
        REPO,
        DEFAULT_BRANCH,
        &[("src/extra.rs", "pub fn extra() {}\n")],
        "First",
    );

    // The first push of a repository: the branch is created, `before` is all zeros, and
    // GitHub's payload lists no files to trust for a new branch.
    let mut push = pushed(&"0".repeat(40), &head, &[], false);
    let mut payload: serde_json::Value = serde_json::from_slice(&push.body).expect("json");
    payload["created"] = json!(true);
    push = Delivery::json("push", &payload, SECRET);
    assert_eq!(server.post(&push).await.0, 202);
    world.opened_pull(&server).await;
    assert_eq!(job_count(&world), 1, "{}", world.job_list(OTA));
    assert!(
        world.github.requests_to(Route::Compare).is_empty(),
        "a branch compared with itself says nothing"
    );
}

#[tokio::test]
async fn a_rewritten_branch_is_compared_through_the_api() {
    let world = push_world("paths", r#"["src/**"]"#).await;
    world.script_quick_refactor();
    let server = world.serve(OTA, &["--retry-interval-seconds", "1"]);
    let before = world
        .git
        .commit(REPO, DEFAULT_BRANCH, &[("base.txt", "base\n")], "Before");

    // A forced push's commits need not be the whole change: the payload names only the
    // docs, the comparison also the code.
    let after = world.git.commit(
        REPO,
        DEFAULT_BRANCH,
        &[
            ("docs/guide.md", "# Guide\n"),
            ("src/extra.rs", "pub fn extra() {}\n"),
        ],
        "Rewrite",
    );
    world
        .github
        .set_compare(REPO, &before, &after, &["docs/guide.md", "src/extra.rs"]);
    assert_eq!(
        server
            .post(&pushed(&before, &after, &["docs/guide.md"], true))
            .await
            .0,
        202
    );
    world.opened_pull(&server).await;
    let compared = world.github.requests_to(Route::Compare);
    assert_eq!(compared.len(), 1);
    assert!(
        compared[0]
            .path
            .ends_with(&format!("/compare/{before}...{after}")),
        "{}",
        compared[0].path
    );

    // One whose comparison touches no code starts nothing.
    let docs = world
        .git
        .commit(REPO, DEFAULT_BRANCH, &[("docs/more.md", "more\n")], "Docs");
    world
        .github
        .set_compare(REPO, &after, &docs, &["docs/more.md"]);
    assert_eq!(
        server
            .post(&pushed(&after, &docs, &["docs/more.md"], true))
            .await
            .0,
        202
    );
    tokio::time::sleep(SETTLE).await;
    assert_eq!(job_count(&world), 1, "{}", world.job_list(OTA));
}

#[tokio::test]
async fn a_pull_request_starts_its_task_only_when_one_of_its_files_matches() {
    let config = format!(
        "{}  triggers:\n    pr_opened:\n      paths: [\"src/**\"]\n      tasks: [refactor]\n",
        config_with_command(CHECK)
    );
    let world = ServeWorld::new(&[("src/lib.rs", LIB)], &config).await;
    world.script_quick_refactor();
    let server = world.serve(OTA, &["--retry-interval-seconds", "1"]);
    let event = |action: &str| {
        let mut payload = pull_request_event(action, &world.head);
        payload["repository"]["default_branch"] = json!(DEFAULT_BRANCH);
        payload["pull_request"]["head"]["ref"] = json!(PR_BRANCH);
        payload["pull_request"]["base"]["ref"] = json!(DEFAULT_BRANCH);
        Delivery::json("pull_request", &payload, SECRET)
    };

    world.github.set_pull_files(
        REPO,
        PR,
        &[("NOTES.md", "@@ -0,0 +1 @@\n+work in progress")],
    );
    assert_eq!(server.post(&event("opened")).await.0, 202);
    tokio::time::sleep(SETTLE).await;
    assert_eq!(job_count(&world), 0, "{}", world.job_list(OTA));
    assert_eq!(world.github.requests_to(Route::PullFiles).len(), 1);

    world.github.set_pull_files(
        REPO,
        PR,
        &[
            ("NOTES.md", "@@ -0,0 +1 @@\n+work in progress"),
            ("src/lib.rs", "@@ -1 +1 @@\n-a\n+b"),
        ],
    );
    assert_eq!(server.post(&event("synchronize")).await.0, 202);
    let pull = world.opened_pull(&server).await;
    assert_eq!(pull.base, PR_BRANCH);
    assert_eq!(job_count(&world), 1, "{}", world.job_list(OTA));
}

#[tokio::test]
async fn a_label_that_cannot_be_removed_is_logged_with_the_job_and_the_job_runs() {
    let world = labeled_world().await;
    world.script_checked_refactor();
    world.github.add_labels(REPO, PR, &["ollama:refactor"]);
    // Only the first removal, the trigger's own, is refused.
    world
        .github
        .inject(Route::RemoveLabel, 1, Fault::Status(403));
    let server = world.serve(OTA, &["--retry-interval-seconds", "1"]);

    let delivery = label_added("ollama:refactor", true, PR, &world.head);
    assert_eq!(server.post(&delivery).await.0, 202);
    world.opened_pull(&server).await;
    let id = first_job_id(&world.job_list(OTA)).expect("a job id");
    let log = server.log();
    let line = log
        .lines()
        .find(|line| line.contains("could not remove the label that started the job"))
        .unwrap_or_else(|| panic!("no warning in the log:\n{log}"));
    assert!(line.contains(&id), "{line}");
    assert!(line.contains("ollama:refactor"), "{line}");
    assert_eq!(
        world
            .github
            .labels(REPO, PR)
            .iter()
            .filter(|l| *l == "ollama:refactor")
            .count(),
        1
    );
    world.github.take_unexpected();
}

#[tokio::test]
async fn a_task_with_a_directory_maps_and_checks_that_directory() {
    let config = format!(
        "{}      directory: app/\n",
        config_with_command("test -f marker && grep -q retry_with_backoff src/lib.rs")
    );
    let world = ServeWorld::new(
        &[
            ("app/src/lib.rs", LIB),
            ("app/marker", ""),
            ("other/README.md", "# Other\n"),
        ],
        &config,
    )
    .await;
    world
        .ollama
        .push(ChatReply::call(
            "write_file",
            json!({"path": "app/src/lib.rs", "content": REFACTORED}),
        ))
        .push(ChatReply::call("run_command", json!({})))
        .push(ChatReply::call(
            "search",
            json!({"pattern": "retry_with_backoff"}),
        ))
        .push(ChatReply::finish("Extracted the retry loop."));
    let server = world.serve(OTA, &["--retry-interval-seconds", "1"]);

    assert_eq!(server.post(&refactor_request("Codertocat")).await.0, 202);
    let pull = world.opened_pull(&server).await;
    assert_eq!(
        world.git.show(REPO, &pull.head, "app/src/lib.rs"),
        REFACTORED
    );
    let calls = world.ollama.calls();
    let text = |index: usize| {
        calls
            .get(index)
            .map(|call| serde_json::to_string(&call.messages).unwrap_or_default())
            .unwrap_or_default()
    };
    let first = text(0);
    assert!(first.contains("This task works in `app`"), "{first}");
    assert!(
        first.contains("app/"),
        "the map shows the directory: {first}"
    );
    assert!(
        !first.contains("other/"),
        "the map leaves the rest out: {first}"
    );
    // The command ran in `app`, where `marker` is.
    let after_command = text(2);
    assert!(after_command.contains("succeeded"), "{after_command}");
    // A search without a path looked in `app` only.
    let after_search = text(3);
    assert!(after_search.contains("app/src/lib.rs"), "{after_search}");
    let finished = world
        .first_completed_check_run(&server, "the completed check run")
        .await;
    assert_eq!(
        finished.fields["conclusion"], "success",
        "{:?}",
        finished.fields
    );
}
