//! The dashboard's control plane on AWS (`ota_aws::DynamoControlPlane`) against moto: the
//! listings keep the contract the SQLite one keeps (`e2e::control_plane_contract`), on a
//! table of their own; the rest runs on the stack created from `template.yaml`
//! (`e2e::stack::StackWorld`) — a job's page with its runner's CloudWatch Logs lines,
//! approve, cancel and retry on the state machine, policies replaced and audited, the
//! dead-letter queues listed, retried and discarded.

use e2e::aws::{REGION, config, fresh_store};
use e2e::control_plane_contract;
use e2e::stack::StackWorld;
use e2e::store_contract::policy;
use ota_aws::{DynamoControlPlane, RunnerLogReader, StepFunctionsWorkflow, console_log_url};
use shared::ids::InstallationId;
use shared::job::{JobStatus, TaskToken, Wait};
use shared::ports::{
    ActionOutcome, AuditFilter, AuditLog, ControlPlane, DashboardActor, DeadLetterAction,
    JobAction, JobStore, PolicyStore,
};

/// A control plane on a fresh table of its own, with no state machine, logs or queues
/// behind it: for the listings only.
async fn listing_plane() -> (ota_aws::DynamoStore, DynamoControlPlane) {
    let (store, _, _) = fresh_store("ota-plane").await;
    let config = config().await;
    let workflow = StepFunctionsWorkflow::new(
        aws_sdk_sfn::Client::new(&config),
        "arn:aws:states:us-east-1:123456789012:stateMachine:unused",
    )
    .expect("arn");
    let logs = RunnerLogReader::new(aws_sdk_cloudwatchlogs::Client::new(&config), "/unused");
    let plane = DynamoControlPlane::new(store.clone(), workflow, logs, Vec::new());
    (store, plane)
}

#[tokio::test]
async fn job_listings_keep_the_contract() {
    let (store, plane) = listing_plane().await;
    control_plane_contract::job_listing_contract(&store, &plane).await;
}

#[tokio::test]
async fn audit_listings_keep_the_contract() {
    let (store, plane) = listing_plane().await;
    control_plane_contract::audit_listing_contract(&store, &plane).await;
}

#[tokio::test]
async fn installations_keep_the_contract() {
    let (store, plane) = listing_plane().await;
    control_plane_contract::installations_contract(&store, &plane).await;
}

#[tokio::test]
async fn tokens_used_keep_the_contract() {
    let (store, plane) = listing_plane().await;
    control_plane_contract::tokens_used_contract(&store, &plane).await;
}

