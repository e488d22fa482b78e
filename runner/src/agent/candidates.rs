//! Best-of-N: a task with `candidates: N` runs the agent N times from the same commit and
//! keeps one change.
//!
//! Each candidate is a whole run of the agent on a clean working tree; what it leaves is
//! kept aside as a git tree ([`Snapshots`]) and checked with the task's command. The one
//! kept **passes the command**, then has the **smallest diff** (lines added plus removed);
//! candidates that pass with diffs of the same size go to the model, which is shown their
//! diffs and answers with the better one's number. A candidate that changed nothing is
//! kept only when none changed anything: an empty change is not the smallest fix.
//!
//! The runs share the job's budgets: each candidate gets what is left of the task's
//! wall-clock `timeout` divided among the candidates still to run, and what is left of
//! the job's token budget; the report counts the tokens, turns and time of all of them.
//! The runs are sequential on one runner (one GPU slot), so slots account for them as one
//! job. A candidate that ends for a reason another attempt would meet again (the model is
//! unavailable, a budget of the whole job ran out) ends the series.

use std::fmt::Write as _;
use std::time::Duration;

use shared::job::TokenUsage;
use tokio::time::Instant;

use super::command::{CommandRun, run_command};
use super::outcome::{AgentReport, Outcome};
use super::progress::{Progress, ProgressKind, ProgressSink};
use super::prompt::TaskInput;
use super::run::{Agent, AgentSettings};
use super::task::TaskSpec;
use crate::ollama::{ChatOptions, ChatRequest, Message, OllamaClient};
use crate::tools::Workspace;
use crate::workspace::{GitError, Snapshot, Snapshots};

/// The most characters of one candidate's diff shown to the model when it breaks a tie.
const MAX_DIFF_CHARS_FOR_TIE: usize = 12_000;

/// The most tokens of the model's answer to the tie question.
const TIE_ANSWER_TOKENS: u32 = 1_024;

/// One candidate, as it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// 1 for the first.
    pub number: usize,
    /// How its run ended ([`Outcome::label`]).
    pub outcome: String,
    /// Whether its run finished (called `finish`).
    pub finished: bool,
    /// Its change; `None` when it changed nothing.
    pub snapshot: Option<Snapshot>,
    /// The task's command on its change; `None` when the task has no command or the
    /// candidate did not finish.
    pub check: Option<CommandRun>,
    /// Whether the task has a command to check candidates with.
    pub has_command: bool,
    pub tokens: TokenUsage,
    pub turns: u32,
}

impl Candidate {
    /// Whether it passed the task's command; with no command, every candidate does. A
    /// check that could not run (the command's directory is gone) is no pass.
    fn passed(&self) -> bool {
        if self.has_command {
            self.check.as_ref().is_some_and(CommandRun::succeeded)
        } else {
            true
        }
    }

    /// How it compares: finished first, then passed, then with a change, then the
    /// smallest change.
    fn rank(&self) -> (bool, bool, bool, u64) {
        let lines = self.snapshot.as_ref().map_or(u64::MAX, |s| s.lines);
        (
            !self.finished,
            !self.passed(),
            self.snapshot.is_none(),
            lines,
        )
    }
}

/// Why the kept candidate won.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// No other candidate finished.
    OnlyOneFinished,
    /// No other finished candidate passed the command.
    OnlyOnePassed,
    /// It passed (when there is a command), and its diff is smaller than every other
    /// that did.
    SmallestDiff,
    /// Candidates that passed with diffs of the same size; the model chose this one.
    ModelChose { why: String },
    /// Candidates that passed with diffs of the same size, and the model's answer named
    /// none of them: the first is kept.
    TieKeptFirst,
    /// No candidate finished: the last one's work is kept, as a single run keeps it.
    NoneFinished,
}

/// What best-of-N did: every candidate, and which one is in the working tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    pub candidates: Vec<Candidate>,
    /// Index into `candidates` of the one kept; `None` when none finished.
    pub kept: Option<usize>,
    pub reason: Reason,
    /// The task's command, as the candidates were checked with it.
    pub command: Option<String>,
}

