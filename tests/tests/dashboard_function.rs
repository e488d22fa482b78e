//! The dashboard function on AWS, through its real router over a real socket, over the
//! stack created from `template.yaml` in moto (`e2e::dashboard_stack::DashboardStack`):
//! the same page tests `ota serve`'s dashboard has (`cli/tests/serve_dashboard*.rs`),
//! with the same browser (`e2e::dashboard_client`) signing in through the fake GitHub's
//! OAuth web flow — every refusal, the jobs pages, approving a waiting job (its
//! execution goes on), the audit log, and the owner (named by `DashboardOwners`, no
//! operator's token on AWS) editing a policy.

use e2e::dashboard_stack::{DashboardStack, OWNER};
use e2e::stack::{INSTALLATION, REPO};
use shared::job::{JobStatus, TaskToken, Wait};
use shared::ports::{InstallationStore, JobStore, PolicyStore};

#[tokio::test]
async fn a_visitor_who_is_not_signed_in_sees_nothing_but_the_sign_in() {
    let dashboard = DashboardStack::start().await;
    let job = dashboard.world.job(JobStatus::Queued, false).await;
    let browser = dashboard.browser();
    for path in [
        "/jobs".to_owned(),
        format!("/jobs/{}", job.id),
        "/audit".to_owned(),
        "/installations".to_owned(),
        "/dead-letters".to_owned(),
    ] {
        let page = browser.get(&path).await;
        assert_eq!(page.status, 303, "{path}: {page:?}");
        assert_eq!(page.location.as_deref(), Some("/signin/github"), "{path}");
        assert!(!page.body.contains(job.id.as_str()));
    }
    let home = browser.get("/").await;
    assert_eq!(home.location.as_deref(), Some("/jobs"), "{home:?}");
    let page = browser.post(&format!("/jobs/{}/cancel", job.id), &[]).await;
    assert_eq!(page.status, 303, "{page:?}");
    let health = browser.get("/healthz").await;
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
    let start = browser.get("/signin/github").await;
    assert_eq!(start.status, 303);
    let authorize = start.location.expect("to GitHub");
    assert!(
        authorize.starts_with(&dashboard.github.base_url()),
        "{authorize}"
    );
    assert!(
        authorize.contains(&format!(
            "redirect_uri={}",
            percent_encode(&format!("{}/signin/github/callback", dashboard.url))
        )),
        "{authorize}"
    );

    // The deployed function, with no DASHBOARD_URL, finds its own Function URL.
    assert_eq!(
        dashboard.own_url().await,
        dashboard
            .world
            .output("DashboardFunctionUrl")
            .trim_end_matches('/')
    );
}

