//! `ota jobs`, `ota job`, `ota approve`, `ota cancel`, `ota retry`: the operator's view of
//! the local database. The last three are the operations `/approve`, `/cancel` and
//! `/retry` also use ([`shared::policy_stage::operations`]), done by the trusted local operator;
//! here they are only rendered as terminal lines. The running `ota serve` acts on what
//! they write within a moment; with no server running, it acts on it when it starts.

pub mod bulk;

use crate::settings::DataDir;
use anyhow::{Context, anyhow, bail};
use ota_local::engine::LocalWorkflow;
use ota_local::store::{DATABASE_FILE, Database};
use shared::clock::now_ms;
use shared::job::{JobId, JobRecord, JobStatus, Timeouts};
use shared::policy_stage::operations::{self, Actor, Approved, Cancelled, Origin, Retried};
use shared::ports::RepoScope;
use shared::ports::{AuditEntry, StoreError};
use shared::report::text::format_duration;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::sync::Notify;

#[derive(Debug, Clone, clap::Args)]
pub struct JobsArgs {
    #[command(flatten)]
    pub data_dir: DataDir,
    /// Only jobs with this status (`queued`, `running`, `failed`, `dead_lettered`, ...).
    #[arg(long)]
    pub status: Option<String>,
    /// How many of the newest jobs to list.
    #[arg(long, default_value_t = 30)]
    pub limit: usize,
}

#[derive(Debug, Clone, clap::Args)]
pub struct JobArgs {
    #[command(flatten)]
    pub data_dir: DataDir,
    /// The job's id, or its first characters.
    pub id: String,
}

fn open(data_dir: &DataDir) -> anyhow::Result<Database> {
    if !data_dir.path.join(DATABASE_FILE).exists() {
        bail!(
            "no database in {}: start `ota serve` there first, or pass --data-dir",
            data_dir.path.display()
        );
    }
    Database::open(&data_dir.path).context("opening the database")
}

/// The job `reference` names, if exactly one does.
async fn find(db: &Database, reference: &str) -> anyhow::Result<JobRecord> {
    let reference = check_reference(reference)?;
    pick(reference, db.jobs_by_prefix(reference).await?)
}

/// The reference to a job as given, trimmed; an empty one is refused.
pub(crate) fn check_reference(reference: &str) -> anyhow::Result<&str> {
    let reference = reference.trim();
    if reference.is_empty() {
        bail!("give a job id (see `ota jobs`)");
    }
    Ok(reference)
}

/// The one job of `jobs` (those whose id starts with `reference`), or why there is none.
pub(crate) fn pick(reference: &str, mut jobs: Vec<JobRecord>) -> anyhow::Result<JobRecord> {
    match jobs.len() {
        0 => Err(anyhow!("no job {reference:?} (see `ota jobs`)")),
        1 => Ok(jobs.remove(0)),
        n => {
            let ids: Vec<&str> = jobs.iter().map(|job| job.id.as_str()).collect();
            Err(anyhow!(
                "{n} jobs start with {reference:?}: {}; give more of the id",
                ids.join(", ")
            ))
        }
    }
}

/// Who acts, for the job and the audit log: the operator at this machine, trusted.
pub(crate) fn operator(job: &JobRecord, command: &str) -> Origin {
    Origin {
        actor: Actor::operator(&operator_user()),
        command: command.to_owned(),
        delivery: None,
        scope: RepoScope {
            installation: job.installation,
            repo: job.repo.clone(),
        },
        clock: now_ms,
    }
}

/// The operator's user name on this machine.
pub(crate) fn operator_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "operator".to_owned())
}

/// `ota bulk` on this machine: its requests go into the inbox `ota serve` handles.
pub async fn bulk(args: bulk::BulkArgs) -> anyhow::Result<ExitCode> {
    let db = open(&args.data_dir)?;
    let inbox = db.inbox().context("opening the inbox")?;
    let run = args.run(Actor::operator(&operator_user()).name().to_owned());
    bulk::bulk(&db, &inbox, &run, "this machine's `ota serve`").await
}

fn thread(job: &JobRecord) -> String {
    match job.trigger.number() {
        Some(number) => format!("{}#{number}", job.repo),
        None => job.repo.to_string(),
    }
}

