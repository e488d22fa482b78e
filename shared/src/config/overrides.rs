//! `allowed_overrides`: the keys of `.ollama-turbo.yml` an installation policy lets a
//! repository set over the organisation's defaults. A key path is dotted, from
//! `automation` down (`automation.tasks`, `automation.tasks.lint.model`,
//! `automation.triggers.pr_opened`), and allows every key below it. What paths exist is
//! [`check_override_path`]'s, what a repository's file sets is [`written_keys`]'s: both
//! follow the file's structure, the finest path being a trigger, a default, a task's key,
//! an approval or an output key.

use super::check::position;
use super::error::{ConfigFile, Position, Problem, ProblemKind, backticked};
use super::raw::{RawConfig, RawTriggerSpec};
use super::task::TaskName;
use crate::job::AllowedOverrides;

/// The trigger sections of `automation.triggers`: each is set whole.
pub const TRIGGER_KEYS: [&str; 7] = [
    "comment",
    "pr_opened",
    "push",
    "check_suite",
    "ci_failed",
    "schedule",
    "labeled",
];
/// The keys of `automation.defaults`.
pub const DEFAULT_KEYS: [&str; 9] = [
    "model",
    "hosted_model",
    "max_tokens",
    "timeout",
    "think",
    "temperature",
    "top_p",
    "top_k",
    "seed",
];
/// The keys of one task of `automation.tasks`.
pub const TASK_KEYS: [&str; 16] = [
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
    "seed",
];
/// The keys of `automation.approval`.
pub const APPROVAL_KEYS: [&str; 3] = ["required", "maintainers_only", "allow_self_approval"];
/// The keys of `automation.output`.
pub const OUTPUT_KEYS: [&str; 5] = [
    "open_pr",
    "push_direct",
    "push_to_pr_branch",
    "merge",
    "merge_method",
];

/// The sections below `automation`, with the keys each has (`tasks` has task names).
const SECTIONS: [(&str, &[&str]); 5] = [
    ("triggers", &TRIGGER_KEYS),
    ("defaults", &DEFAULT_KEYS),
    ("tasks", &[]),
    ("approval", &APPROVAL_KEYS),
    ("output", &OUTPUT_KEYS),
];

/// Why `path` is not a key path `allowed_overrides` can name, if it is not.
pub fn check_override_path(path: &str) -> Result<(), String> {
    let parts: Vec<&str> = path.split('.').collect();
    let one_of =
        |what: &str, keys: &[&str]| format!("unknown {what}; expected one of {}", backticked(keys));
    if parts.first() != Some(&"automation") {
        return Err(format!(
            "`{path}` is not a key path of `.ollama-turbo.yml`: key paths start with \
             `automation` (like `automation.tasks` or `automation.triggers.pr_opened`)"
        ));
    }
    let Some(section) = parts.get(1) else {
        return Ok(());
    };
    let Some((_, keys)) = SECTIONS.iter().find(|(name, _)| name == section) else {
        let sections: Vec<&str> = SECTIONS.iter().map(|(name, _)| *name).collect();
        return Err(format!(
            "`{path}`: {}",
            one_of(&format!("section `{section}`"), &sections)
        ));
    };
    let below = |depth: usize| {
        Err(format!(
            "`{path}`: nothing below `{}` can be named (a repository sets it whole)",
            parts[..depth].join(".")
        ))
    };
    match (*section, &parts[2..]) {
        (_, []) => Ok(()),
        ("tasks", [name]) => TaskName::new(name)
            .map(|_| ())
            .map_err(|error| format!("`{path}`: {error}")),
        ("tasks", [_, key]) if TASK_KEYS.contains(key) => Ok(()),
        ("tasks", [_, key]) => Err(format!(
            "`{path}`: {}",
            one_of(&format!("task key `{key}`"), &TASK_KEYS)
        )),
        ("tasks", _) => below(4),
        (_, [key]) if keys.contains(key) => Ok(()),
        (_, [key]) => Err(format!(
            "`{path}`: {}",
            one_of(&format!("key `{key}` of `automation.{section}`"), keys)
        )),
        (_, _) => below(3),
    }
}

/// Every key path a repository's file sets, at the finest level [`check_override_path`]
/// knows, with where its value is. `version` is not a setting and is left out.
pub(super) fn written_keys(raw: &RawConfig) -> Vec<(String, Option<Position>)> {
    let mut keys = Vec::new();
    let Some(automation) = &raw.automation else {
        return keys;
    };
    let mut add = |path: String, at: &serde_saphyr::Location| keys.push((path, position(at)));
    if let Some(triggers) = &automation.triggers {
        match &triggers.value {
            RawTriggerSpec::Names(_) => add("automation.triggers".to_owned(), &triggers.referenced),
            RawTriggerSpec::Sections(sections) => {
                for (key, at) in sections.written() {
                    add(format!("automation.triggers.{key}"), at);
                }
            }
        }
    }
    for (section, written) in [
        (
            "defaults",
            automation.defaults.as_ref().map(|d| d.written()),
        ),
        (
            "approval",
            automation.approval.as_ref().map(|a| a.written()),
        ),
        ("output", automation.output.as_ref().map(|o| o.written())),
    ] {
        for (key, at) in written.unwrap_or_default() {
            add(format!("automation.{section}.{key}"), at);
        }
    }
    for (name, body) in automation.tasks.iter().flat_map(|tasks| &tasks.0) {
        let task = format!("automation.tasks.{}", name.value);
        let written = body.as_ref().map(|body| body.written()).unwrap_or_default();
        if written.is_empty() {
            add(task.clone(), &name.referenced);
        }
        for (key, at) in written {
            add(format!("{task}.{key}"), at);
        }
    }
    keys
}

