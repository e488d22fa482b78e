//! The contract of the store ports (`shared::ports`'s `JobStore`, `InstallationStore`,
//! `PolicyStore`, `AuditLog`, `RateLimiter` and `TokenLedger`), written once and checked
//! against every implementation: the DynamoDB store against moto (`tests/dynamo_store.rs`,
//! `tests/dynamo_rate_limit.rs`, `tests/dynamo_token_ledger.rs`) and the SQLite store of `ota serve` (its unit tests).
//! What only one implementation can show (its stored items, its own queries) stays in
//! that implementation's tests. Each contract wants a store nobody else writes to.

use crate::unique;
use shared::envelope::CommentSource;
use shared::ids::{CommitSha, DeliveryId, InstallationId, RepoFullName};
use shared::job::{
    AllowedOverrides, Approval, BaseFile, ConfigLayers, JobId, JobRecord, JobRequest, JobStatus,
    TaskToken, Trigger, Wait,
};
use shared::policy::{InstallationPolicy, TriggerKind};
use shared::ports::{
    AuditEntry, AuditLog, Created, InstallationRecord, InstallationStore, JobStore, PolicyStore,
    RateDecision, RateLimiter, StoreError, TokenLedger, TokensUsed,
};
use std::time::Duration;

/// A job on a delivery of its own: installation 42, `refactor` on a feature branch.
pub fn job_on(repo: &str, trigger: Trigger, created_at_ms: u64) -> JobRecord {
    let delivery = DeliveryId::parse(&unique("delivery")).expect("delivery id");
    JobRecord::new(
        JobRequest {
            id: JobId::for_command(&delivery, 0),
            delivery,
            installation: InstallationId(42),
            repo: RepoFullName::new(repo),
            commit: CommitSha::new("6dcb09b5b57875f334f61aebed695e2e4193db5e"),
            git_ref: "refs/heads/feature".to_owned(),
            trigger,
            task: "refactor".to_owned(),
            params: "extract the retry loop".to_owned(),
            requester: "octocat".to_owned(),
            approval: Approval::not_required(),
        },
        created_at_ms,
    )
}

/// A comment on pull request `number`.
pub fn comment_on(number: u64) -> Trigger {
    Trigger::Comment {
        comment_id: 1_234,
        source: CommentSource::IssueComment,
        number,
        on_pull_request: true,
    }
}

/// A job on `octo-org/hello-world#7`.
pub fn job(created_at_ms: u64) -> JobRecord {
    job_on("octo-org/hello-world", comment_on(7), created_at_ms)
}

pub fn installation(id: u64, account: &str, suspended: bool) -> InstallationRecord {
    InstallationRecord {
        id: InstallationId(id),
        account: account.to_owned(),
        repository_selection: Some("selected".to_owned()),
        suspended,
        updated_at_ms: 1_000,
    }
}

/// A policy allowing comments, with approval, at most 5 jobs per user and hour, and
/// repositories to set only their tasks over the organisation's defaults, and at most
/// 2,000,000 tokens a day.
pub fn policy(installation: u64, name: &str, pattern: &str) -> InstallationPolicy {
    InstallationPolicy {
        installation: InstallationId(installation),
        name: name.to_owned(),
        repo_pattern: pattern.to_owned(),
        allowed_triggers: Some(vec![TriggerKind::Comment]),
        allowed_users: None,
        require_approval: Some(true),
        max_runtime_seconds: Some(1_800),
        allow_hosted_model: None,
        user_jobs_per_hour: Some(5),
        installation_jobs_per_hour: None,
        allowed_overrides: Some(vec!["automation.tasks".to_owned()]),
        token_budget: Some(shared::policy::TokenBudget {
            per_day: Some(2_000_000),
            per_month: None,
        }),
        plan_first: Some(vec!["refactor".to_owned()]),
    }
}

pub fn repos(names: &[&str]) -> Vec<RepoFullName> {
    names.iter().map(|name| RepoFullName::new(*name)).collect()
}

