//! The one reply a comment gets: which of its commands are acted on (the first
//! [`MAX_COMMANDS_PER_COMMENT`]), and what each came to, gathered into one comment body
//! that GitHub accepts whatever the comment held.

use super::reply::{HELP_COMMAND, quote};
use super::types::ParsedCommand;

/// Commands acted on per comment. A person writes one or two at a time; ten leaves room
/// for a checklist of tasks, while a comment of a thousand command lines still costs
/// GitHub at most ten jobs, ten check runs and one reply (`docs/policy.md`, "Commands").
pub const MAX_COMMANDS_PER_COMMENT: usize = 10;

/// Longest reply, in characters: GitHub refuses a comment over 65,536 characters, and the
/// hidden marker line that keeps the reply from being posted twice needs room too.
pub const MAX_REPLY_CHARS: usize = 60_000;

/// Said where a reply was cut.
const CUT_NOTE: &str = "\n\n… (the rest of this reply was cut: GitHub takes at most 65,536 \
                        characters in a comment)";

/// The commands of a comment the bot acts on, and those it ignores after them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentCommands {
    /// The first [`MAX_COMMANDS_PER_COMMENT`] lines addressed to the bot, parsed or not.
    pub taken: Vec<ParsedCommand>,
    /// How many came after them, and the line of the first: not acted on.
    pub ignored: Option<Ignored>,
}

/// Commands past [`MAX_COMMANDS_PER_COMMENT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ignored {
    pub count: usize,
    pub from_line: usize,
}

impl CommentCommands {
    /// The first [`MAX_COMMANDS_PER_COMMENT`] of `parsed`, and a count of the rest.
    pub fn take(mut parsed: Vec<ParsedCommand>) -> Self {
        let ignored = parsed.get(MAX_COMMANDS_PER_COMMENT).map(|first| Ignored {
            count: parsed.len() - MAX_COMMANDS_PER_COMMENT,
            from_line: first.line,
        });
        parsed.truncate(MAX_COMMANDS_PER_COMMENT);
        Self {
            taken: parsed,
            ignored,
        }
    }
}

/// One thing the reply says: about one command (its line and text, for a heading), or
/// about the comment as a whole (`None`: its mistakes, its configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub command: Option<(usize, String)>,
    pub text: String,
}

/// The reply to a comment: `None` when there is nothing to say. A single answer is
/// given as it is; several each get a heading that quotes their command, and answers
/// with the same text (ten commands over the same rate limit) are given once under the
/// headings of all. Ignored commands are mentioned first; a reply longer than
/// [`MAX_REPLY_CHARS`] is cut on a character boundary, with a note.
pub fn comment_reply(answers: &[Answer], ignored: Option<Ignored>) -> Option<String> {
    // (commands answered, text), in the order of their first answer.
    let mut groups: Vec<(Vec<&(usize, String)>, &str)> = Vec::new();
    for answer in answers {
        let same = groups
            .iter_mut()
            .find(|(commands, text)| *text == answer.text && !commands.is_empty());
        match (&answer.command, same) {
            (Some(command), Some((commands, _))) => commands.push(command),
            (command, _) => groups.push((command.iter().collect(), answer.text.as_str())),
        }
    }
    let mut parts: Vec<String> = Vec::new();
    if let Some(ignored) = ignored {
        parts.push(ignored_note(ignored));
    }
    let headed = groups.len() > 1 || ignored.is_some();
    for (commands, text) in groups {
        if headed && !commands.is_empty() {
            parts.push(format!("> {}\n\n{}", heading(&commands), text.trim_end()));
        } else {
            parts.push(text.trim_end().to_owned());
        }
    }
    if parts.is_empty() {
        return None;
    }
    Some(cut(parts.join("\n\n---\n\n")))
}

/// The commands an answer is about, each written once with its lines:
/// `` `/ollama help` (lines 1, 2) ``.
fn heading(commands: &[&(usize, String)]) -> String {
    let mut sources: Vec<(&str, Vec<String>)> = Vec::new();
    for (line, source) in commands {
        match sources.iter_mut().find(|(seen, _)| seen == source) {
            Some((_, lines)) => lines.push(line.to_string()),
            None => sources.push((source, vec![line.to_string()])),
        }
    }
    let written: Vec<String> = sources
        .into_iter()
        .map(|(source, lines)| {
            let word = if lines.len() == 1 { "line" } else { "lines" };
            format!("{} ({word} {})", quote(source), lines.join(", "))
        })
        .collect();
    written.join(", ")
}

