//! Parsing `.ollama-turbo.yml` files from strings: valid files and what they resolve to.
//! Error cases are in [`errors`], limits and hostile YAML in [`hostile`].

mod errors;
mod hostile;
mod layers;
mod task_settings;
mod triggers;

use std::time::Duration;

use super::*;

/// The user reference, included so that its YAML examples are tested as files: every one
/// must be valid, and the first is the complete example.
const CONFIG_DOC: &str = include_str!("../../../../docs/config.md");

pub(super) fn parse(text: &str) -> RepoConfig {
    match RepoConfig::parse(text) {
        Ok(config) => config,
        Err(errors) => panic!("expected a valid file, got: {errors}\n---\n{text}"),
    }
}

pub(super) fn problems(text: &str) -> Vec<Problem> {
    match RepoConfig::parse(text) {
        Ok(config) => panic!("expected problems, got {config:?}\n---\n{text}"),
        Err(errors) => errors.problems().to_vec(),
    }
}

/// The only problem in `text`, as `(line, field)`, with its message.
pub(super) fn one(text: &str) -> ((u64, String), String) {
    let found = problems(text);
    assert_eq!(found.len(), 1, "expected one problem: {found:#?}");
    let problem = &found[0];
    let line = problem.position.map_or(0, |p| p.line);
    ((line, problem.field.clone()), problem.to_string())
}

/// `(line, field)` of each problem, in file order.
pub(super) fn places(text: &str) -> Vec<(u64, String)> {
    problems(text)
        .iter()
        .map(|p| (p.position.map_or(0, |p| p.line), p.field.clone()))
        .collect()
}

pub(super) fn place(line: u64, field: &str) -> (u64, String) {
    (line, field.to_owned())
}

