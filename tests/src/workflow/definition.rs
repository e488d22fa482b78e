//! The job workflow's definition as the tests use it: `statemachine/job.asl.json`, the very
//! file `template.yaml` deploys, with its `${...}` placeholders substituted the way
//! CloudFormation's `DefinitionSubstitutions` does (plain text replacement), and the
//! template's own substitution values, read from `template.yaml`.

use shared::job::RetryPolicy;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The state machine's logical id in `template.yaml`.
pub const STATE_MACHINE_RESOURCE: &str = "JobStateMachine";

/// A file of the workspace (`template.yaml`, `statemachine/job.asl.json`), as it is.
pub fn workspace_file(path: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("reading {}: {err}", path.display()))
}

/// The definition file as it is, placeholders and all.
pub fn definition_template() -> String {
    workspace_file("statemachine/job.asl.json")
}

/// Every `${Name}` placeholder in `text`, in order of first appearance.
pub fn placeholders(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = after[..end].to_owned();
        if !names.contains(&name) {
            names.push(name);
        }
        rest = &after[end + 1..];
    }
    names
}

/// The definition with every placeholder replaced. Panics if a placeholder has no value
/// or a value has no placeholder, so the tests and the file cannot drift apart.
pub fn substitute(values: &BTreeMap<String, String>) -> String {
    let text = definition_template();
    let names = placeholders(&text);
    let missing: Vec<&String> = names
        .iter()
        .filter(|name| !values.contains_key(*name))
        .collect();
    assert!(missing.is_empty(), "no value for placeholders {missing:?}");
    let unused: Vec<&String> = values.keys().filter(|key| !names.contains(key)).collect();
    assert!(
        unused.is_empty(),
        "values for placeholders the file lacks: {unused:?}"
    );
    let mut out = text;
    for (name, value) in values {
        out = out.replace(&format!("${{{name}}}"), value);
    }
    out
}

/// The placeholders' values for a retry policy and the four queues.
pub fn values(retry: &RetryPolicy, queues: [(&str, &str); 4]) -> BTreeMap<String, String> {
    let asl = retry.to_asl_retrier(&[]);
    let mut values: BTreeMap<String, String> = [
        ("RetryIntervalSeconds", asl["IntervalSeconds"].to_string()),
        ("RetryBackoffRate", asl["BackoffRate"].to_string()),
        ("RetryMaxAttempts", asl["MaxAttempts"].to_string()),
        ("RetryMaxDelaySeconds", asl["MaxDelaySeconds"].to_string()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    for (name, url) in queues {
        values.insert(name.to_owned(), url.to_owned());
    }
    values
}

/// `template.yaml`'s `DefinitionSubstitutions` of the job state machine, as written
/// (`!Ref Queue` stays that text). Read line by line: the template's CloudFormation tags
/// are not plain YAML.
pub fn template_substitutions() -> BTreeMap<String, String> {
    let template = workspace_file("template.yaml");
    let mut lines = template.lines();
    lines
        .by_ref()
        .find(|line| line.trim_end() == format!("  {STATE_MACHINE_RESOURCE}:"))
        .unwrap_or_else(|| panic!("template.yaml has no {STATE_MACHINE_RESOURCE}"));
    let mut lines = lines.skip_while(|line| line.trim() != "DefinitionSubstitutions:");
    let header = lines
        .next()
        .expect("DefinitionSubstitutions in the state machine");
    let depth = indentation(header);
    let mut values = BTreeMap::new();
    for line in lines {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if indentation(line) <= depth {
            break;
        }
        let (key, value) = line.trim().split_once(':').expect("`Key: value`");
        values.insert(
            key.trim().to_owned(),
            value.trim().trim_matches('"').to_owned(),
        );
    }
    values
}

/// `template.yaml`'s resource `name` (its logical id), as written: every line from its
/// header to the next resource. Text, as the template's CloudFormation tags are not plain
/// YAML.
pub fn template_resource(name: &str) -> String {
    let template = workspace_file("template.yaml");
    let header = format!("  {name}:");
    let mut lines = template.lines();
    lines
        .by_ref()
        .find(|line| line.trim_end() == header)
        .unwrap_or_else(|| panic!("template.yaml has no {name}"));
    let body: Vec<&str> = lines
        .take_while(|line| line.trim().is_empty() || indentation(line) > 2)
        .collect();
    body.join("\n")
}

fn indentation(line: &str) -> usize {
    line.len() - line.trim_start().len()
}
