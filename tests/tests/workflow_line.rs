//! The line for a runner slot on AWS, through the dispatch function's own queue: ECS's
//! "Task State Change" event for a stopped runner frees its slot and starts the job in
//! line, the scheduled sweep keeps a queued job's wait alive, the job's check run says
//! why it waits (once per reason), and an event with nothing to dispatch is logged and
//! dropped. Moto runs the workflow; the events are shaped as AWS sends them
//! (`events/dispatch/`).

use e2e::fake_github::Route;
use e2e::logs::CapturedLogs;
use e2e::workflow::actors::TEST_TIMEOUTS;
use e2e::workflow::{Harness, INSTALLATION, Options, REPO, STEP_TIMEOUT};
use shared::dispatch::Limits;
use shared::job::{JobId, JobStatus, Timeouts};
use shared::ports::Workflow;
use shared::ports::{EndpointKind, InstallationPolicy, PolicyStore, SlotStore};
use std::time::{Duration, Instant};
use tracing::instrument::WithSubscriber;

/// One GPU slot and no hosted service: a second job waits.
fn one_slot() -> Options {
    Options {
        limits: Limits {
            gpu_slots: 1,
            hosted_slots: 0,
            per_installation: 2,
        },
        ..Options::default()
    }
}

async fn in_line(harness: &Harness) -> Vec<JobId> {
    let slots = harness.store.slots().await.expect("slots").slots;
    slots.waiting.into_iter().map(|waiter| waiter.job).collect()
}