fn names(list: &[TaskName]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

/// The YAML blocks of a Markdown text.
fn yaml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```yaml") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

#[test]
fn an_empty_file_is_the_default() {
    for text in [
        "",
        "\n",
        "# only a comment\n",
        "---\n",
        "---\n...\n",
        "automation:\n",
    ] {
        assert_eq!(parse(text), RepoConfig::default(), "{text:?}");
    }
}

#[test]
fn the_default_has_the_builtin_tasks_and_comments_on() {
    let config = RepoConfig::default();
    assert_eq!(config.version, 1);
    let listed: Vec<&str> = config.task_names().map(TaskName::as_str).collect();
    assert_eq!(
        listed,
        [
            "deps", "docs", "fix", "refactor", "resolve", "review", "test"
        ]
    );
    let refactor = config.task("refactor").expect("built-in");
    assert_eq!(refactor.builtin, Some(BuiltinTask::Refactor));
    assert_eq!(refactor.model, "qwen3-coder:30b");
    assert_eq!(refactor.max_tokens, 16_384);
    assert_eq!(refactor.timeout, Duration::from_secs(30 * 60));
    assert!(refactor.auto_fix);
    assert_eq!(refactor.command, None);
    assert_eq!(
        config.task("review").map(|t| t.timeout.as_secs()),
        Some(15 * 60)
    );
    assert_eq!(
        config.task("review").map(|t| t.deliverable),
        Some(Deliverable::Review)
    );
    assert!(
        config
            .task("review")
            .is_some_and(|t| !t.deliverable.edits_code())
    );
    assert_eq!(config.task("lint"), None);
    assert!(config.triggers.comment.allows("refactor"));
    assert!(!config.triggers.pr_opened.enabled);
    assert!(!config.triggers.push.enabled);
    assert!(!config.triggers.check_suite.enabled);
    assert!(!config.triggers.schedule.enabled);
    assert_eq!(config.approval, Approval::default());
    assert!(!config.approval.required && !config.approval.maintainers_only);
    assert!(!config.approval.allow_self_approval);
    assert_eq!(config.output, OutputMode::PullRequest);
}

#[test]
fn the_complete_example_in_the_docs_resolves_as_described() {
    let blocks = yaml_blocks(CONFIG_DOC);
    let config = parse(&blocks[0]);
    let t = &config.triggers;
    assert!(t.comment.allows("lint") && !t.comment.allows("nothing"));
    assert_eq!(names(t.pr_opened.tasks_for(PrAction::Opened)), ["review"]);
    assert!(t.pr_opened.tasks_for(PrAction::Reopened).is_empty());
    assert_eq!(names(t.push.tasks_for("release/2.0", "main")), ["fix"]);
    assert!(t.push.tasks_for("feature/x", "main").is_empty());
    assert!(!t.check_suite.enabled && t.check_suite.tasks_for_rerequested().is_empty());
    assert_eq!(names(t.tasks_for_label("ollama:fix")), ["fix"]);
    let (cron, tasks) = t.schedule.active().expect("the schedule is on");
    assert_eq!(cron.as_str(), "0 3 * * 1");
    assert_eq!(names(tasks), ["deps"]);
    assert_eq!(t.schedule.timezone.name(), "Europe/Berlin");

    let refactor = config.task("refactor").expect("built-in");
    assert_eq!(refactor.command.as_deref(), Some("cargo test --workspace"));
    assert_eq!(refactor.max_tokens, 32_768);
    assert_eq!(refactor.timeout, Duration::from_secs(45 * 60));
    assert_eq!(refactor.description, BuiltinTask::Refactor.description());
    let review = config.task("review").expect("built-in");
    assert_eq!(review.model, "gpt-oss:20b");
    assert!(
        review
            .prompt
            .as_deref()
            .is_some_and(|p| p.starts_with("Point out"))
    );
    assert_eq!(
        review.timeout,
        Duration::from_secs(30 * 60),
        "from automation.defaults"
    );
    let lint = config.task("lint").expect("custom");
    assert_eq!(lint.builtin, None);
    assert_eq!(lint.description, "Fix clippy warnings");
    assert!(
        lint.prompt
            .as_deref()
            .is_some_and(|p| p.ends_with("behaviour.\n"))
    );
    assert_eq!(lint.timeout, Duration::from_secs(20 * 60));
    assert!(lint.auto_fix && lint.deliverable.edits_code());
    assert_eq!(lint.deliverable, Deliverable::PullRequest);
    assert_eq!(
        review.deliverable,
        Deliverable::Review,
        "overriding keeps it"
    );
    assert_eq!(lint.model, "qwen3-coder:30b");
    assert_eq!(config.task_names().count(), 8);

    assert!(config.approval.required && config.approval.maintainers_only);
    assert_eq!(config.output, OutputMode::PullRequest);
}

#[test]
fn every_yaml_example_in_the_docs_is_a_valid_file() {
    let blocks = yaml_blocks(CONFIG_DOC);
    assert!(blocks.len() >= 6, "found {} yaml blocks", blocks.len());
    for block in blocks {
        parse(&block);
    }
}

#[test]
fn a_builtin_entry_changes_only_the_keys_it_sets() {
    let config = parse(
        "\
automation:
  tasks:
    test:
      command: npm test
    docs:
",
    );
    let test = config.task("test").expect("built-in");
    assert_eq!(test.command.as_deref(), Some("npm test"));
    assert_eq!(
        test,
        &TaskConfig {
            command: Some("npm test".to_owned()),
            ..TaskConfig::builtin(BuiltinTask::Test)
        }
    );
    assert_eq!(
        config.task("docs"),
        Some(&TaskConfig::builtin(BuiltinTask::Docs))
    );
}

#[test]
fn task_keys_win_over_defaults_which_win_over_builtins() {
    let config = parse(
        "\
automation:
  defaults:
    model: llama3.1:8b
    max_tokens: 4096
    timeout: 10m
  tasks:
    fix:
      model: qwen3-coder:30b
      timeout: 90
    notes:
      prompt: Write release notes.
",
    );
    let fix = config.task("fix").expect("built-in");
    assert_eq!(
        (fix.model.as_str(), fix.max_tokens, fix.timeout.as_secs()),
        ("qwen3-coder:30b", 4096, 90)
    );
    let review = config.task("review").expect("built-in");
    assert_eq!(
        (review.model.as_str(), review.timeout.as_secs()),
        ("llama3.1:8b", 600)
    );
    let notes = config.task("notes").expect("custom");
    assert_eq!(
        (
            notes.model.as_str(),
            notes.max_tokens,
            notes.timeout.as_secs()
        ),
        ("llama3.1:8b", 4096, 600)
    );
    assert_eq!(notes.description, "Write release notes.");
    assert!(!notes.auto_fix);
}

#[test]
fn every_configured_task_has_one_deliverable() {
    let config = parse(
        "\
automation:
  tasks:
    review:
      prompt: Look for missing tests.
      command: cargo test
      auto_fix: true
    docs:
      command: mdbook build
    bump-deps:
      prompt: Update the dependencies.
",
    );
    let delivered: Vec<(&str, Deliverable)> = config
        .task_names()
        .filter_map(|name| config.task(name.as_str()))
        .map(|task| (task.name.as_str(), task.deliverable))
        .collect();
    assert_eq!(
        delivered,
        [
            ("bump-deps", Deliverable::PullRequest),
            ("deps", Deliverable::PullRequest),
            ("docs", Deliverable::PullRequest),
            ("fix", Deliverable::PullRequest),
            ("refactor", Deliverable::PullRequest),
            ("resolve", Deliverable::PullRequest),
            ("review", Deliverable::Review),
            ("test", Deliverable::PullRequest),
        ],
        "a built-in task keeps its deliverable whatever keys the file sets"
    );
}

#[test]
fn durations_take_seconds_or_units() {
    for (written, seconds) in [
        ("90", 90),
        ("\"90\"", 90),
        ("90s", 90),
        ("30m", 1800),
        ("1h30m", 5400),
        ("6h", 21_600),
    ] {
        let config = parse(&format!(
            "automation:\n  tasks:\n    fix:\n      timeout: {written}\n"
        ));
        assert_eq!(
            config.task("fix").map(|t| t.timeout.as_secs()),
            Some(seconds),
            "{written}"
        );
    }
}

#[test]
fn output_modes() {
    let mode = |text: &str| parse(text).output;
    assert_eq!(
        mode("automation:\n  output:\n    push_direct: true\n"),
        OutputMode::PushDirect
    );
    assert_eq!(
        mode("automation:\n  output:\n    push_direct: true\n    open_pr: false\n"),
        OutputMode::PushDirect
    );
    assert_eq!(
        mode("automation:\n  output:\n    open_pr: false\n"),
        OutputMode::BranchOnly
    );
    assert_eq!(
        mode("automation:\n  output:\n    open_pr: true\n"),
        OutputMode::PullRequest
    );
}

#[test]
fn triggers_written_are_on_unless_disabled() {
    let config = parse(
        "\
automation:
  triggers:
    comment:
      enabled: false
    push:
      tasks: [test, test]
    check_suite:
      tasks: [fix]
    pr_opened:
      enabled: false
",
    );
    let t = &config.triggers;
    assert!(!t.comment.enabled && !t.comment.allows("test"));
    assert!(t.push.enabled && t.push.branches.is_empty());
    assert_eq!(
        names(t.push.tasks_for("main", "main")),
        ["test"],
        "deduplicated"
    );
    assert_eq!(names(t.check_suite.tasks_for_rerequested()), ["fix"]);
    assert!(!t.pr_opened.enabled, "off, so no tasks needed");
}

#[test]
fn approval_keys() {
    let config = parse(
        "automation:\n  approval:\n    required: true\n    maintainers_only: false\n    allow_self_approval: true\n",
    );
    assert_eq!(
        config.approval,
        Approval {
            required: true,
            maintainers_only: false,
            allow_self_approval: true
        }
    );
}

#[test]
fn parse_bytes_checks_size_and_encoding_first() {
    assert_eq!(
        RepoConfig::parse_bytes(b"version: 1\n"),
        Ok(RepoConfig::default())
    );
    let errors = RepoConfig::parse_bytes(b"version: \xff\n").expect_err("not UTF-8");
    assert_eq!(
        errors.problems()[0].kind,
        ProblemKind::NotUtf8 { utf16: false }
    );
    let huge = vec![b'\xff'; limits::MAX_FILE_BYTES + 1];
    let errors = RepoConfig::parse_bytes(&huge).expect_err("too large");
    assert!(matches!(
        errors.problems()[0].kind,
        ProblemKind::TooLarge { .. }
    ));
}

#[test]
fn the_error_example_in_the_docs_is_what_the_bot_says() {
    let section = CONFIG_DOC
        .split("## When the file is wrong")
        .nth(1)
        .expect("the docs have the section");
    let example = section
        .split("```text\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the section has an example file");
    let errors = RepoConfig::parse(example).expect_err("the example is invalid");
    let comment = config_errors_comment(&errors);
    let listed: Vec<&str> = comment
        .lines()
        .filter(|line| line.starts_with("- "))
        .collect();
    assert_eq!(listed.len(), 3);
    for line in listed {
        assert!(
            section.contains(&format!("> {line}\n")),
            "docs lack: {line}"
        );
    }
}

