//! Bulk runs: one task across many repositories of an installation (`ota bulk`, on one
//! machine and on a stack alike).
//!
//! A bulk run is an operator's [`Request`] per repository, queued on the intake queue
//! like a schedule's, so each repository's own `.ollama-turbo.yml`, the installation's
//! policies, its rate limits and the audit log apply to each one as to any job. What this
//! module adds is the pacing and the answer: at most `concurrency` of the run's jobs are
//! under way at once (a job counts until it ends or waits for an approval), and the run
//! ends with one line per repository and a summary.
//!
//! Each repository's request id is derived from the run's name and the repository's name,
//! so running the same bulk run again (after an interruption, or a timeout) starts no
//! second job: the intake and the policy stage recognise every request they have seen,
//! and the run picks up each job where it is.

use crate::clock::now_ms;
use crate::ids::{DeliveryId, InstallationId, RepoFullName};
use crate::inbound::{Inbound, Request, RequestRepository, RequestSource};
use crate::job::{JobId, JobRecord, JobStatus};
use crate::policy::repo_pattern_matches;
use crate::ports::{
    AuditEntry, AuditLog, EventQueue, InstallationStore, JobStore, QueueError, StoreError,
};
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::time::Duration;

/// The longest name of a bulk run: it goes into request ids, which SQS caps at 128.
pub const MAX_RUN_NAME_CHARS: usize = 64;

/// One bulk run, as the operator asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkRun {
    /// Names the run: its requests' ids derive from it (see [`BulkRun::request_id`]).
    pub name: String,
    pub installation: InstallationId,
    /// Which of the installation's repositories: `acme/*`, `acme/api`, … (any matches).
    pub repos: Vec<String>,
    pub task: String,
    /// Instructions for the task; empty for none.
    pub text: String,
    /// Who asked, as the audit log and the jobs name them.
    pub requester: String,
    /// How many of the run's jobs may be under way at once (at least one).
    pub concurrency: usize,
    /// How long to wait for the run to end; what is unfinished then is reported as such.
    pub timeout: Duration,
    /// How often to look at the jobs.
    pub poll: Duration,
}

/// Why a bulk run could not start, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum BulkError {
    #[error(
        "the run's name {0:?} is not 1 to {MAX_RUN_NAME_CHARS} letters, digits, '.', '_' or '-'"
    )]
    BadName(String),
    #[error("no repository pattern: give --repos (e.g. 'acme/*')")]
    NoPattern,
    #[error("the App has no installation {0} (the dashboard's installations page lists them)")]
    NoInstallation(InstallationId),
    #[error("installation {0} is suspended: its owner must unsuspend it first")]
    Suspended(InstallationId),
    #[error("no repository of installation {installation} matches {patterns}; it has {count}")]
    NoRepository {
        installation: InstallationId,
        patterns: String,
        count: usize,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not queue the request for {repo}: {error}")]
    Queue {
        repo: RepoFullName,
        error: QueueError,
    },
}

/// A name for a run that was given none: the task and the minute it started (UTC), e.g.
/// `docs-20261203-0615`.
pub fn default_name(task: &str, now_ms: u64) -> String {
    let minute = i64::try_from(now_ms)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map(|at| at.strftime("%Y%m%d-%H%M").to_string())
        .unwrap_or_else(|| now_ms.to_string());
    let task: String = task
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(MAX_RUN_NAME_CHARS - minute.len() - 1)
        .collect();
    format!("{task}-{minute}")
}

impl BulkRun {
    /// The id of `repo`'s request in this run: the same for every run of the same name.
    pub fn request_id(&self, repo: &RepoFullName) -> Result<DeliveryId, BulkError> {
        let digest = Sha256::digest(repo.as_str().to_ascii_lowercase());
        let id = format!("bulk-{}-{}", self.name, hex::encode(&digest[..8]));
        DeliveryId::parse(&id).map_err(|_| BulkError::BadName(self.name.clone()))
    }

    /// The job `repo`'s request starts (its only task).
    pub fn job_id(&self, repo: &RepoFullName) -> Result<JobId, BulkError> {
        Ok(JobId::for_trigger(&self.request_id(repo)?, 0))
    }

    fn check(&self) -> Result<(), BulkError> {
        let name_ok = !self.name.is_empty()
            && self.name.chars().count() <= MAX_RUN_NAME_CHARS
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !name_ok {
            return Err(BulkError::BadName(self.name.clone()));
        }
        if self.repos.iter().all(|pattern| pattern.trim().is_empty()) {
            return Err(BulkError::NoPattern);
        }
        Ok(())
    }