fn percent_encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn users_see_their_repositories_jobs_filter_them_and_act_only_with_write_access() {
    let dashboard = DashboardStack::start().await;
    let world = &dashboard.world;
    let queued = world.job(JobStatus::Queued, false).await;
    let waiting = world.job(JobStatus::AwaitingApproval, true).await;
    world.start_execution(&waiting, true).await;
    // The report function's part: keep the approval wait's token.
    let approval = world.take_message(&world.queue_url("ApprovalsQueue")).await;
    let token = TaskToken::new(approval["token"].as_str().expect("token"));
    world
        .store
        .put_task_token(&waiting.id, Wait::Approval, &token)
        .await
        .expect("store the token");
    let github = &dashboard.github;
    github.let_user_reach("reader", INSTALLATION, REPO, "read");
    github.let_user_reach("maintainer", INSTALLATION, REPO, "write");
    github.let_user_reach("stranger", INSTALLATION + 1, "someone/else", "admin");

    // Someone who reaches other repositories only sees no job, and no job page.
    let stranger = dashboard.signed_in("stranger").await;
    let jobs = stranger.get("/jobs").await;
    assert_eq!(jobs.status, 200, "{jobs:?}");
    assert!(jobs.text().contains("No jobs match."), "{}", jobs.text());
    assert!(!jobs.body.contains(waiting.id.as_str()));
    let hidden = stranger.get(&format!("/jobs/{}", waiting.id)).await;
    assert_eq!(hidden.status, 404, "{hidden:?}");

    // A reader sees both jobs, filters them, opens one, and is refused the approval.
    let reader = dashboard.signed_in("reader").await;
    let jobs = reader.get("/jobs").await;
    for job in [&queued, &waiting] {
        assert!(
            jobs.body.contains(&format!("/jobs/{}", job.id)),
            "{}",
            jobs.text()
        );
    }
    // Pages are not framed by other sites nor cached.
    assert_eq!(jobs.frame_options.as_deref(), Some("DENY"));
    assert_eq!(jobs.cache_control.as_deref(), Some("no-store"));
    let filtered = reader.get("/jobs?status=awaiting_approval").await;
    assert_eq!(filtered.status, 200, "{filtered:?}");
    assert!(filtered.body.contains(&format!("/jobs/{}", waiting.id)));
    assert!(!filtered.body.contains(&format!("/jobs/{}", queued.id)));
    let by_requester = reader.get("/jobs?requester=nobody").await;
    assert!(by_requester.text().contains("No jobs match."));
    let page = reader.get(&format!("/jobs/{}", waiting.id)).await;
    assert_eq!(page.status, 200, "{page:?}");
    let text = page.text();
    assert!(
        text.contains("awaiting approval") || text.contains("awaiting_approval"),
        "{text}"
    );
    assert!(!page.body.contains("/approve\""), "{text}");
    assert!(text.contains("acting on it needs write access"), "{text}");
    let csrf = page.csrf().expect("a csrf token");
    let refused = reader
        .post(&format!("/jobs/{}/approve", waiting.id), &[("csrf", &csrf)])
        .await;
    assert_eq!(refused.status, 403, "{refused:?}");
    assert!(
        refused.text().contains("you have read access only"),
        "{}",
        refused.text()
    );

    // The maintainer's forms need their own CSRF token.
    let maintainer = dashboard.signed_in("maintainer").await;
    let page = maintainer.get(&format!("/jobs/{}", waiting.id)).await;
    assert!(page.body.contains("/approve\""), "{}", page.text());
    for form in [
        vec![],
        vec![("csrf", "forged")],
        vec![("csrf", csrf.as_str())],
    ] {
        let refused = maintainer
            .post(&format!("/jobs/{}/approve", waiting.id), &form)
            .await;
        assert_eq!(refused.status, 403, "{form:?}: {refused:?}");
        assert!(refused.text().contains("CSRF token is missing or wrong"));
    }
    let still = world
        .store
        .job(&waiting.id)
        .await
        .expect("read")
        .expect("job");
    assert_eq!(still.status, JobStatus::AwaitingApproval);

    // Approved from the page, the execution goes on to its run.
    let csrf = page.csrf().expect("a csrf token");
    let approved = maintainer
        .post(&format!("/jobs/{}/approve", waiting.id), &[("csrf", &csrf)])
        .await;
    assert_eq!(approved.status, 303, "{approved:?}");
    assert_eq!(approved.location, Some(format!("/jobs/{}", waiting.id)));
    let dispatch = world.take_message(&world.queue_url("DispatchQueue")).await;
    assert_eq!(dispatch["job"], waiting.id.as_str());
    let done = maintainer.get(&format!("/jobs/{}", waiting.id)).await;
    let text = done.text();
    assert!(text.contains("approved by maintainer"), "{text}");
    assert!(
        text.contains("dashboard approve"),
        "the audit entry: {text}"
    );

    // The audit log shows it, to whoever sees the repository.
    let audit = reader.get("/audit").await;
    assert_eq!(audit.status, 200, "{audit:?}");
    let text = audit.text();
    assert!(text.contains("maintainer"), "{text}");
    assert!(text.contains("dashboard approve"), "{text}");
    let nobody = reader.get("/audit?actor=someone-else").await;
    assert!(
        !nobody.text().contains("dashboard approve"),
        "{}",
        nobody.text()
    );
    let csv = reader.get("/audit.csv").await;
    assert_eq!(csv.status, 200, "{csv:?}");
    assert!(csv.body.contains("dashboard approve"), "{}", csv.body);
    let hidden = stranger.get("/audit").await;
    assert!(
        !hidden.text().contains("dashboard approve"),
        "{}",
        hidden.text()
    );

    // Users have no owner's pages.
    let letters = maintainer.get("/dead-letters").await;
    assert_eq!(letters.status, 404, "{letters:?}");
}

