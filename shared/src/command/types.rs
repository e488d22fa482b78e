//! The commands a comment can hold, as plain data: what the parser returns and what
//! handlers act on.

use super::error::CommandError;
use serde::{Deserialize, Serialize};

pub use crate::config::TaskName;
pub use crate::job::JobRef;
use std::fmt;

/// One command understood from a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/ollama <task> [text]`: start a job running `task`, with `text` (the rest of the
    /// line, trimmed, as written; possibly empty) as the requester's instructions.
    Run { task: TaskName, text: String },
    /// `/ollama help`: reply with the commands and tasks.
    Help,
    /// `/ollama status`: reply with the state of the jobs on this issue or pull request.
    Status,
    /// `/approve [job]`: let a job that waits for approval start. Without a job, the
    /// caller picks the latest job on the issue or pull request.
    Approve { job: Option<JobRef> },
    /// `/cancel [job]`: stop a queued or running job.
    Cancel { job: Option<JobRef> },
    /// `/retry [job]`: run a failed or cancelled job again.
    Retry { job: Option<JobRef> },
}

impl Command {
    pub fn kind(&self) -> CommandKind {
        match self {
            Self::Run { .. } => CommandKind::Run,
            Self::Help => CommandKind::Help,
            Self::Status => CommandKind::Status,
            Self::Approve { .. } => CommandKind::Approve,
            Self::Cancel { .. } => CommandKind::Cancel,
            Self::Retry { .. } => CommandKind::Retry,
        }
    }
}

/// The kinds of [`Command`], without their arguments: for logs, metrics, error messages and
/// the help text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandKind {
    Run,
    Help,
    Status,
    Approve,
    Cancel,
    Retry,
}

impl CommandKind {
    /// Every kind, in the order the help text lists them. [`Command::kind`] and the help
    /// text match exhaustively on the kind, so a new one must be described before it
    /// compiles; listing it here is what puts it on the help page.
    pub const ALL: [CommandKind; 6] = [
        Self::Run,
        Self::Help,
        Self::Status,
        Self::Approve,
        Self::Cancel,
        Self::Retry,
    ];

    /// How the command is written, with `<required>` and `[optional]` parts.
    pub fn usage(self) -> &'static str {
        match self {
            Self::Run => "/ollama <task> [instructions]",
            Self::Help => "/ollama help",
            Self::Status => "/ollama status",
            Self::Approve => "/approve [job]",
            Self::Cancel => "/cancel [job]",
            Self::Retry => "/retry [job]",
        }
    }

    /// The words that start the command, as a user would type them.
    pub fn words(self) -> &'static str {
        match self {
            Self::Run => "/ollama",
            Self::Help => "/ollama help",
            Self::Status => "/ollama status",
            Self::Approve => "/approve",
            Self::Cancel => "/cancel",
            Self::Retry => "/retry",
        }
    }
}

impl fmt::Display for CommandKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.words())
    }
}

/// One command line of a comment and what came of parsing it. A comment yields one of
/// these per line addressed to the bot, so a bad command never hides a good one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCommand {
    /// 1-based line number in the comment body.
    pub line: usize,
    /// The line as written, without surrounding whitespace or HTML comments: what an
    /// error message quotes back.
    pub source: String,
    pub result: Result<Command, CommandError>,
}