    fn request(&self, repo: &RepoFullName) -> Result<Inbound, BulkError> {
        Ok(Inbound::Request(Request {
            id: self.request_id(repo)?,
            source: RequestSource::Operator {
                login: self.requester.clone(),
            },
            installation: self.installation,
            repository: RequestRepository::named(repo.clone()),
            tasks: vec![self.task.clone()],
            text: self.text.clone(),
        }))
    }
}

/// How one repository's part of the run came out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The job ended: `succeeded`, `failed`, `cancelled`, `expired` or `dead_lettered`,
    /// with its pull request and its error, if any.
    Ended {
        status: JobStatus,
        pull_request: Option<String>,
        error: Option<String>,
    },
    /// The job waits for someone allowed to approve it (`/approve`, `ota approve`).
    AwaitingApproval,
    /// No job: the policy stage said why (a policy, a limit, the repository's config).
    Refused { reason: String },
    /// Still under way when the run stopped waiting.
    Unfinished { status: Option<JobStatus> },
    /// Never queued: the run stopped waiting first.
    NotQueued,
}

impl Outcome {
    /// A word or two: the job's status, `refused`, `unfinished`, …
    pub fn label(&self) -> String {
        match self {
            Self::Ended { status, .. } => status.to_string(),
            Self::AwaitingApproval => "awaiting approval".to_owned(),
            Self::Refused { .. } => "refused".to_owned(),
            Self::Unfinished { .. } => "unfinished".to_owned(),
            Self::NotQueued => "not queued".to_owned(),
        }
    }

    /// The pull request, the error or the reason, and what to do next.
    pub fn detail(&self) -> String {
        match self {
            Self::Ended {
                pull_request,
                error,
                ..
            } => pull_request
                .clone()
                .or_else(|| error.clone())
                .unwrap_or_default(),
            Self::AwaitingApproval => {
                "waits for `/approve` or `ota approve` with its id".to_owned()
            }
            Self::Refused { reason } => reason.clone(),
            Self::Unfinished { status } => match status {
                Some(status) => format!("{status}; run the same bulk run again to follow it"),
                None => "queued; run the same bulk run again to follow it".to_owned(),
            },
            Self::NotQueued => "run the same bulk run again to queue it".to_owned(),
        }
    }

    fn succeeded(&self) -> bool {
        matches!(
            self,
            Self::Ended {
                status: JobStatus::Succeeded,
                ..
            }
        )
    }
}

/// One repository of the run and its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoOutcome {
    pub repo: RepoFullName,
    pub job: JobId,
    pub outcome: Outcome,
}

/// What the run came to, one repository a line, in name order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkSummary {
    pub name: String,
    pub task: String,
    pub results: Vec<RepoOutcome>,
}

impl BulkSummary {
    /// Whether every repository's job succeeded.
    pub fn all_succeeded(&self) -> bool {
        self.results.iter().all(|result| result.outcome.succeeded())
    }

    /// The table and its summary line, for the terminal.
    pub fn render(&self) -> String {
        let width = self
            .results
            .iter()
            .map(|result| result.repo.as_str().len())
            .max()
            .unwrap_or(0)
            .max("REPOSITORY".len());
        let mut out = format!(
            "{:<width$}  {:<22}  {:<17}  DETAIL\n",
            "REPOSITORY", "JOB", "RESULT"
        );
        for result in &self.results {
            let _ = writeln!(
                out,
                "{:<width$}  {:<22}  {:<17}  {}",
                result.repo.as_str(),
                result.job.as_str(),
                result.outcome.label(),
                result.outcome.detail()
            );
        }
        let mut counts: Vec<(String, usize)> = Vec::new();
        for result in &self.results {
            let label = result.outcome.label();
            match counts.iter_mut().find(|(seen, _)| *seen == label) {
                Some((_, count)) => *count += 1,
                None => counts.push((label, 1)),
            }
        }
        counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let counts: Vec<String> = counts
            .iter()
            .map(|(label, count)| format!("{count} {label}"))
            .collect();
        let repositories = match self.results.len() {
            1 => "1 repository".to_owned(),
            n => format!("{n} repositories"),
        };
        let _ = writeln!(
            out,
            "bulk run {} ({}): {repositories}: {}",
            self.name,
            self.task,
            counts.join(", ")
        );
        out
    }
}

