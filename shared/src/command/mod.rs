//! Commands users write in comments (`/ollama ...`, `/approve`, ...): the pure parser and the help text.
//!
//! [`parse_comment`] turns a comment body into data, one [`ParsedCommand`] per line
//! addressed to the bot, each with its own `Result`; handlers decide what to do with it.
//! [`help_text`] and [`command_errors_comment`] are the only places that word replies
//! about commands; [`CommentCommands::take`] keeps the first
//! [`MAX_COMMANDS_PER_COMMENT`] of a comment, and [`comment_reply`] gathers what they came
//! to into the comment's one reply. Nothing here does I/O.

mod answer;
mod error;
mod parser;
mod reply;
mod scan;
mod suggest;
mod tasks;
mod types;

pub use answer::{
    Answer, CommentCommands, Ignored, MAX_COMMANDS_PER_COMMENT, MAX_REPLY_CHARS, comment_reply,
};
pub use error::CommandError;
pub use parser::parse_comment;
pub use reply::{HELP_COMMAND, command_errors_comment, help_text};
pub use tasks::{KnownTasks, TaskInfo};
pub use types::{Command, CommandKind, CommandSpec, JobRef, Needs, ParsedCommand, Takes, TaskName};

#[cfg(test)]
mod tests;