/// An accepted command by `octocat` on `octo-org/hello-world`, all from one delivery.
pub fn audit_entry(installation: u64, at_ms: u64, command: &str) -> AuditEntry {
    AuditEntry {
        installation: InstallationId(installation),
        repo: Some(RepoFullName::new("octo-org/hello-world")),
        at_ms,
        delivery: "72d3162e-cc78-11e3-81ab-4c9367dc0958".to_owned(),
        actor: "octocat".to_owned(),
        command: command.to_owned(),
        decision: "accepted".to_owned(),
        reason: "allowed by policy".to_owned(),
        policy: Some("default".to_owned()),
        job: None,
    }
}

/// Conditional creation and updates, the jobs of a thread, task tokens.
pub async fn job_store_contract<S: JobStore>(store: &S) {
    creating_a_job_twice_keeps_the_first(store).await;
    an_update_loses_to_the_writer_that_moved_the_job_first(store).await;
    updates_with_a_wrong_expectation_change_nothing(store).await;
    a_threads_jobs_come_newest_first_and_limited(store).await;
    task_tokens_round_trip_per_wait_and_never_print(store).await;
}

async fn creating_a_job_twice_keeps_the_first<S: JobStore>(store: &S) {
    let mut first = job(1_000);
    // What its config was read with is kept with it, for the runner.
    first.config_layers = ConfigLayers {
        base: Some(BaseFile {
            repo: RepoFullName::new("octo-org/.github"),
            text: "version: 1\nautomation:\n  tasks:\n    tidy:\n      prompt: Tidy.\n".to_owned(),
        }),
        overrides: Some(AllowedOverrides {
            policy: "default".to_owned(),
            paths: vec!["automation.tasks".to_owned()],
        }),
    };
    assert_eq!(store.create_job(&first).await, Ok(Created::New));

    let mut again = first.clone();
    again.params = "a redelivery that parsed differently".to_owned();
    again.created_at_ms = 2_000;
    assert_eq!(
        store.create_job(&again).await,
        Ok(Created::Existing(Box::new(first.clone())))
    );
    assert_eq!(store.job(&first.id).await, Ok(Some(first)));
    assert_eq!(store.job(&job(1).id).await, Ok(None));
}

async fn an_update_loses_to_the_writer_that_moved_the_job_first<S: JobStore>(store: &S) {
    let created = job(1_000);
    store.create_job(&created).await.expect("create");

    let mut dispatched = created.clone();
    dispatched
        .move_to(JobStatus::Dispatching, 1_100)
        .expect("dispatch");
    store
        .update_job(&dispatched, JobStatus::Queued)
        .await
        .expect("first writer wins");

    // A `/cancel` that read the job while it was still queued.
    let mut cancelled = created.clone();
    cancelled
        .move_to(JobStatus::Cancelled, 1_200)
        .expect("cancel");
    assert_eq!(
        store.update_job(&cancelled, JobStatus::Queued).await,
        Err(StoreError::Conflict {
            current: Some(JobStatus::Dispatching)
        })
    );
    assert_eq!(store.job(&created.id).await, Ok(Some(dispatched.clone())));

    // A retry before any runner started is a real write: same status, one more attempt.
    let mut retried = dispatched.clone();
    retried
        .move_to(JobStatus::Dispatching, 1_300)
        .expect("retry");
    store
        .update_job(&retried, JobStatus::Dispatching)
        .await
        .expect("retry recorded");
    let stored = store.job(&created.id).await.expect("read").expect("job");
    assert_eq!(stored.attempts, 2);
}

