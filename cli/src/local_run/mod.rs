//! `ota run`: one task on a local checkout, no GitHub.
//!
//! The run reads `.ollama-turbo.yml` from the checkout's HEAD commit, picks the task,
//! checks that Ollama answers, then works in a temporary `git worktree` on a new branch
//! `ollama/<task>-<short id>` at HEAD, so the user's working tree and current branch are
//! never touched. The agent's changes are committed on that branch (partial work too,
//! when the run stops early), the worktree is removed, and the branch is left for the
//! user to review and merge; a run that changed nothing leaves no branch.
//!
//! stderr shows the progress ([`status`]); stdout gets the summary ([`report`]). Exit
//! code 0 when the agent finished, 1 when it stopped before (or could not start), 130
//! when interrupted with Ctrl-C.

pub(crate) mod errors;
pub(crate) mod ollama;
pub(crate) mod repo;
pub(crate) mod report;
pub(crate) mod status;
pub(crate) mod task;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use ota_runner::agent::candidates::Selection;
pub(crate) use ota_runner::agent::candidates::run_task;
use ota_runner::agent::{
    AgentReport, AgentSettings, CommandRun, CommandSandbox, Progress, ProgressSink, TaskInput,
    TaskSpec,
};
use ota_runner::ollama::OllamaClient;
use ota_runner::tools::Workspace;
use shared::job::{JOB_ID_HEX_LEN, JOB_ID_PREFIX, JobId, TokenUsage};

use errors::RunError;
use ollama::Connection;
use repo::{LocalRepo, Worktree};
use report::{Ending, KeptWork, RunSummary};
use status::StatusMode;

/// The exit code after Ctrl-C, as shells report a process ended by SIGINT.
const INTERRUPTED_EXIT_CODE: u8 = 130;

/// `ota run --repo PATH --task NAME "what to do"`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Ollama is found through OLLAMA_HOST (default http://127.0.0.1:11434, \
    as for Ollama's own CLI); for Ollama's hosted service, set OLLAMA_HOST=https://ollama.com \
    and OLLAMA_API_KEY. The result is a new branch ollama/<task>-<id> in the repository; \
    your working tree and current branch are left as they are."
)]
pub struct RunArgs {
    /// The repository to work on: a Git checkout.
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// The task to run: a built-in one (refactor, fix, test, docs) or one defined in the
    /// repository's .ollama-turbo.yml.
    #[arg(long)]
    pub task: String,
    /// The model to use instead of the task's configured one, e.g. `qwen3-coder:30b`.
    #[arg(long)]
    pub model: Option<String>,
    /// What to do, in words.
    pub request: Vec<String>,
}

pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let request = args.request.join(" ").trim().to_owned();
    let repo = LocalRepo::open(&args.repo).await?;
    let config = task::config_at_head(&repo).await?;
    let spec = task::choose(&config, &args.task, args.model.as_deref())?;
    if spec.tools.run_command {
        usable_sandbox()?;
    }
    let ollama = ollama::connect(|name| std::env::var(name).ok()).await?;
    ollama::check_model(&ollama.client, &spec.model).await?;

    let id = new_run_id()?;
    let branch = id.branch_name(&spec.name);
    if repo.has_branch(&branch).await? {
        return Err(RunError::BranchTaken { branch }.into());
    }
    announce(&repo, &spec, &ollama, &branch);

    let dir = std::env::temp_dir().join(format!("ota-run-{}", id.short()));
    let worktree = Worktree::add(&repo, &branch, dir).await?;
    let workspace = match Workspace::new(worktree.dir()) {
        Ok(workspace) => workspace,
        Err(err) => {
            let _ = worktree.remove(false).await;
            return Err(anyhow::anyhow!("the temporary worktree is unusable: {err}"));
        }
    };

    let job = LocalJob {
        id: &id,
        spec: &spec,
        request: &request,
        client: &ollama.client,
        workspace: &workspace,
    };
    let (ended, exit) = job.run_agent().await;
    let kept = match job.keep(&worktree, &ended).await {
        Ok(kept) => kept,
        Err(err) => {
            // The changes exist only in the worktree: leave it for the user.
            return Err(anyhow::Error::new(err).context(format!(
                "the agent's changes could not be committed; they are still in {} \
                 (branch {branch}); remove it with `git worktree remove --force {}` when done",
                worktree.dir().display(),
                worktree.dir().display()
            )));
        }
    };
    let shown_dir = worktree.dir().display().to_string();
    if let Err(err) = worktree.remove(kept.is_some()).await {
        eprintln!(
            "ota: could not clean up the temporary worktree {shown_dir}: {err}; \
             `git worktree prune` tidies git's list once the directory is gone"
        );
    }
    let summary = RunSummary {
        task: spec.name.clone(),
        model: spec.model.clone(),
        ending: ended.ending.clone(),
        last_message: ended.last_message.clone(),
        tokens: ended.tokens,
        turns: ended.turns,
        elapsed: ended.elapsed,
        tests: ended.tests.clone(),
        kept,
    };
    print!("{}", report::summary_text(&summary));
    if let Some(selection) = &ended.candidates {
        print!("\nCandidates:\n\n{}", selection.markdown());
    }
    Ok(exit)
}

