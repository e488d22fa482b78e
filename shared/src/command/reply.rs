//! The text the bot writes about commands: the help page and the one reply that explains
//! every command a comment got wrong. All wording about commands lives here, but for each
//! command's usage and line of help, which its description holds
//! ([`CommandKind::spec`]).

use super::answer::MAX_COMMANDS_PER_COMMENT;
use super::error::CommandError;
use super::tasks::KnownTasks;
use super::types::{CommandKind, ParsedCommand, Takes};
use std::fmt::Write as _;

/// The command every message sends users to.
pub const HELP_COMMAND: &str = "/ollama help";

/// A reply lists at most this many mistakes: enough for any real comment, while a comment
/// of ten thousand bad lines still gets a short answer (GitHub caps comments at 65,536
/// characters).
const MAX_ERRORS_LISTED: usize = 10;

/// User text quoted back is cut to this many characters, so a pasted paragraph after a
/// command does not get echoed in full.
const MAX_QUOTED_CHARS: usize = 80;

/// The help page: every command, then the tasks this repository accepts.
pub fn help_text(tasks: &KnownTasks) -> String {
    let mut text = format!(
        "**Ollama Turbo Agent commands**\n\n\
         Write a command at the start of a line in a comment on an issue or pull request; \
         a comment can hold up to {MAX_COMMANDS_PER_COMMENT}, one per line, and gets one \
         reply for all of them. Command words are not case-sensitive. Lines in code blocks, \
         quotes and HTML comments are ignored.\n\n",
    );
    for kind in CommandKind::ALL {
        let _ = writeln!(text, "- {}: {}", code_span(kind.usage()), kind.spec().help);
    }
    text.push_str(
        "\n`[job]` is a job id as the bot's comments show it. Without one, the command \
         applies to the latest job on this issue or pull request.\n\n\
         **Tasks in this repository**\n\n",
    );
    if tasks.is_empty() {
        text.push_str("This repository has no tasks configured.\n");
    }
    for task in tasks.iter() {
        let name = code_span(task.name.as_str());
        match task.description.as_deref().map(one_line) {
            Some(description) if !description.is_empty() => {
                let _ = writeln!(text, "- {name}: {description}");
            }
            _ => {
                let _ = writeln!(text, "- {name}");
            }
        }
    }
    text
}

/// The reply to a comment whose commands did not all parse: one line per mistake saying
/// what to fix, then a pointer to [`HELP_COMMAND`]. `None` when every command parsed.
pub fn command_errors_comment(parsed: &[ParsedCommand]) -> Option<String> {
    let failures: Vec<(&ParsedCommand, &CommandError)> = parsed
        .iter()
        .filter_map(|command| command.result.as_ref().err().map(|error| (command, error)))
        .collect();
    let count = failures.len();
    let mut text = match count {
        0 => return None,
        1 => String::from("I could not understand this command in your comment:\n\n"),
        _ => format!("I could not understand {count} commands in your comment:\n\n"),
    };
    for (command, error) in failures.iter().take(MAX_ERRORS_LISTED) {
        let _ = writeln!(
            text,
            "- Line {}, {}: {}",
            command.line,
            quote(&command.source),
            explain(error)
        );
    }
    if count > MAX_ERRORS_LISTED {
        let _ = writeln!(text, "- … and {} more.", count - MAX_ERRORS_LISTED);
    }
    let _ = write!(
        text,
        "\n{} not acted on. Comment {} to see the commands and the tasks this repository has.",
        if count == 1 { "It was" } else { "They were" },
        code_span(HELP_COMMAND)
    );
    Some(text)
}