async fn updates_with_a_wrong_expectation_change_nothing<S: JobStore>(store: &S) {
    let created = job(1_000);
    store.create_job(&created).await.expect("create");
    let mut running = created.clone();
    running.status = JobStatus::Running;

    for expected in [
        JobStatus::Running,
        JobStatus::Dispatching,
        JobStatus::Succeeded,
    ] {
        assert_eq!(
            store.update_job(&running, expected).await,
            Err(StoreError::Conflict {
                current: Some(JobStatus::Queued)
            }),
            "expected {expected}"
        );
    }
    assert_eq!(store.job(&created.id).await, Ok(Some(created.clone())));

    // Updating a job that was never created neither creates it nor passes.
    let never_created = job(2_000);
    assert_eq!(
        store.update_job(&never_created, JobStatus::Queued).await,
        Err(StoreError::Conflict { current: None })
    );
    assert_eq!(store.job(&never_created.id).await, Ok(None));

    // Once finished, the job stays finished for writers that expected it running.
    let mut finished = created.clone();
    finished
        .move_to(JobStatus::Cancelled, 3_000)
        .expect("cancel");
    store
        .update_job(&finished, JobStatus::Queued)
        .await
        .expect("cancel");
    assert_eq!(
        store.update_job(&running, JobStatus::Queued).await,
        Err(StoreError::Conflict {
            current: Some(JobStatus::Cancelled)
        })
    );
}

/// On a repository of its own, so the other checks' jobs on `hello-world#7` stay out.
async fn a_threads_jobs_come_newest_first_and_limited<S: JobStore>(store: &S) {
    let mut thread = Vec::new();
    for created_at in [1_000, 3_000, 2_000, 4_000] {
        let job = job_on("octo-org/threads", comment_on(7), created_at);
        store.create_job(&job).await.expect("create");
        thread.push(job);
    }
    // Neighbours that must not show up: another number, another repository, no thread.
    for other in [
        job_on(
            "octo-org/threads",
            Trigger::PullRequest { number: 8 },
            5_000,
        ),
        job_on("octo-org/other", comment_on(7), 5_000),
        job_on("octo-org/threads", Trigger::Push, 5_000),
    ] {
        store.create_job(&other).await.expect("create");
    }
    let repo = RepoFullName::new("octo-org/threads");
    let created =
        |jobs: Vec<JobRecord>| -> Vec<u64> { jobs.iter().map(|job| job.created_at_ms).collect() };

    let newest = store.jobs_for_thread(&repo, 7, 3).await.expect("query");
    assert_eq!(created(newest), [4_000, 3_000, 2_000]);
    let all = store.jobs_for_thread(&repo, 7, 50).await.expect("query");
    assert_eq!(all.len(), 4);
    assert_eq!(all[0], thread[3]);
    assert_eq!(store.jobs_for_thread(&repo, 7, 0).await, Ok(Vec::new()));
    assert_eq!(store.jobs_for_thread(&repo, 9, 5).await, Ok(Vec::new()));

    // GitHub names repositories case-insensitively, and so does the query.
    let shouting = RepoFullName::new("Octo-Org/Threads");
    let found = store.jobs_for_thread(&shouting, 7, 1).await.expect("query");
    assert_eq!(created(found), [4_000]);

    // An update keeps the job in its thread.
    let mut moved = thread[0].clone();
    moved.move_to(JobStatus::Dispatching, 6_000).expect("move");
    store
        .update_job(&moved, JobStatus::Queued)
        .await
        .expect("update");
    let all = store.jobs_for_thread(&repo, 7, 50).await.expect("query");
    assert_eq!(all.last(), Some(&moved));
}

async fn task_tokens_round_trip_per_wait_and_never_print<S: JobStore>(store: &S) {
    let job = job(1_000);
    store.create_job(&job).await.expect("create");
    let secret = "AQCEAAAAKgAAAAMAAAAAAAAAAf7-approval-secret";
    store
        .put_task_token(&job.id, Wait::Approval, &TaskToken::new(secret))
        .await
        .expect("put");

    let read = store
        .task_token(&job.id, Wait::Approval)
        .await
        .expect("read")
        .expect("token");
    assert_eq!(read.expose(), secret);
    assert!(
        store
            .task_token(&job.id, Wait::Run)
            .await
            .expect("read")
            .is_none()
    );
    let printed = format!("{read:?} {read} {:?}", Some(read.clone()));
    assert!(!printed.contains("secret"), "{printed}");

    // A new wait of the same kind replaces the token.
    store
        .put_task_token(&job.id, Wait::Approval, &TaskToken::new("second-token"))
        .await
        .expect("replace");
    let read = store
        .task_token(&job.id, Wait::Approval)
        .await
        .expect("read");
    assert_eq!(
        read.map(|token| token.expose().to_owned()).as_deref(),
        Some("second-token")
    );
}

