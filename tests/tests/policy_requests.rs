//! Requests from outside GitHub (a schedule's tick, an operator's run) through the policy
//! function's SQS batch handler, as the intake queue carries them: each task becomes a job
//! on the default branch head, judged by the installation's policies like any trigger,
//! recorded once however often the request arrives, and refused in the audit log when
//! nothing can run.

use e2e::policy::{DEFAULT_BRANCH, DEFAULT_BRANCH_HEAD, INSTALLATION, PolicyHarness, REPO};
use shared::envelope::Repository;
use shared::ids::{DeliveryId, InstallationId, RepoFullName, RepoId};
use shared::inbound::{Inbound, Request, RequestSource};
use shared::job::{JobId, JobStatus, Trigger};
use shared::policy::{InstallationPolicy, TriggerKind};
use shared::ports::{JobStore, PolicyStore};

fn request(source: RequestSource, tasks: &[&str]) -> Request {
    Request {
        id: DeliveryId::parse(&e2e::unique("request")).expect("request id"),
        source,
        installation: InstallationId(INSTALLATION),
        repository: Repository {
            id: RepoId(1_296_269),
            full_name: RepoFullName::new(REPO),
            default_branch: Some(DEFAULT_BRANCH.to_owned()),
            private: false,
        }
        .into(),
        tasks: tasks.iter().map(|task| (*task).to_owned()).collect(),
        text: "keep the README current".to_owned(),
    }
}

fn schedule() -> RequestSource {
    RequestSource::Schedule {
        cron: "0 6 * * 1".to_owned(),
    }
}

async fn process_ok(harness: &PolicyHarness, request: &Request) {
    let response = harness
        .process_inbound(&[Inbound::Request(request.clone())])
        .await;
    assert!(
        response.batch_item_failures.is_empty(),
        "failed: {:?}",
        response.batch_item_failures
    );
}

#[tokio::test]
async fn a_scheduled_request_starts_each_task_on_the_default_branch_head() {
    let harness = PolicyHarness::start().await;
    let request = request(schedule(), &["docs", "test"]);

    process_ok(&harness, &request).await;

    let mut started = Vec::new();
    for (index, task) in ["docs", "test"].into_iter().enumerate() {
        let id = JobId::for_trigger(&request.id, index);
        let job = harness
            .store
            .job(&id)
            .await
            .expect("store")
            .unwrap_or_else(|| panic!("no job for {task}"));
        assert_eq!(job.task, task);
        assert_eq!(job.params, "keep the README current");
        assert_eq!(job.commit.as_str(), DEFAULT_BRANCH_HEAD);
        assert_eq!(job.git_ref, DEFAULT_BRANCH);
        assert_eq!(job.trigger, Trigger::Request);
        assert_eq!(job.requester, "schedule:0 6 * * 1");
        assert_eq!(job.delivery, request.id);
        assert_eq!(job.status, JobStatus::Queued);
        started.push(id.to_string());
    }
    let mut executions = harness.execution_names().await;
    executions.sort();
    started.sort();
    assert_eq!(executions, started);
    // No conversation to answer in, and a default-branch job has no check run.
    assert!(harness.github.check_runs(REPO).is_empty());
    assert!(harness.github.reactions().is_empty());
    assert!(harness.github.unexpected().is_empty());

    let audit = harness.audit().await;
    assert_eq!(audit.len(), 2);
    assert!(audit.iter().all(|entry| entry.decision == "accepted"));
    assert!(audit.iter().all(|entry| entry.command == "schedule"));
}

#[tokio::test]
async fn the_same_request_twice_starts_its_jobs_once() {
    let harness = PolicyHarness::start().await;
    let request = request(
        RequestSource::Operator {
            login: "local:alice".to_owned(),
        },
        &["docs"],
    );

    process_ok(&harness, &request).await;
    process_ok(&harness, &request).await;

    assert_eq!(
        harness.execution_names().await,
        vec![JobId::for_trigger(&request.id, 0).to_string()]
    );
    let job = harness
        .store
        .job(&JobId::for_trigger(&request.id, 0))
        .await
        .expect("store")
        .expect("job");
    assert_eq!(job.requester, "local:alice");
}

#[tokio::test]
async fn an_unknown_task_is_refused_in_the_audit_log_and_nothing_runs() {
    let harness = PolicyHarness::start().await;
    let request = request(schedule(), &["deploy"]);

    process_ok(&harness, &request).await;

    assert!(harness.execution_names().await.is_empty());
    let audit = harness.audit().await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].decision, "invalid");
    assert_eq!(audit[0].reason, format!("deploy is not a task of {REPO}"));
    assert_eq!(audit[0].actor, "schedule:0 6 * * 1");
}

