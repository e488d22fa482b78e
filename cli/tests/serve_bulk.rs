//! `ota bulk` end to end through `ota serve`: one task on every repository of the
//! installation a pattern matches, one at a time with `--concurrency 1`, each repository's
//! own config deciding (an invalid one refuses its part), a table of what came of each;
//! the same run again starts nothing new.

use e2e::git_server::DEFAULT_BRANCH;
use e2e::ota_server::{INSTALLATION, JOB_TIMEOUT, OtaServer, REPO, ServeWorld};
use e2e::runner_world::{LIB, config_with_command};
use e2e::serve_events::repositories_changed;
use ota_local::store::Database;
use shared::ids::{InstallationId, RepoFullName};
use shared::job::JobStatus;
use shared::ports::{InstallationStore, JobStore};
use std::path::PathBuf;

const OTA: &str = env!("CARGO_BIN_EXE_ota");

const REPO_ID: u64 = 1_296_269;
/// A second repository of the installation, with the same code and config.
const SECOND: &str = "Codertocat/Second";
const SECOND_ID: u64 = 7_000_001;
/// A repository of the installation whose config is invalid.
const BROKEN: &str = "Codertocat/Broken";
const BROKEN_ID: u64 = 7_000_002;
/// A repository of the installation the pattern does not match.
const ELSEWHERE: &str = "octo-org/elsewhere";
const ELSEWHERE_ID: u64 = 7_000_003;

const COMMAND: &str = "grep -q retry_with_backoff src/lib.rs";

/// Runs `ota bulk` with `args` on the world's data directory: exit success, stdout (the
/// table), stderr (the progress).
async fn bulk(data_dir: PathBuf, args: &[&str]) -> (bool, String, String) {
    let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let output = std::process::Command::new(OTA)
            .arg("bulk")
            .arg("--data-dir")
            .arg(&data_dir)
            .args(&args)
            .env_remove("OTA_DATA_DIR")
            .env("USER", "alice")
            .output()
            .expect("run ota bulk");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    })
    .await
    .expect("ota bulk ran")
}

