//! The policy function end to end: events through its SQS batch handler, the real GitHub
//! client against the fake GitHub server, jobs in DynamoDB and executions in Step
//! Functions (both moto). Each test asserts what GitHub was asked to do, what was stored
//! and what was started — and that nothing else happened.

use e2e::fake_github::{Fault, MANIFEST_APP_SLUG, Route};
use e2e::policy::{
    DEFAULT_BRANCH, DEFAULT_BRANCH_HEAD, INSTALLATION, PR, PR_HEAD, PolicyHarness, REPO, comment,
    envelope, installation_event, pull, pull_request_event, redact,
};
use e2e::redact::Redact;
use shared::ids::InstallationId;
use shared::job::{JobId, JobStatus};
use shared::ports::InstallationStore;

#[tokio::test]
async fn an_accepted_command_records_the_job_acknowledges_it_and_starts_its_workflow() {
    let harness = PolicyHarness::start().await;
    let event = envelope(
        "issue_comment",
        &comment("Codertocat", "/ollama refactor the auth module", true),
    );

    harness.process_ok(std::slice::from_ref(&event)).await;

    let jobs = harness.jobs(PR).await;
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!(job.id, JobId::for_command(&event.delivery, 0));
    assert_eq!(job.task, "refactor");
    assert_eq!(job.params, "the auth module");
    assert_eq!(job.requester, "Codertocat");
    assert_eq!(
        job.commit.as_str(),
        PR_HEAD,
        "a PR job works on the PR's head"
    );
    assert_eq!(job.status, JobStatus::Queued);
    assert!(!job.approval.required);

    let reactions = harness.github.reactions();
    assert_eq!(reactions.len(), 1);
    assert_eq!(reactions[0].content, "eyes");
    let runs = harness.github.check_runs(REPO);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].fields["head_sha"], PR_HEAD);
    assert_eq!(runs[0].fields["status"], "queued");
    assert_eq!(runs[0].fields["external_id"], job.id.as_str());
    assert_eq!(runs[0].fields["name"], "Ollama Turbo Agent · refactor");
    assert_eq!(job.check_run_id, Some(runs[0].id));
    assert_eq!(harness.execution_names().await, vec![job.id.to_string()]);
    assert!(
        harness.comments(PR).is_empty(),
        "an accepted job needs no comment"
    );
    assert!(harness.github.unexpected().is_empty());

    // The config was read from the default branch, not from the pull request, over the
    // organisation's defaults (`.github` has none here).
    let (defaults, reads): (Vec<_>, Vec<_>) = harness
        .github
        .requests_to(Route::Contents)
        .into_iter()
        .partition(|read| read.path.contains("/.github/"));
    assert_eq!(reads.len(), 1);
    assert_eq!(
        reads[0].query.get("ref").map(String::as_str),
        Some(DEFAULT_BRANCH)
    );
    assert_eq!(defaults.len(), 1, "{defaults:?}");
    assert!(
        defaults[0]
            .path
            .ends_with("/.github/contents/.ollama-turbo.yml"),
        "{}",
        defaults[0].path
    );

    let audit = harness.audit().await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].decision, "accepted");
    assert_eq!(audit[0].job.as_ref(), Some(&job.id));
    // The function's client names the App (APP_SLUG) in every request, as GitHub asks.
    let slug = format!("(+https://github.com/apps/{MANIFEST_APP_SLUG})");
    for request in harness.github.requests() {
        let agent = request.user_agent.unwrap_or_default();
        assert!(agent.ends_with(&slug), "{agent}");
    }
}

#[tokio::test]
async fn a_task_of_the_organisation_s_defaults_is_accepted_and_its_job_carries_them() {
    let harness = PolicyHarness::start().await;
    let defaults = "version: 1\nautomation:\n  tasks:\n    tidy:\n      prompt: Tidy up.\n";
    harness
        .github
        .set_file("Codertocat/.github", "", ".ollama-turbo.yml", defaults);

    harness.comment("Codertocat", "/ollama tidy the loop").await;

    let jobs = harness.jobs(PR).await;
    assert_eq!(jobs.len(), 1, "{:?}", harness.comments(PR));
    assert_eq!(jobs[0].task, "tidy");
    // Stored with the organisation's file, for the runner, which cannot read it.
    let base = jobs[0].config_layers.base.as_ref().expect("the base");
    assert_eq!(base.repo.as_str(), "Codertocat/.github");
    assert_eq!(base.text, defaults);
    assert!(jobs[0].config_layers.overrides.is_none());
    assert!(harness.github.unexpected().is_empty());
}

