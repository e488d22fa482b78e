//! `ota bulk`: one task across many repositories of an installation
//! ([`shared::bulk`]). On one machine its requests go into the local inbox, which the
//! running `ota serve` handles; with `--stack NAME`, into the stack's intake queue.
//! Either way it follows the jobs until they end, printing a line as each one does, and
//! ends with the table of every repository and a summary line.

use crate::settings::DataDir;
use shared::bulk::{BulkRun, BulkSummary, Progress, default_name, run_bulk};
use shared::clock::now_ms;
use shared::ids::InstallationId;
use shared::ports::{AuditLog, EventQueue, InstallationStore, JobStore};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Clone, clap::Args)]
pub struct BulkArgs {
    #[command(flatten)]
    pub data_dir: DataDir,
    /// The installation whose repositories to run on (its id, as the dashboard shows it).
    #[arg(long)]
    pub installation: u64,
    /// Which of its repositories: `acme/*`, `acme/api-?`, `acme/web`; give it again for
    /// more (a repository any pattern matches runs once).
    #[arg(long = "repos", required = true)]
    pub repos: Vec<String>,
    /// The task to run, built-in or of each repository's `.ollama-turbo.yml`.
    #[arg(long)]
    pub task: String,
    /// Jobs of the run under way at once (a job counts until it ends or waits for an
    /// approval).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=100))]
    pub concurrency: u16,
    /// Names the run: running the same name again starts no second job for a repository
    /// and follows the jobs it started (default: the task and the minute, UTC).
    #[arg(long)]
    pub name: Option<String>,
    /// Stop waiting after this many minutes; what is unfinished is listed as such.
    #[arg(long, default_value_t = 240)]
    pub timeout_minutes: u64,
    /// How often to look at the jobs, in seconds.
    #[arg(long, default_value_t = 2, hide = true)]
    pub poll_seconds: u64,
    /// Instructions for the task.
    #[arg(trailing_var_arg = true)]
    pub text: Vec<String>,
}

impl BulkArgs {
    /// The run these flags ask for, by `requester`.
    pub fn run(&self, requester: String) -> BulkRun {
        BulkRun {
            name: self
                .name
                .clone()
                .unwrap_or_else(|| default_name(&self.task, now_ms())),
            installation: InstallationId(self.installation),
            repos: self.repos.clone(),
            task: self.task.trim().to_owned(),
            text: self.text.join(" ").trim().to_owned(),
            requester,
            concurrency: usize::from(self.concurrency),
            timeout: Duration::from_secs(self.timeout_minutes.saturating_mul(60)),
            poll: Duration::from_secs(self.poll_seconds.max(1)),
        }
    }
}

/// Runs `run` through `plane` and `queue`, printing its progress to stderr and its table
/// to stdout; fails (exit 1) unless every repository's job succeeded.
pub async fn bulk<S, Q>(
    store: &S,
    queue: &Q,
    run: &BulkRun,
    where_: &str,
) -> anyhow::Result<ExitCode>
where
    S: JobStore + InstallationStore + AuditLog,
    Q: EventQueue,
{
    let mut progress = |step: Progress| match step {
        Progress::Planned { repos } => eprintln!(
            "bulk run {}: {} on {repos} repositories of installation {}, {} at a time, through {where_}",
            run.name, run.task, run.installation, run.concurrency
        ),
        Progress::Queued { repo, job } => eprintln!("  queued  {repo}  (job {job})"),
        Progress::Done(result) => eprintln!(
            "  {}  {}  (job {})",
            result.outcome.label(),
            result.repo,
            result.job
        ),
    };
    let summary: BulkSummary = run_bulk(store, queue, run, &mut progress).await?;
    print!("{}", summary.render());
    Ok(if summary.all_succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