#[test]
fn an_empty_value_counts_as_not_written() {
    let config = parse(
        "\
automation:
  triggers:
  tasks:
    fix:
      model:
      timeout:
  approval:
",
    );
    assert_eq!(config, RepoConfig::default());
}

#[test]
fn merge_is_off_unless_asked_for_and_merges_with_a_merge_commit_by_default() {
    let default = RepoConfig::default();
    assert_eq!(default.merge, MergeWhen::Never);
    assert_eq!(default.merge_method, MergeMethod::Merge);
    let plain = parse("automation:\n  output:\n    open_pr: true\n");
    assert_eq!(
        (plain.merge, plain.merge_method),
        (MergeWhen::Never, MergeMethod::Merge)
    );

    let on = parse("automation:\n  output:\n    merge: after_approval\n");
    assert_eq!(
        (on.merge, on.merge_method),
        (MergeWhen::AfterApproval, MergeMethod::Merge)
    );
    for (name, method) in [
        ("merge", MergeMethod::Merge),
        ("squash", MergeMethod::Squash),
        ("rebase", MergeMethod::Rebase),
    ] {
        let config = parse(&format!(
            "automation:\n  output:\n    merge: after_approval\n    merge_method: {name}\n"
        ));
        assert_eq!(config.merge_method, method);
        assert_eq!(method.as_str(), name);
    }
    let off = parse("automation:\n  output:\n    merge: never\n    merge_method: squash\n");
    assert_eq!(off.merge, MergeWhen::Never);
}