#[tokio::test]
async fn a_command_on_an_issue_works_on_the_default_branch_without_a_check_run() {
    let harness = PolicyHarness::start().await;

    harness
        .comment_on_issue("Codertocat", "/ollama fix the crash")
        .await;

    let jobs = harness.jobs(1).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].commit.as_str(), DEFAULT_BRANCH_HEAD);
    assert_eq!(jobs[0].git_ref, DEFAULT_BRANCH);
    assert!(harness.github.check_runs(REPO).is_empty());
    assert_eq!(harness.execution_names().await.len(), 1);
}

#[tokio::test]
async fn an_unknown_command_gets_one_helpful_comment_and_nothing_runs() {
    let harness = PolicyHarness::start().await;

    harness
        .comment("Codertocat", "/ollama refactr the parser")
        .await;

    // Names the mistake, suggests the right task, points at `/ollama help`.
    insta::assert_snapshot!("unknown_command_reply", redact(&harness.the_comment()));
    assert!(harness.jobs(PR).await.is_empty());
    assert!(harness.execution_names().await.is_empty());
}

#[tokio::test]
async fn help_lists_the_commands_and_the_repositorys_own_tasks() {
    let harness = PolicyHarness::start().await;
    harness.set_config("automation:\n  tasks:\n    migrate-db:\n      description: Write a database migration\n      prompt: Write a migration for the change asked for.\n",
    );

    harness.comment("Codertocat", "/ollama help").await;

    insta::assert_snapshot!("help_reply", redact(&harness.the_comment()));
}

#[tokio::test]
async fn a_read_only_user_is_denied_and_nothing_starts() {
    let harness = PolicyHarness::start().await;
    harness.github.set_role(REPO, "visitor", "read");

    harness
        .comment("visitor", "/ollama refactor everything")
        .await;

    insta::assert_snapshot!("denied_reply", redact(&harness.the_comment()));
    assert_eq!(harness.github.reactions()[0].content, "-1");
    assert!(harness.jobs(PR).await.is_empty());
    assert!(harness.execution_names().await.is_empty());
    assert!(harness.github.check_runs(REPO).is_empty());
    let audit = harness.audit().await;
    assert_eq!(audit[0].decision, "denied");
}

#[tokio::test]
async fn a_fork_pull_request_waits_for_an_approval() {
    let harness = PolicyHarness::start().await;
    harness
        .github
        .set_pull_request(REPO, pull(PR_HEAD, Some("someone/Hello-World")));

    harness.comment("Codertocat", "/ollama test").await;

    let jobs = harness.jobs(PR).await;
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!(job.status, JobStatus::AwaitingApproval);
    assert!(job.approval.required);
    assert_eq!(
        job.approval.pinned_head.as_ref().map(|sha| sha.as_str()),
        Some(PR_HEAD)
    );
    let reply = harness.the_comment();
    assert!(reply.contains(&format!("/approve {}", job.id)), "{reply}");
    insta::assert_snapshot!("fork_approval_requested", redact(&reply));
    assert_eq!(
        harness.github.check_runs(REPO)[0].fields["status"],
        "queued"
    );
    assert_eq!(harness.execution_names().await, vec![job.id.to_string()]);
}

