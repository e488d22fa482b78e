//! [`parse_comment`] from comment bodies, the way GitHub delivers them.

use super::*;

type Outcome = (usize, Result<Command, CommandError>);

fn parse(body: &str) -> Vec<Outcome> {
    parse_with(body, &KnownTasks::builtin())
}

fn parse_with(body: &str, tasks: &KnownTasks) -> Vec<Outcome> {
    parse_comment(body, tasks)
        .into_iter()
        .map(|parsed| (parsed.line, parsed.result))
        .collect()
}

fn run(task: &str, text: &str) -> Result<Command, CommandError> {
    Ok(Command::Run {
        task: TaskName::new(task).expect("a valid task name"),
        text: text.to_owned(),
    })
}

fn job(id: &str) -> Option<JobRef> {
    JobRef::parse(id).ok()
}

fn unknown(found: &str, suggestion: Option<&str>) -> Result<Command, CommandError> {
    Err(CommandError::UnknownTask {
        found: found.to_owned(),
        suggestion: suggestion.map(str::to_owned),
    })
}

#[test]
fn a_task_with_free_text() {
    assert_eq!(
        parse("/ollama refactor the auth module"),
        vec![(1, run("refactor", "the auth module"))]
    );
}

#[test]
fn a_task_without_text() {
    assert_eq!(parse("/ollama review"), vec![(1, run("review", ""))]);
}

#[test]
fn free_text_is_the_trimmed_rest_of_the_line_as_written() {
    assert_eq!(
        parse("  /ollama   fix \t  Don't touch `Foo::bar`, OK?  \n"),
        vec![(1, run("fix", "Don't touch `Foo::bar`, OK?"))]
    );
}

#[test]
fn help_and_status() {
    assert_eq!(
        parse("/ollama help\n/ollama status"),
        vec![(1, Ok(Command::Help)), (2, Ok(Command::Status))]
    );
}

#[test]
fn job_commands_with_and_without_a_job() {
    assert_eq!(
        parse("/approve\n/cancel j7c4a6f78\n/retry j7c4a6f78a5722932c4ca"),
        vec![
            (1, Ok(Command::Approve { job: None })),
            (
                2,
                Ok(Command::Cancel {
                    job: job("j7c4a6f78")
                })
            ),
            (
                3,
                Ok(Command::Retry {
                    job: job("j7c4a6f78a5722932c4ca")
                })
            ),
        ]
    );
}

#[test]
fn several_commands_come_back_in_order_with_their_lines() {
    let body = "Thanks for the report!\n\n/ollama fix the crash on empty input\nand then\n/approve\n\n/ollama test cover the parser";
    assert_eq!(
        parse(body),
        vec![
            (3, run("fix", "the crash on empty input")),
            (5, Ok(Command::Approve { job: None })),
            (7, run("test", "cover the parser")),
        ]
    );
}

#[test]
fn a_bad_command_does_not_hide_a_good_one() {
    assert_eq!(
        parse("/ollama refactr the auth module\n/ollama docs the README"),
        vec![
            (1, unknown("refactr", Some("/ollama refactor"))),
            (2, run("docs", "the README")),
        ]
    );
}

#[test]
fn command_words_ignore_case_and_text_keeps_it() {
    assert_eq!(
        parse("/Ollama Refactor The Auth Module\n/OLLAMA HELP\n/Approve\n/CANCEL J7C4A6F78"),
        vec![
            (1, run("refactor", "The Auth Module")),
            (2, Ok(Command::Help)),
            (3, Ok(Command::Approve { job: None })),
            (
                4,
                Ok(Command::Cancel {
                    job: job("j7c4a6f78")
                })
            ),
        ]
    );
}

#[test]
fn crlf_line_endings() {
    assert_eq!(
        parse("hello\r\n/ollama fix it\r\n\r\n/ollama help\r\n"),
        vec![(2, run("fix", "it")), (4, Ok(Command::Help))]
    );
}

#[test]
fn empty_and_blank_bodies_hold_no_commands() {
    assert!(parse("").is_empty());
    assert!(parse("\n\n   \r\n\t").is_empty());
    assert!(parse("just a normal comment").is_empty());
}

#[test]
fn a_command_in_the_middle_of_a_line_is_not_a_command() {
    assert!(parse("please run /ollama fix this").is_empty());
    assert!(parse("- /ollama fix this").is_empty());
    assert!(parse("`/ollama fix this`").is_empty());
}

#[test]
fn words_that_only_start_like_ours_are_not_ours() {
    assert!(parse("/ollamax refactor\n/approved\n/cancellation\n/retrying 3").is_empty());
    assert!(parse("/ollama:help\n/ollama/help\nollama help").is_empty());
}

#[test]
fn other_bots_are_left_alone() {
    let body = "@bors r+\n/label bug\n/assign @me\n@rustbot claim\n/ollama status";
    assert_eq!(parse(body), vec![(5, Ok(Command::Status))]);
}