/// After the caller stored an unreadable record under `job`'s id: reading it or creating
/// the job again is an error that says so, never "no such job" (which would let a
/// redelivery overwrite it).
pub async fn an_unreadable_job_is_corrupt<S: JobStore>(store: &S, job: &JobRecord) {
    let read = store.job(&job.id).await;
    assert!(
        matches!(&read, Err(StoreError::Corrupt(text)) if text.contains("id")),
        "{read:?}"
    );
    let created = store.create_job(job).await;
    assert!(
        matches!(created, Err(StoreError::Corrupt(_))),
        "{created:?}"
    );
}

/// Installations with their repositories, and the policies (stores implement both).
pub async fn installation_store_contract<S: InstallationStore + PolicyStore>(store: &S) {
    removing_an_installation_removes_its_repositories_and_policies(store).await;
    repositories_are_added_once_and_removed_whatever_their_case(store).await;
    policies_are_listed_by_name_and_replaced_by_name(store).await;
}

async fn removing_an_installation_removes_its_repositories_and_policies<
    S: InstallationStore + PolicyStore,
>(
    store: &S,
) {
    let (id, neighbour) = (InstallationId(7), InstallationId(8));
    assert_eq!(store.installation(id).await, Ok(None));
    store
        .upsert_installation(&installation(7, "octo-org", false))
        .await
        .expect("upsert");
    let suspended = installation(7, "octo-org", true);
    store.upsert_installation(&suspended).await.expect("upsert");
    assert_eq!(store.installation(id).await, Ok(Some(suspended)));

    store
        .upsert_installation(&installation(8, "neighbour", false))
        .await
        .expect("upsert");
    for target in [id, neighbour] {
        store
            .add_repositories(target, &repos(&["octo-org/a", "octo-org/b"]))
            .await
            .expect("add");
        store
            .put_policy(&policy(target.0, "default", "*/*"))
            .await
            .expect("policy");
    }

    store.remove_installation(id).await.expect("remove");
    assert_eq!(store.installation(id).await, Ok(None));
    assert_eq!(store.repositories(id).await, Ok(Vec::new()));
    assert_eq!(store.policies(id).await, Ok(Vec::new()));
    store.remove_installation(id).await.expect("removing twice");

    assert!(store.installation(neighbour).await.expect("read").is_some());
    assert_eq!(store.repositories(neighbour).await.expect("read").len(), 2);
    assert_eq!(store.policies(neighbour).await.expect("read").len(), 1);
}

async fn repositories_are_added_once_and_removed_whatever_their_case<S: InstallationStore>(
    store: &S,
) {
    let id = InstallationId(9);
    assert_eq!(store.repositories(id).await, Ok(Vec::new()));
    store
        .add_repositories(id, &repos(&["octo-org/b", "octo-org/a", "octo-org/a"]))
        .await
        .expect("add");
    store
        .add_repositories(id, &repos(&["octo-org/c"]))
        .await
        .expect("add more");
    assert_eq!(
        store.repositories(id).await,
        Ok(repos(&["octo-org/a", "octo-org/b", "octo-org/c"]))
    );
    store
        .remove_repositories(id, &repos(&["Octo-Org/B", "octo-org/never-added"]))
        .await
        .expect("remove");
    assert_eq!(
        store.repositories(id).await,
        Ok(repos(&["octo-org/a", "octo-org/c"]))
    );
    assert_eq!(store.repositories(InstallationId(10)).await, Ok(Vec::new()));

    // More than one DynamoDB batch (25 writes) each way.
    let many: Vec<RepoFullName> = (0..60)
        .map(|i| RepoFullName::new(format!("big-org/repo-{i:02}")))
        .collect();
    store.add_repositories(id, &many).await.expect("add many");
    assert_eq!(store.repositories(id).await.expect("read").len(), 62);
    store
        .remove_repositories(id, &many)
        .await
        .expect("remove many");
    assert_eq!(
        store.repositories(id).await,
        Ok(repos(&["octo-org/a", "octo-org/c"]))
    );
}