#[tokio::test]
async fn a_job_s_page_has_its_attempts_audit_and_runner_log() {
    let world = StackWorld::start().await;
    let plane = world.control_plane().await;
    let mut job = world.job(JobStatus::AwaitingApproval, true).await;
    assert!(
        plane
            .job_detail(&job.id)
            .await
            .expect("detail")
            .is_some_and(|detail| !detail.approvable),
        "no approval token yet: nothing to approve"
    );
    world
        .store
        .put_task_token(&job.id, Wait::Approval, &TaskToken::new("approval-token"))
        .await
        .expect("token");
    let detail = plane
        .job_detail(&job.id)
        .await
        .expect("detail")
        .expect("job");
    assert!(detail.approvable);
    assert!(detail.log.is_empty(), "no runner yet: {:?}", detail.log);

    // A runner ran: its stream in the runners' group, named in the record as the
    // launcher names it.
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config().await);
    let group = world.runner_log_group().to_owned();
    let stream = "runner/runner/0123abcd";
    logs.create_log_stream()
        .log_group_name(&group)
        .log_stream_name(stream)
        .send()
        .await
        .expect("stream");
    let now = shared::clock::now_ms();
    let events = ["cloning", "calling the model", "pushed the branch"]
        .iter()
        .enumerate()
        .map(|(at, line)| {
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(i64::try_from(now).expect("ms") + i64::try_from(at).expect("index"))
                .message(*line)
                .build()
                .expect("event")
        })
        .collect();
    logs.put_log_events()
        .log_group_name(&group)
        .log_stream_name(stream)
        .set_log_events(Some(events))
        .send()
        .await
        .expect("events");
    let before = job.status;
    job.move_to(JobStatus::Dispatching, now).expect("dispatch");
    job.attempts = 1;
    job.log = Some(console_log_url(REGION, &group, stream));
    world.store.update_job(&job, before).await.expect("update");
    let mut entry = e2e::store_contract::audit_entry(job.installation.0, now, "/approve");
    entry.job = Some(job.id.clone());
    world.store.append(&entry).await.expect("audit");
    let mut other = entry.clone();
    other.job = None;
    other.command = "/ollama refactor".to_owned();
    world.store.append(&other).await.expect("audit");
    // The page reads the log from a minute before the job on, not the whole partition.
    let mut long_before = entry.clone();
    long_before.at_ms = job.created_at_ms - 2 * ota_aws::AUDIT_LEEWAY_MS;
    long_before.command = "/ollama refactor (an older job's)".to_owned();
    world.store.append(&long_before).await.expect("audit");

    let detail = plane
        .job_detail(&job.id)
        .await
        .expect("detail")
        .expect("job");
    assert_eq!(
        detail.log,
        ["cloning", "calling the model", "pushed the branch"]
    );
    assert_eq!(detail.attempts.len(), 1);
    assert!(!detail.approvable);
    let audit: Vec<(&str, &str)> = detail
        .audit
        .iter()
        .map(|entry| (entry.actor.as_str(), entry.command.as_str()))
        .collect();
    assert_eq!(audit, [("octocat", "/approve")]);

    // A link to another group is not followed.
    job.log = Some(console_log_url(REGION, "/somebody/else", stream));
    world
        .store
        .update_job(&job, job.status)
        .await
        .expect("update");
    let detail = plane
        .job_detail(&job.id)
        .await
        .expect("detail")
        .expect("job");
    assert!(detail.log.is_empty(), "{:?}", detail.log);
}

#[tokio::test]
async fn approving_a_waiting_job_lets_its_execution_go_on() {
    let world = StackWorld::start().await;
    let plane = world.control_plane().await;
    let job = world.job(JobStatus::AwaitingApproval, true).await;
    world.start_execution(&job, true).await;
    // The report function's part: keep the approval wait's token.
    let approval = world.take_message(&world.queue_url("ApprovalsQueue")).await;
    let token = TaskToken::new(approval["token"].as_str().expect("token"));
    world
        .store
        .put_task_token(&job.id, Wait::Approval, &token)
        .await
        .expect("store the token");

    let outcome = plane
        .act(
            job.clone(),
            JobAction::Approve,
            &DashboardActor::User("octocat".to_owned()),
        )
        .await
        .expect("approve");
    assert_eq!(
        outcome,
        ActionOutcome::Done("Approved; it runs next.".into())
    );
    let stored = world.store.job(&job.id).await.expect("read").expect("job");
    assert_eq!(stored.approval.approved_by.as_deref(), Some("octocat"));
    // The workflow went on: the run's dispatch message is out.
    let dispatch = world.take_message(&world.queue_url("DispatchQueue")).await;
    assert_eq!(dispatch["job"], job.id.as_str());
    let entries = plane
        .audit(
            &AuditFilter {
                actor: Some("octocat".to_owned()),
                ..AuditFilter::default()
            },
            None,
            10,
        )
        .await
        .expect("audit");
    assert_eq!(entries.entries.len(), 1);
    assert_eq!(entries.entries[0].command, "dashboard approve");
    assert_eq!(entries.entries[0].job.as_ref(), Some(&job.id));

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
    let again = plane
        .act(dispatching, JobAction::Approve, &DashboardActor::Operator)
        .await
        .expect("approve again");
    assert!(
        matches!(&again, ActionOutcome::NotPossible(text) if text.contains("not waiting")),
        "{again:?}"
    );
}