/// Whether `allowed` lets a repository set `key`: one of them is `key` or above it.
pub(super) fn allows(allowed: &[String], key: &str) -> bool {
    allowed.iter().any(|path| {
        key == path
            || key
                .strip_prefix(path.as_str())
                .is_some_and(|rest| rest.starts_with('.'))
    })
}

/// A problem for every key `raw` (the repository's file) sets that `overrides` (a
/// policy's `allowed_overrides`) do not let it set.
pub(super) fn forbidden(raw: &RawConfig, overrides: &AllowedOverrides) -> Vec<Problem> {
    written_keys(raw)
        .into_iter()
        .filter(|(key, _)| !allows(&overrides.paths, key))
        .map(|(key, position)| Problem {
            file: ConfigFile::Repository,
            position,
            field: key.clone(),
            kind: ProblemKind::NotAllowed {
                key,
                overrides: Box::new(overrides.clone()),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::yaml::parse_raw;

    #[test]
    fn every_key_path_of_the_file_can_be_named_and_nothing_else() {
        for path in [
            "automation",
            "automation.tasks",
            "automation.tasks.lint",
            "automation.tasks.lint.model",
            "automation.triggers",
            "automation.triggers.pr_opened",
            "automation.defaults.timeout",
            "automation.approval.required",
            "automation.output",
        ] {
            assert_eq!(check_override_path(path), Ok(()), "{path}");
        }
        let error = |path: &str| check_override_path(path).expect_err(path);
        assert!(error("triggers.pr_opened").contains("start with `automation`"));
        assert_eq!(
            error("automation.task"),
            "`automation.task`: unknown section `task`; expected one of `triggers`, \
             `defaults`, `tasks`, `approval`, `output`"
        );
        assert!(error("automation.tasks.Lint").starts_with("`automation.tasks.Lint`: "));
        assert!(error("automation.tasks.lint.modle").contains("unknown task key `modle`"));
        assert!(error("automation.output.open-pr").contains("unknown key `open-pr`"));
        assert_eq!(
            error("automation.triggers.push.branches"),
            "`automation.triggers.push.branches`: nothing below `automation.triggers.push` \
             can be named (a repository sets it whole)"
        );
    }

    #[test]
    fn every_key_path_named_is_one_a_file_can_write() {
        // Each key written alone is reported under the path `allowed_overrides` names.
        let mut text = String::from("automation:\n  triggers:\n");
        for key in TRIGGER_KEYS {
            let empty = if key == "labeled" { "[]" } else { "{}" };
            text.push_str(&format!("    {key}: {empty}\n"));
        }
        let mut expected: Vec<String> = TRIGGER_KEYS
            .iter()
            .map(|key| format!("automation.triggers.{key}"))
            .collect();
        for (section, keys) in [
            ("defaults", &DEFAULT_KEYS[..]),
            ("approval", &APPROVAL_KEYS[..]),
            ("output", &OUTPUT_KEYS[..]),
        ] {
            text.push_str(&format!("  {section}:\n"));
            for key in keys {
                text.push_str(&format!("    {key}: {}\n", value_of(key)));
                expected.push(format!("automation.{section}.{key}"));
            }
        }
        text.push_str("  tasks:\n    lint:\n");
        for key in TASK_KEYS {
            text.push_str(&format!("      {key}: {}\n", value_of(key)));
            expected.push(format!("automation.tasks.lint.{key}"));
        }
        text.push_str("    empty:\n");
        expected.push("automation.tasks.empty".to_owned());
        let raw = parse_raw(&text).expect("the keys parse");
        let mut written: Vec<String> = written_keys(&raw).into_iter().map(|(k, _)| k).collect();
        written.sort();
        expected.sort();
        assert_eq!(written, expected);
        for path in &expected {
            assert_eq!(check_override_path(path), Ok(()), "{path}");
        }
    }

    /// A value of the type `key` is read as.
    fn value_of(key: &str) -> &'static str {
        match key {
            "max_tokens" | "top_k" | "seed" | "candidates" => "1",
            "temperature" | "top_p" => "0.5",
            "timeout" => "30m",
            "think"
            | "auto_fix"
            | "plan"
            | "required"
            | "maintainers_only"
            | "allow_self_approval"
            | "open_pr"
            | "push_direct"
            | "push_to_pr_branch" => "true",
            "merge" => "after_approval",
            "merge_method" => "squash",
            _ => "text",
        }
    }

    #[test]
    fn a_path_allows_every_key_below_it() {
        let allowed = vec![
            "automation.tasks".to_owned(),
            "automation.output.open_pr".to_owned(),
        ];
        assert!(allows(&allowed, "automation.tasks.lint.model"));
        assert!(allows(&allowed, "automation.output.open_pr"));
        assert!(!allows(&allowed, "automation.output.push_direct"));
        assert!(!allows(&allowed, "automation.tasksx"));
        assert!(!allows(&[], "automation.tasks"));
    }
}
