//! The contract of the dashboard's listings (`shared::ports::ControlPlane`'s `jobs`,
//! `audit`, `installations` and `tokens_used`), written once and checked against both implementations:
//! the DynamoDB one against moto (`tests/dynamo_control_plane.rs`) and the SQLite one of
//! `ota serve` (its unit tests). Each wants a store nobody else writes to; `store` is the
//! store under `plane`, used to write what the listings then read.

use crate::store_contract::{audit_entry, comment_on, installation, job_on, repos};
use shared::ids::{InstallationId, RepoFullName};
use shared::job::JobStatus;
use shared::ports::{
    AuditFilter, AuditLog, AuditPage, ControlPlane, InstallationStore, JobFilter, JobPage,
    JobStore, StoreError, TokenLedger, TokensUsed,
};

/// The tokens the installation's jobs used now (the plane reads the clock): what the
/// store counted for today, this month, and that installation only.
pub async fn tokens_used_contract<S: TokenLedger, C: ControlPlane>(store: &S, plane: &C) {
    let installation = InstallationId(77);
    assert_eq!(
        plane.tokens_used(installation).await,
        Ok(TokensUsed::default())
    );
    let delivery = shared::ids::DeliveryId::parse(&crate::unique("delivery")).expect("delivery");
    let job = shared::job::JobId::for_command(&delivery, 0);
    let now = shared::clock::now_ms();
    assert_eq!(
        store.add_tokens(installation, &job, 4_321, now).await,
        Ok(true)
    );
    // Far in the past: another day and month, not shown.
    let old = shared::job::JobId::for_command(&delivery, 1);
    assert_eq!(
        store.add_tokens(installation, &old, 1_000, 1_000_000).await,
        Ok(true)
    );
    assert_eq!(
        plane.tokens_used(installation).await,
        Ok(TokensUsed {
            day: 4_321,
            month: 4_321
        })
    );
    assert_eq!(
        plane.tokens_used(InstallationId(78)).await,
        Ok(TokensUsed::default())
    );
}

fn times(page: &JobPage) -> Vec<u64> {
    page.jobs.iter().map(|job| job.created_at_ms).collect()
}

fn entry_times(page: &AuditPage) -> Vec<u64> {
    page.entries.iter().map(|entry| entry.at_ms).collect()
}

/// Jobs newest first, read on page by page, every filter narrowing; a foreign cursor is
/// refused.
pub async fn job_listing_contract<S: JobStore, C: ControlPlane>(store: &S, plane: &C) {
    for at in 1..=5u64 {
        let mut job = job_on("Octo-Org/Hello-World", comment_on(7), at * 1_000);
        if at == 2 {
            job.task = "docs".to_owned();
            job.requester = "Hubot".to_owned();
        }
        if at == 4 {
            job.status = JobStatus::Failed;
        }
        store.create_job(&job).await.expect("create");
    }
    store
        .create_job(&job_on("other/repo", comment_on(1), 6_000))
        .await
        .expect("create");

    let all = JobFilter::default();
    let first = plane.jobs(&all, None, 4).await.expect("page");
    assert_eq!(times(&first), [6_000, 5_000, 4_000, 3_000]);
    let next = first.next.clone().expect("another page");
    let second = plane.jobs(&all, Some(&next), 4).await.expect("page");
    assert_eq!(times(&second), [2_000, 1_000]);
    assert_eq!(second.next, None);
    let exact = plane.jobs(&all, None, 6).await.expect("page");
    assert_eq!(exact.jobs.len(), 6);
    assert_eq!(exact.next, None, "no page follows the last job");

    let mine = JobFilter {
        repos: Some(repos(&["octo-org/hello-world"])),
        ..JobFilter::default()
    };
    assert_eq!(
        plane.jobs(&mine, None, 10).await.expect("page").jobs.len(),
        5
    );
    let nothing = JobFilter {
        repos: Some(Vec::new()),
        ..JobFilter::default()
    };
    assert!(
        plane
            .jobs(&nothing, None, 10)
            .await
            .expect("page")
            .jobs
            .is_empty()
    );

    let cases = [
        (
            JobFilter {
                repo: Some(RepoFullName::new("OTHER/repo")),
                ..JobFilter::default()
            },
            vec![6_000],
        ),
        (
            JobFilter {
                task: Some("docs".to_owned()),
                ..JobFilter::default()
            },
            vec![2_000],
        ),
        (
            JobFilter {
                requester: Some("hubot".to_owned()),
                ..JobFilter::default()
            },
            vec![2_000],
        ),
        (
            JobFilter {
                status: Some(JobStatus::Failed),
                ..JobFilter::default()
            },
            vec![4_000],
        ),
        (
            JobFilter {
                since_ms: Some(3_000),
                until_ms: Some(5_000),
                ..JobFilter::default()
            },
            vec![4_000, 3_000],
        ),
    ];
    for (filter, expected) in cases {
        let page = plane.jobs(&filter, None, 10).await.expect("page");
        assert_eq!(times(&page), expected, "{filter:?}");
    }
    // A filtered listing pages too, each page only what the filter selects.
    let hello = JobFilter {
        repo: Some(RepoFullName::new("octo-org/hello-world")),
        ..JobFilter::default()
    };
    let page = plane.jobs(&hello, None, 2).await.expect("page");
    assert_eq!(times(&page), [5_000, 4_000]);
    let page = plane
        .jobs(&hello, page.next.as_deref(), 2)
        .await
        .expect("page");
    assert_eq!(times(&page), [3_000, 2_000]);
    assert!(matches!(
        plane.jobs(&all, Some("not a cursor"), 4).await,
        Err(StoreError::Corrupt(_))
    ));
}