async fn policies_are_listed_by_name_and_replaced_by_name<S: PolicyStore>(store: &S) {
    let id = InstallationId(10);
    let org = policy(10, "org", "octo-org/*");
    let mut everything = policy(10, "everything", "*/*");
    everything.allowed_triggers = None;
    everything.allowed_users = Some(vec!["octocat".to_owned()]);
    store.put_policy(&org).await.expect("put");
    store.put_policy(&everything).await.expect("put");
    store
        .put_policy(&policy(11, "other-installation", "*/*"))
        .await
        .expect("put");
    assert_eq!(
        store.policies(id).await,
        Ok(vec![everything.clone(), org.clone()])
    );

    let mut stricter = org.clone();
    stricter.require_approval = Some(false);
    stricter.installation_jobs_per_hour = Some(20);
    store.put_policy(&stricter).await.expect("replace");
    assert_eq!(store.policies(id).await, Ok(vec![everything, stricter]));
}

/// Append-only, one copy of each entry, newest first. The order of entries from the same
/// millisecond is the implementation's. Writes to installations 12 and 13.
pub async fn audit_log_contract<S: AuditLog>(store: &S) {
    let id = InstallationId(12);
    let entries = [
        audit_entry(12, 3_000, "/ollama refactor"),
        audit_entry(12, 1_000, "/ollama fix"),
        audit_entry(12, 2_000, "/approve j1"),
        // Same delivery and millisecond as the first, another command: both are kept.
        audit_entry(12, 3_000, "/ollama docs"),
    ];
    for entry in &entries {
        store.append(entry).await.expect("append");
    }
    // A redelivered batch appends the same entry again: still one copy.
    store.append(&entries[1]).await.expect("append again");
    store
        .append(&audit_entry(13, 9_000, "/ollama elsewhere"))
        .await
        .expect("append");

    let recent = store.recent(id, 10).await.expect("read");
    let times: Vec<u64> = recent.iter().map(|entry| entry.at_ms).collect();
    assert_eq!(times, [3_000, 3_000, 2_000, 1_000]);
    assert!(recent.contains(&entries[0]) && recent.contains(&entries[3]));
    assert_eq!(recent[2], entries[2]);
    assert_eq!(recent[3], entries[1]);

    let newest = store.recent(id, 2).await.expect("read");
    assert_eq!(newest.len(), 2);
    assert!(newest.iter().all(|entry| entry.at_ms == 3_000));
    assert_eq!(store.recent(id, 0).await, Ok(Vec::new()));
    assert_eq!(store.recent(InstallationId(14), 5).await, Ok(Vec::new()));
}

const HOUR: Duration = Duration::from_secs(3_600);

