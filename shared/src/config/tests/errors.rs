//! Invalid files: each problem names the right line and field, says why, and what to do.

use super::{one, place, places, problems};
use crate::config::{ConfigErrors, ProblemKind, RepoConfig, config_errors_comment};

#[test]
fn unknown_keys_are_named_with_a_suggestion_at_every_level() {
    let cases = [
        (
            "verison: 1\n",
            place(1, "verison"),
            "did you mean `version`?",
        ),
        (
            "automaton:\n  tasks: {}\n",
            place(1, "automaton"),
            "did you mean `automation`?",
        ),
        (
            "automation:\n  trigers: {}\n",
            place(2, "automation.trigers"),
            "did you mean `triggers`?",
        ),
        (
            "automation:\n  triggers:\n    pr_open:\n      tasks: [review]\n",
            place(3, "automation.triggers.pr_open"),
            "did you mean `pr_opened`?",
        ),
        (
            "automation:\n  triggers:\n    push:\n      branch: [main]\n      tasks: [test]\n",
            place(4, "automation.triggers.push.branch"),
            "did you mean `branches`?",
        ),
        (
            "automation:\n  defaults:\n    max_token: 5\n",
            place(3, "automation.defaults.max_token"),
            "did you mean `max_tokens`?",
        ),
        (
            "automation:\n  tasks:\n    refactor:\n      timout: 30m\n",
            place(4, "automation.tasks.refactor.timout"),
            "did you mean `timeout`?",
        ),
        (
            "automation:\n  tasks:\n    lint:\n      prompt: Lint.\n      autofix: true\n",
            place(5, "automation.tasks.lint.autofix"),
            "did you mean `auto_fix`?",
        ),
        (
            "automation:\n  approval:\n    require: true\n",
            place(3, "automation.approval.require"),
            "did you mean `required`?",
        ),
        (
            "automation:\n  output:\n    open_prs: true\n",
            place(3, "automation.output.open_prs"),
            "did you mean `open_pr`?",
        ),
    ];
    for (text, expected_place, hint) in cases {
        let (found_place, message) = one(text);
        assert_eq!(found_place, expected_place, "{text}");
        assert!(message.contains(hint), "{text}: {message}");
        assert!(message.contains("unknown key"), "{message}");
    }
}

#[test]
fn unknown_keys_without_a_close_match_list_the_allowed_keys() {
    let (place_found, message) = one("automation:\n  output:\n    banana: 1\n");
    assert_eq!(place_found, place(3, "automation.output.banana"));
    assert!(
        message.contains("the keys allowed here are `open_pr`, `push_direct`"),
        "{message}"
    );
}

#[test]
fn wrong_types_say_what_was_expected_and_found() {
    let cases = [
        (
            "automation:\n  tasks:\n    refactor:\n      max_tokens: lots\n",
            place(4, "automation.tasks.refactor.max_tokens"),
            "expected a whole number, found `lots`",
        ),
        (
            "automation:\n  approval:\n    required: yes\n",
            place(3, "automation.approval.required"),
            "expected `true` or `false`, found `yes`",
        ),
        (
            "automation:\n  triggers:\n    push:\n      tasks: test\n",
            place(4, "automation.triggers.push.tasks"),
            "expected a list, found `test`",
        ),
        (
            "automation:\n  tasks:\n    - refactor\n",
            place(3, "automation.tasks"),
            "expected a mapping of keys to values, found a list",
        ),
        (
            "automation: on\n",
            place(1, "automation"),
            "expected a mapping of keys to values, found `on`",
        ),
        ("- version: 1\n", place(1, ""), "found a list"),
        (
            "version: one\n",
            place(1, "version"),
            "expected a whole number, found `one`",
        ),
        (
            "automation:\n  triggers:\n    push:\n      tasks: [test, ~]\n",
            place(4, "automation.triggers.push.tasks[1]"),
            "expected text, found an empty value",
        ),
    ];
    for (text, expected_place, reason) in cases {
        let (found_place, message) = one(text);
        assert_eq!(found_place, expected_place, "{text}");
        assert!(message.contains(reason), "{text}: {message}");
    }
}