/// Audit entries of every installation newest first, read on page by page, every filter
/// narrowing; an entry about no repository only for whoever sees every repository.
pub async fn audit_listing_contract<S: AuditLog, C: ControlPlane>(store: &S, plane: &C) {
    for at in 1..=4u64 {
        let mut entry = audit_entry(if at == 3 { 7 } else { 42 }, at * 1_000, "/ollama refactor");
        if at == 2 {
            entry.actor = "Hubot".to_owned();
            entry.decision = "denied".to_owned();
        }
        if at == 4 {
            entry.repo = None;
            entry.command = "installation created".to_owned();
        }
        store.append(&entry).await.expect("append");
    }
    let all = AuditFilter::default();
    let first = plane.audit(&all, None, 3).await.expect("page");
    assert_eq!(entry_times(&first), [4_000, 3_000, 2_000]);
    let second = plane
        .audit(&all, first.next.as_deref(), 3)
        .await
        .expect("page");
    assert_eq!(entry_times(&second), [1_000]);
    assert_eq!(second.next, None);

    let cases = [
        (
            AuditFilter {
                repos: Some(repos(&["Octo-Org/Hello-World"])),
                ..AuditFilter::default()
            },
            vec![3_000, 2_000, 1_000],
        ),
        (
            AuditFilter {
                repos: Some(Vec::new()),
                ..AuditFilter::default()
            },
            vec![],
        ),
        (
            AuditFilter {
                actor: Some("HUBOT".to_owned()),
                ..AuditFilter::default()
            },
            vec![2_000],
        ),
        (
            AuditFilter {
                decision: Some("accepted".to_owned()),
                since_ms: Some(2_000),
                ..AuditFilter::default()
            },
            vec![4_000, 3_000],
        ),
        (
            AuditFilter {
                repo: Some(RepoFullName::new("octo-org/hello-world")),
                until_ms: Some(3_000),
                ..AuditFilter::default()
            },
            vec![2_000, 1_000],
        ),
    ];
    for (filter, expected) in cases {
        let page = plane.audit(&filter, None, 10).await.expect("page");
        assert_eq!(entry_times(&page), expected, "{filter:?}");
    }
    assert!(matches!(
        plane.audit(&all, Some("not a cursor"), 4).await,
        Err(StoreError::Corrupt(_))
    ));
}

/// Every installation by id, with its repositories.
pub async fn installations_contract<S: InstallationStore, C: ControlPlane>(store: &S, plane: &C) {
    store
        .upsert_installation(&installation(42, "octo-org", false))
        .await
        .expect("upsert");
    store
        .upsert_installation(&installation(7, "hubot", true))
        .await
        .expect("upsert");
    store
        .add_repositories(InstallationId(42), &repos(&["octo-org/hello-world"]))
        .await
        .expect("add");
    let views = plane.installations().await.expect("installations");
    let ids: Vec<u64> = views.iter().map(|view| view.record.id.0).collect();
    assert_eq!(ids, [7, 42]);
    assert!(views[0].repos.is_empty());
    assert_eq!(views[1].repos, repos(&["octo-org/hello-world"]));
    assert_eq!(views[1].record, installation(42, "octo-org", false));
}
