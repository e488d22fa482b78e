//! `ota --stack NAME bulk` on the stack created from `template.yaml` in moto: the run's
//! requests go into the stack's intake queue one at a time (`--concurrency 1`), and it
//! follows what the policy function records in the stack's table — here played by the
//! test: a job that succeeds for the first repository, a refusal in the audit log for the
//! second.

use e2e::stack::{INSTALLATION, OPERATOR, StackWorld, run_ota};
use shared::ids::{CommitSha, InstallationId, RepoFullName};
use shared::inbound::{Inbound, RequestSource};
use shared::job::{Approval, JobId, JobRecord, JobRequest, JobResult, JobStatus, Trigger};
use shared::ports::{AuditEntry, AuditLog, InstallationStore, JobStore};
use std::time::Duration;

const OTA: &str = env!("CARGO_BIN_EXE_ota");

/// The next request the run queued, as the policy function would read it.
async fn next_request(world: &StackWorld) -> shared::inbound::Request {
    let url = world.output("IntakeQueueUrl").to_owned();
    let message = world.take_message(&url).await;
    match Inbound::from_queue_message(&message.to_string()) {
        Ok(Inbound::Request(request)) => request,
        other => panic!("not a request: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_run_queues_one_request_at_a_time_on_the_stack_and_reports_what_came_of_each() {
    let world = StackWorld::start().await;
    let installation = InstallationId(INSTALLATION);
    world
        .store
        .add_repositories(
            installation,
            &[
                RepoFullName::new("acme/api"),
                RepoFullName::new("acme/web"),
                RepoFullName::new("other/api"),
            ],
        )
        .await
        .expect("record the repositories");

    let stack = world.name.clone();
    let running = tokio::task::spawn_blocking(move || {
        run_ota(
            OTA,
            &[
                "--stack",
                &stack,
                "bulk",
                "--installation",
                &INSTALLATION.to_string(),
                "--repos",
                "acme/*",
                "--task",
                "docs",
                "--concurrency",
                "1",
                "--name",
                "docs-sweep",
                "--poll-seconds",
                "1",
                "keep the README current",
            ],
            "",
        )
    });

    // The first repository's request, and nothing else yet: one at a time.
    let first = next_request(&world).await;
    assert_eq!(first.repository.full_name.as_str(), "acme/api");
    assert_eq!(first.repository.id, None);
    assert_eq!(first.tasks, ["docs"]);
    assert_eq!(first.text, "keep the README current");
    assert_eq!(
        first.source,
        RequestSource::Operator {
            login: format!("local:{OPERATOR}"),
        }
    );
    let intake = world.output("IntakeQueueUrl").to_owned();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        world.peek(&intake).await.is_empty(),
        "queued ahead of its turn"
    );

    // The policy function's part: the first request's job, which succeeds.
    let now = shared::clock::now_ms();
    let mut job = JobRecord::new(
        JobRequest {
            id: JobId::for_trigger(&first.id, 0),
            delivery: first.id.clone(),
            installation,
            repo: first.repository.full_name.clone(),
            commit: CommitSha::new("6dcb09b5b57875f334f61aebed695e2e4193db5e"),
            git_ref: "main".to_owned(),
            trigger: Trigger::Request,
            task: "docs".to_owned(),
            params: first.text.clone(),
            requester: first.source.requester(),
            approval: Approval::not_required(),
        },
        now,
    );
    for status in [
        JobStatus::Dispatching,
        JobStatus::Running,
        JobStatus::Succeeded,
    ] {
        job.move_to(status, now)
            .expect("a status the job can reach");
    }
    job.result = Some(JobResult {
        pull_request_url: Some("https://github.com/acme/api/pull/12".to_owned()),
        ..JobResult::default()
    });
    world.store.create_job(&job).await.expect("record the job");

    // The second request comes once the first job has ended; the policy stage refuses it.
    let second = next_request(&world).await;
    assert_eq!(second.repository.full_name.as_str(), "acme/web");
    world
        .store
        .append(&AuditEntry {
            installation,
            repo: Some(second.repository.full_name.clone()),
            at_ms: now,
            delivery: second.id.to_string(),
            actor: second.source.requester(),
            command: "operator".to_owned(),
            decision: "denied".to_owned(),
            reason: "the policy `careful` does not allow operator runs".to_owned(),
            policy: Some("careful".to_owned()),
            job: None,
        })
        .await
        .expect("record the refusal");

    let ran = running.await.expect("ota bulk ran");
    assert!(!ran.success, "a refusal fails the run: {ran:?}");
    assert!(
        ran.stdout.contains("acme/api")
            && ran.stdout.contains("https://github.com/acme/api/pull/12"),
        "{ran:?}"
    );
    assert!(
        ran.stdout
            .contains("denied: the policy `careful` does not allow operator runs"),
        "{ran:?}"
    );
    assert!(
        ran.stdout
            .ends_with("bulk run docs-sweep (docs): 2 repositories: 1 refused, 1 succeeded\n"),
        "{ran:?}"
    );
    assert!(!ran.stdout.contains("other/api"), "{ran:?}");
}
