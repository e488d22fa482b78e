//! The triggers of `.ollama-turbo.yml` beyond comments, end to end through `ota serve`:
//! a label added to a pull request or an issue starts its task once and is removed, and
//! `paths` / `paths_ignore` decide whether a push or a pull request starts anything.

use e2e::ota_server::{
    JOB_TIMEOUT, PR, REPO, ServeWorld, eventually, first_job_id, label_added, label_event,
};
use e2e::runner_world::{LIB, REFACTORED, config_with_command};
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
    assert_eq!(pull.base, e2e::git_server::DEFAULT_BRANCH);
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