impl Selection {
    /// How many candidates were tried, which was kept and why, as Markdown for the pull
    /// request.
    pub fn markdown(&self) -> String {
        let tried = self.candidates.len();
        let mut text = String::new();
        let command = self.command.as_deref();
        match self.kept.map(|index| &self.candidates[index]) {
            Some(kept) => {
                let why = match &self.reason {
                    Reason::OnlyOneFinished => "the only one that finished".to_owned(),
                    Reason::OnlyOnePassed => match command {
                        Some(command) => format!("the only one whose `{command}` passed"),
                        None => "the only one that passed".to_owned(),
                    },
                    Reason::SmallestDiff => match command {
                        Some(command) => format!(
                            "its `{command}` passed and its diff is the smallest of those that \
                             passed ({} lines)",
                            kept.snapshot.as_ref().map_or(0, |s| s.lines)
                        ),
                        None => format!(
                            "the smallest diff ({} lines); the task has no command to check \
                             them with",
                            kept.snapshot.as_ref().map_or(0, |s| s.lines)
                        ),
                    },
                    Reason::ModelChose { why } => format!(
                        "candidates passed with diffs of the same size, and the model chose \
                         this one: {}",
                        why.trim()
                    ),
                    Reason::TieKeptFirst => "candidates passed with diffs of the same size, \
                                             and the model named none of them: the first is kept"
                        .to_owned(),
                    Reason::NoneFinished => "none finished".to_owned(),
                };
                let _ = writeln!(
                    text,
                    "Tried {tried} candidates from the same start; kept candidate {}: {why}.\n",
                    kept.number
                );
            }
            None => {
                let _ = writeln!(
                    text,
                    "Tried {tried} candidates from the same start; none finished, so the \
                     last one's work is what is here.\n"
                );
            }
        }
        let check = command.map_or_else(|| "check".to_owned(), |c| format!("`{c}`"));
        let _ = writeln!(text, "| candidate | ended | {check} | lines changed |");
        text.push_str("|---:|---|---|---:|\n");
        for candidate in &self.candidates {
            let checked = match &candidate.check {
                Some(run) => run.outcome(),
                None if command.is_some() => "not run".to_owned(),
                None => "no command".to_owned(),
            };
            let lines = candidate
                .snapshot
                .as_ref()
                .map_or_else(|| "no change".to_owned(), |s| s.lines.to_string());
            let kept = if self.kept.map(|i| &self.candidates[i]) == Some(candidate) {
                " (kept)"
            } else {
                ""
            };
            let _ = writeln!(
                text,
                "| {}{kept} | {} | {checked} | {lines} |",
                candidate.number, candidate.outcome
            );
        }
        text
    }
}

/// The kept candidate's report (with the tokens, turns and time of all of them) and how
/// it was chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct BestOf {
    pub report: AgentReport,
    pub selection: Selection,
}

/// Why best-of-N could not go on: the working tree could not be set aside or put back.
#[derive(Debug, thiserror::Error)]
#[error("setting a candidate's work aside: {0}")]
pub struct CandidatesError(#[from] GitError);

/// The runs of one task with `candidates` > 1.
pub struct Candidates<'a> {
    pub client: &'a OllamaClient,
    pub workspace: &'a Workspace,
    pub spec: &'a TaskSpec,
    pub settings: &'a AgentSettings,
    pub progress: ProgressSink,
    /// How many to make: at least 1.
    pub count: usize,
}