/// What went wrong and how to fix it, in one sentence or two.
fn explain(error: &CommandError) -> String {
    match error {
        CommandError::MissingTask => format!(
            "`/ollama` needs a task after it: {}.",
            code_span(CommandKind::Run.usage())
        ),
        CommandError::UnknownTask { found, suggestion } => {
            let mut text = format!("this repository has no task {}.", quote(found));
            if let Some(suggestion) = suggestion {
                let _ = write!(text, " Did you mean {}?", code_span(suggestion));
            }
            text
        }
        CommandError::UnexpectedArguments { command, .. } => match command.spec().takes {
            Takes::Nothing(_) => format!(
                "{} takes nothing after it; write it alone on its line.",
                code_span(command.words())
            ),
            Takes::Job(_) => format!(
                "{} takes at most one job id; write {} alone on its line.",
                code_span(command.words()),
                code_span(command.usage())
            ),
            Takes::Task(_) | Takes::Text(_) => {
                format!("write {} alone on its line.", code_span(command.usage()))
            }
        },
        CommandError::MissingText { command } => format!(
            "{} needs text after it on the same line: {}.",
            code_span(command.words()),
            code_span(command.usage())
        ),
        CommandError::InvalidJobRef { command, found } => format!(
            "{} is not a job id. {} takes the id the bot's comments show (letters, digits \
             and `-`), or nothing for the latest job on this issue or pull request.",
            quote(found),
            code_span(command.words())
        ),
    }
}

/// User text as inline code, cut to [`MAX_QUOTED_CHARS`]: shown as written, and unable to
/// mention anyone or inject Markdown.
pub(super) fn quote(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((cut, _)) => code_span(&format!("{}…", &text[..cut])),
        None => code_span(text),
    }
}

/// `text` as a Markdown code span, fenced by more backticks than any run inside it.
fn code_span(text: &str) -> String {
    let longest_run = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest_run + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// Configured descriptions may span lines; a list item may not.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::parse_comment;

    #[test]
    fn help_for_the_builtin_tasks() {
        insta::assert_snapshot!(help_text(&KnownTasks::builtin()));
    }

    #[test]
    fn help_for_configured_tasks() {
        let mut tasks = KnownTasks::builtin();
        tasks.add(
            "migrate",
            Some("Write a database migration\nand its rollback.".to_owned()),
        );
        tasks.add("lint", None);
        insta::assert_snapshot!(help_text(&tasks));
    }

    #[test]
    fn help_without_tasks() {
        insta::assert_snapshot!(help_text(&KnownTasks::default()));
    }

    #[test]
    fn help_lists_every_command() {
        let help = help_text(&KnownTasks::builtin());
        for kind in CommandKind::ALL {
            assert!(help.contains(kind.usage()), "{kind:?} missing from help");
        }
    }

    #[test]
    fn every_kind_of_mistake_explained() {
        let body = "\
/ollama
/ollama refactr the auth module
/ollama deploy to production
/ollama approve
/ollama help me
/ollama status please
/approve looks good
/cancel #12
/retry `weird`id
/ollama test this one is fine";
        let parsed = parse_comment(body, &KnownTasks::builtin());
        insta::assert_snapshot!(command_errors_comment(&parsed).unwrap_or_default());
    }

    #[test]
    fn one_mistake_is_singular() {
        let parsed = parse_comment("/ollama hlep", &KnownTasks::builtin());
        insta::assert_snapshot!(command_errors_comment(&parsed).unwrap_or_default());
    }

    #[test]
    fn no_reply_when_every_command_parsed() {
        let parsed = parse_comment("/ollama fix it\n/approve", &KnownTasks::builtin());
        assert_eq!(command_errors_comment(&parsed), None);
        assert_eq!(command_errors_comment(&[]), None);
    }

    #[test]
    fn a_flood_of_mistakes_gets_a_short_reply() {
        let body = "/ollama nope\n".repeat(10_000);
        let parsed = parse_comment(&body, &KnownTasks::builtin());
        let reply = command_errors_comment(&parsed).unwrap_or_default();
        assert!(reply.contains("I could not understand 10000 commands"));
        assert!(reply.contains("… and 9990 more."));
        assert!(reply.len() < 2_000, "{} bytes", reply.len());
    }

    #[test]
    fn quoted_user_text_is_cut_and_fenced() {
        let long = format!("/ollama {}", "é".repeat(500));
        let parsed = parse_comment(&long, &KnownTasks::builtin());
        let reply = command_errors_comment(&parsed).unwrap_or_default();
        assert!(reply.contains("…`"));
        assert!(reply.len() < 1_000, "{} bytes", reply.len());
        assert_eq!(code_span("@everyone"), "`@everyone`");
        assert_eq!(code_span("a`b"), "``a`b``");
        assert_eq!(code_span("`x``"), "``` `x`` ```");
    }
}