#[tokio::test]
async fn an_approval_by_a_writer_resumes_the_workflow() {
    let harness = PolicyHarness::start().await;
    harness.github.set_role(REPO, "triager", "triage");
    harness.github.set_role(REPO, "maintainer", "maintain");
    harness.comment("triager", "/ollama docs").await;
    let job = harness.jobs(PR).await.remove(0);
    assert_eq!(job.status, JobStatus::AwaitingApproval);
    harness.approval_wait_reached(&job).await;

    harness
        .comment("maintainer", &format!("/approve {}", job.id))
        .await;

    let job = harness.jobs(PR).await.remove(0);
    assert_eq!(job.approval.approved_by.as_deref(), Some("maintainer"));
    assert_eq!(
        harness
            .execution_reaches(&job, "SUCCEEDED")
            .await
            .as_deref(),
        Some("SUCCEEDED"),
        "the approval ended the wait"
    );
    insta::assert_snapshot!("approved_reply", redact(&harness.last_comment()));
}

#[tokio::test]
async fn the_requester_cannot_approve_their_own_job() {
    let harness = PolicyHarness::start().await;
    harness.github.set_role(REPO, "Codertocat", "admin");
    harness.set_config("automation:\n  approval:\n    required: true\n");
    harness.comment("Codertocat", "/ollama refactor").await;
    let job = harness.jobs(PR).await.remove(0);
    harness.approval_wait_reached(&job).await;

    harness.comment("Codertocat", "/approve").await;

    let job = harness.jobs(PR).await.remove(0);
    assert_eq!(job.status, JobStatus::AwaitingApproval);
    assert_eq!(job.approval.approved_by, None);
    insta::assert_snapshot!("own_approval_refused", redact(&harness.last_comment()));
    assert_eq!(
        harness.execution_status(&job).await.as_deref(),
        Some("RUNNING")
    );
}

#[tokio::test]
async fn a_new_push_invalidates_a_pending_approval() {
    let harness = PolicyHarness::start().await;
    harness.github.set_role(REPO, "triager", "triage");
    harness.github.set_role(REPO, "maintainer", "maintain");
    harness.comment("triager", "/ollama fix").await;
    let job = harness.jobs(PR).await.remove(0);
    harness.approval_wait_reached(&job).await;

    let new_head = "0123456789abcdef0123456789abcdef01234567";
    harness
        .github
        .set_pull_request(REPO, pull(new_head, Some(REPO)));
    harness
        .process_ok(&[envelope(
            "pull_request",
            &pull_request_event("synchronize", new_head),
        )])
        .await;

    let job = harness.jobs(PR).await.remove(0);
    assert_eq!(job.status, JobStatus::Expired);
    insta::assert_snapshot!(
        "approval_outdated_by_a_push",
        redact(&harness.last_comment())
    );

    // An /approve that arrives afterwards starts nothing.
    harness
        .comment("maintainer", &format!("/approve {}", job.id))
        .await;
    let job = harness.jobs(PR).await.remove(0);
    assert_eq!(job.status, JobStatus::Expired);
    assert_eq!(job.approval.approved_by, None);
}

#[tokio::test]
async fn the_rate_limit_stops_a_user_and_says_when_to_try_again() {
    let harness = PolicyHarness::start().await;
    use shared::policy::InstallationPolicy;
    use shared::ports::PolicyStore;
    harness
        .store
        .put_policy(&InstallationPolicy {
            installation: InstallationId(INSTALLATION),
            name: "tight".to_owned(),
            repo_pattern: "Codertocat/*".to_owned(),
            allowed_triggers: None,
            allowed_users: None,
            require_approval: None,
            max_runtime_seconds: None,
            allow_hosted_model: None,
            user_jobs_per_hour: Some(1),
            installation_jobs_per_hour: None,
            allowed_overrides: None,
            token_budget: None,
            plan_first: None,
        })
        .await
        .expect("policy");

    harness.comment("Codertocat", "/ollama docs").await;
    harness.comment("Codertocat", "/ollama test").await;

    assert_eq!(harness.jobs(PR).await.len(), 1);
    assert_eq!(harness.execution_names().await.len(), 1);
    insta::assert_snapshot!(
        "rate_limited_reply",
        Redact::new()
            .ids()
            .after("Try again in about ", "[minutes]")
            .apply(&harness.the_comment())
    );
    let audit = harness.audit().await;
    assert_eq!(audit[0].decision, "rate_limited");
    assert_eq!(audit[0].policy.as_deref(), Some("tight"));
}

