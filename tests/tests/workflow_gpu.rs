//! Scale to zero on AWS, through the dispatch function's own queue: a job for the GPU
//! when the GPU Ollama service is stopped asks for it (desired count 1) and waits in line,
//! its check run saying the service is starting; the sweep dispatches it once the
//! service's task passes its health check; the sweep stops the service (desired count 0)
//! once it has been idle for its idle period, and the next job starts it again. Moto runs
//! the workflow and holds the ECS service; `e2e::workflow::gpu` plays ECS's scheduler.

use e2e::fake_github::Route;
use e2e::workflow::actors::TEST_TIMEOUTS;
use e2e::workflow::{Harness, Options, REPO, STEP_TIMEOUT};
use shared::dispatch::gpu::STARTING;
use shared::dispatch::{Endpoints, Limits};
use shared::job::{JobId, JobStatus};
use shared::ports::SlotStore;
use std::time::{Duration, Instant};

/// Long enough that the first part of the test does not reach it.
const IDLE: Duration = Duration::from_secs(4);

/// The stack's defaults: the GPU service only, no hosted service.
fn managed_gpu() -> Options {
    Options {
        limits: Limits {
            gpu_slots: 4,
            hosted_slots: 0,
            per_installation: 2,
        },
        endpoints: Endpoints {
            self_hosted: Some("http://ollama.ota-test.ota.internal:11434".to_owned()),
            hosted: None,
            self_hosted_down: None,
        },
        gpu_idle: Some(IDLE),
    }
}

async fn in_line(harness: &Harness) -> Vec<JobId> {
    let slots = harness.store.slots().await.expect("slots").slots;
    slots.waiting.into_iter().map(|waiter| waiter.job).collect()
}

async fn pump_until_in_line(harness: &Harness, job: &JobId) {
    let started = Instant::now();
    while !in_line(harness).await.contains(job) {
        harness.pump().await;
        assert!(started.elapsed() < STEP_TIMEOUT, "job {job} never queued");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The summaries of the check run updates that set `job`'s check run to queued.
fn queued_summaries(harness: &Harness, job: &JobId) -> Vec<String> {
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
        .map(|body| {
            body["output"]["summary"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn a_gpu_job_waits_while_the_service_starts_runs_once_it_is_ready_and_the_idle_service_stops()
{
    let harness = Harness::start_with(managed_gpu()).await;
    let gpu = harness.gpu.as_ref().expect("a GPU service in moto");
    assert_eq!(gpu.desired_count().await, 0, "the stack deploys it stopped");

    let job = harness.start_job(false, TEST_TIMEOUTS).await;
    pump_until_in_line(&harness, &job).await;
    assert_eq!(gpu.desired_count().await, 1, "the job asked for the GPU");
    let summaries = queued_summaries(&harness, &job);
    assert_eq!(summaries.len(), 1, "{summaries:#?}");
    assert!(summaries[0].contains(STARTING), "{}", summaries[0]);

    // The instance boots and the models load: the line waits, its wait kept alive.
    for _ in 0..3 {
        harness.sweep().await;
        harness.pump_all().await;
    }
    assert_eq!(in_line(&harness).await, std::slice::from_ref(&job));
    assert_eq!(harness.job(&job).await.status, JobStatus::Queued);
    assert!(harness.runner_tasks(&job, "RUNNING").await.is_empty());
    assert_eq!(gpu.desired_count().await, 1);
    assert_eq!(queued_summaries(&harness, &job).len(), 1, "told once");

    // The service's task passes its health check; the next sweep starts the job.
    let ollama_task = gpu.task_becomes_healthy().await;
    harness.sweep().await;
    let token = harness.runner_starts(&job, 1).await;
    assert!(in_line(&harness).await.is_empty());
    assert_eq!(harness.runner_tasks(&job, "RUNNING").await.len(), 1);
    let leases = harness.leases().await;
    assert_eq!(leases.len(), 1);
    assert_eq!(leases[0].endpoint, shared::ports::EndpointKind::SelfHosted);

    // Busy: however long the job runs, the sweep leaves the service up.
    tokio::time::sleep(IDLE + Duration::from_secs(1)).await;
    harness.sweep().await;
    harness.pump_all().await;
    assert_eq!(gpu.desired_count().await, 1, "stopped under a running job");

    harness.runner_succeeds(&token).await.expect("answer");
    let finished = harness.finished_job(&job).await;
    assert_eq!(
        (finished.status, finished.attempts),
        (JobStatus::Succeeded, 1)
    );
    harness.runner_task_stops(&job, 1).await;
    harness.pump_all().await;
    assert!(harness.leases().await.is_empty());

    // Idle: the first sweep starts the clock, one after the idle period stops it.
    harness.sweep().await;
    harness.pump_all().await;
    assert_eq!(
        gpu.desired_count().await,
        1,
        "stopped before its idle period"
    );
    tokio::time::sleep(IDLE + Duration::from_secs(1)).await;
    harness.sweep().await;
    harness.pump_all().await;
    assert_eq!(
        gpu.desired_count().await,
        0,
        "the idle service was not stopped"
    );
    gpu.task_stops(&ollama_task).await;

    // The next job starts it again, and waits.
    let next = harness.start_job(false, TEST_TIMEOUTS).await;
    pump_until_in_line(&harness, &next).await;
    assert_eq!(gpu.desired_count().await, 1);
    assert!(harness.runner_tasks(&next, "RUNNING").await.is_empty());
    assert!(harness.dead_letters().await.is_empty());
}
