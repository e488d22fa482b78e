//! `ota --stack NAME jobs | job | approve | cancel | retry` on the stack created from
//! `template.yaml` in moto (`e2e::stack::StackWorld`): the jobs come from the stack's
//! table, the operations act on its state machine as `/approve`, `/cancel` and `/retry`
//! do, and a stack that does not exist is a clear error.

use e2e::redact::Redact;
use e2e::stack::{OPERATOR, StackWorld, run_ota};
use shared::job::{JobStatus, Wait};
use shared::ports::JobStore;

const OTA: &str = env!("CARGO_BIN_EXE_ota");

/// The listing with the ids and the ages (the last column) made deterministic.
fn stable(text: &str) -> String {
    let text = Redact::new().ids().apply(text);
    text.lines()
        .map(|line| match line.rsplit_once(" ago") {
            Some((before, "")) => match before.rfind("  ") {
                Some(at) => format!("{}[age]", &before[..at + 2]),
                None => line.to_owned(),
            },
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn jobs_lists_the_stack_s_jobs_and_job_shows_one() {
    let world = StackWorld::start().await;
    let empty = world.ota(OTA, &["jobs"], "");
    assert!(empty.success, "{empty:?}");
    assert_eq!(empty.stdout, "No jobs yet.\n");

    let queued = world.job(JobStatus::Queued, false).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let waiting = world.job(JobStatus::AwaitingApproval, true).await;
    let listed = world.ota(OTA, &["jobs"], "");
    assert!(listed.success, "{listed:?}");
    insta::assert_snapshot!(stable(&listed.stdout));
    let filtered = world.ota(OTA, &["jobs", "--status", "queued"], "");
    assert!(filtered.stdout.contains(queued.id.as_str()), "{filtered:?}");
    assert!(
        !filtered.stdout.contains(waiting.id.as_str()),
        "{filtered:?}"
    );

    let by_prefix = world.ota(OTA, &["job", &queued.id.as_str()[..12]], "");
    assert!(by_prefix.success, "{by_prefix:?}");
    assert!(
        by_prefix
            .stdout
            .starts_with(&format!("Job {} · queued\n", queued.id)),
        "{by_prefix:?}"
    );
    let unknown = world.ota(OTA, &["job", "j00000000"], "");
    assert!(!unknown.success);
    assert_eq!(
        unknown.stderr,
        "ota: no job \"j00000000\" (see `ota jobs`)\n"
    );
}

#[tokio::test]
async fn approve_ends_the_workflow_s_approval_wait() {
    let world = StackWorld::start().await;
    let job = world.job(JobStatus::AwaitingApproval, true).await;
    world.start_execution(&job, true).await;
    // The report function's part: keep the approval wait's token for `/approve`.
    let approval = world.take_message(&world.queue_url("ApprovalsQueue")).await;
    let token = shared::job::TaskToken::new(approval["token"].as_str().expect("token"));
    world
        .store
        .put_task_token(&job.id, Wait::Approval, &token)
        .await
        .expect("store the token");

    let approved = world.ota(OTA, &["approve", job.id.as_str()], "");
    assert!(approved.success, "{approved:?}");
    assert_eq!(
        approved.stdout,
        format!("Approved job {}; it will run next.\n", job.id)
    );
    let stored = world.store.job(&job.id).await.expect("read").expect("job");
    assert_eq!(
        stored.approval.approved_by.as_deref(),
        Some(format!("local:{OPERATOR}").as_str())
    );
    // The workflow went on: the run's dispatch message is out.
    let dispatch = world.take_message(&world.queue_url("DispatchQueue")).await;
    assert_eq!(dispatch["job"], job.id.as_str());

    let details = world.ota(OTA, &["job", job.id.as_str()], "");
    assert!(
        details.stdout.contains(&format!(
            "local:{OPERATOR} ota approve → approved (approved by local:{OPERATOR})"
        )),
        "the audit log: {details:?}"
    );
    // The report function's part: the run's start moves the job on.
    let mut dispatching = stored.clone();
    dispatching
        .move_to(JobStatus::Dispatching, shared::clock::now_ms())
        .expect("dispatch");
    world
        .store
        .update_job(&dispatching, JobStatus::AwaitingApproval)
        .await
        .expect("store");
    let again = world.ota(OTA, &["approve", job.id.as_str()], "");
    assert!(!again.success);
    assert!(
        again.stderr.contains("not waiting for an approval"),
        "{again:?}"
    );
}

#[tokio::test]
async fn cancel_stops_the_execution_and_retry_starts_a_new_job() {
    let world = StackWorld::start().await;
    let job = world.job(JobStatus::Queued, false).await;
    world.start_execution(&job, false).await;
    assert_eq!(
        world.execution_status(&job.id).await.as_deref(),
        Some("RUNNING")
    );

    let cancelled = world.ota(OTA, &["cancel", job.id.as_str()], "");
    assert!(cancelled.success, "{cancelled:?}");
    assert_eq!(
        cancelled.stdout,
        format!(
            "Cancelling job {}: its runner is stopped and the cancellation reported.\n",
            job.id
        )
    );
    // Moto takes the `StopExecution` but does not reliably end an execution that waits
    // in a callback task (on AWS it is `ABORTED`, and EventBridge tells the report
    // function); what shows the stop here is the audit entry, written only after the
    // workflow took it.
    let details = world.ota(OTA, &["job", job.id.as_str()], "");
    assert!(
        details.stdout.contains(&format!(
            "local:{OPERATOR} ota cancel → cancelled (cancelled by local:{OPERATOR})"
        )),
        "the audit log: {details:?}"
    );

    let not_yet = world.ota(OTA, &["retry", job.id.as_str()], "");
    assert!(!not_yet.success, "a job still queued cannot be retried");
    assert_eq!(
        not_yet.stderr,
        format!(
            "ota: job {} is queued; only failed, cancelled, expired or dead-lettered jobs can be retried\n",
            job.id
        )
    );
    // What the report function does when it hears of the stop.
    let mut finished = job.clone();
    finished
        .move_to(JobStatus::Cancelled, shared::clock::now_ms())
        .expect("cancel");
    world
        .store
        .update_job(&finished, JobStatus::Queued)
        .await
        .expect("store");

    let retried = world.ota(OTA, &["retry", job.id.as_str()], "");
    assert!(retried.success, "{retried:?}");
    let new_id = retried
        .stdout
        .split_whitespace()
        .nth(1)
        .expect("the new job's id")
        .to_owned();
    let new = shared::job::JobId::parse(&new_id).expect("a job id");
    let record = world
        .store
        .job(&new)
        .await
        .expect("read")
        .expect("the new job");
    assert_eq!(record.commit, job.commit);
    assert_eq!(record.status, JobStatus::Queued);
    assert!(
        world.execution_status(&new).await.is_some(),
        "its execution started"
    );
}

#[tokio::test]
async fn a_stack_that_does_not_exist_is_a_clear_error() {
    let ran = run_ota(OTA, &["--stack", "no-such-stack", "jobs"], "");
    assert!(!ran.success);
    insta::assert_snapshot!(ran.stderr);
    let no_stack = run_ota(OTA, &["dlq", "list"], "");
    assert!(!no_stack.success);
    assert_eq!(
        no_stack.stderr,
        "ota: dlq, policy, secrets and reindex work on a deployed stack: give --stack NAME (or set OTA_STACK)\n"
    );
}
