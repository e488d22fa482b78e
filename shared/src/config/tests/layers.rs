//! The organisation's defaults under a repository's file, and `allowed_overrides`.

use std::time::Duration;

use super::super::*;
use crate::ids::RepoFullName;

const BASE: &str = "\
version: 1
automation:
  defaults:
    model: org-model:7b
    timeout: 20m
  tasks:
    changelog:
      description: Update the changelog
      prompt: Add the merged changes to CHANGELOG.md.
      timeout: 5m
    test:
      model: test-model:1b
  triggers:
    pr_opened:
      tasks: [review]
    comment:
      enabled: true
  approval:
    required: true
  output:
    push_direct: true
";

fn base(text: &str) -> ConfigLayers {
    ConfigLayers {
        base: Some(BaseFile {
            repo: RepoFullName::new("acme/.github"),
            text: text.to_owned(),
        }),
        overrides: None,
    }
}

fn allowing(layers: ConfigLayers, paths: &[&str]) -> ConfigLayers {
    ConfigLayers {
        overrides: Some(AllowedOverrides {
            policy: "strict".to_owned(),
            paths: paths.iter().map(|path| (*path).to_owned()).collect(),
        }),
        ..layers
    }
}

fn layered(text: &str, layers: &ConfigLayers) -> RepoConfig {
    match RepoConfig::parse_layered(text, layers) {
        Ok(config) => config,
        Err(errors) => panic!("expected a valid configuration, got: {errors}"),
    }
}

fn problems(text: &str, layers: &ConfigLayers) -> Vec<Problem> {
    match RepoConfig::parse_layered(text, layers) {
        Ok(config) => panic!("expected problems, got {config:?}"),
        Err(errors) => errors.problems().to_vec(),
    }
}

#[test]
fn keys_the_repository_does_not_set_come_from_the_base() {
    let config = layered("", &base(BASE));
    let changelog = config.task("changelog").expect("the base's task");
    assert_eq!(changelog.timeout, Duration::from_secs(300));
    assert_eq!(changelog.model, "org-model:7b", "the base's defaults apply");
    assert_eq!(
        config.task("test").expect("built-in").model,
        "test-model:1b"
    );
    assert_eq!(
        config.task("review").expect("built-in").timeout,
        Duration::from_secs(1200)
    );
    assert!(config.approval.required);
    assert_eq!(config.output, OutputMode::PushDirect);
    assert!(config.triggers.pr_opened.enabled);
    assert_eq!(config.layers(), &base(BASE));
}

#[test]
fn scalars_are_replaced_and_tasks_merged_by_name_and_key() {
    let repo = "\
automation:
  defaults:
    model: repo-model:14b
  tasks:
    changelog:
      timeout: 9m
    docs:
      prompt: Write the docs.
  approval:
    required: false
  output:
    open_pr: true
";
    let config = layered(repo, &base(BASE));
    let changelog = config.task("changelog").expect("merged");
    assert_eq!(
        changelog.timeout,
        Duration::from_secs(540),
        "the repository's key"
    );
    assert_eq!(
        changelog.prompt.as_deref(),
        Some("Add the merged changes to CHANGELOG.md.")
    );
    assert_eq!(changelog.description, "Update the changelog");
    assert_eq!(
        changelog.model, "repo-model:14b",
        "the repository's default wins"
    );
    assert_eq!(
        config.task("docs").expect("the repository's task").timeout,
        Duration::from_secs(1200),
        "the base's default timeout"
    );
    assert!(!config.approval.required);
    // `open_pr` and `push_direct` are one choice: the base's `push_direct` is gone.
    assert_eq!(config.output, OutputMode::PullRequest);
}

#[test]
fn trigger_sections_are_replaced_whole_and_a_list_replaces_them_all() {
    let repo = "automation:\n  triggers:\n    pr_opened:\n      enabled: false\n";
    let config = layered(repo, &base(BASE));
    assert!(!config.triggers.pr_opened.enabled);
    assert!(
        config.triggers.comment.enabled,
        "the base's comment section"
    );
    let config = layered("automation:\n  triggers: [push]\n", &base(BASE));
    assert!(config.triggers.push.enabled);
    assert!(
        !config.triggers.pr_opened.enabled,
        "the list replaced the base's sections"
    );
}

#[test]
fn without_a_base_the_file_reads_as_before() {
    let text = "automation:\n  defaults:\n    model: m:1b\n";
    assert_eq!(
        RepoConfig::parse_layered(text, &ConfigLayers::default()),
        RepoConfig::parse(text)
    );
    assert_eq!(layered("", &ConfigLayers::default()), RepoConfig::default());
}