#[tokio::test]
async fn the_owner_edits_a_policy_and_the_change_is_audited() {
    let dashboard = DashboardStack::start().await;
    let world = &dashboard.world;
    world
        .store
        .upsert_installation(&e2e::store_contract::installation(
            INSTALLATION,
            "octo-org",
            false,
        ))
        .await
        .expect("installation");
    world
        .store
        .add_repositories(
            shared::ids::InstallationId(INSTALLATION),
            &e2e::store_contract::repos(&[REPO]),
        )
        .await
        .expect("repositories");
    dashboard
        .github
        .let_user_reach("admin", INSTALLATION, REPO, "admin");

    // An admin of the repository sees the installation, but only the owner edits.
    let admin = dashboard.signed_in("admin").await;
    let page = admin.get(&format!("/installations/{INSTALLATION}")).await;
    assert_eq!(page.status, 200, "{page:?}");
    let csrf = page.csrf().expect("csrf");
    let refused = admin
        .post(
            &format!("/installations/{INSTALLATION}/policies"),
            &[("csrf", &csrf), ("policies", "")],
        )
        .await;
    assert_eq!(refused.status, 403, "{refused:?}");

    let owner = dashboard.signed_in(OWNER).await;
    let jobs = owner.get("/jobs").await;
    assert!(
        jobs.text()
            .contains(&format!("@{OWNER} (the server's owner)")),
        "{}",
        jobs.text()
    );
    let page = owner.get(&format!("/installations/{INSTALLATION}")).await;
    assert_eq!(page.status, 200, "{page:?}");
    let csrf = page.csrf().expect("csrf");
    let missing = owner
        .post(
            &format!("/installations/{INSTALLATION}/policies"),
            &[("policies", "")],
        )
        .await;
    assert_eq!(missing.status, 403, "CSRF token missing: {missing:?}");
    let policies = "policies:\n  - name: careful\n    repo_pattern: \"octo-org/*\"\n    require_approval: true\n";
    let bad = owner
        .post(
            &format!("/installations/{INSTALLATION}/policies"),
            &[("csrf", &csrf), ("policies", "policies: [oops")],
        )
        .await;
    assert_eq!(bad.status, 400, "{bad:?}");
    let saved = owner
        .post(
            &format!("/installations/{INSTALLATION}/policies"),
            &[("csrf", &csrf), ("policies", policies)],
        )
        .await;
    assert_eq!(saved.status, 303, "{saved:?}: {}", saved.text());
    let stored = world
        .store
        .policies(shared::ids::InstallationId(INSTALLATION))
        .await
        .expect("policies");
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].name, "careful");
    assert_eq!(stored[0].require_approval, Some(true));

    let audit = owner.get("/audit").await;
    let text = audit.text();
    assert!(text.contains("dashboard policy set"), "{text}");
    assert!(text.contains(OWNER), "the owner is named: {text}");
    // The owner's dead letters: the stack's queues. A job the workflow set aside is
    // handled again from the page, as `ota dlq redrive jobs` does.
    let letters = owner.get("/dead-letters").await;
    assert_eq!(letters.status, 200, "{letters:?}");
    assert!(
        letters.text().contains("No dead letters."),
        "{}",
        letters.text()
    );
    let dead = world.job(JobStatus::DeadLettered, false).await;
    let jobs_dlq = world.output("JobDeadLetterQueueUrl").to_owned();
    world
        .sqs
        .send_message()
        .queue_url(&jobs_dlq)
        .message_body(
            serde_json::json!({
                "job": dead.id.as_str(),
                "error": { "Error": "Dispatch.NoCapacity", "Cause": "no free slot" },
            })
            .to_string(),
        )
        .send()
        .await
        .expect("send to moto");
    let letters = owner.get("/dead-letters").await;
    let text = letters.text();
    assert!(
        text.contains(&format!(
            "jobs: job {} · Dispatch.NoCapacity: no free slot",
            dead.id
        )),
        "{text}"
    );
    let action = letters
        .body
        .split("action=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .find(|action| action.ends_with("/retry"))
        .expect("the retry form")
        .to_owned();
    let csrf = letters.csrf().expect("csrf");
    let retried = owner.post(&action, &[("csrf", &csrf)]).await;
    assert_eq!(retried.status, 303, "{retried:?}");
    assert!(world.peek(&jobs_dlq).await.is_empty(), "the letter is gone");
    let again = owner.post(&action, &[("csrf", &csrf)]).await;
    assert_eq!(again.status, 409, "{again:?}");
    let letters = owner.get("/dead-letters").await;
    assert!(
        letters.text().contains("No dead letters."),
        "{}",
        letters.text()
    );
}

