//! From the file as written to a [`RepoConfig`]: every value checked, defaults layered
//! under what the file sets, and all problems reported together.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_saphyr::Spanned;

use super::RepoConfig;
use super::check::Checker;
use super::deliverable::Deliverable;
use super::error::Problem;
use super::limits::{
    CURRENT_VERSION, DEFAULT_MAX_TOKENS, DEFAULT_MODEL, DEFAULT_TIMEOUT, MAX_DESCRIPTION_CHARS,
    MAX_TASKS,
};
use super::model::{Approval, MergeMethod, MergeWhen, OutputMode};
use super::paths::task_directory;
use super::raw::{
    Entries, RawApproval, RawConfig, RawDefaults, RawOutput, RawTask, RawTriggerSpec, RawTriggers,
};
use super::sampling::{Sampling, Think};
use super::suggest::did_you_mean;
use super::task::{BuiltinTask, TaskConfig, TaskName, TaskNameError};

/// The tasks by name, built-in ones included.
pub(super) type Tasks = BTreeMap<TaskName, TaskConfig>;

/// Checks `raw` and resolves it, or returns every problem found.
pub(super) fn resolve(raw: RawConfig) -> Result<RepoConfig, Vec<Problem>> {
    let mut check = Checker::default();
    if let Some(version) = &raw.version
        && version.value != i64::from(CURRENT_VERSION)
    {
        check.invalid(
            &version.referenced,
            "version",
            format!(
                "version `{}` is not supported; this Ollama Turbo Agent reads version \
                 {CURRENT_VERSION}",
                version.value
            ),
            Some("write `version: 1`, or leave the key out"),
        );
    }
    let automation = raw.automation.unwrap_or_default();
    let defaults = check.defaults(automation.defaults.unwrap_or_default());
    let tasks = check.tasks(automation.tasks, &defaults);
    let triggers = match automation.triggers {
        Some(spec) => match spec.value {
            RawTriggerSpec::Sections(sections) => check.triggers(*sections, &tasks),
            RawTriggerSpec::Names(names) => check.trigger_names(&names),
        },
        None => check.triggers(RawTriggers::default(), &tasks),
    };
    let approval = approval(automation.approval.unwrap_or_default());
    let output = automation.output.unwrap_or_default();
    let push_to_pr_branch = output.push_to_pr_branch.as_ref().is_some_and(|v| v.value);
    let (merge, merge_method) = check.merge(&output);
    let output = check.output(output);
    if !check.problems.is_empty() {
        return Err(check.problems);
    }
    Ok(RepoConfig {
        version: CURRENT_VERSION,
        triggers,
        approval,
        output,
        push_to_pr_branch,
        merge,
        merge_method,
        tasks,
        layers: super::ConfigLayers::default(),
    })
}

/// The seven built-in tasks with nothing configured.
pub(super) fn builtin_tasks() -> Tasks {
    BuiltinTask::ALL
        .into_iter()
        .map(|task| (TaskName::from(task), TaskConfig::builtin(task)))
        .collect()
}

/// `automation.defaults`, checked: what a task gets for a key it doesn't set.
#[derive(Debug, Default)]
pub(super) struct Defaults {
    model: Option<String>,
    hosted_model: Option<String>,
    max_tokens: Option<u32>,
    timeout: Option<Duration>,
    think: Option<Think>,
    sampling: Sampling,
}

impl Defaults {
    fn apply(&self, task: &mut TaskConfig) {
        if let Some(model) = &self.model {
            task.model.clone_from(model);
        }
        if let Some(max_tokens) = self.max_tokens {
            task.max_tokens = max_tokens;
        }
        if let Some(timeout) = self.timeout {
            task.timeout = timeout;
        }
        if self.hosted_model.is_some() {
            task.hosted_model.clone_from(&self.hosted_model);
        }
        if self.think.is_some() {
            task.think = self.think;
        }
        task.sampling = task.sampling.or(self.sampling);
    }
}

fn approval(raw: RawApproval) -> Approval {
    let default = Approval::default();
    let flag = |value: Option<Spanned<bool>>, default| value.map_or(default, |v| v.value);
    Approval {
        required: flag(raw.required, default.required),
        maintainers_only: flag(raw.maintainers_only, default.maintainers_only),
        allow_self_approval: flag(raw.allow_self_approval, default.allow_self_approval),
    }
}

/// Why a name is not a task name, with a hint.
fn name_hint(error: &TaskNameError, name: &str) -> String {
    let lowered = name.to_lowercase();
    if lowered != name && TaskName::new(&lowered).is_ok() {
        return format!("write it in lowercase: `{lowered}`");
    }
    let builtin = BuiltinTask::ALL.map(BuiltinTask::name);
    if let Some(close) = did_you_mean(name, builtin) {
        return format!("did you mean the built-in task `{close}`?");
    }
    match error {
        TaskNameError::Reserved(_) => "pick another name".to_owned(),
        _ => "use lowercase letters, digits, `-` and `_`, starting with a letter, like `lint` \
              or `bump-deps`"
            .to_owned(),
    }
}