fn error_of(job: &JobRecord) -> Option<String> {
    let error = job.result.as_ref()?.error.as_ref()?;
    Some(format!("{}: {}", error.name, error.message))
}

fn ago(now_ms: u64, at_ms: u64) -> String {
    format!("{} ago", format_duration(now_ms.saturating_sub(at_ms)))
}

/// The `--status` filter, checked.
pub(crate) fn status_filter(args: &JobsArgs) -> anyhow::Result<Option<JobStatus>> {
    match &args.status {
        None => Ok(None),
        Some(name) => Ok(Some(JobStatus::from_name(name).ok_or_else(|| {
            anyhow!("unknown status {name:?}; one of: queued, awaiting_approval, dispatching, running, succeeded, failed, cancelled, expired, dead_lettered")
        })?)),
    }
}

pub async fn jobs(args: JobsArgs) -> anyhow::Result<ExitCode> {
    let status = status_filter(&args)?;
    let db = open(&args.data_dir)?;
    let jobs = db.recent_jobs(args.limit, status).await?;
    print!("{}", jobs_table(&jobs, now_ms()));
    Ok(ExitCode::SUCCESS)
}

/// The `ota jobs` listing: one line a job, newest first.
pub fn jobs_table(jobs: &[JobRecord], now_ms: u64) -> String {
    if jobs.is_empty() {
        return "No jobs yet.\n".to_owned();
    }
    let mut out = format!(
        "{:<22} {:<18} {:<32} {:<10} {:<8} {}\n",
        "JOB", "STATUS", "WHERE", "TASK", "ATTEMPTS", "CREATED"
    );
    for job in jobs {
        let _ = writeln!(
            out,
            "{:<22} {:<18} {:<32} {:<10} {:<8} {}",
            job.id.as_str(),
            job.status.to_string(),
            thread(job),
            job.task,
            job.attempts,
            ago(now_ms, job.created_at_ms),
        );
        if let Some(error) = error_of(job) {
            let _ = writeln!(out, "{:<22} └ {error}", "");
        }
    }
    out
}

pub async fn job(args: JobArgs) -> anyhow::Result<ExitCode> {
    let db = open(&args.data_dir)?;
    let job = find(&db, &args.id).await?;
    let audit = db.audit_for_job(&job.id).await?;
    print!("{}", job_details(&job, &audit, now_ms()));
    Ok(ExitCode::SUCCESS)
}

/// The `ota job <id>` page.
pub fn job_details(job: &JobRecord, audit: &[AuditEntry], now_ms: u64) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Job {} · {}", job.id, job.status);
    let _ = writeln!(out, "  where:      {}", thread(job));
    let _ = writeln!(out, "  task:       {} {}", job.task, job.params);
    let _ = writeln!(out, "  requester:  {}", job.requester);
    let _ = writeln!(
        out,
        "  commit:     {} ({})",
        job.commit.as_str(),
        job.git_ref
    );
    let _ = writeln!(out, "  created:    {}", ago(now_ms, job.created_at_ms));
    let _ = writeln!(out, "  attempts:   {}", job.attempts);
    if let Some(approver) = &job.approval.approved_by {
        let _ = writeln!(out, "  approved by {approver}");
    }
    if let Some(log) = &job.log {
        let _ = writeln!(out, "  log:        {log}");
    }
    if let Some(result) = &job.result {
        if let Some(branch) = &result.branch {
            let _ = writeln!(out, "  branch:     {branch}");
        }
        if let Some(url) = &result.pull_request_url {
            let _ = writeln!(out, "  pull req.:  {url}");
        }
        if let Some(tokens) = result.tokens {
            let _ = writeln!(
                out,
                "  tokens:     {} in, {} out",
                tokens.prompt, tokens.completion
            );
        }
        if let Some(error) = &result.error {
            let _ = writeln!(out, "  error:      {}: {}", error.name, error.message);
        }
        if let Some(summary) = &result.summary {
            let _ = writeln!(out, "\n{summary}");
        }
    }
    if !audit.is_empty() {
        let _ = writeln!(out, "\nAudit log:");
        for entry in audit {
            let _ = writeln!(
                out,
                "  {} {} {} → {} ({})",
                ago(now_ms, entry.at_ms),
                entry.actor,
                entry.command,
                entry.decision,
                entry.reason
            );
        }
    }
    out
}

