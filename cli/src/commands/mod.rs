//! `ota jobs`, `ota job`, `ota approve`, `ota cancel`, `ota retry`: the operator's view of
//! the local database. They write what `/approve`, `/cancel` and `/retry` would (the
//! approval, the stop request, the new job) and the running `ota serve` acts on it within
//! a moment; with no server running, it acts on it when it starts.

use crate::settings::DataDir;
use anyhow::{Context, anyhow, bail};
use shared::clock::now_ms;
use ota_local::engine::LocalWorkflow;
use ota_local::store::{DATABASE_FILE, Database};
use shared::ids::DeliveryId;
use shared::job::{Approval, JobId, JobRecord, JobRequest, JobStatus, Timeouts, Wait};
use shared::report::text::format_duration;
use shared::store::{AuditEntry, AuditLog, JobStore};
use shared::workflow::{Workflow, WorkflowError, WorkflowInput};
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
    let reference = reference.trim();
    if reference.is_empty() {
        bail!("give a job id (see `ota jobs`)");
    }
    let mut jobs = db.jobs_by_prefix(reference).await?;
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

/// Who acts, for the job and the audit log.
fn operator() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "operator".to_owned());
    format!("local:{user}")
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

pub async fn jobs(args: JobsArgs) -> anyhow::Result<ExitCode> {
    let status = match &args.status {
        None => None,
        Some(name) => Some(JobStatus::from_name(name).ok_or_else(|| {
            anyhow!("unknown status {name:?}; one of: queued, awaiting_approval, dispatching, running, succeeded, failed, cancelled, expired, dead_lettered")
        })?),
    };
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

fn audit_entry(job: &JobRecord, command: &str, decision: &str, reason: String) -> AuditEntry {
    AuditEntry {
        installation: job.installation,
        repo: Some(job.repo.clone()),
        at_ms: now_ms(),
        delivery: String::new(),
        actor: operator(),
        command: command.to_owned(),
        decision: decision.to_owned(),
        reason,
        policy: None,
        job: Some(job.id.clone()),
    }
}

pub async fn approve(args: JobArgs) -> anyhow::Result<ExitCode> {
    let db = open(&args.data_dir)?;
    let mut job = find(&db, &args.id).await?;
    if job.status != JobStatus::AwaitingApproval {
        bail!(
            "job {} is {}, not waiting for an approval",
            job.id,
            job.status
        );
    }
    let token = db
        .task_token(&job.id, Wait::Approval)
        .await?
        .ok_or_else(|| {
            anyhow!(
                "job {} has not reached its approval wait yet; is `ota serve` running?",
                job.id
            )
        })?;
    let operator = operator();
    job.approval.approved_by = Some(operator.clone());
    job.approval.approved_at_ms = Some(now_ms());
    db.update_job(&job, JobStatus::AwaitingApproval)
        .await
        .with_context(|| {
            format!(
                "job {} changed meanwhile; look again with `ota job {}`",
                job.id, job.id
            )
        })?;
    match workflow(&db)
        .succeed(&token, &serde_json::json!({ "approved_by": operator }))
        .await
    {
        Ok(()) => {}
        Err(WorkflowError::TokenExpired) => bail!(
            "job {}'s approval wait is over (expired or cancelled)",
            job.id
        ),
        Err(err) => return Err(err.into()),
    }
    db.append(&audit_entry(
        &job,
        "ota approve",
        "approved",
        format!("approved by {operator}"),
    ))
    .await?;
    println!("Approved job {}; it will run next.", job.id);
    Ok(ExitCode::SUCCESS)
}

pub async fn cancel(args: JobArgs) -> anyhow::Result<ExitCode> {
    let db = open(&args.data_dir)?;
    let job = find(&db, &args.id).await?;
    if job.status.is_terminal() {
        bail!("job {} is already {}", job.id, job.status);
    }
    let operator = operator();
    workflow(&db)
        .stop(
            &job.id,
            &format!("cancelled with `ota cancel` by {operator}"),
        )
        .await?;
    db.append(&audit_entry(
        &job,
        "ota cancel",
        "cancelled",
        format!("cancelled by {operator}"),
    ))
    .await?;
    println!(
        "Cancelling job {}: its runner is stopped and the cancellation reported.",
        job.id
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn retry(args: JobArgs) -> anyhow::Result<ExitCode> {
    let db = open(&args.data_dir)?;
    let old = find(&db, &args.id).await?;
    if !matches!(
        old.status,
        JobStatus::Failed | JobStatus::Cancelled | JobStatus::Expired | JobStatus::DeadLettered
    ) {
        bail!(
            "job {} is {}; only failed, cancelled, expired or dead-lettered jobs can be retried",
            old.id,
            old.status
        );
    }
    let now = now_ms();
    let delivery = DeliveryId::parse(&format!("ota-retry-{}-{now}", old.id))
        .map_err(|err| anyhow!("cannot name the retry: {err}"))?;
    let id = JobId::for_command(&delivery, 0);
    let record = JobRecord::new(
        JobRequest {
            id: id.clone(),
            delivery,
            installation: old.installation,
            repo: old.repo.clone(),
            commit: old.commit.clone(),
            git_ref: old.git_ref.clone(),
            trigger: old.trigger.clone(),
            task: old.task.clone(),
            params: old.params.clone(),
            requester: old.requester.clone(),
            // The operator asked for it: that is the approval.
            approval: Approval::not_required(),
        },
        now,
    );
    db.create_job(&record).await?;
    let timeouts = db
        .execution_timeouts(&old.id)
        .await?
        .unwrap_or(Timeouts::DEFAULT);
    workflow(&db)
        .start(&WorkflowInput {
            job: id.clone(),
            approval_required: false,
            timeouts,
        })
        .await?;
    db.append(&audit_entry(
        &record,
        "ota retry",
        "accepted",
        format!("retry of {} by {}", old.id, operator()),
    ))
    .await?;
    println!(
        "Job {id} retries job {}; `ota job {id}` shows how it goes.",
        old.id
    );
    Ok(ExitCode::SUCCESS)
}
