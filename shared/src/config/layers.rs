//! The organisation's defaults under a repository's file: the `.ollama-turbo.yml` of the
//! account's `.github` repository is the base, the repository's own file extends it, and
//! an installation policy's `allowed_overrides` may limit which keys the repository sets.
//!
//! The two files are merged as read (the `raw` types), before `resolve` checks them, so
//! every value keeps its position; each problem is then said to be in the file its value
//! came from. What replaces what:
//! - `version`, each key of `automation.defaults` and `automation.approval`, and
//!   `automation.output`'s `push_to_pr_branch`, `merge` and `merge_method`: the
//!   repository's value when it sets one;
//! - `automation.output`'s `open_pr` and `push_direct` are one choice: a repository that
//!   sets either sets both (an unset one takes its default, not the base's);
//! - `automation.triggers`: each trigger section (`pr_opened`, `labeled`, …) whole; a
//!   repository that writes the list shorthand (`triggers: [comment]`) replaces them all,
//!   and so does any repository `triggers` over a base written as a list;
//! - `automation.tasks`: merged by task name, and a task both files define, key by key.

use serde_saphyr::Spanned;

use super::RepoConfig;
use super::error::{ConfigErrors, ConfigFile, Problem};
use super::raw::{
    Entries, RawApproval, RawAutomation, RawConfig, RawDefaults, RawOutput, RawTask,
    RawTriggerSpec, RawTriggers,
};
use crate::job::ConfigLayers;

/// Which file a merged value came from, by the key path it is at: the longest path that
/// is a prefix of a problem's field decides; a field under none is the repository's.
#[derive(Debug, Default)]
pub(super) struct Origins {
    paths: Vec<(String, Layer)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layer {
    Base,
    Repository,
}

impl Origins {
    fn record(&mut self, path: impl Into<String>, layer: Layer) {
        self.paths.push((path.into(), layer));
    }

    fn layer_of(&self, field: &str) -> Layer {
        self.paths
            .iter()
            .filter(|(path, _)| {
                field == path
                    || field
                        .strip_prefix(path.as_str())
                        .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
            })
            .max_by_key(|(path, _)| path.len())
            .map_or(Layer::Repository, |(_, layer)| *layer)
    }

    /// `problems`, each said to be in the file its field's value came from.
    pub(super) fn place(&self, problems: Vec<Problem>, base: &ConfigFile) -> Vec<Problem> {
        problems
            .into_iter()
            .map(|mut problem| {
                if self.layer_of(&problem.field) == Layer::Base {
                    problem.file = base.clone();
                }
                problem
            })
            .collect()
    }

