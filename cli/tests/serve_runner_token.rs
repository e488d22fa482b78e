//! `ota serve`'s runners hold no lasting secret: a runner's environment and command line
//! carry none of the server's secrets, its GitHub token is minted by the server for the
//! job's one repository (and minted again when it nears expiry), and the token endpoint
//! refuses every credential but the current attempt's of a job still running.

use e2e::fake_github::PRIVATE_KEY_PEM;
use e2e::fake_ollama::{ChatReply, Reply};
use e2e::ota_server::{OtaServer, REPO, SECRET, ServeWorld, eventually, refactor_request};
use e2e::runner_world::REFACTORED;
use ota_local::store::Database;
use serde_json::{Value, json};
use shared::dispatch::GrantKey;
use shared::ids::{InstallationId, RepoFullName};
use shared::job::{JobId, JobRecord, JobStatus, RunnerCredential};
use shared::ports::JobStore;
use std::path::Path;
use std::time::Duration;

const OTA: &str = env!("CARGO_BIN_EXE_ota");

const CHECK: &str = "grep -q retry_with_backoff src/lib.rs";

/// The hosted service's key the server is started with.
const OLLAMA_KEY: &str = "sk-ollama-TEST-ONLY-5c2e";

/// The server's environment: the App's key by path, the webhook secret and the Ollama
/// key, as an operator sets them; returns it with the key file's path.
fn secret_environment(world: &ServeWorld, keys: &Path) -> (Vec<(String, String)>, String) {
    let key_path = keys.join("app-key.pem");
    std::fs::write(&key_path, PRIVATE_KEY_PEM).expect("write the key");
    let key_path = key_path.display().to_string();
    let mut environment: Vec<(String, String)> = world
        .environment()
        .into_iter()
        .filter(|(name, _)| name != "PRIVATE_KEY")
        .collect();
    environment.push(("PRIVATE_KEY_PATH".to_owned(), key_path.clone()));
    environment.push(("OLLAMA_API_KEY".to_owned(), OLLAMA_KEY.to_owned()));
    (environment, key_path)
}

/// The `ota runner` processes working on `data_dir`.
fn runner_pids(data_dir: &Path) -> Vec<u32> {
    let wanted = format!("runner\0--data-dir\0{}\0", data_dir.display());
    std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|line| String::from_utf8_lossy(&line).contains(&wanted))
        })
        .collect()
}

