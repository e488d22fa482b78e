//! The command grammar, applied to the prose lines of a comment:
//!
//! ```text
//! /ollama <task> [free text]      /ollama help      /ollama status
//! /approve [job]                  /cancel [job]     /retry [job]
//! /ollama revise <notes>
//! ```
//!
//! The words, arguments and constructors of each command come from
//! [`CommandKind::spec`]; this file names no command. A command is the first word of a
//! line (after any indentation). Only the commands' words (`/ollama`, `/approve`,
//! `/cancel`, `/retry`) are ours, matched whole and without regard to ASCII
//! case; any other line, including `/other-bot ...`, `@someone ...` and `/ollamax`, is
//! text for someone else and yields nothing. Free text is the rest of the line, trimmed,
//! as written. `help` and `status` take nothing after them, and the job commands at most
//! one job id: anything more is an error rather than silently dropped, so `/approve
//! looks good` does not approve a job called `looks`.

use super::error::CommandError;
use super::scan::prose_lines;
use super::suggest::closest;
use super::tasks::KnownTasks;
use super::types::{Command, CommandKind, JobRef, ParsedCommand, Takes};

/// Every command in `body`, in order, each with its line number and its own result.
/// Lines inside code blocks (fenced or indented), quotes and HTML comments are skipped.
/// Linear in the length of `body`; never panics.
pub fn parse_comment(body: &str, tasks: &KnownTasks) -> Vec<ParsedCommand> {
    prose_lines(body)
        .filter_map(|line| {
            let source = line.text.trim();
            parse_line(source, tasks).map(|result| ParsedCommand {
                line: line.number,
                source: source.to_owned(),
                result,
            })
        })
        .collect()
}

/// The command on one trimmed line, or `None` when the line is not addressed to us. The
/// commands' words come from [`CommandKind::spec`]: a command of two words (`/ollama
/// help`) wins over the one-word command that shares its first word (`/ollama <task>`).
fn parse_line(line: &str, tasks: &KnownTasks) -> Option<Result<Command, CommandError>> {
    let (word, rest) = split_word(line);
    let (second, after_second) = split_word(rest);
    let mut one_word = None;
    for kind in CommandKind::ALL {
        let spec = kind.spec();
        let (first, more) = split_word(spec.words);
        if !first.eq_ignore_ascii_case(word) {
            continue;
        }
        if more.is_empty() {
            one_word = Some(kind);
        } else if more.eq_ignore_ascii_case(second) {
            return Some(parse_arguments(kind, after_second, tasks));
        }
    }
    one_word.map(|kind| parse_arguments(kind, rest, tasks))
}

/// The command `kind`, from what follows its words.
fn parse_arguments(
    kind: CommandKind,
    rest: &str,
    tasks: &KnownTasks,
) -> Result<Command, CommandError> {
    match kind.spec().takes {
        Takes::Nothing(build) => no_arguments(kind, rest).map(|()| build()),
        Takes::Job(build) => parse_job(kind, rest).map(build),
        Takes::Task(build) => parse_task(kind, rest, tasks).map(|(task, text)| build(task, text)),
        Takes::Text(_) if rest.is_empty() => Err(CommandError::MissingText { command: kind }),
        Takes::Text(build) => Ok(build(rest.to_owned())),
    }
}

fn parse_task(
    kind: CommandKind,
    rest: &str,
    tasks: &KnownTasks,
) -> Result<(super::types::TaskName, String), CommandError> {
    let (word, text) = split_word(rest);
    if word.is_empty() {
        return Err(CommandError::MissingTask);
    }
    match tasks.find(word) {
        Some(task) => Ok((task.clone(), text.to_owned())),
        None => Err(CommandError::UnknownTask {
            found: word.to_owned(),
            suggestion: suggest_for(kind, word, tasks),
        }),
    }
}

fn no_arguments(command: CommandKind, rest: &str) -> Result<(), CommandError> {
    if rest.is_empty() {
        Ok(())
    } else {
        Err(CommandError::UnexpectedArguments {
            command,
            found: rest.to_owned(),
        })
    }
}

/// The optional job reference after a job command.
fn parse_job(kind: CommandKind, rest: &str) -> Result<Option<JobRef>, CommandError> {
    let (token, more) = split_word(rest);
    if !more.is_empty() {
        return Err(CommandError::UnexpectedArguments {
            command: kind,
            found: more.to_owned(),
        });
    }
    if token.is_empty() {
        return Ok(None);
    }
    JobRef::parse(token)
        .map(Some)
        .map_err(|_| CommandError::InvalidJobRef {
            command: kind,
            found: token.to_owned(),
        })
}

/// What the user probably meant by `/ollama <word>`: a task, or one of the other
/// commands, written after `/ollama` (`/ollama hepl` → `/ollama help`) or not (`/ollama
/// approve` → `/approve`). `kind` is the command that takes a task.
fn suggest_for(kind: CommandKind, word: &str, tasks: &KnownTasks) -> Option<String> {
    let task_candidates = tasks.iter().map(|task| {
        let name = task.name.as_str();
        (name, format!("{} {name}", kind.words()))
    });
    let builtin_candidates = CommandKind::ALL
        .into_iter()
        .filter(|kind| !matches!(kind.spec().takes, Takes::Task(_)))
        .map(|kind| {
            let words = kind.words();
            let bare = words.rsplit([' ', '/']).next().unwrap_or(words);
            (bare, words.to_owned())
        });
    closest(word, task_candidates.chain(builtin_candidates))
}

/// The first whitespace-separated word of `text` and the trimmed rest.
fn split_word(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    match text.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest.trim()),
        None => (text, ""),
    }
}
