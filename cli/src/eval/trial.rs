//! One trial: one model on one task. The task's repository is made ready in a directory
//! of its own, the agent's task is chosen as `ota run` chooses it (the repository's
//! `.ollama-turbo.yml` at its commit, so the visible test command is the repository's),
//! the agent works on the request with its status on stderr, and the hidden check judges
//! what it left. The agent never sees the check: its files arrive after the agent ends.

use std::path::PathBuf;

use ota_runner::agent::candidates::Selection;
use ota_runner::agent::{AgentSettings, Outcome, TaskInput, TaskSpec};
use ota_runner::ollama::OllamaClient;
use ota_runner::tools::Workspace;
use ota_runner::workspace::Snapshots;
use tokio::time::Instant;

use super::check::{self, Verdict};
use super::checkout;
use super::progress;
use super::results::{Status, TrialResult};
use super::suite::EvalTask;
use crate::local_run::repo::LocalRepo;
use crate::local_run::report::Ending;
use crate::local_run::status::StatusMode;
use crate::local_run::{run_task, run_with_status, task};

/// What every trial of a run shares.
pub struct Trial<'a> {
    pub client: &'a OllamaClient,
    /// The agent's settings; its sandbox runs the setup and the check too.
    pub settings: &'a AgentSettings,
    pub model: &'a str,
    /// Where the task's repository goes; must not exist yet.
    pub dir: PathBuf,
    /// The trial's place among all, before each status line.
    pub label: String,
    pub status: StatusMode,
    /// Candidates per task (best-of-N); 1 for one run.
    pub candidates: usize,
}

impl Trial<'_> {
    /// Runs the trial; `None` when Ctrl-C stopped it.
    pub async fn run(self, task: &EvalTask) -> Option<TrialResult> {
        let started = Instant::now();
        let mut result = TrialResult {
            task: task.id.clone(),
            language: task.language.clone(),
            kind: task.kind,
            model: self.model.to_owned(),
            status: Status::Unsolved,
            agent: None,
            tokens: Default::default(),
            turns: 0,
            agent_time: Default::default(),
            wall_time: Default::default(),
            check: None,
            first_candidate: None,
            candidates: 1,
        };
        let outcome = self.attempt(task, &mut result).await;
        result.wall_time = started.elapsed();
        match outcome {
            Attempt::Interrupted => None,
            Attempt::Failed(reason) => {
                result.status = Status::Error(reason);
                Some(result)
            }
            Attempt::Checked => Some(result),
        }
    }

    async fn attempt(&self, task: &EvalTask, result: &mut TrialResult) -> Attempt {
        let sandbox = &self.settings.sandbox;
        progress::phase(self.status, &self.label, "preparing the repository");
        if let Err(err) = checkout::prepare(task, &self.dir, sandbox).await {
            return Attempt::Failed(format!("the repository could not be prepared: {err}"));
        }
        let mut spec = match self.spec(task).await {
            Ok(spec) => spec,
            Err(reason) => return Attempt::Failed(reason),
        };
        spec.candidates = self.candidates;
        let workspace = match Workspace::new(&self.dir) {
            Ok(workspace) => workspace,
            Err(err) => return Attempt::Failed(format!("the repository is unusable: {err}")),
        };
        let input = TaskInput {
            request: Some(task.request.clone()),
            issue: None,
            pr_diff: None,
        };
        let ran = run_with_status(
            |progress| {
                run_task(
                    self.client,
                    &workspace,
                    &spec,
                    self.settings,
                    &input,
                    progress,
                )
            },
            None,
            self.status,
            self.label.clone(),
        )
        .await;
        let report = match ran {
            None => return Attempt::Interrupted,
            Some(Err(err)) => return Attempt::Failed(format!("the candidates failed: {err}")),
            Some(Ok((report, selection))) => (report, selection),
        };
        let (report, selection) = report;
        let ending = Ending::of(&report.outcome, spec.timeout);
        result.tokens = report.tokens;
        result.turns = report.turns;
        result.agent_time = report.elapsed;
        result.agent = Some(ending.clone());
        if let (true, Ending::Stopped { why }) = (failed_on_the_model(&report.outcome), &ending) {
            return Attempt::Failed(format!("the agent's run failed: {why}"));
        }
        progress::phase(
            self.status,
            &self.label,
            &format!("checking: {}", task.check.command),
        );
        let checked = check::run(&task.check, &self.dir, sandbox).await;
        result.status = status_of(checked.verdict);
        result.check = checked.run;
        if let Some(selection) = selection {
            result.candidates = selection.candidates.len();
            result.first_candidate = Some(self.check_first(task, &selection, &result.status).await);
        }
        Attempt::Checked
    }

    /// The hidden check on the first candidate alone (what one run would have made): the
    /// pass@1 beside best-of-N's verdict, `kept`.
    async fn check_first(&self, task: &EvalTask, selection: &Selection, kept: &Status) -> Status {
        let Some(first) = selection.candidates.first() else {
            return kept.clone();
        };
        if selection.kept == Some(0) {
            return kept.clone();
        }
        let snapshots = Snapshots::new(&self.dir);
        let restored = match &first.snapshot {
            Some(snapshot) => snapshots.restore(snapshot).await,
            None => snapshots.reset().await,
        };
        if let Err(err) = restored {
            return Status::CheckNotRun(format!(
                "the first candidate could not be restored: {err}"
            ));
        }
        progress::phase(
            self.status,
            &self.label,
            &format!("checking the first candidate: {}", task.check.command),
        );
        status_of(
            check::run(&task.check, &self.dir, &self.settings.sandbox)
                .await
                .verdict,
        )
    }

    /// The agent's task as the repository configures it, with the trial's model.
    async fn spec(&self, task: &EvalTask) -> Result<TaskSpec, String> {
        let repo = LocalRepo::open(&self.dir)
            .await
            .map_err(|err| format!("the repository is unusable: {err}"))?;
        let config = task::config_at_head(&repo)
            .await
            .map_err(|err| format!("the task could not start: {err}"))?;
        task::choose(&config, &task.agent_task, Some(self.model))
            .map_err(|err| format!("the task could not start: {err}"))
    }
}

/// What the hidden check's verdict makes of a trial.
fn status_of(verdict: Verdict) -> Status {
    match verdict {
        Verdict::Passed => Status::Solved,
        Verdict::Failed => Status::Unsolved,
        Verdict::CouldNotRun(reason) => Status::CheckNotRun(reason),
    }
}

/// How far a trial got.
enum Attempt {
    /// The check judged the agent's work (or could not run).
    Checked,
    /// It stopped before the check, for this reason.
    Failed(String),
    Interrupted,
}

/// Whether the run ended because the model could not be used (Ollama unreachable, the
/// model refused or unreadable): then there is no work of the model's to check.
fn failed_on_the_model(outcome: &Outcome) -> bool {
    matches!(
        outcome,
        Outcome::ModelUnavailable { .. }
            | Outcome::ModelRejected { .. }
            | Outcome::UnreadableReplies { .. }
    )
}
