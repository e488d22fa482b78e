//! `ota serve` killed with SIGKILL and started again on the same data directory: an
//! accepted delivery is still handled, and a job whose runner died with the server is
//! retried to completion, never run by two runners at once; the clone its runner left is
//! removed when the server starts again.

use e2e::fake_ollama::{ChatReply, Reply};
use e2e::ota_server::{JOB_TIMEOUT, REPO, ServeWorld, eventually, refactor_request};
use e2e::runner_world::REFACTORED;
use ota_local::store::{Database, RunnerRecords};
use shared::job::JobStatus;
use std::time::Duration;

const OTA: &str = env!("CARGO_BIN_EXE_ota");
const ARGS: &[&str] = &["--retry-interval-seconds", "1"];

/// The jobs in the data directory, read as `ota jobs` reads them.
async fn jobs(world: &ServeWorld) -> Vec<shared::job::JobRecord> {
    let db = Database::open(world.data_dir()).expect("database");
    db.recent_jobs(10, None).await.expect("jobs")
}

fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

/// The runner processes the launcher recorded.
async fn runner_pids(world: &ServeWorld) -> Vec<u32> {
    let db = Database::open(world.data_dir()).expect("database");
    RunnerRecords::new(db).all_pids().await.expect("runners")
}

/// The runners' clones: `clones/<job>-<attempt>/ota-clone-*` in the data directory.
fn clones(world: &ServeWorld) -> Vec<std::path::PathBuf> {
    let Ok(runners) = std::fs::read_dir(world.data_dir().join("clones")) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for runner in runners.flatten() {
        found.push(runner.path());
        if let Ok(inside) = std::fs::read_dir(runner.path()) {
            found.extend(inside.flatten().map(|entry| entry.path()));
        }
    }
    found.sort();
    found
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|meta| meta.permissions().mode() & 0o777)
        .unwrap_or(0)
}

/// The deliveries in the inbox, pending or handled.
async fn inbox_has(world: &ServeWorld, delivery: &str) -> bool {
    let db = Database::open(world.data_dir()).expect("database");
    db.inbox_holds(delivery).await.expect("inbox")
}

#[tokio::test]
async fn a_delivery_accepted_just_before_a_crash_is_handled_after_the_restart() {
    let world = ServeWorld::with_lib("true").await;
    // GitHub answers nothing for a while: the policy stage cannot finish the delivery.
    world.github.inject(
        e2e::fake_github::Route::Permission,
        1_000,
        e2e::fake_github::Fault::Status(503),
    );
    let server = world.serve(OTA, ARGS);
    let delivery = refactor_request("Codertocat");
    let (status, _) = server.post(&delivery).await;
    assert_eq!(status, 202);
    server.kill();
    let id = delivery.delivery_id.clone().expect("delivery id");
    assert!(
        inbox_has(&world, &id).await,
        "the accepted delivery was not stored"
    );
    assert!(jobs(&world).await.is_empty(), "handled before the crash");

    world.github.clear_faults();
    world.script_quick_refactor();
    let server = world.serve(OTA, ARGS);
    let pull = world.opened_pull(&server).await;
    assert_eq!(world.git.show(REPO, &pull.head, "src/lib.rs"), REFACTORED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_running_when_the_server_is_killed_is_retried_to_completion() {
    let world = ServeWorld::with_lib("true").await;
    // The first attempt's model call hangs until the server is gone.
    world
        .ollama
        .push(Reply::from(ChatReply::read_file("src/lib.rs")).after(Duration::from_secs(600)));
    let server = world.serve(OTA, ARGS);
    assert_eq!(server.post(&refactor_request("Codertocat")).await.0, 202);
    eventually(&server, "the first model call", JOB_TIMEOUT, || {
        (!world.ollama.calls().is_empty()).then_some(())
    })
    .await;
    let running = jobs(&world).await;
    assert_eq!(running.len(), 1);
    assert_eq!(running[0].status, JobStatus::Running);
    let first_runners = runner_pids(&world).await;
    assert_eq!(first_runners.len(), 1);
    // The clone is the runner's alone, in the data directory rather than the shared /tmp.
    let left = clones(&world);
    let job = &running[0].id;
    let runner_dir = world.data_dir().join(format!("clones/{job}-1"));
    assert_eq!(left.len(), 2, "{left:?}");
    assert_eq!(left[0], runner_dir);
    assert!(
        left[1]
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with("ota-clone-")),
        "{left:?}"
    );
    assert!(left[1].join("src/lib.rs").exists(), "{left:?}");
    assert_eq!(mode(&world.data_dir().join("clones")), 0o700);
    assert_eq!(mode(&left[0]), 0o700);
    assert_eq!(mode(&left[1]), 0o700);
    server.kill();

    // The runner does not outlive its server.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while first_runners.iter().any(|pid| process_alive(*pid)) {
        assert!(
            std::time::Instant::now() < deadline,
            "the runner outlived its server"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    assert!(runner_dir.exists(), "a killed runner leaves its clone");

    world.script_quick_refactor();
    let server = world.serve(OTA, ARGS);
    let pull = world.opened_pull(&server).await;
    assert_eq!(world.git.show(REPO, &pull.head, "src/lib.rs"), REFACTORED);
    let job = eventually(&server, "the job to succeed", JOB_TIMEOUT, || {
        let jobs = futures_block(jobs(&world));
        jobs.into_iter()
            .find(|job| job.status == JobStatus::Succeeded)
    })
    .await;
    assert_eq!(job.attempts, 2, "the lost attempt and the retry");
    assert_eq!(world.github.opened_pulls(REPO).len(), 1);
    assert!(
        !runner_dir.exists(),
        "the killed runner's clone was not removed"
    );
    // The retry's runner took its clone with it when it ended.
    eventually(&server, "the retry's clone to go", JOB_TIMEOUT, || {
        clones(&world).is_empty().then_some(())
    })
    .await;
}

fn futures_block<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(future))
}
