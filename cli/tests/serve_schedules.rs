//! Schedules end to end through `ota serve`: a schedule registered from a push of the
//! config to the default branch fires at its time and opens a pull request; fire times
//! missed while nothing ticked fire once; a tick repeated for the same fire time starts
//! nothing; a read-only task reports on the tracking issue the App opens once; removing
//! the schedule from the config, or the App from the repository, unregisters it.
//!
//! The server ticks every second (`--schedule-tick-seconds 1`, on the boundary as it
//! would on each minute); the tests move a schedule's stored next fire time, as the
//! passing of time (or a server that was down) would, through the registry in the data
//! directory.

use e2e::fake_ollama::ChatReply;
use e2e::git_server::DEFAULT_BRANCH;
use e2e::ota_server::{JOB_TIMEOUT, OtaServer, REPO, ServeWorld};
use e2e::runner_world::{LIB, REFACTORED, config_with_command};
use e2e::serve_events::{installation_deleted, pushed, repositories_changed};
use ota_local::store::Database;
use serde_json::json;
use shared::ids::RepoId;
use shared::ports::{ScheduleEntry, ScheduleRegistry};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const OTA: &str = env!("CARGO_BIN_EXE_ota");

/// The repository's id in GitHub's `push` example.
const REPO_ID: u64 = 186_853_002;

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// How long a tick that must start nothing is given to start something anyway.
const SETTLE: Duration = Duration::from_secs(4);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

/// The latest 03:00 UTC at or before `now`.
fn latest_three_am(now: u64) -> u64 {
    let three = 3 * 60 * 60 * 1000;
    (now - three) / DAY_MS * DAY_MS + three
}

/// The usual repository, with `schedule` (YAML under `triggers:`) in its config.
fn config(schedule: &str) -> String {
    let base = config_with_command("grep -q retry_with_backoff src/lib.rs");
    if schedule.is_empty() {
        base
    } else {
        format!("{base}  triggers:\n{schedule}")
    }
}

fn nightly(tasks: &str) -> String {
    format!("    schedule:\n      cron: \"0 3 * * *\"\n      tasks: [{tasks}]\n")
}

fn serve(world: &ServeWorld) -> OtaServer {
    world.serve(
        OTA,
        &[
            "--schedule-tick-seconds",
            "1",
            "--retry-interval-seconds",
            "1",
        ],
    )
}

/// Pushes a commit of the config to the default branch and tells the server; the fake
/// GitHub serves `config` from then on.
async fn push_config(world: &ServeWorld, server: &OtaServer, config: &str) {
    for git_ref in ["", DEFAULT_BRANCH] {
        world
            .github
            .set_file(REPO, git_ref, ".ollama-turbo.yml", config);
    }
    let before = world.git.commit(
        REPO,
        DEFAULT_BRANCH,
        &[("base.txt", &e2e::unique("base"))],
        "Base",
    );
    let after = world.git.commit(
        REPO,
        DEFAULT_BRANCH,
        &[(".ollama-turbo.yml", config)],
        "Change the config",
    );
    let (status, body) = server
        .post(&pushed(&before, &after, &[".ollama-turbo.yml"], false))
        .await;
    assert_eq!(status, 202, "{body}");
}