#[tokio::test]
async fn a_runner_holds_no_server_secret_and_gets_fresh_tokens_for_its_one_repository() {
    let world = ServeWorld::with_lib(CHECK).await;
    // Tokens that near expiry after three seconds: the runner's pause below outlives its
    // first one, so everything after it needs a fresh token from the server.
    world
        .github
        .set_token_lifetime(ota_github::REFRESH_MARGIN + Duration::from_secs(3));
    world
        .ollama
        .push(Reply::from(ChatReply::read_file("src/lib.rs")).after(Duration::from_secs(6)))
        .push(ChatReply::call(
            "write_file",
            json!({"path": "src/lib.rs", "content": REFACTORED}),
        ))
        .push(ChatReply::finish("Extracted the retry loop."));
    let keys = tempfile::tempdir().expect("key directory");
    let (environment, key_path) = secret_environment(&world, keys.path());
    let server = OtaServer::start_with(
        OTA,
        world.data_dir(),
        &environment,
        &["--retry-interval-seconds", "1"],
    );

    let (status, body) = server.post(&refactor_request("Codertocat")).await;
    assert_eq!(status, 202, "{body}");
    let pid = eventually(&server, "a runner", Duration::from_secs(60), || {
        runner_pids(world.data_dir()).into_iter().next()
    })
    .await;
    let environ = std::fs::read(format!("/proc/{pid}/environ")).expect("the runner's environ");
    let environ = String::from_utf8_lossy(&environ).replace('\0', "\n");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).expect("the runner's cmdline");
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    let key_line = PRIVATE_KEY_PEM.lines().nth(1).expect("a line of the key");
    for (what, secret) in [
        ("the webhook secret", SECRET),
        ("the Ollama key", OLLAMA_KEY),
        ("the App key's path", key_path.as_str()),
        ("the App key", key_line),
        ("the App key's variable", "PRIVATE_KEY"),
        ("the webhook secret's variable", "WEBHOOK_SECRET"),
    ] {
        assert!(
            !environ.contains(secret),
            "{what} is in the runner's environment:\n{environ}"
        );
        assert!(
            !cmdline.contains(secret),
            "{what} is on its command line: {cmdline}"
        );
    }
    assert!(environ.contains("OTA_JOB_ID="), "{environ}");

    let pull = world.opened_pull(&server).await;
    assert_eq!(world.git.show(REPO, &pull.head, "src/lib.rs"), REFACTORED);
    let runner_permissions: Value = json!({
        "metadata": "read",
        "checks": "write",
        "contents": "write",
        "issues": "read",
        "pull_requests": "write",
    });
    let minted = world.github.minted_tokens();
    let runners: Vec<_> = minted
        .iter()
        .filter(|token| {
            serde_json::to_value(&token.permissions).ok() == Some(runner_permissions.clone())
        })
        .collect();
    assert!(
        runners.len() >= 2,
        "the runner's token was not minted again once it neared expiry: {:?}",
        minted
            .iter()
            .map(|token| &token.permissions)
            .collect::<Vec<_>>()
    );
    // Every token is for the job's repository, but the one the policy stage reads the
    // organisation's defaults with: for `.github` alone, and never with write access.
    for token in &minted {
        if token.repositories == [".github"] {
            assert_eq!(
                token.permissions.get("contents").map(String::as_str),
                Some("read"),
                "{:?}",
                token.permissions
            );
            continue;
        }
        assert_eq!(
            token.repositories,
            ["Hello-World"],
            "{:?}",
            token.permissions
        );
    }
    let log = server.log();
    assert!(
        log.matches("handed a runner its token").count() >= 2,
        "{log}"
    );
    let runner_logs = std::fs::read_dir(world.data_dir().join("logs"))
        .expect("the runners' logs")
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok())
        .collect::<String>();
    for token in &minted {
        assert!(
            !log.contains(&token.token),
            "a token is in the server's log"
        );
        assert!(
            !runner_logs.contains(&token.token),
            "a token is in a runner's log"
        );
    }
}

/// A job of [`REPO`] that the test runs itself, at `attempt`, with its runner's grant.
async fn running_job(db: &Database, suffix: &str, attempts: u32) -> JobRecord {
    let id = JobId::parse(&format!("j0123456789abcdef{suffix}")).expect("job id");
    let mut job = JobRecord::new(
        shared::job::JobRequest {
            id,
            delivery: shared::ids::DeliveryId::parse("72d3162e-cc78-11e3-81ab-4c9367dc0958")
                .expect("delivery"),
            installation: InstallationId(e2e::ota_server::INSTALLATION),
            repo: RepoFullName::new(REPO),
            commit: shared::ids::CommitSha::new("6dcb09b5b57875f334f61aebed695e2e4193db5e"),
            git_ref: "main".to_owned(),
            trigger: shared::job::Trigger::Cli,
            task: "review".to_owned(),
            params: String::new(),
            requester: "Codertocat".to_owned(),
            approval: shared::job::Approval::not_required(),
        },
        1,
    );
    job.move_to(JobStatus::Dispatching, 2).expect("dispatching");
    job.attempts = attempts;
    db.create_job(&job).await.expect("create");
    job
}

/// Grants `credential` to `attempt` of `job`, as the dispatch stage does at launch.
async fn grant(db: &Database, job: &mut JobRecord, attempt: u32, credential: &RunnerCredential) {
    let key = GrantKey::from_app_key(&PRIVATE_KEY_PEM.into());
    let expected = job.status;
    job.attempts = attempt;
    job.runner_grant = Some(key.grant(&job.id, attempt, false, credential));
    db.update_job(job, expected).await.expect("grant");
}

