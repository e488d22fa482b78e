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
    /// `/ollama revise <notes>`: plan the latest plan on the thread again, following the
    /// notes.
    Revise { notes: String },
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
            Self::Revise { .. } => CommandKind::Revise,
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
    Revise,
}

impl CommandKind {
    /// Every kind, in the order the help text lists them: listing a kind here is what lets
    /// the parser find it and puts it on the help page.
    pub const ALL: [CommandKind; 7] = [
        Self::Run,
        Self::Help,
        Self::Status,
        Self::Approve,
        Self::Cancel,
        Self::Retry,
        Self::Revise,
    ];

    /// Everything about the command that is not its handler: the one place a new command
    /// is described. The parser, the help text, the error messages and the permission
    /// check read it; none of them names a command.
    pub fn spec(self) -> CommandSpec {
        match self {
            Self::Run => CommandSpec {
                words: "/ollama",
                usage: "/ollama <task> [instructions]",
                help: "start a job that runs `<task>` (one of the tasks below), following the \
                       instructions written after it on the same line.",
                takes: Takes::Task(|task, text| Command::Run { task, text }),
                needs: Needs::Requester,
            },
            Self::Help => CommandSpec {
                words: "/ollama help",
                usage: "/ollama help",
                help: "show this help.",
                takes: Takes::Nothing(|| Command::Help),
                needs: Needs::Nothing,
            },
            Self::Status => CommandSpec {
                words: "/ollama status",
                usage: "/ollama status",
                help: "show the jobs on this issue or pull request and their state.",
                takes: Takes::Nothing(|| Command::Status),
                needs: Needs::Nothing,
            },
            Self::Approve => CommandSpec {
                words: "/approve",
                usage: "/approve [job]",
                help: "start a job that is waiting for a maintainer's approval, or apply the \
                       latest plan.",
                takes: Takes::Job(|job| Command::Approve { job }),
                needs: Needs::Approver,
            },
            Self::Cancel => CommandSpec {
                words: "/cancel",
                usage: "/cancel [job]",
                help: "stop a job that is queued or running.",
                takes: Takes::Job(|job| Command::Cancel { job }),
                needs: Needs::RequesterOrApprover,
            },
            Self::Retry => CommandSpec {
                words: "/retry",
                usage: "/retry [job]",
                help: "start a failed or cancelled job again.",
                takes: Takes::Job(|job| Command::Retry { job }),
                needs: Needs::RequesterOrApprover,
            },
            Self::Revise => CommandSpec {
                words: "/ollama revise",
                usage: "/ollama revise <notes>",
                help: "plan the latest plan on this issue or pull request again, following \
                       the notes written after it on the same line.",
                takes: Takes::Text(|notes| Command::Revise { notes }),
                needs: Needs::Requester,
            },
        }
    }

    /// How the command is written, with `<required>` and `[optional]` parts.
    pub fn usage(self) -> &'static str {
        self.spec().usage
    }

    /// The words that start the command, as a user would type them.
    pub fn words(self) -> &'static str {
        self.spec().words
    }
}

/// One kind of command, described: see [`CommandKind::spec`].
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    /// The words that start it, as a user would type them: one word (`/approve`), or
    /// `/ollama` and a second word (`/ollama help`). Matched without regard to ASCII case.
    pub words: &'static str,
    /// How it is written, with `<required>` and `[optional]` parts.
    pub usage: &'static str,
    /// What it does, for its line on the help page.
    pub help: &'static str,
    /// What may follow its words.
    pub takes: Takes,
    /// Who may give it.
    pub needs: Needs,
}

/// What may follow a command's words, with how the command is built from it.
#[derive(Debug, Clone, Copy)]
pub enum Takes {
    /// Nothing: anything after the words is a mistake.
    Nothing(fn() -> Command),
    /// At most one job id; without one, the command means the latest job on the thread
    /// that it fits.
    Job(fn(Option<JobRef>) -> Command),
    /// A task, then free text to the end of the line.
    Task(fn(TaskName, String) -> Command),
    /// Free text to the end of the line, which must not be empty.
    Text(fn(String) -> Command),
}

/// Who may give a command. [`crate::policy::needed_role`] says which role each stands
/// for under a repository's configuration, and [`crate::policy::may_give`] checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Anyone who can comment: the command only reads.
    Nothing,
    /// The role that may ask for jobs; below the approver's role, a job waits for an
    /// approval.
    Requester,
    /// The role that may approve jobs.
    Approver,
    /// The job's requester, or the role that may approve jobs.
    RequesterOrApprover,
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
