//! What a user can get wrong in a command, as data. The words they read are chosen in
//! [`super::command_errors_comment`]; the `Display` text here is for logs.

use super::types::CommandKind;

/// Why a line addressed to the bot is not a command it can run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// `/ollama` with nothing after it.
    #[error("`/ollama` needs a task, `help` or `status` after it")]
    MissingTask,
    /// `/ollama <word>` where the word is no task, `help` or `status`.
    #[error("unknown task `{found}`")]
    UnknownTask {
        /// The word as written.
        found: String,
        /// A command the user probably meant, written out (`/ollama refactor`, `/approve`).
        suggestion: Option<String>,
    },
    /// Something after a command that takes nothing more (`/ollama help me`), or after the
    /// one job reference of `/approve`, `/cancel` or `/retry`.
    #[error("`{command}` does not take `{found}`")]
    UnexpectedArguments {
        command: CommandKind,
        /// Everything from the first unexpected word to the end of the line.
        found: String,
    },
    /// A job reference that is not a job id.
    #[error("`{found}` is not a job id")]
    InvalidJobRef { command: CommandKind, found: String },
    /// A command that takes text (`/ollama revise`) with none after it.
    #[error("`{command}` needs text after it")]
    MissingText { command: CommandKind },
}