#[tokio::test]
async fn the_oauth_client_and_session_key_are_read_from_their_secrets_and_never_quoted() {
    let aws = e2e::aws::config().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&aws);
    let read = |value: &'static str| {
        let (secrets, aws) = (secrets.clone(), aws.clone());
        async move {
            let arn = e2e::aws::secret(&secrets, &e2e::unique("ota-oauth"), value).await;
            dashboard_function::read_oauth_client(&arn, &aws).await
        }
    };
    // A stack just deployed: not filled in yet, so nobody can sign in (and the page says so).
    assert!(read(" ").await.expect("empty").is_none());
    assert!(
        read(r#"{"client_id":"","client_secret":""}"#)
            .await
            .expect("blank")
            .is_none()
    );
    let app = read(r#"{"client_id":"Iv1.abc","client_secret":"s3cr3t-value"}"#)
        .await
        .expect("read")
        .expect("filled in");
    assert_eq!(app.client_id, "Iv1.abc");
    let wrong = read(r#"{"client_id":"Iv1.abc","clientsecret":"s3cr3t-value"}"#)
        .await
        .expect_err("a field missing");
    assert_eq!(wrong.setting, "OAUTH_CLIENT_SECRET_ARN");
    assert!(!wrong.to_string().contains("s3cr3t"), "{wrong}");
    let not_json = read("s3cr3t-value").await.expect_err("not JSON");
    assert!(not_json.problem.contains("not JSON"), "{not_json}");
    assert!(!not_json.to_string().contains("s3cr3t"), "{not_json}");

    let short = e2e::aws::secret(&secrets, &e2e::unique("ota-key"), "too-short").await;
    let err = dashboard_function::read_session_key(&short, &aws)
        .await
        .expect_err("short");
    assert!(!err.to_string().contains("too-short"), "{err}");
    let long = e2e::aws::secret(&secrets, &e2e::unique("ota-key"), &"k".repeat(64)).await;
    assert!(
        dashboard_function::read_session_key(&long, &aws)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_job_s_log_streams_from_its_runner_s_cloudwatch_stream() {
    let dashboard = DashboardStack::start().await;
    let world = &dashboard.world;
    let mut job = world.job(JobStatus::Dispatching, false).await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&e2e::aws::config().await);
    let group = world.runner_log_group().to_owned();
    let stream = "runner/runner/feedc0de";
    logs.create_log_stream()
        .log_group_name(&group)
        .log_stream_name(stream)
        .send()
        .await
        .expect("stream");
    let put = |lines: &'static [&'static str]| {
        let (logs, group) = (logs.clone(), group.clone());
        async move {
            let now = i64::try_from(shared::clock::now_ms()).expect("ms");
            let events = lines
                .iter()
                .map(|line| {
                    aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                        .timestamp(now)
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
        }
    };
    put(&["cloning the repository"]).await;
    let before = job.status;
    job.move_to(JobStatus::Running, shared::clock::now_ms())
        .expect("run");
    job.log = Some(ota_aws::console_log_url(e2e::aws::REGION, &group, stream));
    world.store.update_job(&job, before).await.expect("update");
    dashboard
        .github
        .let_user_reach("reader", INSTALLATION, REPO, "read");
    let reader = dashboard.signed_in("reader").await;
    let page = reader.get(&format!("/jobs/{}", job.id)).await;
    assert!(
        page.text().contains("cloning the repository"),
        "{}",
        page.text()
    );

    // The stream sends what the runner writes next, then the job's end.
    let watch = tokio::spawn({
        let watcher = dashboard.browser();
        watcher.set_cookie(
            "ota_session",
            &reader.cookie("ota_session").expect("a session"),
        );
        let path = format!("/jobs/{}/log/stream?from=1", job.id);
        async move {
            watcher
                .events(&path, std::time::Duration::from_secs(30))
                .await
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    put(&["calling the model", "opened the pull request"]).await;
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    let mut done = job.clone();
    done.move_to(JobStatus::Succeeded, shared::clock::now_ms())
        .expect("succeed");
    world
        .store
        .update_job(&done, JobStatus::Running)
        .await
        .expect("update");
    let (status, events) = watch.await.expect("the stream");
    assert_eq!(status, 200);
    assert!(
        events.contains("event: lines\ndata: calling the model\ndata: opened the pull request"),
        "{events}"
    );
    assert!(
        !events.contains("cloning"),
        "the page had it already: {events}"
    );
    assert!(events.contains("event: end\ndata: succeeded"), "{events}");
}
