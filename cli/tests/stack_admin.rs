//! `ota --stack NAME dlq | policy | secrets | reindex` on the stack created from `template.yaml` in
//! moto (`e2e::stack::StackWorld`): dead letters summarized without their tokens and the
//! jobs' ones redriven as retries, installation policies refused when wrong and
//! round-tripped when right, the App's private key checked before it is stored, and
//! the event queues' dead letters moved back by SQS's redrive (played in front of moto by
//! `e2e::sqs_redrive`), and what an older version recorded indexed for the dashboard.

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

/// A message dead-lettered the way SQS does it: received more times than the queue's
/// `maxReceiveCount` (5 in the template) without being deleted.
async fn dead_letter(world: &StackWorld, queue: &str, body: &str, group: Option<&str>) {
    let url = world.queue_url(queue);
    let mut send = world.sqs.send_message().queue_url(&url).message_body(body);
    if let Some(group) = group {
        send = send
            .message_group_id(group)
            .message_deduplication_id(e2e::unique("dedup"));
    }
    send.send().await.expect("send to moto");
    for _ in 0..6 {
        world
            .sqs
            .receive_message()
            .queue_url(&url)
            .visibility_timeout(0)
            .send()
            .await
            .expect("receive from moto");
    }
}

#[tokio::test]
async fn dlq_redrive_moves_event_dead_letters_back_to_their_queues() {
    let world = StackWorld::start().await;
    let front = e2e::sqs_redrive::SqsRedrive::start().await;
    let delivery = r#"{"delivery":"72d3162e-cc78-11e3-81ab-4c9367dc0958"}"#;
    dead_letter(
        &world,
        "IntakeQueue",
        delivery,
        Some("octo-org/hello-world"),
    )
    .await;
    let sweep = r#"{"kind": "sweep"}"#;
    dead_letter(&world, "DispatchQueue", sweep, None).await;
    assert_eq!(
        world.peek(world.output("IntakeDeadLetterQueueUrl")).await,
        [delivery]
    );

    let ota = |args: &[&str]| world.ota_via(&front.endpoint(), OTA, args, "");
    let redriven = ota(&["dlq", "redrive", "intake"]);
    assert!(redriven.success, "{redriven:?}");
    assert!(
        redriven
            .stdout
            .starts_with("intake: moving 1 messages back to the queue they came from (SQS task "),
        "{}",
        redriven.stdout
    );
    let tasks = front.tasks();
    assert_eq!(tasks.len(), 1);
    assert!(tasks[0].0.contains("IntakeDeadLetterQueue"), "{tasks:?}");
    assert_eq!(tasks[0].1, 1, "one message moved");
    assert!(
        world
            .peek(world.output("IntakeDeadLetterQueueUrl"))
            .await
            .is_empty()
    );
    // Back on the intake queue, in its repository's message group.
    let back = world
        .sqs
        .receive_message()
        .queue_url(world.queue_url("IntakeQueue"))
        .message_system_attribute_names(
            aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId,
        )
        .send()
        .await
        .expect("receive from moto")
        .messages
        .unwrap_or_default();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].body.as_deref(), Some(delivery));
    assert_eq!(
        back[0]
            .attributes
            .as_ref()
            .and_then(|attributes| attributes
                .get(&aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId))
            .map(String::as_str),
        Some("octo-org/hello-world")
    );

    // Every queue at once: the dispatch queue's letter goes back, the empty ones say so.
    let all = ota(&["dlq", "redrive"]);
    assert!(all.success, "{all:?}");
    assert!(
        all.stdout.contains("intake: nothing to redrive."),
        "{}",
        all.stdout
    );
    assert!(
        all.stdout.contains("dispatch: moving 1 messages back"),
        "{}",
        all.stdout
    );
    assert_eq!(world.peek(&world.queue_url("DispatchQueue")).await, [sweep]);
}

#[tokio::test]
async fn reindex_puts_what_an_older_stack_recorded_into_the_dashboard_s_index() {
    use shared::ports::{AuditLog, ControlPlane, InstallationStore, JobFilter};
    let world = StackWorld::start().await;
    let plane = world.control_plane().await;
    let job = world.job(JobStatus::Queued, false).await;
    let entry = e2e::store_contract::audit_entry(INSTALLATION, 1_000, "/ollama refactor");
    world.store.append(&entry).await.expect("audit");
    world
        .store
        .upsert_installation(&e2e::store_contract::installation(
            INSTALLATION,
            "octo-org",
            false,
        ))
        .await
        .expect("installation");
    // As a version without the index wrote them: no by-time attributes.
    let dynamodb = aws_sdk_dynamodb::Client::new(&e2e::aws::config().await);
    let table = world.output("JobsTableName").to_owned();
    let scan = dynamodb
        .scan()
        .table_name(&table)
        .send()
        .await
        .expect("scan");
    let mut stripped = 0;
    for item in scan.items.unwrap_or_default() {
        if !item.contains_key("GSI2PK") {
            continue;
        }
        dynamodb
            .update_item()
            .table_name(&table)
            .key("PK", item["PK"].clone())
            .key("SK", item["SK"].clone())
            .update_expression("REMOVE GSI2PK, GSI2SK")
            .send()
            .await
            .expect("strip");
        stripped += 1;
    }
    assert_eq!(stripped, 3);
    let all = JobFilter::default();
    assert!(
        plane
            .jobs(&all, None, 10)
            .await
            .expect("jobs")
            .jobs
            .is_empty()
    );
    assert!(
        plane
            .installations()
            .await
            .expect("installations")
            .is_empty()
    );

    let ran = world.ota(OTA, &["reindex"], "");
    assert!(ran.success, "{ran:?}");
    assert_eq!(
        ran.stdout,
        "Indexed 1 job, 1 audit entry and 1 installation for the dashboard.\n"
    );
    let listed = plane.jobs(&all, None, 10).await.expect("jobs");
    assert_eq!(listed.jobs, [job]);
    let audit = plane
        .audit(&shared::ports::AuditFilter::default(), None, 10)
        .await
        .expect("audit");
    assert_eq!(audit.entries, [entry]);
    assert_eq!(plane.installations().await.expect("installations").len(), 1);
    let again = world.ota(OTA, &["reindex"], "");
    assert_eq!(
        again.stdout,
        "Indexed 0 jobs, 0 audit entries and 0 installations for the dashboard.\n"
    );
}