fn ignored_note(ignored: Ignored) -> String {
    let Ignored { count, from_line } = ignored;
    let (those, were) = if count == 1 {
        ("The command", "was")
    } else {
        ("The other", "were")
    };
    let what = if count == 1 {
        format!("{those} on line {from_line} {were} not acted on")
    } else {
        format!("{those} {count} commands, from line {from_line} on, {were} not acted on")
    };
    format!(
        "I act on the first {MAX_COMMANDS_PER_COMMENT} commands of a comment. {what}: write \
         them in another comment if you meant them. Comment `{HELP_COMMAND}` to see the \
         commands."
    )
}

/// `text` within [`MAX_REPLY_CHARS`], cut on a character boundary with [`CUT_NOTE`].
fn cut(text: String) -> String {
    let room = MAX_REPLY_CHARS - CUT_NOTE.chars().count();
    match text.char_indices().nth(MAX_REPLY_CHARS) {
        None => text,
        Some(_) => {
            let end = text
                .char_indices()
                .nth(room)
                .map_or(text.len(), |(at, _)| at);
            format!("{}{CUT_NOTE}", &text[..end])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{KnownTasks, parse_comment};

    fn about(line: usize, source: &str, text: &str) -> Answer {
        Answer {
            command: Some((line, source.to_owned())),
            text: text.to_owned(),
        }
    }

    #[test]
    fn the_first_ten_commands_are_taken_and_the_rest_counted() {
        let body = "/ollama help\n".repeat(1_000);
        let comment = CommentCommands::take(parse_comment(&body, &KnownTasks::builtin()));
        assert_eq!(comment.taken.len(), MAX_COMMANDS_PER_COMMENT);
        assert_eq!(
            comment.ignored,
            Some(Ignored {
                count: 990,
                from_line: 11
            })
        );
        let few = CommentCommands::take(parse_comment("/ollama help", &KnownTasks::builtin()));
        assert_eq!((few.taken.len(), few.ignored), (1, None));
    }

    #[test]
    fn one_answer_is_given_as_it_is_and_none_is_no_reply() {
        assert_eq!(comment_reply(&[], None), None);
        assert_eq!(
            comment_reply(&[about(1, "/ollama help", "the help\n")], None).as_deref(),
            Some("the help")
        );
    }

    #[test]
    fn several_answers_are_headed_and_the_same_answer_is_given_once() {
        let limited = "@ada, you have reached the limit of 20 jobs per hour.";
        let reply = comment_reply(
            &[
                Answer {
                    command: None,
                    text: "I could not understand this command in your comment: …".to_owned(),
                },
                about(2, "/ollama refactor the parser", limited),
                about(3, "/ollama status", "No jobs on this thread yet."),
                about(4, "/ollama test `x`", limited),
            ],
            None,
        );
        insta::assert_snapshot!(reply.unwrap_or_default());
    }

    #[test]
    fn ignored_commands_are_mentioned_first() {
        let reply = comment_reply(
            &[about(1, "/ollama help", "the help")],
            Some(Ignored {
                count: 990,
                from_line: 11,
            }),
        );
        insta::assert_snapshot!(reply.unwrap_or_default());
        let one = comment_reply(
            &[],
            Some(Ignored {
                count: 1,
                from_line: 12,
            }),
        );
        assert!(
            one.unwrap_or_default()
                .contains("The command on line 12 was not acted on")
        );
    }

    #[test]
    fn a_reply_too_long_for_github_is_cut_on_a_character_boundary() {
        let long = "é".repeat(MAX_REPLY_CHARS * 2);
        let reply = comment_reply(&[about(1, "/ollama status", &long)], None).unwrap_or_default();
        assert_eq!(reply.chars().count(), MAX_REPLY_CHARS);
        assert!(
            reply.ends_with("characters in a comment)"),
            "{}",
            &reply[reply.len() - 200..]
        );
        let exact = "a".repeat(MAX_REPLY_CHARS);
        assert_eq!(
            comment_reply(&[about(1, "/ollama status", &exact)], None),
            Some(exact)
        );
    }
}