/// Fixed windows: the limit holds until the window ends, then counting starts again;
/// keys and window lengths count apart.
pub async fn rate_limiter_contract<S: RateLimiter>(store: &S) {
    let key = "user:octocat";
    let start = 1_700_000_000_000 - 1_700_000_000_000 % 3_600_000;
    for i in 0..3 {
        assert_eq!(
            store.acquire(key, 3, HOUR, start + i * 1_000).await,
            Ok(RateDecision::Allowed),
            "use {i}"
        );
    }
    let window_end = start + 3_600_000;
    for now in [start + 5_000, window_end - 1] {
        assert_eq!(
            store.acquire(key, 3, HOUR, now).await,
            Ok(RateDecision::Limited {
                retry_at_ms: window_end
            })
        );
    }
    // The next window starts from zero; another key and another window length are apart.
    assert_eq!(
        store.acquire(key, 3, HOUR, window_end).await,
        Ok(RateDecision::Allowed)
    );
    assert_eq!(
        store.acquire("installation:42", 3, HOUR, start).await,
        Ok(RateDecision::Allowed)
    );
    assert_eq!(
        store
            .acquire(key, 3, Duration::from_secs(60), start + 5_000)
            .await,
        Ok(RateDecision::Allowed)
    );
    assert_eq!(
        store.acquire(key, 0, HOUR, start).await,
        Ok(RateDecision::Limited {
            retry_at_ms: window_end
        })
    );
}

/// 2026-12-31 22:00 UTC: two hours before a new day, month and year.
pub const TOKENS_AT: u64 = 1_798_754_400_000;

/// A job id of its own.
fn token_job() -> JobId {
    let delivery = DeliveryId::parse(&unique("delivery")).expect("delivery id");
    JobId::for_command(&delivery, 0)
}

/// Tokens count per installation in the UTC day and month of the job's end, each job
/// once; a new day starts the day's count from zero, a new month the month's.
pub async fn token_ledger_contract<S: TokenLedger>(store: &S) {
    let installation = InstallationId(42);
    let used = |day, month| Ok(TokensUsed { day, month });
    assert_eq!(store.tokens_used(installation, TOKENS_AT).await, used(0, 0));

    // 2026-12-30: the day before.
    let earlier = TOKENS_AT - 86_400_000;
    let first = token_job();
    assert_eq!(
        store.add_tokens(installation, &first, 700, earlier).await,
        Ok(true)
    );
    let second = token_job();
    assert_eq!(
        store
            .add_tokens(installation, &second, 1_500, TOKENS_AT)
            .await,
        Ok(true)
    );
    // The same job's end handled again (a redelivery), even at another time: no change.
    assert_eq!(
        store
            .add_tokens(installation, &second, 1_500, TOKENS_AT)
            .await,
        Ok(false)
    );
    assert_eq!(
        store
            .add_tokens(installation, &first, 700, TOKENS_AT + 60_000)
            .await,
        Ok(false)
    );
    assert_eq!(
        store.tokens_used(installation, TOKENS_AT + 3_600_000).await,
        used(1_500, 2_200)
    );
    assert_eq!(
        store.tokens_used(installation, earlier).await,
        used(700, 2_200)
    );
    // Other installations count apart.
    assert_eq!(
        store.tokens_used(InstallationId(43), TOKENS_AT).await,
        used(0, 0)
    );
    assert_eq!(
        store
            .add_tokens(InstallationId(43), &token_job(), 5, TOKENS_AT)
            .await,
        Ok(true)
    );
    assert_eq!(
        store.tokens_used(installation, TOKENS_AT).await,
        used(1_500, 2_200)
    );

    // 2027-01-01 00:00 UTC: a new day and a new month.
    let new_year = TOKENS_AT + 2 * 3_600_000;
    assert_eq!(store.tokens_used(installation, new_year).await, used(0, 0));
    assert_eq!(
        store
            .add_tokens(installation, &token_job(), 40, new_year)
            .await,
        Ok(true)
    );
    assert_eq!(
        store.tokens_used(installation, new_year).await,
        used(40, 40)
    );
    assert_eq!(
        store.tokens_used(installation, new_year - 1).await,
        used(1_500, 2_200)
    );
}

/// A repository's schedule in installation `installation`, next firing at `next_ms`.
pub fn schedule_entry(
    installation: u64,
    repo: u64,
    next_ms: Option<u64>,
) -> shared::ports::ScheduleEntry {
    shared::ports::ScheduleEntry {
        installation: InstallationId(installation),
        repository: shared::envelope::Repository {
            id: shared::ids::RepoId(repo),
            full_name: RepoFullName::new(format!("octo-org/repo-{repo}")),
            default_branch: Some("main".to_owned()),
            private: false,
        },
        cron: "0 3 * * *".to_owned(),
        timezone: "UTC".to_owned(),
        tasks: vec!["deps".to_owned()],
        next_fire_ms: next_ms,
        last_fired_ms: None,
        updated_at_ms: 1_000,
    }
}