#[test]
fn commands_in_backtick_and_tilde_fences_are_skipped() {
    let body = "```\n/ollama fix a\n```\n~~~sh\n/approve\n~~~\n/ollama fix b";
    assert_eq!(parse(body), vec![(7, run("fix", "b"))]);
}

#[test]
fn commands_in_indented_fences_are_skipped() {
    let body = "1. step\n   ```\n   /ollama fix a\n   ```\n/ollama fix b";
    assert_eq!(parse(body), vec![(5, run("fix", "b"))]);
}

#[test]
fn an_unclosed_fence_hides_the_rest_of_the_comment() {
    assert_eq!(
        parse("/ollama help\n```\n/ollama fix a\n/approve"),
        vec![(1, Ok(Command::Help))]
    );
}

#[test]
fn commands_in_indented_code_blocks_are_skipped() {
    assert_eq!(
        parse("Run this:\n\n    /ollama fix a\n\n/ollama fix b"),
        vec![(5, run("fix", "b"))]
    );
}

#[test]
fn quoted_commands_are_skipped() {
    let body = "> /ollama fix a\n> /approve\n\n/cancel";
    assert_eq!(parse(body), vec![(4, Ok(Command::Cancel { job: None }))]);
    // The line after a quote is the author's own, even without a blank line between.
    assert_eq!(
        parse("> earlier\n/approve"),
        vec![(2, Ok(Command::Approve { job: None }))]
    );
}

#[test]
fn commands_in_html_comments_are_skipped() {
    let body = "<!-- /ollama fix a -->\n<!--\n/approve\n-->\n/ollama fix b";
    assert_eq!(parse(body), vec![(5, run("fix", "b"))]);
}

#[test]
fn html_comments_are_cut_out_of_command_lines() {
    assert_eq!(
        parse("/ollama fix the bug <!-- internal note --> quickly"),
        vec![(1, run("fix", "the bug  quickly"))]
    );
    assert_eq!(
        parse("<!-- template --> /ollama help"),
        vec![(1, Ok(Command::Help))]
    );
    assert!(parse("<!-- unclosed\n/ollama help").is_empty());
}

#[test]
fn unicode_text_is_kept_and_unicode_words_are_unknown_tasks() {
    assert_eq!(
        parse("/ollama docs écrire la doc 📝 日本語"),
        vec![(1, run("docs", "écrire la doc 📝 日本語"))]
    );
    assert_eq!(parse("/ollama 修正"), vec![(1, unknown("修正", None))]);
    assert_eq!(
        parse("\u{a0}/ollama help"),
        vec![(1, Ok(Command::Help))],
        "a no-break space is whitespace"
    );
}

#[test]
fn ollama_alone_is_a_missing_task() {
    assert_eq!(
        parse("/ollama\n/ollama   \t"),
        vec![
            (1, Err(CommandError::MissingTask)),
            (2, Err(CommandError::MissingTask))
        ]
    );
}

#[test]
fn unknown_tasks_suggest_the_nearest_word() {
    assert_eq!(
        parse("/ollama tset the parser"),
        vec![(1, unknown("tset", Some("/ollama test")))]
    );
    assert_eq!(
        parse("/ollama statsu"),
        vec![(1, unknown("statsu", Some("/ollama status")))]
    );
    assert_eq!(parse("/ollama deploy"), vec![(1, unknown("deploy", None))]);
}

#[test]
fn job_commands_written_after_ollama_point_at_the_real_command() {
    assert_eq!(
        parse("/ollama approve\n/ollama Cancel 12"),
        vec![
            (1, unknown("approve", Some("/approve"))),
            (2, unknown("Cancel", Some("/cancel"))),
        ]
    );
}

#[test]
fn help_and_status_take_no_arguments() {
    assert_eq!(
        parse("/ollama help refactor\n/ollama status of job 12"),
        vec![
            (
                1,
                Err(CommandError::UnexpectedArguments {
                    command: CommandKind::Help,
                    found: "refactor".to_owned()
                })
            ),
            (
                2,
                Err(CommandError::UnexpectedArguments {
                    command: CommandKind::Status,
                    found: "of job 12".to_owned()
                })
            ),
        ]
    );
}

#[test]
fn job_commands_take_at_most_one_job() {
    assert_eq!(
        parse("/approve looks good to me"),
        vec![(
            1,
            Err(CommandError::UnexpectedArguments {
                command: CommandKind::Approve,
                found: "good to me".to_owned()
            })
        )]
    );
}

