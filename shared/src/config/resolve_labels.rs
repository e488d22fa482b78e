//! `automation.triggers.labeled`, checked: a list of `{label, tasks}` entries, each label
//! named once (regardless of case, as GitHub compares them), no longer than GitHub allows
//! and not one of the labels the App sets itself.

use serde_saphyr::Spanned;

use super::check::{Checker, position};
use super::limits::{APP_LABEL_PREFIX, MAX_LABEL_CHARS};
use super::model::LabelTrigger;
use super::raw::RawLabeled;
use super::resolve::Tasks;

/// Where the label triggers live, the start of every field path reported here.
const FIELD: &str = "automation.triggers.labeled";

impl Checker {
    pub(super) fn label_triggers(
        &mut self,
        list: Spanned<Vec<Spanned<RawLabeled>>>,
        tasks: &Tasks,
    ) -> Vec<LabelTrigger> {
        let mut triggers: Vec<(LabelTrigger, u64)> = Vec::new();
        for (index, entry) in list.value.into_iter().enumerate() {
            let field = format!("{FIELD}[{index}]");
            let at = entry.referenced;
            let entry = entry.value;
            let label = match entry.label {
                Some(label) => self
                    .label(&label, &field, &triggers)
                    .map(|name| (name, position(&label.referenced).map_or(0, |p| p.line))),
                None => {
                    self.invalid(
                        &at,
                        &format!("{field}.label"),
                        "the entry names no `label`",
                        Some("write `- {label: \"ollama:fix\", tasks: [fix]}`"),
                    );
                    None
                }
            };
            let listed = entry.tasks.as_ref().map_or(at, |list| list.referenced);
            let written = entry
                .tasks
                .as_ref()
                .is_some_and(|list| !list.value.is_empty());
            let tasks = self.trigger_tasks(entry.tasks, false, &at, &field, tasks, "fix");
            if !written {
                self.invalid(
                    &listed,
                    &format!("{field}.tasks"),
                    "the label starts no tasks",
                    Some("add `tasks: [fix]`, or remove the entry"),
                );
            }
            if let Some((label, line)) = label {
                triggers.push((LabelTrigger { label, tasks }, line));
            }
        }
        triggers.into_iter().map(|(trigger, _)| trigger).collect()
    }

    /// A label's name, trimmed, or `None` after reporting what is wrong with it.
    fn label(
        &mut self,
        label: &Spanned<String>,
        field: &str,
        earlier: &[(LabelTrigger, u64)],
    ) -> Option<String> {
        let field = format!("{field}.label");
        let name = label.value.trim();
        let problem = if name.is_empty() {
            Some((
                "the label is empty".to_owned(),
                Some("write the label's name, like `ollama:fix`".to_owned()),
            ))
        } else if name.chars().count() > MAX_LABEL_CHARS {
            Some((
                format!("the label is longer than {MAX_LABEL_CHARS} characters"),
                Some("GitHub allows label names of at most 50 characters".to_owned()),
            ))
        } else if name
            .get(..APP_LABEL_PREFIX.len())
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case(APP_LABEL_PREFIX))
        {
            Some((
                format!("`{name}` is one of the labels the App sets itself"),
                Some(format!(
                    "pick a label that doesn't start with `{APP_LABEL_PREFIX}`, like `ollama:fix`"
                )),
            ))
        } else {
            earlier
                .iter()
                .find(|(trigger, _)| trigger.label.eq_ignore_ascii_case(name))
                .map(|(trigger, line)| {
                    (
                        format!(
                            "the label `{}` is already listed on line {line}",
                            trigger.label
                        ),
                        Some("list each label once, with all the tasks it starts".to_owned()),
                    )
                })
        };
        match problem {
            Some((message, hint)) => {
                self.invalid(&label.referenced, &field, message, hint.as_deref());
                None
            }
            None => Some(name.to_owned()),
        }
    }
}