/// On AWS too (the stage over DynamoDB): a job starts while the month's budget is not
/// reached; once the counted tokens reach it, the next command starts nothing, and the
/// reply says which budget, how much of how much, and when it resets.
#[tokio::test]
async fn a_spent_month_token_budget_starts_no_job_and_says_when_it_resets() {
    use shared::ids::DeliveryId;
    use shared::policy::{InstallationPolicy, TokenBudget};
    use shared::ports::{BudgetPeriod, BudgetWindow, PolicyStore, TokenLedger};
    let harness = PolicyHarness::start().await;
    harness
        .store
        .put_policy(&InstallationPolicy {
            installation: InstallationId(INSTALLATION),
            name: "monthly".to_owned(),
            repo_pattern: "Codertocat/*".to_owned(),
            allowed_triggers: None,
            allowed_users: None,
            require_approval: None,
            max_runtime_seconds: None,
            allow_hosted_model: None,
            user_jobs_per_hour: None,
            installation_jobs_per_hour: None,
            allowed_overrides: None,
            token_budget: Some(TokenBudget {
                per_day: None,
                per_month: Some(50_000),
            }),
            plan_first: None,
        })
        .await
        .expect("policy");
    let ended_job = |n: usize| {
        let delivery = DeliveryId::parse(&e2e::unique("delivery")).expect("delivery id");
        JobId::for_command(&delivery, n)
    };
    let now = shared::clock::now_ms();
    let installation = InstallationId(INSTALLATION);
    harness
        .store
        .add_tokens(installation, &ended_job(0), 49_999, now)
        .await
        .expect("count");

    harness.comment("Codertocat", "/ollama docs").await;
    assert_eq!(harness.jobs(PR).await.len(), 1, "one token left: it starts");

    harness
        .store
        .add_tokens(installation, &ended_job(1), 1, now)
        .await
        .expect("count");
    harness.comment("Codertocat", "/ollama test").await;
    assert_eq!(harness.jobs(PR).await.len(), 1);
    assert_eq!(harness.execution_names().await.len(), 1);
    let month = BudgetWindow::containing(BudgetPeriod::Month, now);
    let next = BudgetWindow::containing(BudgetPeriod::Month, month.end_ms);
    let reply = harness.last_comment();
    assert!(
        reply.contains(&format!(
            "have used 50,000 of the 50,000 tokens its monthly budget allows (UTC month {}; \
             `token_budget.per_month` of the installation policy `monthly`). The budget \
             resets at {}-01 00:00 UTC.",
            month.label, next.label
        )),
        "{reply}"
    );
    let audit = harness.audit().await;
    assert_eq!(audit[0].decision, "over_budget");
    assert_eq!(audit[0].policy.as_deref(), Some("monthly"));
    assert!(
        audit[0]
            .reason
            .starts_with("token_budget.per_month: 50000 of 50000 tokens used in "),
        "{}",
        audit[0].reason
    );
}

#[tokio::test]
async fn an_invalid_config_is_reported_with_line_and_field_and_nothing_runs() {
    let harness = PolicyHarness::start().await;
    harness.set_config("automation:\n  tasks:\n    refactor:\n      timout: 10m\n");

    harness.comment("Codertocat", "/ollama refactor").await;

    // Line and field, and the setting meant.
    insta::assert_snapshot!("invalid_config_reply", redact(&harness.the_comment()));
    assert!(harness.jobs(PR).await.is_empty());
    assert!(harness.execution_names().await.is_empty());
}

#[tokio::test]
async fn the_same_delivery_twice_makes_one_job() {
    let harness = PolicyHarness::start().await;
    let event = envelope(
        "issue_comment",
        &comment("Codertocat", "/ollama refactor\n/ollama docs", true),
    );

    harness.process_ok(std::slice::from_ref(&event)).await;
    harness.process_ok(std::slice::from_ref(&event)).await;

    let jobs = harness.jobs(PR).await;
    assert_eq!(jobs.len(), 2, "one job per command, not per processing");
    assert_eq!(harness.execution_names().await.len(), 2);
    assert_eq!(harness.github.check_runs(REPO).len(), 2);
}

