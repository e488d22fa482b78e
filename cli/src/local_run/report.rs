//! The text `ota run` leaves: the commit message on the agent's branch, and the summary
//! on stdout (what happened, the branch and its files, the tests, what to do next). Built
//! from plain values, so the wording is tested here.

use std::time::Duration;

use ota_runner::agent::{BudgetKind, CommandRun, Outcome};
use ota_runner::job::JOB_TRAILER;
use shared::config::format_duration;
use shared::job::{JobError, JobId, TokenUsage};

use super::repo::{Commit, FileChange};
use super::status::{clock, thousands};

/// The first line of a commit message, kept within what `git log --oneline` shows.
const MAX_SUBJECT_CHARS: usize = 72;

/// The widest path column in the file list; longer paths push their counts right.
const MAX_PATH_COLUMN: usize = 60;

/// How the agent's run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The agent called `finish` with this summary.
    Finished { summary: String },
    /// It stopped before finishing; `why` completes "Stopped: …".
    Stopped { why: String },
}

/// The agent's commit, as the summary shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptWork {
    pub branch: String,
    pub commit: Commit,
    pub files: Vec<FileChange>,
}

/// Everything the final summary says.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub task: String,
    pub model: String,
    pub ending: Ending,
    /// The agent's last words when it did not finish: context for partial work.
    pub last_message: Option<String>,
    pub tokens: TokenUsage,
    pub turns: u32,
    pub elapsed: Duration,
    /// The last run of the task's command, if any.
    pub tests: Option<CommandRun>,
    /// `None` when nothing changed: no branch was left.
    pub kept: Option<KeptWork>,
}

impl Ending {
    /// How an agent run ended, in the summary's words. `timeout` is the task's time limit.
    pub fn of(outcome: &Outcome, timeout: Duration) -> Self {
        let why = match outcome {
            Outcome::Finished { summary } => {
                return Self::Finished {
                    summary: summary.clone(),
                };
            }
            Outcome::BudgetExhausted {
                budget: BudgetKind::WallClock,
            } => format!(
                "the task's time limit ({}) ran out",
                format_duration(timeout)
            ),
            Outcome::BudgetExhausted {
                budget: BudgetKind::ContextWindow,
            } => "the conversation outgrew the model's context window".to_owned(),
            Outcome::BudgetExhausted { budget } => format!("the {budget} budget ran out"),
            Outcome::GaveUp { .. } => {
                "the agent stopped calling tools without finishing".to_owned()
            }
            Outcome::ModelUnavailable { message } => format!("Ollama stopped answering: {message}"),
            Outcome::ThoughtPastBudget { max_tokens } => {
                ota_runner::agent::thought_past_budget_text(*max_tokens)
            }
            Outcome::UnreadableReplies { message } => format!(
                "the model's replies could not be read twice in a row ({message}); try another model with `--model`"
            ),
            Outcome::ModelRejected { message, error } if *error == JobError::RunnerBadConfig => {
                format!(
                    "Ollama refused the work: {message}; or choose another model with `--model`"
                )
            }
            Outcome::ModelRejected { message, .. } => format!("Ollama refused the work: {message}"),
        };
        Self::Stopped { why }
    }
}

/// `ollama <task>: <request>`, or the task alone without a request.
fn subject(task: &str, request: &str) -> String {
    let request = request
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("");
    let subject = if request.is_empty() {
        format!("ollama {task}")
    } else {
        format!("ollama {task}: {request}")
    };
    if subject.chars().count() <= MAX_SUBJECT_CHARS {
        return subject;
    }
    let cut: String = subject.chars().take(MAX_SUBJECT_CHARS - 1).collect();
    format!("{}…", cut.trim_end())
}

/// The commit message: the subject, the whole request when it was longer, the agent's
/// summary (or, for partial work, why it stopped), how it was made, and the trailer with
/// the run's id, as the App's commits carry.
pub fn commit_message(
    id: &JobId,
    task: &str,
    request: &str,
    model: &str,
    ending: &Ending,
) -> String {
    let mut message = subject(task, request);
    message.push_str("\n\n");
    let request = request.trim();
    if request.lines().count() > 1 || request.chars().count() > MAX_SUBJECT_CHARS {
        for line in request.lines().map(str::trim_end) {
            if line.is_empty() {
                message.push_str(">\n");
            } else {
                message.push_str(&format!("> {line}\n"));
            }
        }
        message.push('\n');
    }
    match ending {
        Ending::Finished { summary } if !summary.trim().is_empty() => {
            message.push_str(summary.trim());
            message.push_str("\n\n");
        }
        Ending::Finished { .. } => {}
        Ending::Stopped { why } => {
            message.push_str(&format!(
                "Partial work: the run stopped before the agent finished ({why}).\n\n"
            ));
        }
    }
    message.push_str(&format!("Made locally with `ota run`, model {model}.\n\n"));
    message.push_str(&format!("{JOB_TRAILER}: {id}\n"));
    message
}