impl Candidates<'_> {
    /// Runs the candidates, checks each, and leaves the kept one in the working tree.
    pub async fn run(&self, input: &TaskInput) -> Result<BestOf, CandidatesError> {
        let started = Instant::now();
        let deadline = started + self.spec.timeout;
        let snapshots = Snapshots::new(self.workspace.root());
        let count = self.count.max(1);
        let mut candidates = Vec::new();
        let mut reports = Vec::new();
        let mut total = TokenUsage::default();
        for number in 1..=count {
            if number > 1 {
                snapshots.reset().await?;
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            let left = u32::try_from(count - number + 1).unwrap_or(1);
            let mut spec = self.spec.clone();
            spec.timeout = (deadline - now) / left;
            let mut settings = self.settings.clone();
            settings.max_job_tokens = self
                .settings
                .max_job_tokens
                .saturating_sub(total.prompt + total.completion);
            self.progress.emit(&Progress {
                turn: 0,
                elapsed: started.elapsed(),
                tokens: total,
                kind: ProgressKind::Candidate { number, of: count },
            });
            let agent = Agent {
                client: self.client,
                workspace: self.workspace,
                spec: &spec,
                settings: &settings,
                progress: self.progress.clone(),
            };
            let report = agent.run(input).await;
            total.prompt += report.tokens.prompt;
            total.completion += report.tokens.completion;
            let finished = matches!(report.outcome, Outcome::Finished { .. });
            let snapshot = snapshots.take().await?;
            let check = if finished && snapshot.is_some() {
                self.check(deadline).await
            } else {
                None
            };
            tracing::info!(
                candidate = number,
                of = count,
                outcome = %report.outcome.label(),
                lines = snapshot.as_ref().map(|s| s.lines),
                passed = check.as_ref().map(CommandRun::succeeded),
                "candidate ended"
            );
            let ends_series = !finished && !might_do_better(&report.outcome);
            candidates.push(Candidate {
                has_command: !self.spec.commands.is_empty(),
                number,
                outcome: report.outcome.label(),
                finished,
                snapshot,
                check,
                tokens: report.tokens,
                turns: report.turns,
            });
            reports.push(report);
            if ends_series {
                break;
            }
        }
        let (kept, reason, tie_tokens) = self.choose(&candidates, &snapshots).await;
        total.prompt += tie_tokens.prompt;
        total.completion += tie_tokens.completion;
        let index = match kept {
            Some(index) => {
                if let Some(snapshot) = &candidates[index].snapshot {
                    snapshots.restore(snapshot).await?;
                } else {
                    snapshots.reset().await?;
                }
                index
            }
            // None finished: the last candidate's work is in the working tree already.
            None => reports.len().saturating_sub(1),
        };
        let mut report = reports.swap_remove(index);
        if let Some(snapshot) = kept.and_then(|i| candidates[i].snapshot.as_ref()) {
            report.files_changed.clone_from(&snapshot.files);
        }
        if let Some(check) = candidates[index].check.clone() {
            report.last_command = Some(check);
        }
        report.tokens = total;
        report.turns = candidates.iter().map(|c| c.turns).sum();
        report.elapsed = started.elapsed();
        let command = self.spec.commands.first().cloned();
        Ok(BestOf {
            report,
            selection: Selection {
                candidates,
                kept,
                reason,
                command,
            },
        })
    }

    /// The task's commands on the working tree, in order, until one fails; the last run.
    async fn check(&self, deadline: Instant) -> Option<CommandRun> {
        let dir = self.spec.command_dir(self.workspace).ok()?;
        let mut last = None;
        for command in &self.spec.commands {
            match run_command(&dir, command, &self.settings.sandbox, Some(deadline)).await {
                Ok(run) => {
                    let passed = run.succeeded();
                    last = Some(run);
                    if !passed {
                        break;
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, "a candidate's check could not run");
                    return None;
                }
            }
        }
        last
    }

    /// The candidate to keep, why, and the tokens spent asking the model about a tie.
    async fn choose(
        &self,
        candidates: &[Candidate],
        snapshots: &Snapshots,
    ) -> (Option<usize>, Reason, TokenUsage) {
        let finished: Vec<usize> = (0..candidates.len())
            .filter(|&i| candidates[i].finished)
            .collect();
        let Some(best) = finished
            .iter()
            .copied()
            .min_by_key(|&i| candidates[i].rank())
        else {
            return (None, Reason::NoneFinished, TokenUsage::default());
        };
        if finished.len() == 1 {
            return (Some(best), Reason::OnlyOneFinished, TokenUsage::default());
        }
        let passed = finished
            .iter()
            .filter(|&&i| candidates[i].passed() && candidates[i].snapshot.is_some())
            .count();
        if passed == 1 && !self.spec.commands.is_empty() {
            return (Some(best), Reason::OnlyOnePassed, TokenUsage::default());
        }
        let tied: Vec<usize> = finished
            .iter()
            .copied()
            .filter(|&i| candidates[i].rank() == candidates[best].rank())
            .collect();
        if tied.len() == 1 || candidates[best].snapshot.is_none() {
            return (Some(best), Reason::SmallestDiff, TokenUsage::default());
        }
        match self.ask_model(candidates, &tied, snapshots).await {
            Some((index, why, tokens)) => (Some(index), Reason::ModelChose { why }, tokens),
            None => (Some(tied[0]), Reason::TieKeptFirst, TokenUsage::default()),
        }
    }

    /// Shows the model the tied candidates' diffs and asks for the better one's number.
    /// `None` when the call fails or the answer names none of them.
    async fn ask_model(
        &self,
        candidates: &[Candidate],
        tied: &[usize],
        snapshots: &Snapshots,
    ) -> Option<(usize, String, TokenUsage)> {
        let mut question = format!(
            "Several candidate changes were made for this task; each passes the project's \
             check and changes the same number of lines. Task: {}\n\n",
            self.spec.instructions
        );
        for &index in tied {
            let candidate = &candidates[index];
            let snapshot = candidate.snapshot.as_ref()?;
            let diff = snapshots.diff(snapshot).await.ok()?;
            let cut: String = diff.chars().take(MAX_DIFF_CHARS_FOR_TIE).collect();
            let _ = write!(
                question,
                "Candidate {}:\n```diff\n{cut}\n```\n\n",
                candidate.number
            );
        }
        question.push_str(
            "Which candidate is the better change: correct, clear, and in the style of the \
             code around it? Answer with the candidate's number first, then one sentence \
             saying why.",
        );
        let info = self.client.check_model(&self.spec.model).await.ok()?;
        let messages = [Message::user(question)];
        let request = ChatRequest {
            model: &self.spec.model,
            messages: &messages,
            tools: &[],
            options: ChatOptions {
                // The agent's own window, so the model is not reloaded.
                num_ctx: info.num_ctx(self.settings.num_ctx),
                num_predict: TIE_ANSWER_TOKENS.min(self.spec.max_tokens),
                temperature: Some(0.0),
                top_p: None,
                top_k: None,
                seed: self.spec.sampling.seed,
            },
            keep_alive: self.settings.keep_alive.as_deref(),
            think: self.spec.think,
        };
        let call = self.client.chat(&request);
        let response = match tokio::time::timeout(Duration::from_secs(300), call).await {
            Ok(Ok(response)) => response,
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "the model could not compare the candidates");
                return None;
            }
            Err(_) => {
                tracing::warn!("the model did not compare the candidates in time");
                return None;
            }
        };
        let tokens = TokenUsage {
            prompt: response.usage.prompt_tokens,
            completion: response.usage.completion_tokens,
        };
        let answer = response.content.trim();
        let named = first_number(answer)?;
        let index = tied
            .iter()
            .copied()
            .find(|&i| candidates[i].number == named)?;
        // The reason after the number: "3. Because …", "Candidate 3 - because …".
        let after = answer
            .find(|c: char| c.is_ascii_digit())
            .map_or(answer, |at| &answer[at..]);
        let why: String = after
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .trim_start_matches(|c: char| c.is_whitespace() || ".,:;-–—)".contains(c))
            .trim_end_matches('.')
            .chars()
            .take(300)
            .collect();
        Some((index, why, tokens))
    }
}