#[test]
fn malformed_job_references_are_errors() {
    let too_long = format!("j{}", "a".repeat(40));
    let body = format!("/cancel #12\n/retry job_1\n/approve {too_long}\n/retry ünï");
    let errors: Vec<_> = parse(&body)
        .into_iter()
        .map(|(line, result)| match result {
            Err(CommandError::InvalidJobRef { command, found }) => (line, command, found),
            other => panic!("line {line}: expected a bad job, got {other:?}"),
        })
        .collect();
    assert_eq!(
        errors,
        vec![
            (1, CommandKind::Cancel, "#12".to_owned()),
            (2, CommandKind::Retry, "job_1".to_owned()),
            (3, CommandKind::Approve, too_long),
            (4, CommandKind::Retry, "ünï".to_owned()),
        ]
    );
    // Too short to tell one job from another.
    assert!(matches!(
        parse("/cancel j7c4")[..],
        [(1, Err(CommandError::InvalidJobRef { .. }))]
    ));
}

#[test]
fn configured_tasks_are_commands_and_unconfigured_builtins_are_not() {
    let tasks = KnownTasks::from_names(&["migrate-db", "docs"]);
    assert_eq!(
        parse_with(
            "/ollama Migrate-DB add a users table\n/ollama refactor x",
            &tasks
        ),
        vec![
            (1, run("migrate-db", "add a users table")),
            (2, unknown("refactor", None)),
        ]
    );
    assert_eq!(
        parse_with("/ollama migrate-bd", &tasks),
        vec![(1, unknown("migrate-bd", Some("/ollama migrate-db")))]
    );
}

#[test]
fn without_tasks_every_task_is_unknown_but_help_works() {
    let tasks = KnownTasks::default();
    assert_eq!(
        parse_with("/ollama fix it\n/ollama help", &tasks),
        vec![(1, unknown("fix", None)), (2, Ok(Command::Help))]
    );
}

#[test]
fn the_source_line_is_kept_for_error_messages() {
    let parsed = parse_comment("  /ollama refactr x <!-- y -->  ", &KnownTasks::builtin());
    assert_eq!(parsed.len(), 1);
    assert_eq!(parsed[0].source, "/ollama refactr x");
}

#[test]
fn very_long_input_is_parsed_without_panic_in_linear_time() {
    let tasks = KnownTasks::builtin();
    // Many lines: every one a command.
    let lines = "/ollama fix it\n".repeat(100_000);
    assert_eq!(parse_comment(&lines, &tasks).len(), 100_000);
    // One enormous line: one command with a megabyte of text.
    let long_line = format!("/ollama fix {}", "word ".repeat(200_000));
    assert_eq!(parse_comment(&long_line, &tasks).len(), 1);
    // An enormous unknown task word and an enormous job id.
    let long_word = format!(
        "/ollama {}\n/cancel {}",
        "x".repeat(1_000_000),
        "1".repeat(1_000_000)
    );
    assert!(
        parse_comment(&long_word, &tasks)
            .iter()
            .all(|p| p.result.is_err())
    );
    // Markdown that a naive scanner would rescan: many comment openers and backtick runs.
    let noisy = format!(
        "{}\n{}\n/ollama help",
        "<!-- -->`` ` ``` ".repeat(50_000),
        (1..2_000)
            .map(|n| "`".repeat(n))
            .collect::<Vec<_>>()
            .join(" <!-- ")
    );
    let parsed = parse_comment(&noisy, &tasks);
    assert!(parsed.len() <= 1);
    // Fences at scale: each second fence closes the one before, so the command between a
    // closing and the next opening fence counts.
    let fences = "```\n/ollama fix\n".repeat(50_000);
    assert_eq!(parse_comment(&fences, &tasks).len(), 25_000);
}

#[test]
fn every_kind_is_parsed_from_its_usage() {
    let tasks = KnownTasks::builtin();
    for kind in CommandKind::ALL {
        let line = kind
            .usage()
            .replace("<task>", "fix")
            .replace(" [instructions]", "")
            .replace(" [job]", "");
        let parsed = parse_comment(&line, &tasks);
        let parsed_kind = parsed
            .first()
            .and_then(|p| p.result.as_ref().ok())
            .map(Command::kind);
        assert_eq!(parsed_kind, Some(kind), "{line}");
    }
}

#[test]
fn every_description_holds_together() {
    for kind in CommandKind::ALL {
        let spec = kind.spec();
        assert!(spec.usage.starts_with(spec.words), "{kind:?}: {spec:?}");
        assert!(spec.help.ends_with('.'), "{kind:?}: {spec:?}");
        // What the description builds is a command of its own kind.
        let built = match spec.takes {
            Takes::Nothing(build) => build(),
            Takes::Job(build) => build(None),
            Takes::Task(build) => build(TaskName::new("fix").expect("a task name"), String::new()),
            Takes::Text(build) => build("notes".to_owned()),
        };
        assert_eq!(built.kind(), kind);
    }
    let words: std::collections::HashSet<String> = CommandKind::ALL
        .into_iter()
        .map(|kind| kind.words().to_ascii_lowercase())
        .collect();
    assert_eq!(
        words.len(),
        CommandKind::ALL.len(),
        "two commands share their words"
    );
}