fn workflow(db: &Database) -> LocalWorkflow {
    LocalWorkflow::new(db.clone(), Arc::new(Notify::new()))
}

pub async fn approve(args: JobArgs) -> anyhow::Result<ExitCode> {
    let db = open(&args.data_dir)?;
    let job = find(&db, &args.id).await?;
    let origin = operator(&job, "ota approve");
    approved(
        operations::approve(&db, &workflow(&db), job, &origin).await?,
        "is `ota serve` running?",
    )
}

/// What came of `ota approve`, for the terminal; `not_ready` says what to check when the
/// workflow has not reached the approval wait yet.
pub(crate) fn approved(outcome: Approved, not_ready: &str) -> anyhow::Result<ExitCode> {
    match outcome {
        Approved::Approved(job) => {
            println!("Approved job {}; it will run next.", job.id);
            Ok(ExitCode::SUCCESS)
        }
        Approved::NotWaiting(job) => bail!(
            "job {} is {}, not waiting for an approval",
            job.id,
            job.status
        ),
        Approved::NotReady(job) => bail!(
            "job {} has not reached its approval wait yet; {not_ready}",
            job.id
        ),
        Approved::Raced(job) => Err(anyhow::Error::new(StoreError::Conflict {
            current: Some(job.status),
        })
        .context(format!(
            "job {} changed meanwhile; look again with `ota job {}`",
            job.id, job.id
        ))),
        Approved::WindowOver(job) => bail!(
            "job {}'s approval wait is over (expired or cancelled)",
            job.id
        ),
    }
}

pub async fn cancel(args: JobArgs) -> anyhow::Result<ExitCode> {
    let db = open(&args.data_dir)?;
    let job = find(&db, &args.id).await?;
    let origin = operator(&job, "ota cancel");
    cancelled(operations::cancel(&db, &workflow(&db), job, &origin).await?)
}

/// What came of `ota cancel`, for the terminal.
pub(crate) fn cancelled(outcome: Cancelled) -> anyhow::Result<ExitCode> {
    match outcome {
        Cancelled::Stopped(job) => {
            println!(
                "Cancelling job {}: its runner is stopped and the cancellation reported.",
                job.id
            );
            Ok(ExitCode::SUCCESS)
        }
        Cancelled::AlreadyFinished(job) => bail!("job {} is already {}", job.id, job.status),
    }
}

pub async fn retry(args: JobArgs) -> anyhow::Result<ExitCode> {
    let db = open(&args.data_dir)?;
    let old = find(&db, &args.id).await?;
    let timeouts = db
        .execution_timeouts(&old.id)
        .await?
        .unwrap_or(Timeouts::DEFAULT);
    let origin = operator(&old, "ota retry");
    retried(
        operations::retry(&db, &workflow(&db), &old, &origin, timeouts).await?,
        &old.id,
    )
}

/// What came of `ota retry`, for the terminal.
pub(crate) fn retried(outcome: Retried, old: &JobId) -> anyhow::Result<ExitCode> {
    match outcome {
        Retried::Started(job) => {
            println!(
                "Job {} retries job {old}; `ota job {}` shows how it goes.",
                job.id, job.id
            );
            Ok(ExitCode::SUCCESS)
        }
        Retried::NotRetryable(old) => bail!(
            "job {} is {}; only {} jobs can be retried",
            old.id,
            old.status,
            retryable_statuses()
        ),
    }
}

/// The statuses [`JobStatus::RETRYABLE`] names, as a sentence: "failed, cancelled,
/// expired or dead-lettered".
fn retryable_statuses() -> String {
    let names: Vec<String> = JobStatus::RETRYABLE
        .iter()
        .map(|status| status.as_str().replace('_', "-"))
        .collect();
    match names.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retry_refusal_names_every_retryable_status() {
        assert_eq!(
            retryable_statuses(),
            "failed, cancelled, expired or dead-lettered"
        );
    }
}
