//! `ota serve` end to end, as one process with its runners as child processes: GitHub
//! and Ollama faked at the network edge, the repository on a real Git server, deliveries
//! signed and posted over HTTP.

use e2e::delivery::Delivery;
use e2e::fake_github::Route;
use e2e::fake_ollama::{ChatReply, Reply};
use e2e::ota_server::{
    INSTALLATION, JOB_TIMEOUT, OtaServer, PR, REPO, SECRET, ServeWorld, eventually, first_job_id,
    pr_comment, refactor_request,
};
use e2e::runner_world::REFACTORED;
use serde_json::json;
use std::time::Duration;

const OTA: &str = env!("CARGO_BIN_EXE_ota");

const CHECK: &str = "grep -q retry_with_backoff src/lib.rs";

#[tokio::test]
async fn a_refactor_comment_gets_a_reaction_a_check_run_a_branch_and_a_pull_request() {
    let world = ServeWorld::with_lib(CHECK).await;
    world.script_checked_refactor();
    let server = world.serve(OTA, &["--retry-interval-seconds", "1"]);

    let (status, body) = server.post(&refactor_request("Codertocat")).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "queued");

    let pull = world.opened_pull(&server).await;
    assert!(pull.head.starts_with("ollama/refactor-"), "{}", pull.head);
    assert_eq!(world.git.show(REPO, &pull.head, "src/lib.rs"), REFACTORED);
    assert!(
        world
            .github
            .reactions()
            .iter()
            .any(|reaction| reaction.content == "eyes"),
        "no 👀 on the comment"
    );
    let finished = world
        .first_completed_check_run(&server, "the completed check run")
        .await;
    assert_eq!(
        finished.fields["conclusion"], "success",
        "{:?}",
        finished.fields
    );
    let summary = world
        .comment_containing(&server, "the summary comment", &pull.url())
        .await;
    assert_eq!(summary.login, "ollama-turbo-agent[bot]");
    let jobs = world.job_list(OTA);
    assert!(jobs.contains("succeeded"), "{jobs}");
    assert!(jobs.contains(&format!("{REPO}#{PR}")), "{jobs}");
    assert_eq!(world.github.opened_pulls(REPO).len(), 1);
    let (status, page) = server.get("/").await;
    assert_eq!(status, 200);
    let id = first_job_id(&jobs).expect("a job id");
    let short = shared::job::JobId::parse(&id)
        .expect("a job id")
        .short()
        .to_owned();
    assert!(
        page.contains(&short),
        "the status page lists the job: {page}"
    );
    assert!(page.contains("succeeded"), "{page}");
    let (status, health) = server.get("/healthz").await;
    assert_eq!(status, 200);
    assert!(health.contains("\"app_configured\":true"), "{health}");

    // Nothing the App sent GitHub names a file of the server's (the runner's log is one):
    // the check run points at the operator and the job instead.
    let data_dir = world.data_dir().display().to_string();
    for request in world.github.requests() {
        let body = request.body.map(|b| b.to_string()).unwrap_or_default();
        assert!(
            !body.contains(&data_dir),
            "{} {}: {body}",
            request.method,
            request.path
        );
    }
    let summary = finished.fields["output"]["summary"]
        .as_str()
        .unwrap_or_default();
    assert!(
        summary.ends_with(&format!("(`ota job {id}` on the App's server).")),
        "{summary}"
    );
}

#[tokio::test]
async fn a_triage_users_job_waits_for_an_approval_from_a_writer() {
    let world = ServeWorld::with_lib(CHECK).await;
    world.github.set_role(REPO, "triager", "triage");
    world.script_checked_refactor();
    let server = world.serve(OTA, &["--retry-interval-seconds", "1"]);

    assert_eq!(server.post(&refactor_request("triager")).await.0, 202);
    world
        .comment_containing(&server, "the approval request", "/approve")
        .await;
    let jobs = world.job_list(OTA);
    assert!(jobs.contains("awaiting_approval"), "{jobs}");
    assert!(world.github.opened_pulls(REPO).is_empty());
    assert_eq!(
        world.ollama.calls().len(),
        0,
        "the model ran before the approval"
    );

    let approve = Delivery::json(
        "issue_comment",
        &pr_comment("Codertocat", "/approve"),
        SECRET,
    );
    assert_eq!(server.post(&approve).await.0, 202);
    let pull = world.opened_pull(&server).await;
    assert_eq!(world.git.show(REPO, &pull.head, "src/lib.rs"), REFACTORED);
    let id = jobs
        .lines()
        .find(|line| line.contains("awaiting_approval"))
        .and_then(|line| line.split_whitespace().next())
        .expect("the job's id")
        .to_owned();
    let (ok, details) = world.ota(OTA, &["job", &id]);
    assert!(ok, "{details}");
    assert!(details.contains("approved by Codertocat"), "{details}");
}