/// The command sandbox of this machine, when one works; what it does not enforce is said
/// on stderr.
pub(crate) fn usable_sandbox() -> Result<CommandSandbox, RunError> {
    let sandbox = CommandSandbox::from_process_env();
    if let Some(reason) = sandbox.unavailable() {
        return Err(RunError::NoSandbox { reason });
    }
    for (_, line) in sandbox.describe().into_iter().filter(|(warn, _)| *warn) {
        eprintln!("ota: {line}");
    }
    Ok(sandbox)
}

/// Says on stderr what is about to run, where, and with which model and server.
fn announce(repo: &LocalRepo, spec: &TaskSpec, ollama: &Connection, branch: &str) {
    let at = match repo.branch() {
        Some(name) => format!("{name} ({})", repo.head().short()),
        None => format!("detached HEAD ({})", repo.head().short()),
    };
    let server = match &ollama.version {
        Some(version) => format!("{} (Ollama {version})", ollama.client.host()),
        None => ollama.client.host().to_string(),
    };
    eprintln!(
        "ota: {} on {} at {at}, model {} via {server}",
        spec.name,
        repo.root().display(),
        spec.model
    );
    eprintln!(
        "ota: working on branch {branch} in a temporary worktree; your checkout stays as it is"
    );
}

/// One run of the agent in the worktree.
struct LocalJob<'a> {
    id: &'a JobId,
    spec: &'a TaskSpec,
    request: &'a str,
    client: &'a OllamaClient,
    workspace: &'a Workspace,
}

/// What the agent's run left, however it ended.
struct AgentEnd {
    ending: Ending,
    last_message: Option<String>,
    tokens: TokenUsage,
    turns: u32,
    elapsed: Duration,
    tests: Option<CommandRun>,
    /// Best-of-N's candidates, when the task made several.
    candidates: Option<Selection>,
}