/// The schedule registry: entries replaced and removed by repository, the due ones by
/// their next fire time, a fire time claimed once, an installation's schedules removed
/// with it, the tracking issue kept apart from the schedule.
pub async fn schedule_registry_contract<S: shared::ports::ScheduleRegistry>(store: &S) {
    use shared::ids::RepoId;
    let early = schedule_entry(7, 1, Some(1_000));
    let late = schedule_entry(7, 2, Some(5_000));
    let never = schedule_entry(8, 3, None);
    for entry in [&late, &early, &never] {
        store.put_schedule(entry).await.expect("put");
    }
    assert_eq!(
        store.schedule(RepoId(1)).await.expect("get"),
        Some(early.clone())
    );
    assert_eq!(store.schedule(RepoId(9)).await.expect("get"), None);

    let due = store.due_schedules(5_000, 10).await.expect("due");
    assert_eq!(
        due,
        [early.clone(), late.clone()],
        "earliest first, never-again left out"
    );
    assert_eq!(
        store.due_schedules(4_999, 10).await.expect("due"),
        std::slice::from_ref(&early)
    );
    assert_eq!(store.due_schedules(5_000, 1).await.expect("due").len(), 1);
    assert!(store.due_schedules(999, 10).await.expect("due").is_empty());

    // A fire time is claimed once; a claim on a fire time that moved on is refused.
    assert!(
        store
            .claim_fire(RepoId(1), 1_000, Some(1_000), Some(2_000))
            .await
            .expect("claim")
    );
    assert!(
        !store
            .claim_fire(RepoId(1), 1_000, Some(1_000), Some(2_000))
            .await
            .expect("again")
    );
    assert!(
        !store
            .claim_fire(RepoId(9), 1_000, Some(1_000), None)
            .await
            .expect("none")
    );
    let claimed = store
        .schedule(RepoId(1))
        .await
        .expect("get")
        .expect("entry");
    assert_eq!(
        (claimed.next_fire_ms, claimed.last_fired_ms),
        (Some(2_000), Some(1_000))
    );
    assert!(
        store
            .claim_fire(RepoId(1), 2_000, Some(2_000), None)
            .await
            .expect("claim")
    );
    assert_eq!(
        store.due_schedules(u64::MAX, 10).await.expect("due"),
        std::slice::from_ref(&late)
    );

    // Replaced by repository.
    let changed = shared::ports::ScheduleEntry {
        cron: "0 4 * * *".to_owned(),
        ..schedule_entry(7, 2, Some(6_000))
    };
    store.put_schedule(&changed).await.expect("replace");
    assert_eq!(store.schedule(RepoId(2)).await.expect("get"), Some(changed));

    assert!(store.remove_schedule(RepoId(2)).await.expect("remove"));
    assert!(!store.remove_schedule(RepoId(2)).await.expect("again"));
    assert_eq!(
        store
            .remove_installation_schedules(InstallationId(7))
            .await
            .expect("rm"),
        1
    );
    assert_eq!(
        store
            .remove_installation_schedules(InstallationId(7))
            .await
            .expect("rm"),
        0
    );
    assert_eq!(store.schedule(RepoId(3)).await.expect("get"), Some(never));

    assert_eq!(store.tracking_issue(RepoId(1)).await.expect("issue"), None);
    store
        .put_tracking_issue(RepoId(1), 12)
        .await
        .expect("put issue");
    assert_eq!(
        store.tracking_issue(RepoId(1)).await.expect("issue"),
        Some(12)
    );
    assert_eq!(store.tracking_issue(RepoId(3)).await.expect("issue"), None);
}