/// Pumps until `job` waits in line.
async fn pump_until_in_line(harness: &Harness, job: &JobId) {
    let started = Instant::now();
    while !in_line(harness).await.contains(job) {
        harness.pump().await;
        assert!(started.elapsed() < STEP_TIMEOUT, "job {job} never queued");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The bodies of the check run updates that set `job`'s check run to queued.
fn queued_updates(harness: &Harness, job: &JobId) -> Vec<serde_json::Value> {
    let run = harness
        .github
        .check_runs(REPO)
        .into_iter()
        .find(|run| run.fields.get("external_id").and_then(|id| id.as_str()) == Some(job.as_str()))
        .unwrap_or_else(|| panic!("job {job} has no check run"));
    harness
        .github
        .requests_to(Route::UpdateCheckRun)
        .into_iter()
        .filter(|request| request.path.ends_with(&format!("/check-runs/{}", run.id)))
        .filter_map(|request| request.body)
        .filter(|body| body["status"] == "queued")
        .collect()
}

#[tokio::test]
async fn a_stopped_runner_task_frees_its_slot_and_the_sweep_keeps_the_line_waiting() {
    let harness = Harness::start_with(one_slot()).await;
    // A heartbeat timeout the line outlasts only if the sweep keeps its wait alive.
    let timeouts = Timeouts {
        heartbeat: Duration::from_secs(6),
        max_runtime: Duration::from_secs(120),
        ..TEST_TIMEOUTS
    };
    let ahead = harness.start_job(false, timeouts).await;
    let ahead_token = harness.runner_starts(&ahead, 1).await;
    let queued = harness.start_job(false, timeouts).await;
    pump_until_in_line(&harness, &queued).await;

    // The scheduled sweep, for twice the heartbeat timeout: the wait stays open.
    let started = Instant::now();
    while started.elapsed() < 2 * timeouts.heartbeat {
        harness.sweep().await;
        harness.pump_all().await;
        // The runner ahead sends its own heartbeats meanwhile.
        harness
            .workflow
            .heartbeat(&ahead_token)
            .await
            .expect("the runner ahead's heartbeat");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let job = harness.job(&queued).await;
    assert_eq!(
        (job.status, job.attempts),
        (JobStatus::Queued, 0),
        "the queued job's wait ran out"
    );
    assert_eq!(in_line(&harness).await, std::slice::from_ref(&queued));
    // Its check run says why it waits, once however often it is swept.
    let updates = queued_updates(&harness, &queued);
    assert_eq!(updates.len(), 1, "{updates:#?}");
    let summary = updates[0]["output"]["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains("all 1 slot of the self-hosted GPU are busy (1 running)"),
        "{summary}"
    );

    // The job ahead finishes; its slot stays taken until ECS says its task stopped.
    harness.runner_succeeds(&ahead_token).await.expect("answer");
    harness.finished_job(&ahead).await;
    harness.sweep().await;
    harness.pump_all().await;
    assert_eq!(in_line(&harness).await, std::slice::from_ref(&queued));
    assert!(harness.runner_tasks(&queued, "RUNNING").await.is_empty());

    harness.runner_task_stops(&ahead, 1).await;
    let token = harness.runner_starts(&queued, 1).await;
    assert!(in_line(&harness).await.is_empty());
    assert_eq!(harness.runner_tasks(&queued, "RUNNING").await.len(), 1);
    let leases = harness.leases().await;
    assert_eq!(
        leases.iter().map(|lease| &lease.job).collect::<Vec<_>>(),
        [&queued]
    );
    harness.runner_succeeds(&token).await.expect("answer");
    let job = harness.finished_job(&queued).await;
    assert_eq!((job.status, job.attempts), (JobStatus::Succeeded, 1));
    harness.runner_task_stops(&queued, 1).await;
    harness.pump_all().await;
    assert!(harness.leases().await.is_empty());
    assert!(harness.dead_letters().await.is_empty());
}

#[tokio::test]
async fn time_in_line_does_not_count_against_the_runtime() {
    let harness = Harness::start_with(one_slot()).await;
    // The job in line waits longer than its maximum runtime, well within its allowance.
    let timeouts = Timeouts {
        heartbeat: Duration::from_secs(3),
        max_runtime: Duration::from_secs(6),
        max_queue: Duration::from_secs(120),
        ..TEST_TIMEOUTS
    };
    let long = Timeouts {
        max_runtime: Duration::from_secs(120),
        ..timeouts
    };
    let ahead = harness.start_job(false, long).await;
    let ahead_token = harness.runner_starts(&ahead, 1).await;
    let queued = harness.start_job(false, timeouts).await;
    pump_until_in_line(&harness, &queued).await;

    // The sweep keeps the queued wait alive, and the runner ahead its own, for twice
    // the queued job's runtime.
    let started = Instant::now();
    while started.elapsed() < 2 * timeouts.max_runtime {
        harness.sweep().await;
        harness.pump_all().await;
        harness
            .workflow
            .heartbeat(&ahead_token)
            .await
            .expect("the runner ahead's heartbeat");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let job = harness.job(&queued).await;
    assert_eq!(
        (
            job.status,
            job.attempts,
            job.result.and_then(|result| result.error)
        ),
        (JobStatus::Queued, 0, None),
        "the time in line counted against the runtime"
    );
    assert_eq!(in_line(&harness).await, std::slice::from_ref(&queued));

    // The runner ahead answers and its task stops: the job in line starts and succeeds.
    harness.runner_succeeds(&ahead_token).await.expect("answer");
    harness.finished_job(&ahead).await;
    harness.runner_task_stops(&ahead, 1).await;
    let token = harness.runner_starts(&queued, 1).await;
    harness.runner_succeeds(&token).await.expect("answer");
    let job = harness.finished_job(&queued).await;
    assert_eq!((job.status, job.attempts), (JobStatus::Succeeded, 1));
    assert!(harness.dead_letters().await.is_empty());
}

#[tokio::test]
async fn an_event_with_nothing_to_dispatch_is_logged_and_dropped() {
    let logs = CapturedLogs::default();
    async {
        let harness = Harness::start_with(one_slot()).await;
        let id = harness.start_job(false, TEST_TIMEOUTS).await;
        harness.runner_starts(&id, 1).await;
        let event: serde_json::Value =
            serde_json::from_str(include_str!("../../events/dispatch/ecs_task_stopped.json"))
                .expect("sample event");
        // A task nobody started for a job, and a stopped task's event cut short.
        let mut theirs = event.clone();
        theirs["detail"]["startedBy"] = "ecs-svc/1234567890".into();
        let mut malformed = event.clone();
        malformed["detail"]["lastStatus"] = serde_json::json!(["STOPPED"]);
        malformed["detail"]["startedBy"] = id.as_str().into();
        for body in [theirs.to_string(), malformed.to_string()] {
            harness.deliver_dispatch_message(&body).await;
        }
        harness.pump_all().await;
        // Dropped, not returned to the queue: nothing comes back.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(harness.pump().await, 0);
        // The job's slot is untouched.
        assert_eq!(harness.leases().await.len(), 1);
    }
    .with_subscriber(logs.subscriber())
    .await;
    let text = logs.text();
    let ignored: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("event ignored"))
        .collect();
    assert_eq!(ignored.len(), 2, "{text}");
    assert!(
        ignored[0].contains(r#"was not started for a job (startedBy \"ecs-svc/1234567890\")"#),
        "{}",
        ignored[0]
    );
    assert!(
        ignored[1].contains("a malformed task state change"),
        "{}",
        ignored[1]
    );
    assert!(
        ignored
            .iter()
            .all(|line| line.contains(r#""level":"WARN""#))
    );
}

/// One GPU slot, two on Ollama's hosted service, and a policy that allows the hosted
/// service. With the GPU busy, a job whose task names a `hosted_model` runs there; a job
/// whose task names none waits in line for the GPU (its `model` may not exist on the
/// hosted service) instead of failing or being sent there with the wrong model.
#[tokio::test]
async fn without_a_hosted_model_a_job_waits_for_the_gpu_while_others_overflow() {
    let harness = Harness::start_with(Options {
        limits: Limits {
            gpu_slots: 1,
            hosted_slots: 2,
            per_installation: 5,
        },
        ..Options::default()
    })
    .await;
    harness
        .store
        .put_policy(&InstallationPolicy {
            installation: shared::ids::InstallationId(INSTALLATION),
            name: "overflow".to_owned(),
            repo_pattern: "*/*".to_owned(),
            allowed_triggers: None,
            allowed_users: None,
            require_approval: None,
            max_runtime_seconds: None,
            allow_hosted_model: Some(true),
            user_jobs_per_hour: None,
            installation_jobs_per_hour: None,
            allowed_overrides: None,
            token_budget: None,
            plan_first: None,
        })
        .await
        .expect("put the policy");
    let on_gpu = harness.start_job_naming(false, TEST_TIMEOUTS, None).await;
    let gpu_token = harness.runner_starts(&on_gpu, 1).await;
    let waits = harness.start_job_naming(false, TEST_TIMEOUTS, None).await;
    pump_until_in_line(&harness, &waits).await;
    let overflows = harness
        .start_job_naming(false, TEST_TIMEOUTS, Some("gpt-oss:120b"))
        .await;
    let hosted_token = harness.runner_starts(&overflows, 1).await;

    let endpoints: Vec<(JobId, EndpointKind)> = harness
        .leases()
        .await
        .into_iter()
        .map(|lease| (lease.job, lease.endpoint))
        .collect();
    assert_eq!(
        endpoints,
        [
            (on_gpu.clone(), EndpointKind::SelfHosted),
            (overflows.clone(), EndpointKind::Hosted)
        ]
    );
    assert_eq!(in_line(&harness).await, std::slice::from_ref(&waits));
    let job = harness.job(&waits).await;
    assert_eq!((job.status, job.attempts), (JobStatus::Queued, 0));
    let updates = queued_updates(&harness, &waits);
    let summary = updates[0]["output"]["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("self-hosted GPU"), "{summary}");

    // The GPU frees up: the waiting job runs there.
    harness.runner_succeeds(&gpu_token).await.expect("answer");
    harness.finished_job(&on_gpu).await;
    harness.runner_task_stops(&on_gpu, 1).await;
    let token = harness.runner_starts(&waits, 1).await;
    assert!(
        harness
            .leases()
            .await
            .iter()
            .any(|lease| lease.job == waits && lease.endpoint == EndpointKind::SelfHosted)
    );
    harness.runner_succeeds(&token).await.expect("answer");
    harness
        .runner_succeeds(&hosted_token)
        .await
        .expect("answer");
    assert_eq!(
        harness.finished_job(&waits).await.status,
        JobStatus::Succeeded
    );
    assert_eq!(
        harness.finished_job(&overflows).await.status,
        JobStatus::Succeeded
    );
    harness.assert_nothing_unexpected();
}
