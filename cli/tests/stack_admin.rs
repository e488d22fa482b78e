//! `ota --stack NAME dlq | policy | secrets` on the stack created from `template.yaml` in
//! moto (`e2e::stack::StackWorld`): dead letters summarized without their tokens and the
//! jobs' ones redriven as retries, installation policies refused when wrong and
//! round-tripped when right, and the App's private key checked before it is stored.

use e2e::redact::Redact;
use e2e::stack::{INSTALLATION, StackWorld};
use shared::ids::InstallationId;
use shared::job::{JobId, JobStatus};
use shared::ports::{JobStore, PolicyStore};

const OTA: &str = env!("CARGO_BIN_EXE_ota");

/// The workspace file `path`.
fn workspace_file(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

/// `dlq list` with ids and ages made deterministic.
fn stable(text: &str) -> String {
    Redact::new()
        .ids()
        .apply(text)
        .lines()
        .map(|line| match line.trim_start().split_once(" ago ") {
            Some((_, rest)) => format!("  [age]        {}", rest.trim_start()),
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn dlq_list_summarizes_dead_letters_and_redrive_retries_the_jobs() {
    let world = StackWorld::start().await;
    let job = world.job(JobStatus::DeadLettered, false).await;
    let jobs_dlq = world.output("JobDeadLetterQueueUrl").to_owned();
    // As the workflow's `DeadLetter` state sends it.
    let body = serde_json::json!({
        "job": job.id.as_str(),
        "error": { "Error": "Dispatch.NoCapacity", "Cause": "no Ollama endpoint has a free slot" },
        "execution": world.workflow.execution_arn(&job.id),
    });
    world
        .sqs
        .send_message()
        .queue_url(&jobs_dlq)
        .message_body(body.to_string())
        .send()
        .await
        .expect("send to moto");
    // An approval wait's message carries its task token, which must never be shown.
    world
        .sqs
        .send_message()
        .queue_url(world.output("ApprovalsDeadLetterQueueUrl"))
        .message_body(
            serde_json::json!({ "kind": "approval", "job": job.id.as_str(), "token": "SECRET-TASK-TOKEN" })
                .to_string(),
        )
        .send()
        .await
        .expect("send to moto");

    let listed = world.ota(OTA, &["dlq", "list"], "");
    assert!(listed.success, "{listed:?}");
    assert!(!listed.stdout.contains("SECRET"), "{}", listed.stdout);
    insta::assert_snapshot!(stable(&listed.stdout));
    let again = world.ota(OTA, &["dlq", "list"], "");
    assert_eq!(
        stable(&again.stdout),
        stable(&listed.stdout),
        "listing takes nothing"
    );

    let redriven = world.ota(OTA, &["dlq", "redrive", "jobs"], "");
    assert!(redriven.success, "{redriven:?}");
    let line = redriven.stdout.trim();
    let prefix = format!("jobs: job {} runs again as job ", job.id);
    let new_id = line
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix('.'))
        .unwrap_or_else(|| panic!("{line}"));
    let new = JobId::parse(new_id).expect("a job id");
    assert_eq!(
        world
            .store
            .job(&new)
            .await
            .expect("read")
            .expect("the retry")
            .status,
        JobStatus::Queued
    );
    assert!(
        world.execution_status(&new).await.is_some(),
        "its execution started"
    );
    assert!(
        world.peek(&jobs_dlq).await.is_empty(),
        "the dead letter is gone"
    );

    let unknown = world.ota(OTA, &["dlq", "redrive", "dead"], "");
    assert!(!unknown.success);
    assert_eq!(
        unknown.stderr,
        "ota: no dead-letter queue \"dead\"; one of: intake, approvals, dispatch, report, jobs\n"
    );
}

#[tokio::test]
async fn policy_set_refuses_a_bad_file_and_round_trips_a_good_one() {
    let world = StackWorld::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let installation = INSTALLATION.to_string();

    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "policies:\n  - name: api\n    repo_pattern: octo-org/api-*\n    max_runtime_seconds: 7200\n",
    )
    .expect("write");
    let refused = world.ota(
        OTA,
        &["policy", "set", &installation, bad.to_str().expect("utf-8")],
        "",
    );
    assert!(!refused.success);
    insta::assert_snapshot!(
        refused
            .stderr
            .replace(dir.path().to_str().expect("utf-8"), "[dir]")
    );
    let stored = world
        .store
        .policies(InstallationId(INSTALLATION))
        .await
        .expect("read");
    assert!(stored.is_empty(), "nothing written: {stored:?}");

    let good = "policies:\n  - name: api\n    repo_pattern: octo-org/api-*\n    allowed_triggers: [comment]\n    require_approval: true\n    max_runtime_seconds: 1200\n  - name: everything\n    repo_pattern: '*/*'\n    user_jobs_per_hour: 5\n";
    let set = world.ota(OTA, &["policy", "set", &installation, "-"], good);
    assert!(set.success, "{set:?}");
    assert_eq!(
        set.stdout,
        "Installation 4242 has 2 policies: api, everything.\n"
    );
    let got = world.ota(OTA, &["policy", "get", &installation], "");
    assert!(got.success, "{got:?}");
    insta::assert_snapshot!(got.stdout);

    // What `get` prints, `set` takes back; a policy left out of the file is removed.
    let only_api = got.stdout.replace(
        ",\n    {\n      \"name\": \"everything\",\n      \"repo_pattern\": \"*/*\",\n      \"user_jobs_per_hour\": 5\n    }",
        "",
    );
    let reset = world.ota(OTA, &["policy", "set", &installation, "-"], &only_api);
    assert!(reset.success, "{reset:?}");
    assert_eq!(
        reset.stdout,
        "Installation 4242 has 1 policy: api (removed: everything).\n"
    );
    let stored = world
        .store
        .policies(InstallationId(INSTALLATION))
        .await
        .expect("read");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].max_runtime_seconds, Some(1200));
}