/// The summary printed on stdout when the run is over.
pub fn summary_text(run: &RunSummary) -> String {
    let numbers = format!(
        "{}, {} turn{}, tokens {} in / {} out, model {}",
        clock(run.elapsed),
        run.turns,
        if run.turns == 1 { "" } else { "s" },
        thousands(run.tokens.prompt),
        thousands(run.tokens.completion),
        run.model
    );
    let mut text = match (&run.ending, &run.kept) {
        (Ending::Finished { .. }, Some(_)) => {
            format!("Done: `{}` finished ({numbers}).\n", run.task)
        }
        (Ending::Finished { .. }, None) => format!(
            "No changes: `{}` finished without changing any file, so no branch was left ({numbers}).\n",
            run.task
        ),
        (Ending::Stopped { why }, _) => format!("Stopped: {why} (`{}`, {numbers}).\n", run.task),
    };
    let words = match &run.ending {
        Ending::Finished { summary } => Some(summary.as_str()),
        Ending::Stopped { .. } => run.last_message.as_deref(),
    };
    if let Some(words) = words.map(str::trim).filter(|w| !w.is_empty()) {
        text.push('\n');
        for line in words.lines().map(str::trim_end) {
            if !line.is_empty() {
                text.push_str("  ");
                text.push_str(line);
            }
            text.push('\n');
        }
    }
    if let Some(run) = &run.tests {
        text.push_str(&format!("\nTests: {}\n", test_result(run)));
    }
    match (&run.kept, &run.ending) {
        (Some(kept), ending) => {
            text.push('\n');
            text.push_str(&branch_block(
                kept,
                matches!(ending, Ending::Stopped { .. }),
            ));
        }
        (None, Ending::Stopped { .. }) => {
            text.push_str("\nNothing had changed, so no branch was left.\n");
        }
        (None, Ending::Finished { .. }) => {}
    }
    text
}

fn test_result(run: &CommandRun) -> String {
    format!("`{}` {}", run.command, run.outcome())
}