#[test]
fn each_problem_names_its_file_and_line() {
    let bad_base =
        "automation:\n  tasks:\n    changelog:\n      timeout: forever\n      prompt: x\n";
    let repo = "automation:\n  defaults:\n    max_tokens: -1\n";
    let found = problems(repo, &base(bad_base));
    let places: Vec<(ConfigFile, u64, &str)> = found
        .iter()
        .map(|p| {
            (
                p.file.clone(),
                p.position.map_or(0, |p| p.line),
                p.field.as_str(),
            )
        })
        .collect();
    assert_eq!(
        places,
        [
            (ConfigFile::Repository, 3, "automation.defaults.max_tokens"),
            (
                ConfigFile::Base(Box::new(RepoFullName::new("acme/.github"))),
                4,
                "automation.tasks.changelog.timeout"
            ),
        ]
    );
    assert!(
        found[1].to_string().starts_with(
            "acme/.github: .ollama-turbo.yml, line 4, column 16, field \
             `automation.tasks.changelog.timeout`"
        ),
        "{}",
        found[1]
    );
    // A key merged from both files is the file's that wrote it.
    let found = problems(
        "automation:\n  tasks:\n    changelog:\n      model: ''\n",
        &base(BASE),
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].file, ConfigFile::Repository);
    // A syntax error in the base is the base's.
    let found = problems("", &base("automation: [\n"));
    assert_eq!(
        found[0].file,
        ConfigFile::Base(Box::new(RepoFullName::new("acme/.github")))
    );
}

#[test]
fn a_key_the_policy_does_not_allow_is_refused_where_the_repository_sets_it() {
    let repo = "\
automation:
  tasks:
    changelog:
      timeout: 9m
  output:
    open_pr: true
";
    let layers = allowing(base(BASE), &["automation.tasks"]);
    let allowed = repo.split("  output").next().unwrap_or_default();
    let changelog = layered(allowed, &layers)
        .task("changelog")
        .map(|task| task.timeout);
    assert_eq!(changelog, Some(Duration::from_secs(540)));
    let found = problems(repo, &layers);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].file, ConfigFile::Repository);
    assert_eq!(found[0].position.map(|p| p.line), Some(6));
    assert_eq!(found[0].field, "automation.output.open_pr");
    assert_eq!(
        found[0].to_string(),
        "line 6, column 14, field `automation.output.open_pr`: the installation policy \
         `strict` does not let a repository set `automation.output.open_pr`; its \
         `allowed_overrides` let a repository set `automation.tasks` (remove the key, so the \
         organisation's defaults apply, or ask the App's operator to allow it)"
    );
    // Without a base, the policy still limits the repository's file.
    let alone = allowing(ConfigLayers::default(), &[]);
    assert_eq!(
        problems("automation:\n  tasks:\n    lint:\n", &alone).len(),
        1
    );
    let config = layered("version: 1\n", &alone);
    assert_eq!(config.triggers, RepoConfig::default().triggers);
    assert_eq!(config.layers(), &alone);
}

#[test]
fn the_comment_lists_the_problems_under_their_files() {
    let bad_base =
        "automation:\n  tasks:\n    changelog:\n      timeout: forever\n      prompt: x\n";
    let layers = allowing(base(bad_base), &["automation.defaults"]);
    let repo = "automation:\n  defaults:\n    max_tokens: -1\n";
    let errors = RepoConfig::parse_layered(repo, &layers).expect_err("two problems");
    insta::assert_snapshot!("layered_problems", config_errors_comment(&errors));
    let errors =
        RepoConfig::parse_layered("automation:\n  approval:\n    required: false\n", &layers)
            .expect_err("forbidden");
    insta::assert_snapshot!("forbidden_override", config_errors_comment(&errors));
}

#[test]
fn merging_after_approval_comes_from_the_base_and_is_a_key_a_policy_may_hold_back() {
    let org = "automation:\n  output:\n    merge: after_approval\n    merge_method: squash\n";
    let config = layered("", &base(org));
    assert_eq!(config.merge, MergeWhen::AfterApproval);
    assert_eq!(config.merge_method, MergeMethod::Squash);
    // The repository's own method replaces the base's; the base's `merge` stays.
    let rebase = layered(
        "automation:\n  output:\n    merge_method: rebase\n",
        &base(org),
    );
    assert_eq!(
        (rebase.merge, rebase.merge_method),
        (MergeWhen::AfterApproval, MergeMethod::Rebase)
    );
    // A policy that lets repositories choose the method only refuses turning merging off.
    let layers = allowing(base(org), &["automation.output.merge_method"]);
    let found = problems("automation:\n  output:\n    merge: never\n", &layers);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].field, "automation.output.merge");
    assert_eq!(found[0].position.map(|p| p.line), Some(3));
}
