//! `ota approve`, `ota cancel` and `ota retry` beside a running `ota serve`: the operator
//! acts on the local database and the server carries it out.

use e2e::ota_server::{
    JOB_TIMEOUT, OtaServer, REPO, ServeWorld, eventually, first_job_id, refactor_request,
};
use e2e::runner_world::REFACTORED;

const OTA: &str = env!("CARGO_BIN_EXE_ota");
/// A triage user's job, waiting for an approval; returns its id.
async fn waiting_job(world: &ServeWorld, server: &OtaServer) -> String {
    world.github.set_role(REPO, "triager", "triage");
    assert_eq!(server.post(&refactor_request("triager")).await.0, 202);
    eventually(
        server,
        "the job to wait for an approval",
        JOB_TIMEOUT,
        || {
            let (_, jobs) = world.ota(OTA, &["jobs", "--status", "awaiting_approval"]);
            first_job_id(&jobs)
        },
    )
    .await
}

#[tokio::test]
async fn ota_approve_lets_a_waiting_job_run() {
    let world = ServeWorld::with_lib("true").await;
    world.script_quick_refactor();
    let server = world.serve(OTA, &["--retry-interval-seconds", "1"]);
    let id = waiting_job(&world, &server).await;

    let (ok, out) = world.ota(OTA, &["approve", &id[..8]]);
    assert!(ok, "{out}");
    let pull = world.opened_pull(&server).await;
    assert_eq!(world.git.show(REPO, &pull.head, "src/lib.rs"), REFACTORED);
    eventually(&server, "the job to succeed", JOB_TIMEOUT, || {
        (world.job_status(OTA, &id) == "succeeded").then_some(())
    })
    .await;
    let (_, details) = world.ota(OTA, &["job", &id]);
    assert!(details.contains("approved by local:"), "{details}");
    assert!(
        details.contains("ota approve"),
        "the audit trail: {details}"
    );

    let (ok, again) = world.ota(OTA, &["approve", &id]);
    assert!(!ok, "approving a finished job must fail: {again}");
    assert!(again.contains("not waiting for an approval"), "{again}");
}

#[tokio::test]
async fn ota_cancel_ends_a_job_and_ota_retry_runs_it_again() {
    let world = ServeWorld::with_lib("true").await;
    world.script_quick_refactor();
    let server = world.serve(OTA, &["--retry-interval-seconds", "1"]);
    let id = waiting_job(&world, &server).await;

    let (ok, out) = world.ota(OTA, &["cancel", &id]);
    assert!(ok, "{out}");
    eventually(&server, "the job to be cancelled", JOB_TIMEOUT, || {
        (world.job_status(OTA, &id) == "cancelled").then_some(())
    })
    .await;
    world.completed_check_run(&server, "cancelled").await;
    assert!(world.github.opened_pulls(REPO).is_empty());
    assert_eq!(world.ollama.calls().len(), 0);

    let (ok, out) = world.ota(OTA, &["retry", &id]);
    assert!(ok, "{out}");
    let retry = out
        .split_whitespace()
        .nth(1)
        .expect("the new job's id")
        .to_owned();
    assert_ne!(retry, id);
    let pull = world.opened_pull(&server).await;
    assert_eq!(world.git.show(REPO, &pull.head, "src/lib.rs"), REFACTORED);
    eventually(&server, "the retry to succeed", JOB_TIMEOUT, || {
        (world.job_status(OTA, &retry) == "succeeded").then_some(())
    })
    .await;
    // The summary comment comes last, after the job is marked succeeded.
    world
        .comment_containing(&server, "the retry's summary comment", &pull.url())
        .await;
}

#[test]
fn the_job_commands_explain_a_missing_database_and_unknown_jobs() {
    let empty = tempfile::tempdir().expect("dir");
    let output = std::process::Command::new(OTA)
        .args(["jobs", "--data-dir"])
        .arg(empty.path().join("nothing-here"))
        .output()
        .expect("run ota");
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(text.contains("no database in"), "{text}");
}