async fn ask(
    server: &OtaServer,
    job: &JobId,
    attempt: u32,
    credential: Option<&str>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/runner/token", server.url))
        .json(&json!({ "job": job.as_str(), "attempt": attempt }));
    if let Some(credential) = credential {
        request = request.bearer_auth(credential);
    }
    let response = request.send().await.expect("ask for a token");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_token_endpoint_answers_only_the_current_attempt_of_a_running_job() {
    let world = ServeWorld::with_lib(CHECK).await;
    let server = world.serve(OTA, &[]);
    let db = Database::open(world.data_dir()).expect("the server's database");
    let first = RunnerCredential::generate().expect("random");
    let second = RunnerCredential::generate().expect("random");
    let other = RunnerCredential::generate().expect("random");
    let mut job = running_job(&db, "0001", 1).await;
    let mut other_job = running_job(&db, "0002", 1).await;
    grant(&db, &mut job, 1, &first).await;
    grant(&db, &mut other_job, 1, &other).await;

    let (status, granted) = ask(&server, &job.id, 1, Some(first.expose())).await;
    assert_eq!(status, 200, "{granted}");
    assert_eq!(granted["repo"], REPO);
    assert_eq!(granted["installation"], e2e::ota_server::INSTALLATION);
    assert!(granted.get("ollama_api_key").is_none(), "{granted}");
    let minted = world.github.minted_tokens();
    let token = minted
        .iter()
        .find(|token| granted["token"] == token.token.as_str())
        .expect("the token is one GitHub minted");
    assert_eq!(token.repositories, ["Hello-World"]);
    let review: Value = json!({
        "metadata": "read", "checks": "write", "contents": "read", "pull_requests": "write",
        "issues": "read",
    });
    assert_eq!(
        serde_json::to_value(&token.permissions).ok(),
        Some(review),
        "a review pushes nothing"
    );

    // Another job's credential, a made-up one, none, a job that doesn't exist.
    let (status, body) = ask(&server, &job.id, 1, Some(other.expose())).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("wrong_credential")),
        "{body}"
    );
    let (status, body) = ask(&server, &job.id, 1, Some(&"0".repeat(64))).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("wrong_credential")),
        "{body}"
    );
    let (status, body) = ask(&server, &job.id, 1, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("bad_request")),
        "{body}"
    );
    let unknown = JobId::parse("j0123456789abcdef0999").expect("id");
    let (status, body) = ask(&server, &unknown, 1, Some(first.expose())).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("unknown_job")),
        "{body}"
    );

    // A second attempt supersedes the first's credential.
    grant(&db, &mut job, 2, &second).await;
    let (status, body) = ask(&server, &job.id, 1, Some(first.expose())).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (410, Some("attempt_over")),
        "{body}"
    );
    assert_eq!(
        body["error"],
        format!(
            "attempt 1 of job {} is over: the job is on attempt 2",
            job.id
        )
    );
    let (status, body) = ask(&server, &job.id, 2, Some(first.expose())).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("wrong_credential")),
        "{body}"
    );
    let (status, body) = ask(&server, &job.id, 2, Some(second.expose())).await;
    assert_eq!(status, 200, "{body}");

    // Once the job is over, so is its credential.
    let expected = job.status;
    job.move_to(JobStatus::Cancelled, 3).expect("cancel");
    db.update_job(&job, expected).await.expect("cancelled");
    let (status, body) = ask(&server, &job.id, 2, Some(second.expose())).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (410, Some("job_finished")),
        "{body}"
    );
    assert_eq!(
        body["error"],
        format!(
            "job {} is cancelled: its runners get no more tokens",
            job.id
        )
    );

    let log = server.log();
    assert!(
        log.contains(&format!("job={}", job.id)) || log.contains(job.id.as_str()),
        "{log}"
    );
    assert!(log.contains("refused a runner token request"), "{log}");
    for secret in [first.expose(), second.expose(), other.expose()] {
        assert!(!log.contains(secret), "a credential is in the server's log");
    }
    for token in world.github.minted_tokens() {
        assert!(
            !log.contains(&token.token),
            "a token is in the server's log"
        );
    }
}