#[test]
fn a_type_error_inside_a_custom_task_names_the_task() {
    let text = "\
automation:
  tasks:
    lint:
      prompt: Lint.
    bump:
      prompt: Bump.
      max_tokens: [1]
";
    assert_eq!(one(text).0, place(7, "automation.tasks.bump.max_tokens"));
    let (found_place, message) = one("automation:\n  tasks:\n    lint: yes\n");
    assert_eq!(found_place, place(3, "automation.tasks.lint"));
    assert!(
        message.contains("expected a mapping of keys to values, found `yes`"),
        "{message}"
    );
}

#[test]
fn bad_durations_are_reported_with_the_accepted_forms() {
    for bad in ["30x", "1.5h", "-5m", "30 minutes", "m", "30m1h", "\"\""] {
        let text = format!("automation:\n  tasks:\n    refactor:\n      timeout: {bad}\n");
        let (found_place, message) = one(&text);
        assert_eq!(
            found_place,
            place(4, "automation.tasks.refactor.timeout"),
            "{bad}"
        );
        assert!(message.contains("is not a duration"), "{bad}: {message}");
        assert!(message.contains("`1h30m`"), "{message}");
    }
    for (bad, reason) in [
        ("0", "more than 0"),
        ("-3", "more than 0"),
        ("0s", "more than 0"),
        ("7h", "longer than 6h"),
    ] {
        let text = format!("automation:\n  defaults:\n    timeout: {bad}\n");
        let (found_place, message) = one(&text);
        assert_eq!(
            found_place,
            place(3, "automation.defaults.timeout"),
            "{bad}"
        );
        assert!(message.contains(reason), "{bad}: {message}");
    }
}

#[test]
fn token_budgets_must_be_positive_and_sane() {
    for (bad, reason) in [
        ("0", "more than 0"),
        ("-1", "more than 0"),
        ("1000000", "more than 262144"),
    ] {
        let text = format!("automation:\n  tasks:\n    test:\n      max_tokens: {bad}\n");
        let (found_place, message) = one(&text);
        assert_eq!(found_place, place(4, "automation.tasks.test.max_tokens"));
        assert!(message.contains(reason), "{bad}: {message}");
    }
}

#[test]
fn invalid_task_names_are_reported_at_their_key() {
    let text = "\
automation:
  tasks:
    Lint:
      prompt: Lint.
    2fast:
      prompt: Go.
    help:
      prompt: Help.
    has.dot:
      prompt: Dot.
    Refactor:
      timeout: 5m
";
    let found = problems(text);
    let summary: Vec<(u64, &str)> = found
        .iter()
        .map(|p| (p.position.map_or(0, |p| p.line), p.field.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            (3, "automation.tasks.Lint"),
            (5, "automation.tasks.2fast"),
            (7, "automation.tasks.help"),
            (9, "automation.tasks.has.dot"),
            (11, "automation.tasks.Refactor"),
        ]
    );
    let messages: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert!(
        messages[0].contains("write it in lowercase: `lint`"),
        "{}",
        messages[0]
    );
    assert!(
        messages[1].contains("must start with a lowercase letter"),
        "{}",
        messages[1]
    );
    assert!(messages[2].contains("reserved"), "{}", messages[2]);
    assert!(messages[4].contains("`refactor`"), "{}", messages[4]);
    let long = format!(
        "automation:\n  tasks:\n    {}:\n      prompt: x\n",
        "a".repeat(33)
    );
    assert!(one(&long).1.contains("longer than 32 characters"));
}

#[test]
fn a_custom_task_needs_a_prompt() {
    let (found_place, message) =
        one("automation:\n  tasks:\n    lint:\n      command: make lint\n");
    assert_eq!(found_place, place(3, "automation.tasks.lint"));
    assert!(
        message.contains("custom task `lint` has no `prompt`"),
        "{message}"
    );
    assert_eq!(
        one("automation:\n  tasks:\n    lint:\n").0,
        place(3, "automation.tasks.lint")
    );
}