/// Installs the App on the repositories and waits until the server has recorded them.
async fn install(world: &ServeWorld, server: &OtaServer, repos: &[(&str, u64)]) {
    for (repo, id) in repos {
        let (status, body) = server.post(&repositories_changed("added", repo, *id)).await;
        assert_eq!(status, 202, "{body}");
    }
    let db = Database::open(world.data_dir()).expect("the database");
    let deadline = std::time::Instant::now() + JOB_TIMEOUT;
    while db
        .repositories(InstallationId(INSTALLATION))
        .await
        .expect("the store")
        .len()
        < repos.len()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the repositories were not recorded; the server's log:\n{}",
            server.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_task_runs_on_each_matching_repository_in_turn_and_the_same_run_again_starts_nothing() {
    let config = config_with_command(COMMAND);
    let world = ServeWorld::with_lib(COMMAND).await;
    world
        .github
        .set_repository(REPO, REPO_ID, DEFAULT_BRANCH, false);
    let second = world.git.create_repo(
        SECOND,
        &[("src/lib.rs", LIB), (".ollama-turbo.yml", &config)],
    );
    world.github.set_branch(SECOND, DEFAULT_BRANCH, &second);
    world
        .github
        .set_repository(SECOND, SECOND_ID, DEFAULT_BRANCH, false);
    world
        .github
        .set_repository(BROKEN, BROKEN_ID, DEFAULT_BRANCH, false);
    for git_ref in ["", DEFAULT_BRANCH] {
        world
            .github
            .set_file(SECOND, git_ref, ".ollama-turbo.yml", config.as_str());
        world
            .github
            .set_file(BROKEN, git_ref, ".ollama-turbo.yml", "version: 9\n");
    }
    let server = world.serve(OTA, &[]);
    install(
        &world,
        &server,
        &[
            (REPO, REPO_ID),
            (SECOND, SECOND_ID),
            (BROKEN, BROKEN_ID),
            (ELSEWHERE, ELSEWHERE_ID),
        ],
    )
    .await;
    // One script for each job that runs: the jobs run one after the other.
    world.script_quick_refactor();
    world.script_quick_refactor();

    let installation = INSTALLATION.to_string();
    let args = [
        "--installation",
        installation.as_str(),
        "--repos",
        "codertocat/*",
        "--task",
        "refactor",
        "--concurrency",
        "1",
        "--name",
        "sweep",
        "extract",
        "the retry loop",
    ];
    let data_dir = world.data_dir().to_path_buf();
    let (ok, table, progress) = bulk(data_dir.clone(), &args).await;
    assert!(
        !ok,
        "a refused repository fails the run: {table}{progress}\nthe server's log:\n{}",
        server.log()
    );
    assert!(
        progress.contains("refactor on 3 repositories of installation 4242, 1 at a time"),
        "{progress}"
    );
    // Each repository's job opened its pull request, which its line names; the other
    // owner's was not touched. The fake numbers pull requests from one counter it shares
    // with check runs and comments, so the snapshot names them by repository.
    let mut shown = table.clone();
    for repo in [REPO, SECOND] {
        let pulls = world.github.opened_pulls(repo);
        assert_eq!(pulls.len(), 1, "{repo}: {pulls:?}");
        let url = pulls[0].url();
        assert!(table.contains(&format!("{url}\n")), "{url} in\n{table}");
        shown = shown.replace(
            &url,
            &format!("https://github.com/{repo}/pull/[its pull request]"),
        );
    }
    assert!(world.github.opened_pulls(ELSEWHERE).is_empty());
    insta::assert_snapshot!("bulk_table", shown);

    // One at a time: the second job was created once the first had ended.
    let db = Database::open(world.data_dir()).expect("the database");
    let run_jobs = |repo: &str| {
        let run = shared::bulk::BulkRun {
            name: "sweep".to_owned(),
            installation: InstallationId(INSTALLATION),
            repos: Vec::new(),
            task: "refactor".to_owned(),
            text: String::new(),
            requester: "local:alice".to_owned(),
            concurrency: 1,
            timeout: std::time::Duration::ZERO,
            poll: std::time::Duration::ZERO,
        };
        run.job_id(&RepoFullName::new(repo)).expect("job id")
    };
    let first = db
        .job(&run_jobs(REPO))
        .await
        .expect("store")
        .expect("the first job");
    let next = db
        .job(&run_jobs(SECOND))
        .await
        .expect("store")
        .expect("the second job");
    assert_eq!(first.status, JobStatus::Succeeded);
    assert_eq!(next.status, JobStatus::Succeeded);
    assert_eq!(first.requester, "local:alice");
    assert_eq!(first.params, "extract the retry loop");
    let ended = first.completed_at_ms.expect("the first job ended");
    assert!(
        next.created_at_ms >= ended,
        "the second job ({}) started before the first ended ({ended})",
        next.created_at_ms
    );

    // The same run again: nothing new starts, and the table is the same.
    let jobs_before = world.job_list(OTA);
    let (ok, again, progress) = bulk(data_dir, &args).await;
    assert!(!ok, "{again}{progress}");
    assert_eq!(again, table);
    assert_eq!(
        world.job_list(OTA).lines().count(),
        jobs_before.lines().count()
    );
    assert_eq!(world.github.opened_pulls(REPO).len(), 1);
    assert_eq!(world.github.opened_pulls(SECOND).len(), 1);
    world.github.assert_nothing_unexpected();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_matches_no_repository_or_names_no_installation_says_so() {
    let world = ServeWorld::with_lib(COMMAND).await;
    let server = world.serve(OTA, &[]);
    install(&world, &server, &[(REPO, REPO_ID)]).await;
    let data_dir = world.data_dir().to_path_buf();

    let (ok, _, error) = bulk(
        data_dir.clone(),
        &[
            "--installation",
            "4242",
            "--repos",
            "acme/*",
            "--task",
            "docs",
        ],
    )
    .await;
    assert!(!ok);
    assert!(
        error.contains("no repository of installation 4242 matches acme/*; it has 1"),
        "{error}"
    );

    let (ok, _, error) = bulk(
        data_dir.clone(),
        &["--installation", "99", "--repos", "*/*", "--task", "docs"],
    )
    .await;
    assert!(!ok);
    assert!(error.contains("the App has no installation 99"), "{error}");

    let (ok, _, error) = bulk(
        data_dir,
        &[
            "--installation",
            "4242",
            "--repos",
            "*/*",
            "--task",
            "docs",
            "--name",
            "two words",
        ],
    )
    .await;
    assert!(!ok);
    assert!(error.contains("is not 1 to 64 letters"), "{error}");
    assert!(world.job_list(OTA).contains("No jobs yet"));
    drop(server);
}