#[test]
fn ci_failed_takes_tasks_paths_and_max_attempts() {
    let config = parse(
        "\
automation:
  triggers:
    ci_failed:
      tasks: [fix]
      paths_ignore: [\"docs/**\"]
  output:
    push_to_pr_branch: true
",
    );
    let t = &config.triggers.ci_failed;
    assert_eq!(names(t.tasks()), ["fix"]);
    assert_eq!(t.max_attempts, DEFAULT_CI_FIX_ATTEMPTS);
    assert!(t.paths.is_set());
    assert!(config.push_to_pr_branch);
    assert_eq!(
        config.output,
        OutputMode::PullRequest,
        "unchanged for others"
    );

    let listed = parse("automation:\n  triggers: [ci_failed]\n");
    assert_eq!(names(listed.triggers.ci_failed.tasks()), ["fix"]);
    assert!(!RepoConfig::default().push_to_pr_branch);
    assert!(RepoConfig::default().triggers.ci_failed.tasks().is_empty());

    let set = parse(
        "automation:\n  triggers:\n    ci_failed:\n      tasks: [fix]\n      max_attempts: 5\n",
    );
    assert_eq!(set.triggers.ci_failed.max_attempts, 5);
}

#[test]
fn ci_failed_max_attempts_is_bounded() {
    for bad in ["0", "11", "-1"] {
        let (found, message) = one(&format!(
            "automation:\n  triggers:\n    ci_failed:\n      tasks: [fix]\n      max_attempts: {bad}\n"
        ));
        assert_eq!(
            found,
            place(5, "automation.triggers.ci_failed.max_attempts")
        );
        assert!(message.contains("between 1 and 10"), "{message}");
    }
}
