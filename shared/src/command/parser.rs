//! The command grammar, applied to the prose lines of a comment:
//!
//! ```text
//! /ollama <task> [free text]      /ollama help      /ollama status
//! /approve [job]                  /cancel [job]     /retry [job]
//! ```
//!
//! A command is the first word of a line (after any indentation). Only `/ollama`,
//! `/approve`, `/cancel` and `/retry` are ours, matched whole and without regard to ASCII
//! case; any other line, including `/other-bot ...`, `@someone ...` and `/ollamax`, is
//! text for someone else and yields nothing. Free text is the rest of the line, trimmed,
//! as written. `help` and `status` take nothing after them, and the job commands at most
//! one job id: anything more is an error rather than silently dropped, so `/approve
//! looks good` does not approve a job called `looks`.

use super::error::CommandError;
use super::scan::prose_lines;
use super::suggest::closest;
use super::tasks::KnownTasks;
use super::types::{Command, CommandKind, JobRef, ParsedCommand};

const OLLAMA: &str = "/ollama";
const HELP: &str = "help";
const STATUS: &str = "status";

/// Builds a job command from its optional job reference.
type JobCommand = fn(Option<JobRef>) -> Command;

/// The commands that act on a job, each with how to build it.
const JOB_COMMANDS: [(CommandKind, JobCommand); 3] = [
    (CommandKind::Approve, |job| Command::Approve { job }),
    (CommandKind::Cancel, |job| Command::Cancel { job }),
    (CommandKind::Retry, |job| Command::Retry { job }),
];

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

/// The command on one trimmed line, or `None` when the line is not addressed to us.
fn parse_line(line: &str, tasks: &KnownTasks) -> Option<Result<Command, CommandError>> {
    let (word, rest) = split_word(line);
    let job_command = JOB_COMMANDS
        .into_iter()
        .find(|(kind, _)| kind.words().eq_ignore_ascii_case(word));
    if let Some((kind, build)) = job_command {
        return Some(parse_job(kind, rest).map(build));
    }
    word.eq_ignore_ascii_case(OLLAMA)
        .then(|| parse_ollama(rest, tasks))
}

fn parse_ollama(rest: &str, tasks: &KnownTasks) -> Result<Command, CommandError> {
    let (word, text) = split_word(rest);
    if word.is_empty() {
        return Err(CommandError::MissingTask);
    }
    if word.eq_ignore_ascii_case(HELP) {
        return no_arguments(CommandKind::Help, text).map(|()| Command::Help);
    }
    if word.eq_ignore_ascii_case(STATUS) {
        return no_arguments(CommandKind::Status, text).map(|()| Command::Status);
    }
    match tasks.find(word) {
        Some(task) => Ok(Command::Run {
            task: task.clone(),
            text: text.to_owned(),
        }),
        None => Err(CommandError::UnknownTask {
            found: word.to_owned(),
            suggestion: suggest_for(word, tasks),
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

/// What the user probably meant by `/ollama <word>`: a task, `help` or `status`, or one of
/// the job commands they wrote after `/ollama` (`/ollama approve` → `/approve`).
fn suggest_for(word: &str, tasks: &KnownTasks) -> Option<String> {
    let task_candidates = tasks.iter().map(|task| {
        let name = task.name.as_str();
        (name, format!("{OLLAMA} {name}"))
    });
    let job_kinds = JOB_COMMANDS.map(|(kind, _)| kind);
    let builtin_candidates = [CommandKind::Help, CommandKind::Status]
        .into_iter()
        .chain(job_kinds)
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