/// A task's run on `workspace`: one run of the agent, or best-of-N when the spec asks for
/// candidates. The one call the runner, `ota run` and `ota eval` make.
pub async fn run_task(
    client: &OllamaClient,
    workspace: &Workspace,
    spec: &TaskSpec,
    settings: &AgentSettings,
    input: &TaskInput,
    progress: ProgressSink,
) -> Result<(AgentReport, Option<Selection>), CandidatesError> {
    if spec.candidates > 1 {
        let runs = Candidates {
            client,
            workspace,
            spec,
            settings,
            progress,
            count: spec.candidates,
        };
        return runs
            .run(input)
            .await
            .map(|best| (best.report, Some(best.selection)));
    }
    let agent = Agent {
        client,
        workspace,
        spec,
        settings,
        progress,
    };
    Ok((agent.run(input).await, None))
}

/// Whether another candidate could end better than one that ended with `outcome`: not
/// when the model is unavailable or refused, or the job's token budget (shared by all
/// candidates) ran out. A candidate's share of the time running out leaves the next one
/// its own share.
fn might_do_better(outcome: &Outcome) -> bool {
    matches!(
        outcome,
        Outcome::GaveUp { .. }
            | Outcome::UnreadableReplies { .. }
            | Outcome::ThoughtPastBudget { .. }
            | Outcome::BudgetExhausted {
                budget: super::BudgetKind::Turns
                    | super::BudgetKind::WallClock
                    | super::BudgetKind::ContextWindow
                    | super::BudgetKind::ToolOutput
            }
    )
}

/// The first whole number in `text`.
fn first_number(text: &str) -> Option<usize> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let digits: String = text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_number_names_the_candidate() {
        assert_eq!(first_number("2 - it is shorter"), Some(2));
        assert_eq!(first_number("Candidate 3, because"), Some(3));
        assert_eq!(first_number("neither"), None);
    }
}