#[test]
fn task_text_must_say_something() {
    let text = "\
automation:
  tasks:
    fix:
      command: \"  \"
      description: \"two\\nlines\"
    review:
      description: \"\"
      model: \"qwen coder\"
";
    assert_eq!(
        places(text),
        [
            place(4, "automation.tasks.fix.command"),
            place(5, "automation.tasks.fix.description"),
            place(7, "automation.tasks.review.description"),
            place(8, "automation.tasks.review.model"),
        ]
    );
}

#[test]
fn triggers_must_name_tasks_that_exist() {
    let text = "\
automation:
  tasks:
    lint:
      prompt: Lint.
  triggers:
    comment:
      tasks: [review, lnit]
    pr_opened:
      tasks: []
    push:
      branches: [main]
    check_suite:
      tasks: [tset]
";
    let found = problems(text);
    let messages: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert_eq!(
        places(text),
        [
            place(7, "automation.triggers.comment.tasks[1]"),
            place(9, "automation.triggers.pr_opened.tasks"),
            place(11, "automation.triggers.push.tasks"),
            place(13, "automation.triggers.check_suite.tasks[0]"),
        ]
    );
    assert!(
        messages[0].contains("there is no task `lnit`")
            && messages[0].contains("did you mean `lint`?")
    );
    assert!(
        messages[1].contains("`pr_opened` is on but lists no tasks"),
        "{}",
        messages[1]
    );
    assert!(
        messages[1].contains("add `tasks: [review]`"),
        "{}",
        messages[1]
    );
    assert!(
        messages[3].contains("did you mean `test`?"),
        "{}",
        messages[3]
    );
}