impl LocalJob<'_> {
    /// Runs the agent with the live status on stderr, until it ends or Ctrl-C.
    async fn run_agent(&self) -> (AgentEnd, ExitCode) {
        let input = TaskInput {
            request: Some(self.request.to_owned()).filter(|r| !r.is_empty()),
            issue: None,
            pr_diff: None,
        };
        let settings = AgentSettings::default();
        // The last event, for the numbers of a run cut short by Ctrl-C.
        let last = Arc::new(Mutex::new(None::<Progress>));
        let recorder = {
            let last = last.clone();
            ProgressSink::from_fn(move |event| {
                *last.lock().unwrap_or_else(PoisonError::into_inner) = Some(event.clone());
            })
        };
        let report = run_with_status(
            |progress| {
                run_task(
                    self.client,
                    self.workspace,
                    self.spec,
                    &settings,
                    &input,
                    progress,
                )
            },
            Some(recorder),
            StatusMode::for_stderr(),
            String::new(),
        )
        .await;
        match report {
            Some(Ok((report, candidates))) => {
                let (mut end, exit) = self.agent_end(report);
                end.candidates = candidates;
                (end, exit)
            }
            Some(Err(err)) => {
                let end = AgentEnd {
                    ending: Ending::Stopped {
                        why: err.to_string(),
                    },
                    last_message: None,
                    tokens: TokenUsage::default(),
                    turns: 0,
                    elapsed: Duration::ZERO,
                    tests: None,
                    candidates: None,
                };
                (end, ExitCode::FAILURE)
            }
            None => {
                eprintln!("ota: interrupted; keeping what the agent changed so far");
                let last = last.lock().unwrap_or_else(PoisonError::into_inner).take();
                let end = AgentEnd {
                    ending: Ending::Stopped {
                        why: "interrupted with Ctrl-C".to_owned(),
                    },
                    last_message: None,
                    tokens: last.as_ref().map(|p| p.tokens).unwrap_or_default(),
                    turns: last.as_ref().map_or(0, |p| p.turn),
                    elapsed: last.as_ref().map(|p| p.elapsed).unwrap_or_default(),
                    tests: None,
                    candidates: None,
                };
                (end, ExitCode::from(INTERRUPTED_EXIT_CODE))
            }
        }
    }

    fn agent_end(&self, report: AgentReport) -> (AgentEnd, ExitCode) {
        let ending = Ending::of(&report.outcome, self.spec.timeout);
        let exit = match ending {
            Ending::Finished { .. } => ExitCode::SUCCESS,
            Ending::Stopped { .. } => ExitCode::FAILURE,
        };
        let end = AgentEnd {
            ending,
            last_message: report.last_message,
            tokens: report.tokens,
            turns: report.turns,
            elapsed: report.elapsed,
            tests: report.last_command,
            candidates: None,
        };
        (end, exit)
    }

    /// Commits whatever the agent changed on the worktree's branch; `None` when nothing
    /// changed.
    async fn keep(
        &self,
        worktree: &Worktree,
        ended: &AgentEnd,
    ) -> Result<Option<KeptWork>, RunError> {
        let message = report::commit_message(
            self.id,
            &self.spec.name,
            self.request,
            &self.spec.model,
            &ended.ending,
        );
        let Some(commit) = worktree.commit_all(&message).await? else {
            return Ok(None);
        };
        let files = worktree.changes(&commit).await?;
        Ok(Some(KeptWork {
            branch: worktree.branch().to_owned(),
            commit,
            files,
        }))
    }
}

/// Runs the agent `make` builds around a progress sink on `input`, with its live status on
/// stderr (each line after `label`), until it ends, or Ctrl-C (`None`). `observer` sees
/// every event too.
pub(crate) async fn run_with_status<T, F: Future<Output = T>>(
    make: impl FnOnce(ProgressSink) -> F,
    observer: Option<ProgressSink>,
    mode: StatusMode,
    label: String,
) -> Option<T> {
    let (channel, events) = ProgressSink::channel();
    let display = tokio::spawn(status::show(events, mode, label));
    let work = make(ProgressSink::fan_out([channel].into_iter().chain(observer)));
    let ended = tokio::select! {
        ended = work => Some(ended),
        () = interrupted() => None,
    };
    // The run (and with it every copy of the sink) is gone: the channel is closed, which
    // ends the display.
    let _ = display.await;
    ended
}

/// Resolves on Ctrl-C; never, when the signal can't be watched.
pub(crate) async fn interrupted() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// A fresh id for this run, shaped like a job's: it names the branch and the commit's
/// trailer, as a job of the App does.
fn new_run_id() -> anyhow::Result<JobId> {
    let mut bytes = [0u8; JOB_ID_HEX_LEN / 2];
    getrandom::fill(&mut bytes)
        .map_err(|err| anyhow::anyhow!("no randomness for a run id: {err}"))?;
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    JobId::parse(&format!("{JOB_ID_PREFIX}{hex}")).context("making a run id")
}