#[tokio::test]
async fn jobs_over_the_installations_share_wait_in_line_for_the_runner_ahead_to_exit() {
    const JOBS: usize = 3;
    let world = ServeWorld::with_lib(CHECK).await;
    // The first job's model call is slow: its runner holds its slot all along.
    world
        .ollama
        .push(
            Reply::from(ChatReply::call(
                "write_file",
                json!({"path": "src/lib.rs", "content": REFACTORED}),
            ))
            .after(Duration::from_secs(8)),
        )
        .push(ChatReply::finish("Extracted the retry loop."));
    for _ in 1..JOBS {
        world.script_quick_refactor();
    }
    // Room on the GPU for all, but one job of the installation at a time.
    let server = world.serve(
        OTA,
        &[
            "--retry-interval-seconds",
            "1",
            "--gpu-slots",
            "4",
            "--installation-slots",
            "1",
        ],
    );
    for _ in 0..JOBS {
        assert_eq!(server.post(&refactor_request("Codertocat")).await.0, 202);
    }
    let mut most_running = 0;
    let jobs = eventually(&server, "every job finished", JOB_TIMEOUT * 2, || {
        let jobs = world.job_list(OTA);
        let running = jobs
            .lines()
            .filter(|line| line.contains("running") || line.contains("dispatching"))
            .count();
        most_running = most_running.max(running);
        let finished = jobs
            .lines()
            .filter(|line| {
                ["succeeded", "failed", "dead_lettered", "cancelled"]
                    .iter()
                    .any(|status| line.contains(status))
            })
            .count();
        (finished == JOBS).then_some(jobs)
    })
    .await;
    assert_eq!(
        jobs.lines()
            .filter(|line| line.contains("succeeded"))
            .count(),
        JOBS,
        "every job completes, none is dead-lettered: {jobs}"
    );
    assert!(!jobs.contains("NoCapacity"), "{jobs}");
    assert!(most_running <= 1, "{most_running} jobs ran at once: {jobs}");
    assert_eq!(
        world.ollama.most_at_once(),
        1,
        "a queued job started while the runner ahead of it was still calling its model"
    );
    assert_eq!(world.github.opened_pulls(REPO).len(), JOBS);
    let queued: Vec<String> = world
        .github
        .requests_to(Route::UpdateCheckRun)
        .into_iter()
        .filter_map(|request| {
            let body = request.body?;
            let summary = body["output"]["summary"].as_str()?.to_owned();
            (body["status"] == "queued").then_some(summary)
        })
        .collect();
    assert!(
        queued.iter().any(|summary| summary.contains(&format!(
            "waiting for a runner slot: installation {INSTALLATION} already has 1 job running"
        ))),
        "{queued:#?}"
    );
    let queued = queued.len();
    assert!(
        queued < JOBS * 3,
        "told once per reason, not at every look: {queued}"
    );
}

#[tokio::test]
async fn without_an_app_the_server_starts_and_shows_what_is_missing() {
    let data_dir = tempfile::tempdir().expect("data directory");
    let world_env: Vec<(String, String)> = Vec::new();
    let server = e2e::ota_server::OtaServer::start_with(OTA, data_dir.path(), &world_env, &[]);
    let (status, page) = server.get("/").await;
    assert_eq!(status, 200);
    assert!(page.contains("APP_ID is not set"), "{page}");
    assert!(page.contains("WEBHOOK_SECRET is not set"), "{page}");
    let (status, health) = server.get("/healthz").await;
    assert_eq!(status, 200, "{health}");
    assert!(health.contains("\"app_configured\":false"), "{health}");
    let delivery = Delivery::json(
        "issue_comment",
        &pr_comment("Codertocat", "/ollama help"),
        SECRET,
    );
    let (status, body) = server.post(&delivery).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("set one up"),
        "{body}"
    );
}

#[tokio::test]
async fn the_hosted_services_key_never_reaches_a_self_hosted_ollama() {
    const KEY: &str = "sk-hosted-only-7f3a";
    let world = ServeWorld::with_lib(CHECK).await;
    world.script_checked_refactor();
    let mut environment = world.environment();
    environment.push(("OLLAMA_API_KEY".to_owned(), KEY.to_owned()));
    let server = OtaServer::start_with(
        OTA,
        world.data_dir(),
        &environment,
        &["--retry-interval-seconds", "1"],
    );

    let (status, body) = server.post(&refactor_request("Codertocat")).await;
    assert_eq!(status, 202, "{body}");
    world.opened_pull(&server).await;

    let calls = world.ollama.calls();
    assert!(!calls.is_empty(), "the job called its Ollama");
    for call in calls {
        assert_eq!(
            call.authorization, None,
            "a self-hosted Ollama was sent the hosted service's key"
        );
    }
}
