//! An installation's policies as a file the operator edits and `ota policy set` stores:
//! YAML (or JSON, which YAML reads too) with a `policies` list of [`InstallationPolicy`]
//! without their `installation`, which the command names. Read strictly — unknown fields,
//! duplicate names and values the policy stage could not use are refused, each with the
//! field and the reason — so nothing half-right is ever stored.

use super::installation::InstallationPolicy;
use crate::config::check_override_path;
use crate::ids::InstallationId;
use crate::job::MAX_RUNTIME;
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::fmt;

/// The most policies one installation may have: each is read on every request.
pub const MAX_POLICIES: usize = 100;
/// The longest policy name: it is part of the item's key and of every audit entry.
pub const MAX_NAME_LEN: usize = 64;

/// What is wrong with a policy file: where (`policies[1].repo_pattern`, or the line and
/// column of a syntax error) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFileError {
    pub field: String,
    pub reason: String,
}

impl fmt::Display for PolicyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl std::error::Error for PolicyFileError {}

fn problem(field: impl Into<String>, reason: impl Into<String>) -> PolicyFileError {
    PolicyFileError {
        field: field.into(),
        reason: reason.into(),
    }
}

/// The policies of `installation` that `text` describes, checked.
pub fn parse_policy_file(
    text: &str,
    installation: InstallationId,
) -> Result<Vec<InstallationPolicy>, PolicyFileError> {
    let root: Option<Value> =
        serde_saphyr::from_str_with_options(text, crate::config::yaml_options())
            .map_err(|err| problem("file", format!("not valid YAML or JSON: {err}")))?;
    let Some(Value::Object(mut root)) = root else {
        return Err(problem("file", "must be a mapping with a `policies` list"));
    };
    if let Some(unknown) = root.keys().find(|key| *key != "policies") {
        return Err(problem(
            unknown.as_str(),
            "unknown field; expected `policies`",
        ));
    }
    let Some(Value::Array(entries)) = root.remove("policies") else {
        return Err(problem("policies", "missing, or not a list"));
    };
    if entries.len() > MAX_POLICIES {
        return Err(problem(
            "policies",
            format!("{} policies; at most {MAX_POLICIES}", entries.len()),
        ));
    }
    let known = known_fields();
    let mut names = BTreeSet::new();
    let mut policies = Vec::with_capacity(entries.len());
    for (index, entry) in entries.into_iter().enumerate() {
        let at = |field: &str| format!("policies[{index}].{field}");
        let Value::Object(mut fields) = entry else {
            return Err(problem(format!("policies[{index}]"), "must be a mapping"));
        };
        if let Some(unknown) = fields.keys().find(|key| !known.contains(key.as_str())) {
            return Err(problem(
                at(unknown),
                format!("unknown field; expected one of {}", expected(&known)),
            ));
        }
        match fields.get("installation") {
            None => {}
            Some(value) if value.as_u64() == Some(installation.0) => {}
            Some(value) => {
                return Err(problem(
                    at("installation"),
                    format!(
                        "{value} is not installation {installation}, which the command names; leave it out"
                    ),
                ));
            }
        }
        if let Some(missing) = ["name", "repo_pattern"]
            .into_iter()
            .find(|field| !fields.contains_key(*field))
        {
            return Err(problem(at(missing), "missing; every policy needs one"));
        }
        fields.insert("installation".to_owned(), Value::from(installation.0));
        let policy: InstallationPolicy = serde_path_to_error::deserialize(Value::Object(fields))
            .map_err(|err| problem(at(&err.path().to_string()), err.inner().to_string()))?;
        check(&policy).map_err(|(field, reason)| problem(at(field), reason))?;
        if !names.insert(policy.name.clone()) {
            return Err(problem(
                at("name"),
                format!("{:?} names two policies", policy.name),
            ));
        }
        policies.push(policy);
    }
    Ok(policies)
}

/// The file [`parse_policy_file`] reads back to `policies`: JSON, unset fields and the
/// installation left out.
pub fn render_policy_file(policies: &[InstallationPolicy]) -> String {
    let entries: Vec<Value> = policies
        .iter()
        .map(|policy| {
            let mut fields = match serde_json::to_value(policy) {
                Ok(Value::Object(fields)) => fields,
                _ => Map::new(),
            };
            fields.remove("installation");
            fields.retain(|_, value| !value.is_null());
            Value::Object(fields)
        })
        .collect();
    let file = serde_json::json!({ "policies": entries });
    let mut text = serde_json::to_string_pretty(&file).unwrap_or_default();
    text.push('\n');
    text
}