/// The registry's entry of the repository once `check` holds for it (`None`: no entry).
async fn entry_when(
    server: &OtaServer,
    db: &Database,
    what: &str,
    check: impl Fn(Option<&ScheduleEntry>) -> bool,
) -> Option<ScheduleEntry> {
    let deadline = Instant::now() + JOB_TIMEOUT;
    loop {
        let entry = db.schedule(RepoId(REPO_ID)).await.expect("the registry");
        if check(entry.as_ref()) {
            return entry;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {entry:?}; the server's log:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The jobs `ota jobs` lists (the lines below its header).
fn jobs(world: &ServeWorld) -> Vec<String> {
    world
        .job_list(OTA)
        .lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// Moves the schedule's next fire time to `next_ms`, as time passing would.
async fn fire_at(db: &Database, entry: &ScheduleEntry, next_ms: u64) {
    let moved = ScheduleEntry {
        next_fire_ms: Some(next_ms),
        ..entry.clone()
    };
    db.put_schedule(&moved).await.expect("the registry");
}

#[tokio::test]
async fn a_pushed_schedule_fires_once_for_the_missed_times_and_opens_a_pull_request() {
    let world = ServeWorld::new(&[("src/lib.rs", LIB)], &config("")).await;
    world.script_quick_refactor();
    let server = serve(&world);
    let db = Database::open(world.data_dir()).expect("the database");

    let scheduled = config(&nightly("refactor"));
    push_config(&world, &server, &scheduled).await;
    let registered = entry_when(&server, &db, "the schedule registered", |entry| {
        entry.is_some()
    })
    .await
    .expect("an entry");
    let now = now_ms();
    let three = latest_three_am(now);
    assert_eq!(registered.cron, "0 3 * * *");
    assert_eq!(registered.timezone, "UTC");
    assert_eq!(registered.tasks, ["refactor"]);
    assert_eq!(registered.repository.full_name.as_str(), REPO);
    assert_eq!(
        registered.repository.default_branch.as_deref(),
        Some(DEFAULT_BRANCH)
    );
    assert_eq!(registered.next_fire_ms, Some(three + DAY_MS));
    tokio::time::sleep(SETTLE).await;
    assert!(
        jobs(&world).is_empty(),
        "nothing is due yet: {:?}",
        jobs(&world)
    );

    // The server was down for three days: three nightly times passed. One fire, for the
    // latest.
    fire_at(&db, &registered, three - 2 * DAY_MS).await;
    let fired = entry_when(&server, &db, "the schedule fired", |entry| {
        entry.is_some_and(|entry| entry.last_fired_ms.is_some())
    })
    .await
    .expect("an entry");
    assert_eq!(fired.last_fired_ms, Some(three));
    assert_eq!(fired.next_fire_ms, Some(three + DAY_MS));
    let pull = world.opened_pull(&server).await;
    assert_eq!(pull.base, DEFAULT_BRANCH);
    assert_eq!(world.git.show(REPO, &pull.head, "src/lib.rs"), REFACTORED);
    let listed = jobs(&world);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(listed[0].contains("refactor"), "{listed:?}");
    let id = listed[0].split_whitespace().next().expect("a job id");
    let (ok, details) = world.ota(OTA, &["job", id]);
    assert!(ok, "{details}");
    assert!(
        details.contains("schedule:0 3 * * *"),
        "the requester is the schedule: {details}"
    );

    // More ticks in the same minute, and a tick that claims the same fire time again,
    // start nothing.
    tokio::time::sleep(SETTLE).await;
    fire_at(&db, &fired, three).await;
    entry_when(&server, &db, "the fire time claimed again", |entry| {
        entry.is_some_and(|entry| entry.next_fire_ms == Some(three + DAY_MS))
    })
    .await;
    tokio::time::sleep(SETTLE).await;
    assert_eq!(jobs(&world).len(), 1, "{:?}", jobs(&world));
    assert_eq!(world.github.opened_pulls(REPO).len(), 1);
    world.github.assert_nothing_unexpected();
}

#[tokio::test]
async fn a_read_only_task_reports_on_one_tracking_issue_run_after_run() {
    let every_minute = "    schedule:\n      cron: \"* * * * *\"\n      tasks: [review]\n";
    let world = ServeWorld::new(&[("src/lib.rs", LIB)], &config("")).await;
    world.ollama.push(ChatReply::call(
        "submit_review",
        json!({"summary": "First look: fine.", "comments": []}),
    ));
    let comment = json!({"path": "src/lib.rs", "line": 1, "body": "Name the retry loop."});
    world.ollama.push(ChatReply::call(
        "submit_review",
        json!({"summary": "Second look: one thing.", "comments": [comment]}),
    ));
    let server = serve(&world);
    let db = Database::open(world.data_dir()).expect("the database");

    push_config(&world, &server, &config(every_minute)).await;
    let registered = entry_when(&server, &db, "the schedule registered", |entry| {
        entry.is_some()
    })
    .await
    .expect("an entry");
    // Its time comes now; the next comes with the next minute.
    fire_at(&db, &registered, now_ms() - 1).await;

    let comments_on = |issue: u64, count: usize| {
        let github = &world.github;
        move || {
            let comments = github.comments(REPO, issue);
            (comments.len() >= count).then_some(comments)
        }
    };
    let issue = e2e::ota_server::eventually(&server, "the tracking issue", JOB_TIMEOUT, || {
        world.github.opened_issues(REPO).first().cloned()
    })
    .await;
    assert_eq!(issue.1, "Ollama Turbo Agent: scheduled runs");
    let first = e2e::ota_server::eventually(
        &server,
        "the first report",
        JOB_TIMEOUT,
        comments_on(issue.0, 1),
    )
    .await;
    assert!(
        first[0]
            .body
            .contains(&format!("Review of `{DEFAULT_BRANCH}` at `")),
        "{}",
        first[0].body
    );
    // Two runs a minute apart may start close together: which reply each got is not
    // fixed, only that each is reported once.
    assert!(
        world
            .github
            .labels(REPO, issue.0)
            .contains(&"automation:scheduled".to_owned()),
        "{:?}",
        world.github.labels(REPO, issue.0)
    );

    // The server restarts (a crash): the next run finds the same issue again.
    server.kill();
    let server = serve(&world);
    let both = e2e::ota_server::eventually(
        &server,
        "the second report",
        JOB_TIMEOUT + Duration::from_secs(60),
        comments_on(issue.0, 2),
    )
    .await;
    assert_eq!(both.len(), 2, "{both:?}");
    let said = |text: &str| both.iter().filter(|c| c.body.contains(text)).count();
    assert_eq!(said("First look: fine."), 1, "{both:?}");
    assert_eq!(said("Second look: one thing."), 1, "{both:?}");
    assert_eq!(
        said("Second look: one thing.\n- `src/lib.rs:1`: Name the retry loop."),
        1,
        "the review's comments are in the report: {both:?}"
    );
    assert_eq!(
        world.github.opened_issues(REPO).len(),
        1,
        "one tracking issue"
    );
    assert!(world.github.opened_pulls(REPO).is_empty());

    // Off the schedule goes: no more runs.
    push_config(&world, &server, &config("")).await;
    entry_when(&server, &db, "the schedule removed", |entry| {
        entry.is_none()
    })
    .await;
    world.github.assert_nothing_unexpected();
}

#[tokio::test]
async fn the_registry_follows_the_config_and_the_installation() {
    let world = ServeWorld::new(&[("src/lib.rs", LIB)], &config("")).await;
    world
        .github
        .set_repository(REPO, REPO_ID, DEFAULT_BRANCH, false);
    let server = serve(&world);
    let db = Database::open(world.data_dir()).expect("the database");

    push_config(&world, &server, &config(&nightly("docs"))).await;
    entry_when(&server, &db, "the schedule registered", |entry| {
        entry.is_some_and(|entry| entry.tasks == ["docs"])
    })
    .await;

    // Another cron and zone: the entry follows.
    let berlin = "    schedule:\n      cron: \"30 9 * * 1\"\n      timezone: Europe/Berlin\n      tasks: [deps]\n";
    push_config(&world, &server, &config(berlin)).await;
    let moved = entry_when(&server, &db, "the schedule changed", |entry| {
        entry.is_some_and(|entry| entry.cron == "30 9 * * 1")
    })
    .await
    .expect("an entry");
    assert_eq!(moved.timezone, "Europe/Berlin");
    assert_eq!(moved.tasks, ["deps"]);

    // The schedule turned off: out of the registry.
    let off =
        "    schedule:\n      enabled: false\n      cron: \"30 9 * * 1\"\n      tasks: [deps]\n";
    push_config(&world, &server, &config(off)).await;
    entry_when(&server, &db, "the schedule removed", |entry| {
        entry.is_none()
    })
    .await;

    // The App removed from the repository and installed on it again.
    for git_ref in ["", DEFAULT_BRANCH] {
        world
            .github
            .set_file(REPO, git_ref, ".ollama-turbo.yml", config(&nightly("docs")));
    }
    let (status, body) = server
        .post(&repositories_changed("added", REPO, REPO_ID))
        .await;
    assert_eq!(status, 202, "{body}");
    entry_when(
        &server,
        &db,
        "the schedule registered on installation",
        |entry| entry.is_some(),
    )
    .await;
    let (status, body) = server
        .post(&repositories_changed("removed", REPO, REPO_ID))
        .await;
    assert_eq!(status, 202, "{body}");
    entry_when(
        &server,
        &db,
        "the schedule removed with the repository",
        |entry| entry.is_none(),
    )
    .await;
    // Installed again, then uninstalled: the installation's schedules go with it.
    let (status, body) = server
        .post(&repositories_changed("added", REPO, REPO_ID))
        .await;
    assert_eq!(status, 202, "{body}");
    entry_when(&server, &db, "the schedule registered again", |entry| {
        entry.is_some()
    })
    .await;
    let (status, body) = server.post(&installation_deleted()).await;
    assert_eq!(status, 202, "{body}");
    entry_when(
        &server,
        &db,
        "the schedule removed with the installation",
        |entry| entry.is_none(),
    )
    .await;
    assert!(jobs(&world).is_empty(), "{:?}", jobs(&world));
    world.github.assert_nothing_unexpected();
}
