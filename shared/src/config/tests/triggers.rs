//! The `labeled` trigger and the `paths` filters: valid files, and each mistake reported
//! at its line.

use super::{names, one, parse, place, places};
use crate::config::{ConfigErrors, RepoConfig, config_errors_comment, limits};

#[test]
fn label_triggers_resolve_in_file_order() {
    let config = parse(
        "\
automation:
  triggers:
    labeled:
      - label: \" ollama:fix \"
        tasks: [fix, test]
      - {label: ollama:docs, tasks: [docs]}
",
    );
    let labeled = &config.triggers.labeled;
    assert_eq!(labeled.len(), 2);
    assert_eq!(labeled[0].label, "ollama:fix");
    assert_eq!(names(&labeled[0].tasks), ["fix", "test"]);
    assert_eq!(
        names(config.triggers.tasks_for_label("OLLAMA:DOCS")),
        ["docs"]
    );
    assert!(parse("").triggers.labeled.is_empty());
}

#[test]
fn label_mistakes_are_reported_at_their_line() {
    let text = "\
automation:
  triggers:
    labeled:
      - label: ollama:fix
        tasks: [fxi]
      - label: \"\"
        tasks: [fix]
      - label: Ollama:Fix
        tasks: [review]
      - tasks: [fix]
      - label: automation:pending
        tasks: [fix]
      - label: ollama:review
      - label: this-label-is-far-too-long-for-github-to-ever-accept-it
        tasks: [review]
";
    assert_eq!(
        places(text),
        [
            place(5, "automation.triggers.labeled[0].tasks[0]"),
            place(6, "automation.triggers.labeled[1].label"),
            place(8, "automation.triggers.labeled[2].label"),
            place(10, "automation.triggers.labeled[3].label"),
            place(11, "automation.triggers.labeled[4].label"),
            place(13, "automation.triggers.labeled[5].tasks"),
            place(14, "automation.triggers.labeled[6].label"),
        ]
    );
    let errors: ConfigErrors = RepoConfig::parse(text).expect_err("invalid");
    insta::assert_snapshot!("bad_label_triggers", config_errors_comment(&errors));
}

#[test]
fn labeled_needs_the_mapping_form() {
    let (found_place, message) = one("automation:\n  triggers: [comment, labeled]\n");
    assert_eq!(found_place, place(2, "automation.triggers[1]"));
    assert!(message.contains("`labeled` needs labels"), "{message}");
    let (_, message) = one("automation:\n  triggers: [labeld]\n");
    assert!(message.contains("did you mean `labeled`?"), "{message}");
}

#[test]
fn the_apps_own_labels_carry_the_refused_prefix() {
    for label in [
        crate::report::text::LABEL_PENDING,
        crate::report::text::LABEL_APPLIED,
        crate::report::text::LABEL_FAILED,
    ] {
        assert!(label.starts_with(limits::APP_LABEL_PREFIX), "{label}");
    }
}

#[test]
fn path_filters_resolve_for_pull_requests_and_pushes() {
    let config = parse(
        "\
automation:
  triggers:
    pr_opened:
      paths: [\"src/**\"]
      tasks: [review]
    push:
      paths_ignore: [\"docs/**\", \"**/*.md\"]
      tasks: [test]
",
    );
    let t = &config.triggers;
    assert!(t.pr_opened.paths.admits(&["src/lib.rs"]));
    assert!(!t.pr_opened.paths.admits(&["README.md"]));
    assert!(t.push.paths.is_set() && t.push.paths.paths.is_empty());
    assert!(!t.push.paths.admits(&["docs/a.txt", "README.md"]));
    assert!(!parse("").triggers.push.paths.is_set());
}

#[test]
fn path_mistakes_are_reported_at_their_line() {
    let text = "\
automation:
  triggers:
    pr_opened:
      paths: []
      tasks: [review]
    push:
      paths:
        - \"src/[oops\"
        - /docs/**
      paths_ignore: [\"{a,b\", \"ok/**\"]
      tasks: [test]
";
    assert_eq!(
        places(text),
        [
            place(4, "automation.triggers.pr_opened.paths"),
            place(8, "automation.triggers.push.paths[0]"),
            place(9, "automation.triggers.push.paths[1]"),
            place(10, "automation.triggers.push.paths_ignore[0]"),
        ]
    );
    let errors: ConfigErrors = RepoConfig::parse(text).expect_err("invalid");
    insta::assert_snapshot!("bad_path_filters", config_errors_comment(&errors));
}

#[test]
fn a_task_directory_is_checked_at_its_line() {
    let config = parse("automation:\n  tasks:\n    test:\n      directory: packages/api/\n");
    let test = config.task("test").expect("built-in");
    assert_eq!(test.directory.as_deref(), Some("packages/api"));
    assert_eq!(config.task("refactor").expect("built-in").directory, None);
    let text = "\
automation:
  tasks:
    test:
      directory: ../elsewhere
    lint:
      prompt: Lint.
      directory: /srv/app
";
    assert_eq!(
        places(text),
        [
            place(4, "automation.tasks.test.directory"),
            place(7, "automation.tasks.lint.directory"),
        ]
    );
    let errors: ConfigErrors = RepoConfig::parse(text).expect_err("invalid");
    insta::assert_snapshot!("bad_task_directories", config_errors_comment(&errors));
}