/// The fields a policy has: those it serializes (every field, unset ones as `null`).
fn known_fields() -> BTreeSet<&'static str> {
    [
        "installation",
        "name",
        "repo_pattern",
        "allowed_triggers",
        "allowed_users",
        "require_approval",
        "max_runtime_seconds",
        "allow_hosted_model",
        "user_jobs_per_hour",
        "installation_jobs_per_hour",
        "allowed_overrides",
        "token_budget",
        "plan_first",
    ]
    .into_iter()
    .collect()
}

fn expected(known: &BTreeSet<&str>) -> String {
    known
        .iter()
        .filter(|field| **field != "installation")
        .map(|field| format!("`{field}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the policy stage needs of a policy beyond its types: the field and the reason.
fn check(policy: &InstallationPolicy) -> Result<(), (&'static str, String)> {
    let name_ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if policy.name.is_empty()
        || policy.name.len() > MAX_NAME_LEN
        || !policy.name.chars().all(name_ok)
    {
        return Err((
            "name",
            format!(
                "{:?}: 1 to {MAX_NAME_LEN} letters, digits, `-`, `_` or `.`",
                policy.name
            ),
        ));
    }
    let pattern_ok = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '*' | '?'))
    };
    match policy.repo_pattern.split_once('/') {
        Some((owner, repo)) if pattern_ok(owner) && pattern_ok(repo) => {}
        _ => {
            return Err((
                "repo_pattern",
                format!(
                    "{:?} is not `owner/name` with `*` and `?` wildcards (`*` does not cross the `/`: `*/*` matches every repository)",
                    policy.repo_pattern
                ),
            ));
        }
    }
    let login_ok = |login: &String| {
        !login.is_empty()
            && login.len() <= 39
            && login.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if let Some(bad) = policy
        .allowed_users
        .iter()
        .flatten()
        .find(|login| !login_ok(login))
    {
        return Err(("allowed_users", format!("{bad:?} is not a GitHub login")));
    }
    if let Some(bad) = policy
        .allowed_overrides
        .iter()
        .flatten()
        .find_map(|path| check_override_path(path).err())
    {
        return Err(("allowed_overrides", bad));
    }
    if let Some(bad) = policy
        .plan_first
        .iter()
        .flatten()
        .find(|name| name.as_str() != "*" && crate::config::TaskName::new(name).is_err())
    {
        return Err((
            "plan_first",
            format!("{bad:?} is not a task name; list task names, or `*` for every task"),
        ));
    }
    let max = MAX_RUNTIME.as_secs();
    if let Some(seconds) = policy.max_runtime_seconds
        && (seconds == 0 || seconds > max)
    {
        return Err((
            "max_runtime_seconds",
            format!("{seconds}: from 1 to {max} (a job's longest runtime)"),
        ));
    }
    for (field, value) in [
        ("user_jobs_per_hour", policy.user_jobs_per_hour),
        (
            "installation_jobs_per_hour",
            policy.installation_jobs_per_hour,
        ),
    ] {
        if value == Some(0) {
            return Err((
                field,
                "0 would refuse every job; to stop jobs, set `allowed_triggers: []`".to_owned(),
            ));
        }
    }
    if let Some(budget) = &policy.token_budget {
        if budget.per_day.is_none() && budget.per_month.is_none() {
            return Err((
                "token_budget",
                "sets no budget; give `per_day`, `per_month` or both (tokens, a positive number)"
                    .to_owned(),
            ));
        }
        for (field, value) in [
            ("token_budget.per_day", budget.per_day),
            ("token_budget.per_month", budget.per_month),
        ] {
            if value == Some(0) {
                return Err((
                    field,
                    "0 would refuse every job; to stop jobs, set `allowed_triggers: []`".to_owned(),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const INSTALLATION: InstallationId = InstallationId(4242);

    fn error(text: &str) -> String {
        parse_policy_file(text, INSTALLATION)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_file_round_trips() {
        let text = "policies:\n  - name: api-repos\n    repo_pattern: octo-org/api-*\n    allowed_triggers: [comment, pr_opened]\n    allowed_users: [octocat]\n    allowed_overrides: [automation.tasks, automation.triggers.pr_opened]\n    require_approval: true\n    max_runtime_seconds: 1200\n  - name: everything\n    repo_pattern: '*/*'\n    user_jobs_per_hour: 5\n    token_budget: {per_day: 2000000, per_month: 40000000}\n";
        let policies = parse_policy_file(text, INSTALLATION).expect("valid");
        assert_eq!(policies.len(), 2);
        assert_eq!(policies[0].installation, INSTALLATION);
        assert_eq!(policies[0].max_runtime_seconds, Some(1200));
        assert_eq!(
            policies[1].token_budget,
            Some(crate::ports::TokenBudget {
                per_day: Some(2_000_000),
                per_month: Some(40_000_000)
            })
        );
        assert_eq!(policies[0].token_budget, None);
        let rendered = render_policy_file(&policies);
        assert!(!rendered.contains("installation"), "{rendered}");
        assert_eq!(
            parse_policy_file(&rendered, INSTALLATION).expect("json"),
            policies
        );
    }

    #[test]
    fn each_mistake_names_its_field_and_reason() {
        assert_eq!(
            error("policies:\n  - name: a\n    repo_pattern: o/r\n    require_aproval: true\n"),
            "policies[0].require_aproval: unknown field; expected one of `allow_hosted_model`, `allowed_overrides`, `allowed_triggers`, `allowed_users`, `installation_jobs_per_hour`, `max_runtime_seconds`, `name`, `plan_first`, `repo_pattern`, `require_approval`, `token_budget`, `user_jobs_per_hour`"
        );
        assert_eq!(
            error("policies:\n  - name: a\n    repo_pattern: octo-org\n"),
            "policies[0].repo_pattern: \"octo-org\" is not `owner/name` with `*` and `?` wildcards (`*` does not cross the `/`: `*/*` matches every repository)"
        );
        assert!(
            error(
                "policies:\n  - name: a\n    repo_pattern: o/r\n    allowed_triggers: [comments]\n"
            )
            .starts_with("policies[0].allowed_triggers[0]: unknown variant `comments`"),
        );
        assert_eq!(
            error("policies:\n  - name: a\n    repo_pattern: o/r\n    max_runtime_seconds: 7200\n"),
            "policies[0].max_runtime_seconds: 7200: from 1 to 1800 (a job's longest runtime)"
        );
        assert_eq!(
            error(
                "policies:\n  - name: a\n    repo_pattern: o/r\n  - name: a\n    repo_pattern: o/s\n"
            ),
            "policies[1].name: \"a\" names two policies"
        );
        assert_eq!(
            error("policies:\n  - name: a\n    installation: 1\n    repo_pattern: o/r\n"),
            "policies[0].installation: 1 is not installation 4242, which the command names; leave it out"
        );
        assert_eq!(
            error(
                "policies:\n  - name: a\n    repo_pattern: o/r\n    allowed_overrides: [automation.tasks, automation.output.openpr]\n"
            ),
            "policies[0].allowed_overrides: `automation.output.openpr`: unknown key `openpr` of `automation.output`; expected one of `open_pr`, `push_direct`, `push_to_pr_branch`, `merge`, `merge_method`"
        );
        assert_eq!(
            error(
                "policies:\n  - name: a\n    repo_pattern: o/r\n    plan_first: [refactor, Big Ones]\n"
            ),
            "policies[0].plan_first: \"Big Ones\" is not a task name; list task names, or `*` for every task"
        );
        let budget = |value: &str| {
            error(&format!(
                "policies:\n  - name: a\n    repo_pattern: o/r\n    token_budget: {value}\n"
            ))
        };
        assert_eq!(
            budget("{per_day: 0}"),
            "policies[0].token_budget.per_day: 0 would refuse every job; to stop jobs, set `allowed_triggers: []`"
        );
        assert_eq!(
            budget("{per_day: 10, per_month: 0}"),
            "policies[0].token_budget.per_month: 0 would refuse every job; to stop jobs, set `allowed_triggers: []`"
        );
        assert_eq!(
            budget("{}"),
            "policies[0].token_budget: sets no budget; give `per_day`, `per_month` or both (tokens, a positive number)"
        );
        assert_eq!(
            budget("{per_week: 10}"),
            "policies[0].token_budget.per_week: unknown field `per_week`, expected `per_day` or `per_month`"
        );
        assert!(
            budget("{per_day: -5}").starts_with("policies[0].token_budget.per_day: "),
            "{}",
            budget("{per_day: -5}")
        );
        assert!(
            budget("{per_day: lots}").starts_with("policies[0].token_budget.per_day: "),
            "{}",
            budget("{per_day: lots}")
        );
        assert_eq!(
            error("rules: []\n"),
            "rules: unknown field; expected `policies`"
        );
        assert!(error("policies: [").starts_with("file: not valid YAML or JSON"));
        assert_eq!(
            error("policies:\n  - repo_pattern: o/r\n"),
            "policies[0].name: missing; every policy needs one"
        );
    }
}