impl Checker {
    fn defaults(&mut self, mut raw: RawDefaults) -> Defaults {
        let field = |key: &str| format!("automation.defaults.{key}");
        let sampling = self.sampling(raw.take_sampling(), "automation.defaults");
        Defaults {
            model: raw.model.and_then(|v| self.model(&v, &field("model"))),
            hosted_model: raw
                .hosted_model
                .and_then(|v| self.model(&v, &field("hosted_model"))),
            think: raw.think.and_then(|v| self.think(&v, &field("think"))),
            sampling,
            max_tokens: raw
                .max_tokens
                .and_then(|v| self.max_tokens(&v, &field("max_tokens"))),
            timeout: raw
                .timeout
                .and_then(|v| self.timeout(&v, &field("timeout"))),
        }
    }

    fn tasks(
        &mut self,
        raw: Option<Entries<Spanned<String>, Option<RawTask>>>,
        defaults: &Defaults,
    ) -> Tasks {
        let mut tasks = builtin_tasks();
        for task in tasks.values_mut() {
            defaults.apply(task);
        }
        for (key, body) in raw.map(|entries| entries.0).unwrap_or_default() {
            let field = format!("automation.tasks.{}", key.value);
            let name = match TaskName::new(&key.value) {
                Ok(name) => name,
                Err(error) => {
                    let hint = name_hint(&error, &key.value);
                    self.invalid(&key.referenced, &field, error.to_string(), Some(&hint));
                    continue;
                }
            };
            let mut task = tasks.remove(&name).unwrap_or_else(|| {
                let mut custom = TaskConfig {
                    name: name.clone(),
                    builtin: None,
                    // A repository's own task proposes its changes in a pull request.
                    deliverable: Deliverable::PullRequest,
                    description: String::new(),
                    prompt: None,
                    command: None,
                    model: DEFAULT_MODEL.to_owned(),
                    hosted_model: None,
                    think: None,
                    sampling: Sampling::default(),
                    max_tokens: DEFAULT_MAX_TOKENS,
                    timeout: DEFAULT_TIMEOUT,
                    auto_fix: false,
                    directory: None,
                    candidates: 1,
                    plan: false,
                };
                defaults.apply(&mut custom);
                custom
            });
            self.task_body(&mut task, body.unwrap_or_default(), &field);
            if task.builtin.is_none() && task.prompt.is_none() {
                self.invalid(
                    &key.referenced,
                    &field,
                    format!("custom task `{name}` has no `prompt`"),
                    Some("add `prompt:` saying what the agent should do"),
                );
            }
            if task.description.is_empty() {
                task.description = summary(task.prompt.as_deref().unwrap_or_default());
            }
            if tasks.len() == MAX_TASKS {
                self.invalid(
                    &key.referenced,
                    &field,
                    format!(
                        "more than {MAX_TASKS} tasks, counting the {} built-in ones",
                        BuiltinTask::ALL.len()
                    ),
                    Some("merge similar tasks; `/ollama help` lists every one"),
                );
                continue;
            }
            tasks.insert(name, task);
        }
        tasks
    }