/// What the run tells as it goes, for a progress line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// The repositories the run covers, before anything is queued.
    Planned {
        repos: usize,
    },
    Queued {
        repo: RepoFullName,
        job: JobId,
    },
    Done(RepoOutcome),
}

/// The installation's repositories that any of `patterns` matches, in name order.
pub fn select(repos: &[RepoFullName], patterns: &[String]) -> Vec<RepoFullName> {
    let mut selected: Vec<RepoFullName> = repos
        .iter()
        .filter(|repo| {
            patterns
                .iter()
                .map(|pattern| pattern.trim())
                .any(|pattern| !pattern.is_empty() && repo_pattern_matches(pattern, repo))
        })
        .cloned()
        .collect();
    selected.sort_by_key(|repo| repo.as_str().to_ascii_lowercase());
    selected.dedup_by(|a, b| a.as_str().eq_ignore_ascii_case(b.as_str()));
    selected
}

/// Runs `run` to its end (or its timeout): queues its requests on `queue`, at most
/// `concurrency` under way, and follows their jobs and the audit log in `store`.
pub async fn run_bulk<S, Q>(
    store: &S,
    queue: &Q,
    run: &BulkRun,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<BulkSummary, BulkError>
where
    S: JobStore + InstallationStore + AuditLog,
    Q: EventQueue,
{
    run.check()?;
    // An installation older than the App's records may have repositories and no record
    // yet (the record comes with the `installation` events).
    let record = store.installation(run.installation).await?;
    let known = store.repositories(run.installation).await?;
    if record.is_none() && known.is_empty() {
        return Err(BulkError::NoInstallation(run.installation));
    }
    if record.is_some_and(|record| record.suspended) {
        return Err(BulkError::Suspended(run.installation));
    }
    let repos = select(&known, &run.repos);
    if repos.is_empty() {
        return Err(BulkError::NoRepository {
            installation: run.installation,
            patterns: run.repos.join(", "),
            count: known.len(),
        });
    }
    progress(Progress::Planned { repos: repos.len() });

    let deadline = now_ms().saturating_add(crate::clock::millis(run.timeout));
    let mut waiting: VecDeque<RepoFullName> = repos.iter().cloned().collect();
    let mut under_way: Vec<(RepoFullName, JobId, DeliveryId)> = Vec::new();
    let mut done: Vec<RepoOutcome> = Vec::new();
    loop {
        while under_way.len() < run.concurrency.max(1) {
            let Some(repo) = waiting.pop_front() else {
                break;
            };
            let request = run.request(&repo)?;
            queue
                .enqueue(&request)
                .await
                .map_err(|error| BulkError::Queue {
                    repo: repo.clone(),
                    error,
                })?;
            let job = run.job_id(&repo)?;
            progress(Progress::Queued {
                repo: repo.clone(),
                job: job.clone(),
            });
            under_way.push((repo, job, request.id().clone()));
        }
        let mut still = Vec::with_capacity(under_way.len());
        for (repo, job, request) in under_way {
            match settled(store, run.installation, &job, &request).await? {
                Some(outcome) => {
                    let result = RepoOutcome { repo, job, outcome };
                    progress(Progress::Done(result.clone()));
                    done.push(result);
                }
                None => still.push((repo, job, request)),
            }
        }
        under_way = still;
        if under_way.is_empty() && waiting.is_empty() {
            break;
        }
        if now_ms() >= deadline {
            for (repo, job, _) in under_way {
                let status = store.job(&job).await?.map(|job| job.status);
                done.push(RepoOutcome {
                    repo,
                    job,
                    outcome: Outcome::Unfinished { status },
                });
            }
            for repo in waiting {
                let job = run.job_id(&repo)?;
                done.push(RepoOutcome {
                    repo,
                    job,
                    outcome: Outcome::NotQueued,
                });
            }
            break;
        }
        tokio::time::sleep(run.poll).await;
    }
    done.sort_by_key(|result| result.repo.as_str().to_ascii_lowercase());
    Ok(BulkSummary {
        name: run.name.clone(),
        task: run.task.clone(),
        results: done,
    })
}

/// How many of the installation's newest audit entries are searched for a request's
/// refusal: a bulk run's refusals are among the newest while it runs.
const AUDIT_LOOKBACK: usize = 500;

/// The outcome of a repository's part once it has one: its job ended or waits for an
/// approval, or the policy stage refused the request; `None` while it is under way.
async fn settled<S: JobStore + AuditLog>(
    store: &S,
    installation: InstallationId,
    job: &JobId,
    request: &DeliveryId,
) -> Result<Option<Outcome>, BulkError> {
    if let Some(job) = store.job(job).await? {
        return Ok(outcome_of(&job));
    }
    // No job: the policy stage has not got to the request yet, or refused it, which its
    // audit entry for the request says.
    let entries = store.recent(installation, AUDIT_LOOKBACK).await?;
    Ok(refusal(&entries, request).map(|reason| Outcome::Refused { reason }))
}

/// What a job's record says of its part, once it has settled.
fn outcome_of(job: &JobRecord) -> Option<Outcome> {
    if job.status == JobStatus::AwaitingApproval {
        return Some(Outcome::AwaitingApproval);
    }
    if !job.status.is_terminal() {
        return None;
    }
    let result = job.result.as_ref();
    Some(Outcome::Ended {
        status: job.status,
        pull_request: result.and_then(|result| result.pull_request_url.clone()),
        error: result
            .and_then(|result| result.error.as_ref())
            .map(|error| format!("{}: {}", error.name, error.message)),
    })
}

/// The reason of the policy stage's refusal of `request`, if its audit entries hold one.
fn refusal(entries: &[AuditEntry], request: &DeliveryId) -> Option<String> {
    entries
        .iter()
        .find(|entry| entry.delivery == request.as_str() && entry.job.is_none())
        .map(|entry| format!("{}: {}", entry.decision, entry.reason))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::CommitSha;
    use crate::job::{ErrorReport, JobRequest, JobResult, Trigger};

    fn names(list: &[&str]) -> Vec<RepoFullName> {
        list.iter().map(|name| RepoFullName::new(*name)).collect()
    }

    fn run(name: &str) -> BulkRun {
        BulkRun {
            name: name.to_owned(),
            installation: InstallationId(7),
            repos: vec!["acme/*".to_owned()],
            task: "docs".to_owned(),
            text: String::new(),
            requester: "local:alice".to_owned(),
            concurrency: 2,
            timeout: Duration::from_secs(60),
            poll: Duration::from_millis(10),
        }
    }

    #[test]
    fn patterns_select_the_installations_repositories_once_each_in_name_order() {
        let repos = names(&[
            "acme/web",
            "acme/API",
            "other/api",
            "acme/api-v2",
            "acme/web",
        ]);
        let selected = select(&repos, &["acme/*".to_owned(), "ACME/web".to_owned()]);
        assert_eq!(selected, names(&["acme/API", "acme/api-v2", "acme/web"]));
        assert_eq!(
            select(&repos, &["acme/api-?2".to_owned()]),
            names(&["acme/api-v2"])
        );
        assert!(select(&repos, &[" ".to_owned()]).is_empty());
        // `*` stays within one path segment, as in installation policies.
        assert!(select(&repos, &["*".to_owned()]).is_empty());
    }

    #[test]
    fn a_repositorys_request_is_the_same_in_every_run_of_the_same_name() {
        let repo = RepoFullName::new("acme/api");
        let first = run("docs-sweep").request_id(&repo).expect("id");
        assert_eq!(first, run("docs-sweep").request_id(&repo).expect("id"));
        assert_eq!(
            first,
            run("docs-sweep")
                .request_id(&RepoFullName::new("ACME/Api"))
                .expect("id")
        );
        assert_ne!(first, run("docs-sweep-2").request_id(&repo).expect("id"));
        assert_ne!(
            first,
            run("docs-sweep")
                .request_id(&RepoFullName::new("acme/web"))
                .expect("id")
        );
        assert!(first.as_str().starts_with("bulk-docs-sweep-"), "{first}");
        let longest = run(&"n".repeat(MAX_RUN_NAME_CHARS));
        assert!(longest.check().is_ok());
        assert!(longest.request_id(&repo).is_ok());
    }

    #[test]
    fn a_run_without_a_name_is_named_after_its_task_and_minute() {
        // 2026-12-03T06:15:42Z.
        assert_eq!(
            default_name("docs", 1_796_278_542_000),
            "docs-20261203-0615"
        );
        assert!(
            run(&default_name("docs", 1_796_278_542_000))
                .check()
                .is_ok()
        );
    }

    #[test]
    fn bad_names_and_missing_patterns_are_refused_with_what_to_give() {
        for bad in ["", "two words", "a/b", &"n".repeat(MAX_RUN_NAME_CHARS + 1)] {
            let err = run(bad).check().expect_err("bad name");
            assert!(err.to_string().contains("letters, digits"), "{err}");
        }
        let mut none = run("ok");
        none.repos = vec![" ".to_owned()];
        assert!(matches!(none.check(), Err(BulkError::NoPattern)));
    }

    fn job(status: JobStatus, result: Option<JobResult>) -> JobRecord {
        let mut job = JobRecord::new(
            JobRequest {
                id: JobId::for_trigger(&DeliveryId::parse("bulk-x-1").expect("id"), 0),
                delivery: DeliveryId::parse("bulk-x-1").expect("id"),
                installation: InstallationId(7),
                repo: RepoFullName::new("acme/api"),
                commit: CommitSha::new("a".repeat(40)),
                git_ref: "main".to_owned(),
                trigger: Trigger::Request,
                task: "docs".to_owned(),
                params: String::new(),
                requester: "local:alice".to_owned(),
                approval: crate::job::Approval::not_required(),
            },
            0,
        );
        job.status = status;
        job.result = result;
        job
    }

    #[test]
    fn a_job_settles_when_it_ends_or_waits_for_an_approval() {
        assert_eq!(outcome_of(&job(JobStatus::Running, None)), None);
        assert_eq!(outcome_of(&job(JobStatus::Queued, None)), None);
        assert_eq!(
            outcome_of(&job(JobStatus::AwaitingApproval, None)),
            Some(Outcome::AwaitingApproval)
        );
        let failed = JobResult {
            error: Some(ErrorReport {
                name: "Runner.Failed".to_owned(),
                message: "the command failed".to_owned(),
            }),
            ..JobResult::default()
        };
        assert_eq!(
            outcome_of(&job(JobStatus::Failed, Some(failed))),
            Some(Outcome::Ended {
                status: JobStatus::Failed,
                pull_request: None,
                error: Some("Runner.Failed: the command failed".to_owned()),
            })
        );
    }

    #[test]
    fn a_refusal_is_the_requests_entry_without_a_job() {
        let request = DeliveryId::parse("bulk-x-1").expect("id");
        let entry = |delivery: &str, job: Option<JobId>| AuditEntry {
            installation: InstallationId(7),
            repo: Some(RepoFullName::new("acme/api")),
            at_ms: 1,
            delivery: delivery.to_owned(),
            actor: "local:alice".to_owned(),
            command: "operator".to_owned(),
            decision: "denied".to_owned(),
            reason: "operator runs are not allowed".to_owned(),
            policy: None,
            job,
        };
        let some_job = JobId::for_trigger(&request, 0);
        assert_eq!(
            refusal(&[entry("bulk-x-1", Some(some_job))], &request),
            None
        );
        assert_eq!(refusal(&[entry("bulk-x-2", None)], &request), None);
        assert_eq!(
            refusal(&[entry("bulk-x-1", None)], &request).as_deref(),
            Some("denied: operator runs are not allowed")
        );
    }

    #[test]
    fn the_summary_has_a_line_per_repository_and_counts_what_came_of_them() {
        let repo = |name: &str, outcome| RepoOutcome {
            repo: RepoFullName::new(name),
            job: JobId::for_trigger(&DeliveryId::parse(name).expect("id"), 0),
            outcome,
        };
        let summary = BulkSummary {
            name: "docs-sweep".to_owned(),
            task: "docs".to_owned(),
            results: vec![
                repo(
                    "acme/api",
                    Outcome::Ended {
                        status: JobStatus::Succeeded,
                        pull_request: Some("https://github.com/acme/api/pull/12".to_owned()),
                        error: None,
                    },
                ),
                repo(
                    "acme/billing-service",
                    Outcome::Ended {
                        status: JobStatus::Failed,
                        pull_request: None,
                        error: Some("Runner.Failed: `cargo test` failed".to_owned()),
                    },
                ),
                repo(
                    "acme/legacy",
                    Outcome::Refused {
                        reason: "invalid: .ollama-turbo.yml on main is invalid (2 problems)"
                            .to_owned(),
                    },
                ),
                repo("acme/web", Outcome::AwaitingApproval),
                repo(
                    "acme/www",
                    Outcome::Ended {
                        status: JobStatus::Succeeded,
                        pull_request: Some("https://github.com/acme/www/pull/3".to_owned()),
                        error: None,
                    },
                ),
                repo("acme/zeta", Outcome::Unfinished { status: None }),
                repo("acme/zulu", Outcome::NotQueued),
            ],
        };
        assert!(!summary.all_succeeded());
        insta::assert_snapshot!(summary.render());
    }
}