#[tokio::test]
async fn a_cancelled_job_is_retried_as_a_new_execution() {
    let world = StackWorld::start().await;
    let plane = world.control_plane().await;
    let job = world.job(JobStatus::Queued, false).await;
    world.start_execution(&job, false).await;
    let not_yet = plane
        .act(job.clone(), JobAction::Retry, &DashboardActor::Operator)
        .await
        .expect("retry");
    assert!(
        matches!(not_yet, ActionOutcome::NotPossible(_)),
        "{not_yet:?}"
    );
    let mut finished = job.clone();
    finished
        .move_to(JobStatus::Cancelled, shared::clock::now_ms())
        .expect("cancel");
    world
        .store
        .update_job(&finished, JobStatus::Queued)
        .await
        .expect("store");
    let ActionOutcome::Retried(new) = plane
        .act(finished, JobAction::Retry, &DashboardActor::Operator)
        .await
        .expect("retry")
    else {
        panic!("not retried");
    };
    let record = world.store.job(&new).await.expect("read").expect("new job");
    assert_eq!(record.commit, job.commit);
    assert_eq!(record.status, JobStatus::Queued);
    assert!(
        world.execution_status(&new).await.is_some(),
        "its execution started"
    );
}

#[tokio::test]
async fn policies_are_replaced_and_the_change_audited() {
    let world = StackWorld::start().await;
    let plane = world.control_plane().await;
    let installation = InstallationId(e2e::stack::INSTALLATION);
    world
        .store
        .put_policy(&policy(installation.0, "old", "*"))
        .await
        .expect("put");
    let new = vec![
        policy(installation.0, "b-docs", "octo-org/docs"),
        policy(installation.0, "a-all", "*"),
    ];
    plane
        .set_policies(installation, new, &DashboardActor::User("admin".to_owned()))
        .await
        .expect("set");
    let names: Vec<String> = plane
        .installation_policies(installation)
        .await
        .expect("policies")
        .into_iter()
        .map(|policy| policy.name)
        .collect();
    assert_eq!(names, ["a-all", "b-docs"]);
    let page = plane
        .audit(&AuditFilter::default(), None, 10)
        .await
        .expect("audit");
    assert_eq!(page.entries.len(), 1);
    let entry = &page.entries[0];
    assert_eq!(
        (
            entry.actor.as_str(),
            entry.command.as_str(),
            entry.reason.as_str()
        ),
        ("admin", "dashboard policy set", "2 policies: b-docs, a-all")
    );
    // Visible to the owner only: it is about no repository.
    let scoped = plane
        .audit(
            &AuditFilter {
                repos: Some(e2e::store_contract::repos(&[e2e::stack::REPO])),
                ..AuditFilter::default()
            },
            None,
            10,
        )
        .await
        .expect("audit");
    assert!(scoped.entries.is_empty());
}