#[tokio::test]
async fn a_reply_is_not_posted_twice_when_its_event_is_processed_again() {
    let harness = PolicyHarness::start().await;
    let event = envelope(
        "issue_comment",
        &comment("Codertocat", "/ollama refactr", true),
    );

    harness.process_ok(std::slice::from_ref(&event)).await;
    harness.process_ok(std::slice::from_ref(&event)).await;

    assert_eq!(harness.comments(PR).len(), 1);
}

#[tokio::test]
async fn a_github_error_then_success_leaves_one_comment() {
    let harness = PolicyHarness::start().await;
    harness
        .github
        .inject(Route::CreateComment, 1, Fault::Status(502));
    harness
        .github
        .inject(Route::CreateComment, 1, Fault::AfterCommit(502));

    harness.comment("Codertocat", "/ollama help").await;

    assert_eq!(harness.comments(PR).len(), 1);
}

#[tokio::test]
async fn a_github_outage_fails_only_that_message_for_a_retry() {
    let harness = PolicyHarness::start().await;
    let install = installation_event("created");
    harness
        .github
        .inject(Route::Permission, 20, Fault::Status(503));

    let response = harness
        .process(&[
            envelope(
                "issue_comment",
                &comment("Codertocat", "/ollama refactor", true),
            ),
            envelope("installation", &install),
        ])
        .await;

    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|failure| failure.item_identifier.as_str())
        .collect();
    assert_eq!(
        failed,
        vec!["message-0"],
        "could not check → retried, never allowed"
    );
    assert!(harness.jobs(PR).await.is_empty());
    assert!(
        harness
            .store
            .installation(InstallationId(INSTALLATION))
            .await
            .expect("read")
            .is_some(),
        "the other message was processed"
    );
}

#[tokio::test]
async fn an_uninstall_removes_the_installation() {
    let harness = PolicyHarness::start().await;
    let created = installation_event("created");
    let deleted = installation_event("deleted");

    harness
        .process_ok(&[envelope("installation", &created)])
        .await;
    let id = InstallationId(INSTALLATION);
    assert!(
        harness
            .store
            .installation(id)
            .await
            .expect("read")
            .is_some()
    );
    assert!(
        !harness
            .store
            .repositories(id)
            .await
            .expect("read")
            .is_empty()
    );

    harness
        .process_ok(&[envelope("installation", &deleted)])
        .await;
    assert!(
        harness
            .store
            .installation(id)
            .await
            .expect("read")
            .is_none()
    );
    assert!(
        harness
            .store
            .repositories(id)
            .await
            .expect("read")
            .is_empty()
    );
}

#[tokio::test]
async fn cancel_stops_the_workflow_and_marks_the_job() {
    let harness = PolicyHarness::start_waiting().await;
    harness.comment("Codertocat", "/ollama refactor").await;
    let job = harness.jobs(PR).await.remove(0);

    harness.comment("Codertocat", "/cancel").await;

    let job = harness
        .jobs(PR)
        .await
        .into_iter()
        .find(|j| j.id == job.id)
        .expect("job");
    assert_eq!(job.status, JobStatus::Cancelled);
    let run = &harness.github.check_runs(REPO)[0];
    assert_eq!(run.fields["conclusion"], "cancelled");
    insta::assert_snapshot!("cancelled_reply", redact(&harness.last_comment()));
    assert_eq!(
        harness.execution_status(&job).await.as_deref(),
        Some("ABORTED"),
        "the execution was stopped"
    );
}

#[tokio::test]
async fn a_pull_request_trigger_from_the_config_starts_its_tasks() {
    let harness = PolicyHarness::start().await;
    harness.set_config("automation:\n  triggers:\n    pr_opened:\n      tasks: [review]\n");

    harness
        .process_ok(&[envelope(
            "pull_request",
            &pull_request_event("opened", PR_HEAD),
        )])
        .await;

    let jobs = harness.jobs(PR).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].task, "review");
    assert_eq!(jobs[0].status, JobStatus::Queued);
    assert_eq!(harness.execution_names().await.len(), 1);
}