#[tokio::test]
async fn a_policy_that_allows_only_comments_denies_a_scheduled_job() {
    let harness = PolicyHarness::start().await;
    harness
        .store
        .put_policy(&InstallationPolicy {
            installation: InstallationId(INSTALLATION),
            name: "comments-only".to_owned(),
            repo_pattern: "*/*".to_owned(),
            allowed_triggers: Some(vec![TriggerKind::Comment]),
            allowed_users: None,
            require_approval: None,
            max_runtime_seconds: None,
            allow_hosted_model: None,
            user_jobs_per_hour: None,
            installation_jobs_per_hour: None,
            allowed_overrides: None,
            token_budget: None,
            plan_first: None,
        })
        .await
        .expect("policy");
    let request = request(schedule(), &["docs"]);

    process_ok(&harness, &request).await;

    assert!(harness.execution_names().await.is_empty());
    let audit = harness.audit().await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].decision, "denied");
    assert_eq!(audit[0].policy.as_deref(), Some("comments-only"));
}

#[tokio::test]
async fn a_scheduled_read_only_task_reports_on_one_tracking_issue_opened_once() {
    use shared::ports::ScheduleRegistry;
    let harness = PolicyHarness::start().await;
    let first = request(schedule(), &["review", "docs"]);
    let second = request(schedule(), &["review"]);

    process_ok(&harness, &first).await;
    process_ok(&harness, &second).await;

    let opened = harness.github.opened_issues(REPO);
    assert_eq!(opened.len(), 1, "{opened:?}");
    let (number, title) = &opened[0];
    assert_eq!(title, "Ollama Turbo Agent: scheduled runs");
    assert_eq!(
        harness.github.labels(REPO, *number),
        ["automation:scheduled"]
    );
    assert_eq!(
        harness
            .store
            .tracking_issue(
                first
                    .repository
                    .id
                    .expect("a schedule knows its repository's id")
            )
            .await
            .expect("store"),
        Some(*number)
    );
    let trigger_of = |request: &Request, index: usize| {
        let harness = &harness;
        let id = JobId::for_trigger(&request.id, index);
        async move {
            harness
                .store
                .job(&id)
                .await
                .expect("store")
                .expect("a job")
                .trigger
        }
    };
    assert_eq!(
        trigger_of(&first, 0).await,
        Trigger::Tracking { number: *number }
    );
    assert_eq!(
        trigger_of(&second, 0).await,
        Trigger::Tracking { number: *number }
    );
    // A task that changes code opens its own pull request: no thread.
    assert_eq!(trigger_of(&first, 1).await, Trigger::Request);
    // Nothing is said on the tracking issue until a job ends.
    assert!(harness.github.comments(REPO, *number).is_empty());
    assert!(harness.github.unexpected().is_empty());
}

#[tokio::test]
async fn a_request_naming_only_its_repository_runs_on_the_default_branch_github_names() {
    let harness = PolicyHarness::start().await;
    harness
        .github
        .set_repository(REPO, 1_296_269, DEFAULT_BRANCH, false);
    let mut named = request(
        RequestSource::Operator {
            login: "local:alice".to_owned(),
        },
        &["docs"],
    );
    named.repository = shared::inbound::RequestRepository::named(RepoFullName::new(REPO));

    process_ok(&harness, &named).await;

    let job = harness
        .store
        .job(&JobId::for_trigger(&named.id, 0))
        .await
        .expect("store")
        .expect("a job");
    assert_eq!(job.git_ref, DEFAULT_BRANCH);
    assert_eq!(job.commit.as_str(), DEFAULT_BRANCH_HEAD);
    assert_eq!(job.requester, "local:alice");

    // A repository GitHub does not show the installation: refused in the audit log.
    let mut elsewhere = request(
        RequestSource::Operator {
            login: "local:alice".to_owned(),
        },
        &["docs"],
    );
    elsewhere.repository =
        shared::inbound::RequestRepository::named(RepoFullName::new("octo-org/gone"));
    process_ok(&harness, &elsewhere).await;
    assert_eq!(
        harness
            .store
            .job(&JobId::for_trigger(&elsewhere.id, 0))
            .await
            .expect("store"),
        None
    );
    let audit = harness.audit().await;
    let refused = audit
        .iter()
        .find(|entry| entry.delivery == elsewhere.id.as_str())
        .expect("the refusal's entry");
    assert_eq!(refused.decision, "invalid");
    assert_eq!(
        refused.reason,
        format!("octo-org/gone is not a repository installation {INSTALLATION} can reach")
    );
}
