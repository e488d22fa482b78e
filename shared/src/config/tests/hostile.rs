//! Size limits and hostile or awkward YAML: anchors and aliases, tabs, nesting.

use std::time::{Duration, Instant};

use super::{one, parse, place};
use crate::config::limits::MAX_FILE_BYTES;
use crate::config::{ProblemKind, RepoConfig};

#[test]
fn a_file_over_the_limit_is_rejected_before_parsing() {
    // Not even YAML: had it been parsed, the error would be a syntax error.
    let huge = "[".repeat(MAX_FILE_BYTES + 1);
    let errors = RepoConfig::parse(&huge).expect_err("too large");
    assert_eq!(
        errors.problems()[0].kind,
        ProblemKind::TooLarge {
            size: MAX_FILE_BYTES + 1,
            limit: MAX_FILE_BYTES
        }
    );
    assert_eq!(errors.problems()[0].position, None);
    let mut at_limit = "# padding\n".repeat(MAX_FILE_BYTES / 10);
    at_limit.push_str(&"#".repeat(MAX_FILE_BYTES - at_limit.len()));
    assert_eq!(at_limit.len(), MAX_FILE_BYTES);
    assert_eq!(parse(&at_limit), RepoConfig::default());
}

#[test]
fn anchors_aliases_and_merge_keys_work() {
    let config = parse(
        "\
automation:
  tasks:
    test: &checked
      command: cargo test
      auto_fix: true
    fix:
      <<: *checked
      timeout: 45m
    lint:
      <<: *checked
      prompt: &lint Fix what clippy reports.
    review:
      prompt: *lint
",
    );
    let fix = config.task("fix").expect("built-in");
    assert_eq!(fix.command.as_deref(), Some("cargo test"));
    assert_eq!(fix.timeout, Duration::from_secs(45 * 60));
    let lint = config.task("lint").expect("custom");
    assert!(lint.auto_fix && lint.command.is_some());
    assert_eq!(
        config.task("review").and_then(|t| t.prompt.as_deref()),
        Some("Fix what clippy reports.")
    );
}

#[test]
fn an_error_reached_through_an_alias_is_reported_where_the_alias_is_used() {
    let text = "\
automation:
  tasks:
    test: &t
      timeout: 5m
    fix:
      prompt: *t
";
    let (found_place, message) = one(text);
    assert_eq!(found_place, place(6, "automation.tasks.fix.prompt"));
    assert!(message.contains("expected text"), "{message}");
}

/// Ten anchors, each a list of ten aliases to the previous one: 10^10 nodes if expanded.
fn laughs(indent: &str) -> String {
    let mut text = format!("{indent}a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for level in 1..10 {
        let previous = format!("*a{}", level - 1);
        let list = [previous.as_str(); 10].join(", ");
        text.push_str(&format!("{indent}a{level}: &a{level} [{list}]\n"));
    }
    text
}

#[test]
fn an_alias_bomb_is_stopped_quickly() {
    // A type error inside a task makes the parser read the file a second time, loosely,
    // to name the task; that second reading walks the bomb and must stop too.
    let text = format!(
        "automation:\n  tasks:\n    lint:\n      prompt: [1]\nbomb:\n{}",
        laughs("  ")
    );
    let started = Instant::now();
    let errors = RepoConfig::parse(&text).expect_err("invalid");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(errors.problems()[0].position.map(|p| p.line), Some(4));
    assert!(errors.problems()[0].field.ends_with(".prompt"));

    // Expanded where the strict types read it: stopped at the first nested list.
    let text = format!(
        "{}automation:\n  triggers:\n    push:\n      branches: *a9\n",
        laughs("")
    );
    let started = Instant::now();
    assert!(RepoConfig::parse(&text).is_err());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn too_many_aliases_are_refused() {
    let aliases = ["*b"; 300].join(", ");
    let text = format!("automation:\n  triggers:\n    push:\n      tasks: [&b test, {aliases}]\n");
    let (_, message) = one(&text);
    assert!(message.contains("too complex"), "{message}");
}

#[test]
fn deep_nesting_is_refused() {
    let text = format!(
        "automation:\n  tasks: {}{}\n",
        "{a: ".repeat(40),
        "}".repeat(40)
    );
    assert!(RepoConfig::parse(&text).is_err());
    let text = format!("x: {}{}\n", "[".repeat(1000), "]".repeat(1000));
    assert!(RepoConfig::parse(&text).is_err());
}

#[test]
fn tabs_in_indentation_are_reported_with_a_hint() {
    let (found_place, message) = one("automation:\n\ttasks: {}\n");
    assert_eq!(found_place.0, 2);
    assert!(message.contains("indent with spaces"), "{message}");
    let (found_place, message) = one("automation:\n  tasks:\n    refactor:\n\t  timeout: 3\n");
    assert_eq!(found_place.0, 4);
    assert!(message.contains("indent with spaces"), "{message}");
    // A tab inside a value is just a character.
    let config = parse("automation:\n  tasks:\n    fix:\n      prompt: \"a\\tb\"\n");
    assert_eq!(
        config.task("fix").and_then(|t| t.prompt.as_deref()),
        Some("a\tb")
    );
}

#[test]
fn syntax_errors_have_a_line() {
    for (text, line) in [
        (
            "automation:\n  tasks:\n    fix:\n      prompt: \"unclosed\n",
            4,
        ),
        // Reported where the bracket opens.
        ("automation: {tasks: {}\n", 1),
        (
            "automation:\n  tasks:\n    fix:\n      prompt: a\n     command: b\n",
            5,
        ),
        ("version: 1\n  automation: {}\n", 1),
    ] {
        let found = super::problems(text);
        assert_eq!(found.len(), 1, "{text}");
        assert_eq!(
            found[0].position.map(|p| p.line),
            Some(line),
            "{text}: {}",
            found[0]
        );
    }
}