    /// The repository's value if it has one, else the base's (recorded as the base's).
    fn pick<T>(&mut self, path: &str, repo: Option<T>, base: Option<T>) -> Option<T> {
        match (repo, base) {
            (Some(value), _) => Some(value),
            (None, Some(value)) => {
                self.record(path, Layer::Base);
                Some(value)
            }
            (None, None) => None,
        }
    }
}

/// Reads `text`, the repository's file, over `layers`.
pub(super) fn parse_layered(text: &str, layers: &ConfigLayers) -> Result<RepoConfig, ConfigErrors> {
    let repo = super::yaml::parse_raw(text).map_err(|problem| ConfigErrors::new(vec![problem]));
    let base = layers.base.as_ref().map(|base| {
        let file = ConfigFile::Base(Box::new(base.repo.clone()));
        let raw = super::yaml::parse_raw(&base.text)
            .map_err(|problem| ConfigErrors::new(vec![problem]).in_file(&file));
        (file, raw)
    });
    let repo = repo?;
    let forbidden = layers
        .overrides
        .as_ref()
        .map(|overrides| super::overrides::forbidden(&repo, overrides))
        .unwrap_or_default();
    let (merged, origins, base_file) = match base {
        Some((file, raw)) => {
            let mut origins = Origins::default();
            let merged = merge(repo, raw?, &mut origins);
            (merged, origins, file)
        }
        None => (repo, Origins::default(), ConfigFile::Repository),
    };
    // A key the repository may not set is reported alone: what it would have come to
    // does not matter.
    if !forbidden.is_empty() {
        return Err(ConfigErrors::new(forbidden));
    }
    let mut config = super::resolve::resolve(merged)
        .map_err(|problems| ConfigErrors::new(origins.place(problems, &base_file)))?;
    config.layers = layers.clone();
    Ok(config)
}

/// `repo` laid over `base`, see the module's documentation.
fn merge(repo: RawConfig, base: RawConfig, origins: &mut Origins) -> RawConfig {
    let automation = match (repo.automation, base.automation) {
        (Some(repo), Some(base)) => Some(merge_automation(repo, base, origins)),
        (repo, base) => origins.pick("automation", repo, base),
    };
    RawConfig {
        version: origins.pick("version", repo.version, base.version),
        automation,
    }
}

fn merge_automation(
    repo: RawAutomation,
    base: RawAutomation,
    origins: &mut Origins,
) -> RawAutomation {
    RawAutomation {
        triggers: merge_triggers(repo.triggers, base.triggers, origins),
        defaults: both(
            repo.defaults,
            base.defaults,
            origins,
            "automation.defaults",
            merge_defaults,
        ),
        tasks: merge_tasks(repo.tasks, base.tasks, origins),
        approval: both(
            repo.approval,
            base.approval,
            origins,
            "automation.approval",
            merge_approval,
        ),
        output: both(
            repo.output,
            base.output,
            origins,
            "automation.output",
            merge_output,
        ),
    }
}

/// `merge` when both files have the section, else the one that has it.
fn both<T>(
    repo: Option<T>,
    base: Option<T>,
    origins: &mut Origins,
    path: &str,
    merge: fn(T, T, &mut Origins) -> T,
) -> Option<T> {
    match (repo, base) {
        (Some(repo), Some(base)) => Some(merge(repo, base, origins)),
        (repo, base) => origins.pick(path, repo, base),
    }
}

fn merge_triggers(
    repo: Option<Spanned<RawTriggerSpec>>,
    base: Option<Spanned<RawTriggerSpec>>,
    origins: &mut Origins,
) -> Option<Spanned<RawTriggerSpec>> {
    match (repo, base) {
        (
            Some(Spanned {
                value: RawTriggerSpec::Sections(repo),
                referenced,
                defined,
            }),
            Some(Spanned {
                value: RawTriggerSpec::Sections(base),
                ..
            }),
        ) => {
            let (repo, base) = (*repo, *base);
            let at = |key: &str| format!("automation.triggers.{key}");
            let sections = RawTriggers {
                comment: origins.pick(&at("comment"), repo.comment, base.comment),
                pr_opened: origins.pick(&at("pr_opened"), repo.pr_opened, base.pr_opened),
                push: origins.pick(&at("push"), repo.push, base.push),
                check_suite: origins.pick(&at("check_suite"), repo.check_suite, base.check_suite),
                ci_failed: origins.pick(&at("ci_failed"), repo.ci_failed, base.ci_failed),
                schedule: origins.pick(&at("schedule"), repo.schedule, base.schedule),
                labeled: origins.pick(&at("labeled"), repo.labeled, base.labeled),
            };
            Some(Spanned {
                value: RawTriggerSpec::Sections(Box::new(sections)),
                referenced,
                defined,
            })
        }
        (repo, base) => origins.pick("automation.triggers", repo, base),
    }
}

fn merge_defaults(repo: RawDefaults, base: RawDefaults, origins: &mut Origins) -> RawDefaults {
    let at = |key: &str| format!("automation.defaults.{key}");
    RawDefaults {
        model: origins.pick(&at("model"), repo.model, base.model),
        hosted_model: origins.pick(&at("hosted_model"), repo.hosted_model, base.hosted_model),
        max_tokens: origins.pick(&at("max_tokens"), repo.max_tokens, base.max_tokens),
        timeout: origins.pick(&at("timeout"), repo.timeout, base.timeout),
        think: origins.pick(&at("think"), repo.think, base.think),
        temperature: origins.pick(&at("temperature"), repo.temperature, base.temperature),
        top_p: origins.pick(&at("top_p"), repo.top_p, base.top_p),
        top_k: origins.pick(&at("top_k"), repo.top_k, base.top_k),
        seed: origins.pick(&at("seed"), repo.seed, base.seed),
    }
}

fn merge_approval(repo: RawApproval, base: RawApproval, origins: &mut Origins) -> RawApproval {
    let at = |key: &str| format!("automation.approval.{key}");
    RawApproval {
        required: origins.pick(&at("required"), repo.required, base.required),
        maintainers_only: origins.pick(
            &at("maintainers_only"),
            repo.maintainers_only,
            base.maintainers_only,
        ),
        allow_self_approval: origins.pick(
            &at("allow_self_approval"),
            repo.allow_self_approval,
            base.allow_self_approval,
        ),
    }
}

/// `open_pr` and `push_direct` together, as one choice; `push_to_pr_branch` on its own.
fn merge_output(repo: RawOutput, base: RawOutput, origins: &mut Origins) -> RawOutput {
    let push_to_pr_branch = origins.pick(
        "automation.output.push_to_pr_branch",
        repo.push_to_pr_branch,
        base.push_to_pr_branch,
    );
    let (open_pr, push_direct) = if repo.open_pr.is_some() || repo.push_direct.is_some() {
        (repo.open_pr, repo.push_direct)
    } else {
        origins.record("automation.output.open_pr", Layer::Base);
        origins.record("automation.output.push_direct", Layer::Base);
        (base.open_pr, base.push_direct)
    };
    let merge = origins.pick("automation.output.merge", repo.merge, base.merge);
    let merge_method = origins.pick(
        "automation.output.merge_method",
        repo.merge_method,
        base.merge_method,
    );
    RawOutput {
        open_pr,
        push_direct,
        push_to_pr_branch,
        merge,
        merge_method,
    }
}

type RawTasks = Entries<Spanned<String>, Option<RawTask>>;

/// By task name: the base's tasks in its order, each merged with the repository's entry
/// of the same name, then the repository's own tasks in its order.
fn merge_tasks(
    repo: Option<RawTasks>,
    base: Option<RawTasks>,
    origins: &mut Origins,
) -> Option<RawTasks> {
    let (mut repo, base) = match (repo, base) {
        (Some(repo), Some(base)) => (repo.0, base.0),
        (repo, base) => return origins.pick("automation.tasks", repo, base),
    };
    let mut merged = Vec::with_capacity(repo.len() + base.len());
    for (name, base_body) in base {
        let path = format!("automation.tasks.{}", name.value);
        match repo.iter().position(|(key, _)| key.value == name.value) {
            Some(index) => match repo.remove(index) {
                (key, Some(body)) => {
                    origins.record(path.clone(), Layer::Repository);
                    let body = match base_body {
                        Some(base) => merge_task(body, base, origins, &path),
                        None => body,
                    };
                    merged.push((key, Some(body)));
                }
                // An empty entry (`lint:`) changes nothing.
                (_, None) => {
                    origins.record(path, Layer::Base);
                    merged.push((name, base_body));
                }
            },
            None => {
                origins.record(path, Layer::Base);
                merged.push((name, base_body));
            }
        }
    }
    merged.extend(repo);
    Some(Entries(merged))
}

fn merge_task(repo: RawTask, base: RawTask, origins: &mut Origins, path: &str) -> RawTask {
    let at = |key: &str| format!("{path}.{key}");
    RawTask {
        description: origins.pick(&at("description"), repo.description, base.description),
        prompt: origins.pick(&at("prompt"), repo.prompt, base.prompt),
        command: origins.pick(&at("command"), repo.command, base.command),
        model: origins.pick(&at("model"), repo.model, base.model),
        hosted_model: origins.pick(&at("hosted_model"), repo.hosted_model, base.hosted_model),
        max_tokens: origins.pick(&at("max_tokens"), repo.max_tokens, base.max_tokens),
        timeout: origins.pick(&at("timeout"), repo.timeout, base.timeout),
        auto_fix: origins.pick(&at("auto_fix"), repo.auto_fix, base.auto_fix),
        directory: origins.pick(&at("directory"), repo.directory, base.directory),
        candidates: origins.pick(&at("candidates"), repo.candidates, base.candidates),
        plan: origins.pick(&at("plan"), repo.plan, base.plan),
        think: origins.pick(&at("think"), repo.think, base.think),
        temperature: origins.pick(&at("temperature"), repo.temperature, base.temperature),
        top_p: origins.pick(&at("top_p"), repo.top_p, base.top_p),
        top_k: origins.pick(&at("top_k"), repo.top_k, base.top_k),
        seed: origins.pick(&at("seed"), repo.seed, base.seed),
    }
}