#[test]
fn trigger_settings_are_checked() {
    let text = "\
automation:
  triggers:
    pr_opened:
      actions: []
      tasks: [review]
    push:
      branches: [main, refs/heads/dev, \"bad branch\"]
      tasks: [test]
    schedule:
      cron: \"61 * * * *\"
      tasks: [docs]
";
    assert_eq!(
        places(text),
        [
            place(4, "automation.triggers.pr_opened.actions"),
            place(7, "automation.triggers.push.branches[1]"),
            place(7, "automation.triggers.push.branches[2]"),
            place(10, "automation.triggers.schedule.cron"),
        ]
    );
    let (found_place, message) =
        one("automation:\n  triggers:\n    pr_opened:\n      actions: [opend]\n");
    assert_eq!(
        found_place,
        place(4, "automation.triggers.pr_opened.actions[0]")
    );
    assert!(message.contains("did you mean `opened`?"), "{message}");
    let (found_place, message) =
        one("automation:\n  triggers:\n    schedule:\n      tasks: [docs]\n");
    assert_eq!(found_place.1, "automation.triggers.schedule");
    assert!(message.contains("has no `cron`"), "{message}");
}

#[test]
fn a_schedules_time_zone_must_be_an_iana_name() {
    let (found_place, message) = one(
        "automation:\n  triggers:\n    schedule:\n      cron: \"0 3 * * 1\"\n      timezone: Europe/Berlyn\n      tasks: [deps]\n",
    );
    assert_eq!(
        found_place,
        place(5, "automation.triggers.schedule.timezone")
    );
    assert!(
        message.contains("`Europe/Berlyn` is not a time zone of the IANA database"),
        "{message}"
    );
}

#[test]
fn open_pr_and_push_direct_both_true_is_an_error() {
    let text = "automation:\n  output:\n    open_pr: true\n    push_direct: true\n";
    let (found_place, message) = one(text);
    assert_eq!(found_place, place(4, "automation.output.push_direct"));
    assert!(message.contains("both `true`"), "{message}");
}

#[test]
fn unknown_merge_settings_are_named_with_the_values_there_are() {
    let (found_place, message) = one("automation:\n  output:\n    merge: after_aproval\n");
    assert_eq!(found_place, place(3, "automation.output.merge"));
    assert!(
        message.contains("`after_aproval` is not a merge setting"),
        "{message}"
    );
    assert!(
        message.contains("did you mean `after_approval`?"),
        "{message}"
    );

    let (found_place, message) = one("automation:\n  output:\n    merge: always\n");
    assert_eq!(found_place, place(3, "automation.output.merge"));
    assert!(
        message.contains("write one of `never`, `after_approval`"),
        "{message}"
    );

    let text =
        "automation:\n  output:\n    merge: after_approval\n    merge_method: fast-forward\n";
    let (found_place, message) = one(text);
    assert_eq!(found_place, place(4, "automation.output.merge_method"));
    assert!(
        message.contains("`fast-forward` is not a merge method"),
        "{message}"
    );
    assert!(message.contains("`merge`, `squash`, `rebase`"), "{message}");

    let (found_place, message) = one("automation:\n  output:\n    merge: true\n");
    assert_eq!(found_place, place(3, "automation.output.merge"));
    assert!(message.contains("after_approval"), "{message}");
}

#[test]
fn only_version_1_is_read() {
    assert!(RepoConfig::parse("version: 1\n").is_ok());
    for bad in ["2", "0", "-1"] {
        let (found_place, message) = one(&format!("version: {bad}\n"));
        assert_eq!(found_place, place(1, "version"));
        assert!(message.contains("reads version 1"), "{message}");
    }
}

#[test]
fn duplicate_keys_and_extra_documents_are_errors() {
    assert_eq!(one("version: 1\nversion: 1\n").0, place(2, "version"));
    let text = "automation:\n  tasks:\n    lint:\n      prompt: a\n    lint:\n      prompt: b\n";
    let (found_place, message) = one(text);
    assert_eq!(found_place, place(5, "automation.tasks.lint"));
    assert!(message.contains("set twice"), "{message}");
    let (found_place, message) = one("version: 1\n---\nversion: 1\n");
    assert_eq!(found_place.0, 3);
    assert!(message.contains("more than one YAML document"), "{message}");
}

#[test]
fn all_value_problems_are_reported_at_once_in_file_order() {
    let text = "\
version: 2
automation:
  output:
    open_pr: true
    push_direct: true
  tasks:
    refactor:
      timeout: 30x
      max_tokens: 0
    Lint:
      prompt: Lint.
  triggers:
    push:
      tasks: [tset]
";
    assert_eq!(
        places(text),
        [
            place(1, "version"),
            place(5, "automation.output.push_direct"),
            place(8, "automation.tasks.refactor.timeout"),
            place(9, "automation.tasks.refactor.max_tokens"),
            place(10, "automation.tasks.Lint"),
            place(14, "automation.triggers.push.tasks[0]"),
        ]
    );
}

#[test]
fn columns_point_at_the_value() {
    let found = problems("automation:\n  tasks:\n    refactor:\n      timeout: 30x\n");
    let position = found[0].position.expect("has a position");
    assert_eq!((position.line, position.column), (4, 16));
}

#[test]
fn the_comment_lists_every_problem_and_what_to_do() {
    let text = "\
automation:
  tasks:
    refactor:
      timeout: 30x
  triggers:
    push:
      tasks: [tset]
  output:
    open_pr: true
    push_direct: true
";
    let errors: ConfigErrors = RepoConfig::parse(text).expect_err("invalid");
    insta::assert_snapshot!("three_problems", config_errors_comment(&errors));
    let errors = RepoConfig::parse("automation:\n  tasks:\n    refactor:\n      timout: 30m\n")
        .expect_err("invalid");
    insta::assert_snapshot!("one_problem", config_errors_comment(&errors));
}

#[test]
fn problems_keep_their_kind_for_callers() {
    let found = problems("automation:\n  tasks:\n    refactor:\n      timout: 30m\n");
    assert_eq!(
        found[0].kind,
        ProblemKind::UnknownKey {
            key: "timout".to_owned(),
            expected: [
                "description",
                "prompt",
                "command",
                "model",
                "hosted_model",
                "max_tokens",
                "timeout",
                "auto_fix",
                "directory",
                "candidates",
                "plan",
                "think",
                "temperature",
                "top_p",
                "top_k",
                "seed"
            ]
            .map(str::to_owned)
            .to_vec(),
        }
    );
}