#[tokio::test]
async fn secrets_set_private_key_stores_only_a_key_the_app_can_sign_with() {
    let world = StackWorld::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let not_a_key = dir.path().join("not-a-key.pem");
    std::fs::write(
        &not_a_key,
        "-----BEGIN NOTHING-----\nhunter2\n-----END NOTHING-----\n",
    )
    .expect("write");

    let refused = world.ota(
        OTA,
        &[
            "secrets",
            "set",
            "private-key",
            not_a_key.to_str().expect("utf-8"),
        ],
        "",
    );
    assert!(!refused.success);
    assert!(!refused.stderr.contains("hunter2"), "{refused:?}");
    insta::assert_snapshot!(refused.stderr);
    assert_eq!(
        world.secret_value("GitHubAppPrivateKeyArn").await,
        None,
        "the stack's key secret is still empty, as deployed"
    );

    let key = workspace_file("tests/fixtures/github-app-TEST-ONLY-private-key.pem");
    let stored = world.ota(
        OTA,
        &[
            "secrets",
            "set",
            "private-key",
            key.to_str().expect("utf-8"),
        ],
        "",
    );
    assert!(stored.success, "{stored:?}");
    assert!(!stored.stdout.contains("PRIVATE KEY"), "{stored:?}");
    let pem = std::fs::read_to_string(&key).expect("the fixture");
    assert_eq!(
        world
            .secret_value("GitHubAppPrivateKeyArn")
            .await
            .as_deref(),
        Some(pem.trim())
    );

    let webhook = world.ota(OTA, &["secrets", "set", "webhook-secret"], "");
    assert!(webhook.success, "{webhook:?}");
    let generated = world
        .secret_value("WebhookSecretArn")
        .await
        .expect("the new webhook secret");
    assert_eq!(generated.len(), 40);
    assert!(!webhook.stdout.contains(&generated), "never printed");

    let ollama = world.ota(OTA, &["secrets", "set", "ollama-api-key"], "sk-test-123\n");
    assert!(ollama.success, "{ollama:?}");
    assert_eq!(
        world.secret_value("OllamaApiKeyArn").await.as_deref(),
        Some("sk-test-123")
    );
}