    /// Lays the keys `raw` sets over `task`.
    fn task_body(&mut self, task: &mut TaskConfig, mut raw: RawTask, field: &str) {
        task.sampling = task.sampling.or(self.sampling(raw.take_sampling(), field));
        let field = |key: &str| format!("{field}.{key}");
        if let Some(model) = raw
            .hosted_model
            .and_then(|v| self.model(&v, &field("hosted_model")))
        {
            task.hosted_model = Some(model);
        }
        if let Some(think) = raw.think.and_then(|v| self.think(&v, &field("think"))) {
            task.think = Some(think);
        }
        if let Some(value) = raw.description {
            let key = field("description");
            if let Some(text) = self.text(&value, &key) {
                let text = text.trim();
                if text.contains('\n') {
                    self.invalid(&value.referenced, &key, "must be one line", None);
                } else if text.chars().count() > MAX_DESCRIPTION_CHARS {
                    self.invalid(
                        &value.referenced,
                        &key,
                        format!("is longer than {MAX_DESCRIPTION_CHARS} characters"),
                        Some("put the details in `prompt`"),
                    );
                } else {
                    task.description = text.to_owned();
                }
            }
        }
        if let Some(value) = raw.prompt {
            task.prompt = self.text(&value, &field("prompt"));
        }
        if let Some(value) = raw.command {
            task.command = self.text(&value, &field("command"));
        }
        if let Some(model) = raw.model.and_then(|v| self.model(&v, &field("model"))) {
            task.model = model;
        }
        if let Some(tokens) = raw
            .max_tokens
            .and_then(|v| self.max_tokens(&v, &field("max_tokens")))
        {
            task.max_tokens = tokens;
        }
        if let Some(timeout) = raw
            .timeout
            .and_then(|v| self.timeout(&v, &field("timeout")))
        {
            task.timeout = timeout;
        }
        if let Some(auto_fix) = raw.auto_fix {
            task.auto_fix = auto_fix.value;
        }
        if let Some(value) = raw.directory {
            match task_directory(&value.value) {
                Ok(directory) => task.directory = directory,
                Err(message) => {
                    self.invalid(&value.referenced, &field("directory"), message, None);
                }
            }
        }
        if let Some(value) = raw.candidates {
            let key = field("candidates");
            if let Some(candidates) = self.candidates(&value, &key) {
                if candidates > 1 && !task.deliverable.edits_code() {
                    self.invalid(
                        &value.referenced,
                        &key,
                        format!("`{}` makes no changes to choose between", task.name),
                        Some("remove `candidates` from this task"),
                    );
                } else {
                    task.candidates = candidates;
                }
            }
        }
        if let Some(value) = raw.plan {
            if value.value && !task.deliverable.edits_code() {
                self.invalid(
                    &value.referenced,
                    &field("plan"),
                    format!(
                        "`{}` changes no code, so there is no plan to approve",
                        task.name
                    ),
                    Some("remove `plan` from this task"),
                );
            } else {
                task.plan = value.value;
            }
        }
    }

    /// `open_pr` and `push_direct`. `push_direct: true` alone wins over `open_pr`'s
    /// default; both written as `true` is a contradiction.
    fn output(&mut self, raw: RawOutput) -> OutputMode {
        let open_pr = raw.open_pr.as_ref().map(|v| v.value);
        match raw.push_direct {
            Some(push) if push.value => {
                if open_pr == Some(true) {
                    self.invalid(
                        &push.referenced,
                        "automation.output.push_direct",
                        "`open_pr` and `push_direct` are both `true`",
                        Some(
                            "set one of them to `false`: `open_pr` opens a pull request from a \
                             new branch, `push_direct` pushes onto the branch the task ran on",
                        ),
                    );
                }
                OutputMode::PushDirect
            }
            _ if open_pr == Some(false) => OutputMode::BranchOnly,
            _ => OutputMode::PullRequest,
        }
    }
}

impl Checker {
    /// `merge` and `merge_method`, each one of its few names.
    fn merge(&mut self, raw: &RawOutput) -> (MergeWhen, MergeMethod) {
        let merge = raw.merge.as_ref().map_or(MergeWhen::default(), |value| {
            let name = value.value.trim();
            MergeWhen::from_name(name).unwrap_or_else(|| {
                self.invalid(
                    &value.referenced,
                    "automation.output.merge",
                    format!("`{name}` is not a merge setting"),
                    Some(&one_of(name, &MergeWhen::NAMES)),
                );
                MergeWhen::default()
            })
        });
        let method = raw
            .merge_method
            .as_ref()
            .map_or(MergeMethod::default(), |value| {
                let name = value.value.trim();
                MergeMethod::from_name(name).unwrap_or_else(|| {
                    self.invalid(
                        &value.referenced,
                        "automation.output.merge_method",
                        format!("`{name}` is not a merge method"),
                        Some(&one_of(name, &MergeMethod::NAMES)),
                    );
                    MergeMethod::default()
                })
            });
        (merge, method)
    }
}

/// The hint for a value that is not one of `names`: the closest, or all of them.
fn one_of(value: &str, names: &[&str]) -> String {
    match did_you_mean(value, names.iter().copied()) {
        Some(close) => format!("did you mean `{close}`?"),
        None => {
            let listed: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
            format!("write one of {}", listed.join(", "))
        }
    }
}

/// A one-line description from a prompt: its first line, cut at 80 characters.
fn summary(prompt: &str) -> String {
    let line = prompt.trim().lines().next().unwrap_or_default().trim();
    if line.chars().count() <= 80 {
        line.to_owned()
    } else {
        let cut: String = line.chars().take(79).collect();
        format!("{}…", cut.trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_are_one_short_line() {
        assert_eq!(summary("Run the linter.\nThen fix it."), "Run the linter.");
        let long = summary(&"word ".repeat(40));
        assert!(long.ends_with('…') && long.chars().count() <= 80, "{long}");
        assert_eq!(summary(""), "");
    }
}
