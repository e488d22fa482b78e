//! How a run ended and what it produced, for the runner to report (check run, comment, job
//! result) whatever the ending: a budget that ran out still leaves its partial work.

use std::fmt;
use std::time::Duration;

use shared::job::{JobError, TokenUsage};

use super::command::CommandRun;
use super::dispatch::Review;

/// The limits the agent enforces itself, whatever the model does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetKind {
    /// Model calls.
    Turns,
    /// Prompt plus completion tokens over the whole run.
    Tokens,
    /// The task's `timeout`.
    WallClock,
    /// Characters of tool output handed to the model over the whole run.
    ToolOutput,
    /// The conversation no longer fits `num_ctx`, even with old tool outputs trimmed.
    ContextWindow,
}

impl BudgetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Turns => "turns",
            Self::Tokens => "tokens",
            Self::WallClock => "time",
            Self::ToolOutput => "tool output",
            Self::ContextWindow => "context window",
        }
    }
}

impl fmt::Display for BudgetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The model called `finish` (or `submit_review`).
    Finished { summary: String },
    /// A budget ran out; the work done so far stays in the workspace.
    BudgetExhausted { budget: BudgetKind },
    /// The model stopped calling tools without finishing.
    GaveUp { reason: String },
    /// Ollama stayed unreachable or failing after the client's retries. Transient: the job
    /// may be retried.
    ModelUnavailable { message: String },
    /// The model's replies could not be read twice in a row (not a chat stream, past the
    /// size limit, a tool call Ollama could not parse). Permanent: it is the model's
    /// answer, not an outage, so another attempt would most likely get the same.
    UnreadableReplies { message: String },
    /// A thinking model spent a whole response's budget (`max_tokens`) thinking, before
    /// any answer or tool call. Asking it to be brief would not help: its thinking is not
    /// its answer. The task's `think` or `max_tokens` must change.
    ThoughtPastBudget { max_tokens: u32 },
    /// Ollama refused the work for good: the model is missing or has no tool support, or the
    /// credentials were refused. The message says what to change.
    ModelRejected { message: String, error: JobError },
}

impl Outcome {
    /// The job error this outcome ends the job with; `None` for a finished run.
    pub fn job_error(&self) -> Option<JobError> {
        match self {
            Self::Finished { .. } => None,
            Self::BudgetExhausted {
                budget: BudgetKind::WallClock,
            } => Some(JobError::RunnerTimedOut),
            Self::BudgetExhausted { .. } | Self::ThoughtPastBudget { .. } => {
                Some(JobError::RunnerBudgetExceeded)
            }
            Self::GaveUp { .. } | Self::UnreadableReplies { .. } => {
                Some(JobError::RunnerAgentGaveUp)
            }
            Self::ModelUnavailable { .. } => Some(JobError::RunnerModelUnavailable),
            Self::ModelRejected { error, .. } => Some(*error),
        }
    }

    /// A short label for progress lines and logs.
    pub fn label(&self) -> String {
        match self {
            Self::Finished { .. } => "finished".to_owned(),
            Self::BudgetExhausted { budget } => format!("stopped: {budget} budget used up"),
            Self::GaveUp { .. } => "gave up".to_owned(),
            Self::ModelUnavailable { .. } => "model unavailable".to_owned(),
            Self::UnreadableReplies { .. } => "the model's replies could not be read".to_owned(),
            Self::ModelRejected { .. } => "model refused the work".to_owned(),
            Self::ThoughtPastBudget { .. } => "the model thought past its budget".to_owned(),
        }
    }
}

/// What the user is told when the model spent a response's whole budget thinking.
pub fn thought_past_budget_text(max_tokens: u32) -> String {
    format!(
        "the model used its whole output budget ({max_tokens} tokens) thinking, before it wrote \
         an answer or a tool call; lower `think` for the task in .ollama-turbo.yml (`think: \
         low`, or `think: false`) or raise its `max_tokens`"
    )
}

/// Everything a run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentReport {
    pub outcome: Outcome,
    /// Tokens over all model calls (the server's counts).
    pub tokens: TokenUsage,
    pub turns: u32,
    pub elapsed: Duration,
    /// Files the model edited or wrote, in the order first changed.
    pub files_changed: Vec<String>,
    /// The submitted review, for the review task.
    pub review: Option<Review>,
    /// The last run of a configured command, by the model or by the check at `finish`.
    pub last_command: Option<CommandRun>,
    /// The model's last words outside tool calls, if any: context for a partial result.
    pub last_message: Option<String>,
}