/// The branch, its commit and files, and what to do next.
fn branch_block(kept: &KeptWork, partial: bool) -> String {
    let branch = &kept.branch;
    let mut text = if partial {
        format!(
            "The partial work is on branch {branch}, commit {}, to look at or finish:\n",
            kept.commit.short()
        )
    } else {
        format!("Branch {branch}, commit {}:\n", kept.commit.short())
    };
    let width = kept
        .files
        .iter()
        .map(|file| file.path.chars().count())
        .max()
        .unwrap_or(0)
        .min(MAX_PATH_COLUMN);
    let (mut added, mut removed) = (0, 0);
    for file in &kept.files {
        let counts = match (file.added, file.removed) {
            (Some(a), Some(r)) => {
                added += a;
                removed += r;
                format!("+{a} -{r}")
            }
            _ => "binary".to_owned(),
        };
        text.push_str(&format!("  {:<width$}  {counts}\n", file.path));
    }
    let files = kept.files.len();
    text.push_str(&format!(
        "  {files} file{} changed, +{added} -{removed}\n",
        if files == 1 { "" } else { "s" }
    ));
    let steps = [
        (format!("git diff HEAD...{branch}"), "review the change"),
        (
            format!("git merge {branch}"),
            "take it into your current branch",
        ),
        (format!("git branch -D {branch}"), "or drop it"),
    ];
    let width = steps
        .iter()
        .map(|(command, _)| command.len())
        .max()
        .unwrap_or(0);
    text.push_str("\nNext steps:\n");
    for (command, what) in steps {
        text.push_str(&format!("  {command:<width$}  # {what}\n"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> JobId {
        JobId::parse("j0123456789abcdef0123").expect("a valid id")
    }

    fn finished() -> RunSummary {
        RunSummary {
            task: "refactor".into(),
            model: "qwen3-coder:30b".into(),
            ending: Ending::Finished {
                summary: "Moved the token check into `verify`.\nNo behaviour change.".into(),
            },
            last_message: None,
            tokens: TokenUsage {
                prompt: 12_000,
                completion: 345,
            },
            turns: 4,
            elapsed: Duration::from_secs(83),
            tests: None,
            kept: Some(KeptWork {
                branch: "ollama/refactor-j0123456".into(),
                commit: Commit {
                    sha: "abcdef0123456789".into(),
                },
                files: vec![
                    FileChange {
                        path: "src/auth.rs".into(),
                        added: Some(12),
                        removed: Some(3),
                    },
                    FileChange {
                        path: "logo.png".into(),
                        added: None,
                        removed: None,
                    },
                ],
            }),
        }
    }

    #[test]
    fn a_finished_run_shows_the_branch_files_and_next_steps() {
        assert_eq!(
            summary_text(&finished()),
            "Done: `refactor` finished (1:23, 4 turns, tokens 12,000 in / 345 out, model qwen3-coder:30b).\n\
             \n  Moved the token check into `verify`.\n  No behaviour change.\n\
             \nBranch ollama/refactor-j0123456, commit abcdef0:\n  \
             src/auth.rs  +12 -3\n  \
             logo.png     binary\n  \
             2 files changed, +12 -3\n\
             \nNext steps:\n  \
             git diff HEAD...ollama/refactor-j0123456  # review the change\n  \
             git merge ollama/refactor-j0123456        # take it into your current branch\n  \
             git branch -D ollama/refactor-j0123456    # or drop it\n"
        );
    }

    #[test]
    fn a_run_without_changes_says_no_branch_was_left() {
        let run = RunSummary {
            kept: None,
            ..finished()
        };
        let text = summary_text(&run);
        assert!(text.starts_with(
            "No changes: `refactor` finished without changing any file, so no branch was left"
        ));
        assert!(!text.contains("git merge"));
    }

    #[test]
    fn a_stopped_run_says_why_and_where_the_partial_work_is() {
        let run = RunSummary {
            ending: Ending::Stopped {
                why: "the tokens budget ran out".into(),
            },
            last_message: Some("Half of the callers are updated.".into()),
            tests: Some(CommandRun {
                command: "cargo test".into(),
                exit_code: Some(101),
                timed_out: false,
                duration: Duration::from_secs(3),
                output: String::new(),
                output_bytes: 0,
            }),
            ..finished()
        };
        let text = summary_text(&run);
        assert!(
            text.starts_with("Stopped: the tokens budget ran out (`refactor`, 1:23"),
            "{text}"
        );
        assert!(text.contains("  Half of the callers are updated.\n"));
        assert!(text.contains("Tests: `cargo test` failed (exit code 101)"));
        assert!(text.contains("The partial work is on branch ollama/refactor-j0123456"));
    }

    #[test]
    fn commit_messages_carry_the_summary_and_the_trailer() {
        let ending = Ending::Finished {
            summary: "  Moved the check.  ".into(),
        };
        assert_eq!(
            commit_message(&id(), "refactor", "make auth safer", "m:1", &ending),
            "ollama refactor: make auth safer\n\nMoved the check.\n\n\
             Made locally with `ota run`, model m:1.\n\nOllama-Turbo-Job: j0123456789abcdef0123\n"
        );
        let stopped = Ending::Stopped {
            why: "the time budget ran out".into(),
        };
        let long = "x".repeat(100);
        let message = commit_message(&id(), "fix", &long, "m", &stopped);
        let subject = message.lines().next().unwrap_or_default();
        assert_eq!(subject.chars().count(), MAX_SUBJECT_CHARS);
        assert!(message.contains(&format!("> {long}\n")));
        assert!(message.contains(
            "Partial work: the run stopped before the agent finished (the time budget ran out)."
        ));
        assert_eq!(subject_of_empty(), "ollama docs");
    }

    #[test]
    fn endings_say_why_the_run_stopped() {
        let timeout = Duration::from_secs(30 * 60);
        let stopped = |outcome| match Ending::of(&outcome, timeout) {
            Ending::Stopped { why } => why,
            Ending::Finished { .. } => panic!("finished"),
        };
        assert_eq!(
            stopped(Outcome::BudgetExhausted {
                budget: BudgetKind::Tokens
            }),
            "the tokens budget ran out"
        );
        assert_eq!(
            stopped(Outcome::BudgetExhausted {
                budget: BudgetKind::WallClock
            }),
            "the task's time limit (30m) ran out"
        );
        let missing = stopped(Outcome::ModelRejected {
            message: "model `m` is not available on the Ollama server; pull it there with `ollama pull m`".into(),
            error: JobError::RunnerBadConfig,
        });
        assert!(
            missing.contains("`ollama pull m`") && missing.contains("`--model`"),
            "{missing}"
        );
        assert_eq!(
            Ending::of(
                &Outcome::Finished {
                    summary: "ok".into()
                },
                timeout
            ),
            Ending::Finished {
                summary: "ok".into()
            }
        );
    }

    fn subject_of_empty() -> String {
        subject("docs", "  \n ")
    }
}