#[tokio::test]
async fn dead_letters_are_listed_retried_and_discarded() {
    let world = StackWorld::start().await;
    let plane = world.control_plane().await;
    let job = world.job(JobStatus::DeadLettered, false).await;
    let jobs_dlq = world.output("JobDeadLetterQueueUrl").to_owned();
    let approvals_dlq = world.output("ApprovalsDeadLetterQueueUrl").to_owned();
    // As the workflow's `DeadLetter` state sends it.
    let body = serde_json::json!({
        "job": job.id.as_str(),
        "error": { "Error": "Dispatch.NoCapacity", "Cause": "no Ollama endpoint has a free slot" },
        "execution": world.workflow.execution_arn(&job.id),
    });
    for (queue, body) in [
        (&jobs_dlq, body.to_string()),
        (
            &approvals_dlq,
            serde_json::json!({ "kind": "approval", "job": job.id.as_str(), "token": "SECRET-TASK-TOKEN" })
                .to_string(),
        ),
    ] {
        world
            .sqs
            .send_message()
            .queue_url(queue)
            .message_body(body)
            .send()
            .await
            .expect("send to moto");
    }

    let letters = plane.dead_letters(10).await.expect("list");
    let mut kinds: Vec<&str> = letters.iter().map(|letter| letter.kind.as_str()).collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        [
            format!("approvals: job {} · kind approval", job.id),
            format!(
                "jobs: job {} · Dispatch.NoCapacity: no Ollama endpoint has a free slot",
                job.id
            )
        ]
    );
    assert!(!format!("{letters:?}").contains("SECRET"), "{letters:?}");
    // Looking leaves them in place.
    assert_eq!(plane.dead_letters(10).await.expect("list").len(), 2);

    let owner = DashboardActor::User("the-owner".to_owned());
    let id_of = |prefix: &str| {
        letters
            .iter()
            .find(|letter| letter.id.starts_with(prefix))
            .map(|letter| letter.id.clone())
            .expect("listed")
    };
    assert!(
        plane
            .dead_letter_act(&id_of("jobs:"), DeadLetterAction::Retry, &owner)
            .await
            .expect("retry")
    );
    assert!(world.peek(&jobs_dlq).await.is_empty(), "its letter is gone");
    let retried = plane
        .jobs(&shared::ports::JobFilter::default(), None, 10)
        .await
        .expect("jobs");
    let new = retried
        .jobs
        .iter()
        .find(|other| other.id != job.id)
        .expect("the retry's job");
    assert_eq!(new.commit, job.commit);
    assert!(world.execution_status(&new.id).await.is_some());
    let retried_by = plane
        .audit(
            &AuditFilter {
                actor: Some("the-owner".to_owned()),
                ..AuditFilter::default()
            },
            None,
            10,
        )
        .await
        .expect("audit");
    assert_eq!(retried_by.entries.len(), 1, "the owner is named");
    assert_eq!(retried_by.entries[0].command, "dashboard retry");

    assert!(
        plane
            .dead_letter_act(&id_of("approvals:"), DeadLetterAction::Discard, &owner)
            .await
            .expect("discard")
    );
    assert!(world.peek(&approvals_dlq).await.is_empty());
    assert!(
        !plane
            .dead_letter_act(&id_of("approvals:"), DeadLetterAction::Discard, &owner)
            .await
            .expect("again"),
        "gone already"
    );
    assert!(
        !plane
            .dead_letter_act("nowhere:1", DeadLetterAction::Discard, &owner)
            .await
            .expect("unknown queue")
    );
}

#[tokio::test]
async fn a_rare_filter_reads_a_bounded_page_and_reads_on_from_its_cursor() {
    use futures_util::StreamExt;
    let (store, plane) = listing_plane().await;
    // The one match is older than a page's whole read budget of other jobs.
    let rare = e2e::store_contract::job_on("rare/repo", e2e::store_contract::comment_on(1), 1);
    store.create_job(&rare).await.expect("create");
    let others: Vec<_> = (0..ota_aws::READ_BUDGET as u64)
        .map(|at| e2e::store_contract::job(1_000 + at))
        .collect();
    futures_util::stream::iter(others.iter().map(|job| store.create_job(job)))
        .buffer_unordered(16)
        .for_each(|created| async move {
            created.expect("create");
        })
        .await;
    let filter = shared::ports::JobFilter {
        repo: Some(shared::ids::RepoFullName::new("rare/repo")),
        ..shared::ports::JobFilter::default()
    };
    let first = plane.jobs(&filter, None, 10).await.expect("page");
    assert!(first.jobs.is_empty(), "the budget ends the page first");
    let next = first.next.expect("a cursor where it stopped");
    let second = plane.jobs(&filter, Some(&next), 10).await.expect("page");
    assert_eq!(second.jobs, [rare]);
    assert_eq!(second.next, None);
}
