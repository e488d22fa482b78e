//! `automation.triggers`, checked: each trigger's switch, its task list (every name must
//! be a task) and its own settings (pull request actions, branches, cron). The label
//! triggers are checked in `resolve_labels`.
//!
//! A trigger section that is written is on unless it says `enabled: false`; one that is
//! left out is off, except `comment`, which is on by default.

use serde_saphyr::{Location, Spanned};

use super::branch::BranchPattern;
use super::check::Checker;
use super::cron::CronSchedule;
use super::error::backticked;
use super::limits::MAX_BRANCH_PATTERNS;
use super::model::{
    CheckSuiteTrigger, CiFailedTrigger, CommentTrigger, MAX_CI_FIX_ATTEMPTS, PrAction,
    PrOpenedTrigger, PushTrigger, ScheduleTrigger, Triggers,
};
use super::paths::PathFilter;
use super::raw::{RawTaskList, RawTriggers};
use super::resolve::Tasks;
use super::suggest::did_you_mean;
use super::task::TaskName;
use super::timezone::ScheduleZone;

/// Where the triggers live, the start of every field path reported here.
const FIELD: &str = "automation.triggers";

/// The triggers by name, with the task each starts when named in the shorthand list
/// (`comment` allows every task; `schedule` has none, since it needs a `cron`).
pub(super) const TRIGGER_DEFAULTS: [(&str, &str); 6] = [
    ("comment", ""),
    ("pr_opened", "review"),
    ("push", "test"),
    ("check_suite", "fix"),
    ("ci_failed", "fix"),
    ("schedule", "docs"),
];

fn enabled(value: Option<Spanned<bool>>) -> bool {
    value.is_none_or(|v| v.value)
}

impl Checker {
    pub(super) fn triggers(&mut self, raw: RawTriggers, tasks: &Tasks) -> Triggers {
        let mut triggers = Triggers::default();
        if let Some(section) = raw.comment {
            let field = format!("{FIELD}.comment");
            let comment = section.value;
            triggers.comment = CommentTrigger {
                enabled: enabled(comment.enabled),
                tasks: comment
                    .tasks
                    .map(|list| self.task_list(&list, &field, tasks)),
            };
        }
        if let Some(section) = raw.pr_opened {
            let field = format!("{FIELD}.pr_opened");
            let pr = section.value;
            let mut actions = PrAction::ALL.to_vec();
            if let Some(list) = pr.actions {
                if list.value.is_empty() {
                    self.invalid(
                        &list.referenced,
                        &format!("{field}.actions"),
                        "lists no actions",
                        Some("list some of `opened`, `synchronize`, `reopened`, or leave the key out for all three"),
                    );
                }
                actions.clear();
                for action in list.value {
                    if !actions.contains(&action) {
                        actions.push(action);
                    }
                }
            }
            let enabled = enabled(pr.enabled);
            triggers.pr_opened = PrOpenedTrigger {
                enabled,
                actions,
                paths: self.path_filter(pr.paths, pr.paths_ignore, &field),
                tasks: self.trigger_tasks(
                    pr.tasks,
                    enabled,
                    &section.referenced,
                    &field,
                    tasks,
                    "review",
                ),
            };
        }
        if let Some(section) = raw.push {
            let field = format!("{FIELD}.push");
            let push = section.value;
            let enabled = enabled(push.enabled);
            triggers.push = PushTrigger {
                enabled,
                branches: push
                    .branches
                    .map(|list| self.branches(list, &field))
                    .unwrap_or_default(),
                paths: self.path_filter(push.paths, push.paths_ignore, &field),
                tasks: self.trigger_tasks(
                    push.tasks,
                    enabled,
                    &section.referenced,
                    &field,
                    tasks,
                    "test",
                ),
            };
        }
        if let Some(section) = raw.check_suite {
            let field = format!("{FIELD}.check_suite");
            let suite = section.value;
            let enabled = enabled(suite.enabled);
            triggers.check_suite = CheckSuiteTrigger {
                enabled,
                tasks: self.trigger_tasks(
                    suite.tasks,
                    enabled,
                    &section.referenced,
                    &field,
                    tasks,
                    "fix",
                ),
            };
        }
        if let Some(section) = raw.ci_failed {
            let field = format!("{FIELD}.ci_failed");
            let failed = section.value;
            let enabled = enabled(failed.enabled);
            let max_attempts = match failed.max_attempts {
                None => CiFailedTrigger::default().max_attempts,
                Some(value) => match u32::try_from(value.value) {
                    Ok(n @ 1..=MAX_CI_FIX_ATTEMPTS) => n,
                    _ => {
                        self.invalid(
                            &value.referenced,
                            &format!("{field}.max_attempts"),
                            format!(
                                "`{}` is not between 1 and {MAX_CI_FIX_ATTEMPTS}",
                                value.value
                            ),
                            Some("each attempt is a whole job; 2 (the default) is usually enough"),
                        );
                        CiFailedTrigger::default().max_attempts
                    }
                },
            };
            triggers.ci_failed = CiFailedTrigger {
                enabled,
                paths: self.path_filter(failed.paths, failed.paths_ignore, &field),
                max_attempts,
                tasks: self.trigger_tasks(
                    failed.tasks,
                    enabled,
                    &section.referenced,
                    &field,
                    tasks,
                    "fix",
                ),
            };
        }
        if let Some(section) = raw.schedule {
            let field = format!("{FIELD}.schedule");
            let schedule = section.value;
            let enabled = enabled(schedule.enabled);
            let cron = match schedule.cron {
                Some(cron) => match CronSchedule::parse(&cron.value) {
                    Ok(parsed) => Some(parsed),
                    Err(message) => {
                        self.invalid(&cron.referenced, &format!("{field}.cron"), message, None);
                        None
                    }
                },
                None => {
                    if enabled {
                        self.invalid(
                            &section.referenced,
                            &field,
                            "`schedule` is on but has no `cron`",
                            Some("add `cron: \"0 3 * * 1\"` (minute hour day-of-month month day-of-week)"),
                        );
                    }
                    None
                }
            };
            let timezone = match schedule.timezone {
                Some(name) => match ScheduleZone::parse(&name.value) {
                    Ok(zone) => zone,
                    Err(message) => {
                        self.invalid(
                            &name.referenced,
                            &format!("{field}.timezone"),
                            message,
                            None,
                        );
                        ScheduleZone::utc()
                    }
                },
                None => ScheduleZone::utc(),
            };
            triggers.schedule = ScheduleTrigger {
                enabled,
                cron,
                timezone,
                tasks: self.trigger_tasks(
                    schedule.tasks,
                    enabled,
                    &section.referenced,
                    &field,
                    tasks,
                    "docs",
                ),
            };
        }
        if let Some(list) = raw.labeled {
            triggers.labeled = self.label_triggers(list, tasks);
        }
        triggers
    }

    /// The shorthand `triggers: [comment, pr_opened, ...]`: the listed triggers are on with
    /// their defaults ([`TRIGGER_DEFAULTS`]), the others off (`comment` too, when left
    /// out). `schedule` needs a `cron`, which a list can't give.
    pub(super) fn trigger_names(&mut self, names: &[Spanned<String>]) -> Triggers {
        let mut triggers = Triggers {
            comment: CommentTrigger {
                enabled: false,
                tasks: None,
            },
            ..Triggers::default()
        };
        let known: Vec<&str> = TRIGGER_DEFAULTS
            .map(|(name, _)| name)
            .into_iter()
            .chain(["labeled"])
            .collect();
        let task = |name: &str| TaskName::new(name).into_iter().collect::<Vec<_>>();
        for (index, name) in names.iter().enumerate() {
            let field = format!("{FIELD}[{index}]");
            let default_tasks = TRIGGER_DEFAULTS
                .iter()
                .find(|(trigger, _)| *trigger == name.value.trim())
                .map(|(_, tasks)| task(tasks));
            match (name.value.trim(), default_tasks) {
                ("comment", _) => triggers.comment.enabled = true,
                ("pr_opened", Some(tasks)) => {
                    triggers.pr_opened = PrOpenedTrigger {
                        enabled: true,
                        tasks,
                        ..PrOpenedTrigger::default()
                    };
                }
                ("push", Some(tasks)) => {
                    triggers.push = PushTrigger {
                        enabled: true,
                        branches: Vec::new(),
                        paths: PathFilter::default(),
                        tasks,
                    };
                }
                ("check_suite", Some(tasks)) => {
                    triggers.check_suite = CheckSuiteTrigger {
                        enabled: true,
                        tasks,
                    };
                }
                ("ci_failed", Some(tasks)) => {
                    triggers.ci_failed = CiFailedTrigger {
                        enabled: true,
                        tasks,
                        ..CiFailedTrigger::default()
                    };
                }
                ("labeled", _) => self.invalid(
                    &name.referenced,
                    &field,
                    "`labeled` needs labels, which the list form can't give",
                    Some(
                        "write `triggers:` as a mapping and list the labels: \
                         `labeled: [{label: \"ollama:fix\", tasks: [fix]}]`",
                    ),
                ),
                ("schedule", _) => self.invalid(
                    &name.referenced,
                    &field,
                    "`schedule` needs a `cron`, which the list form can't give",
                    Some(
                        "write `triggers:` as a mapping and give the schedule its own section: \
                         `schedule: {cron: \"0 3 * * 1\", tasks: [docs]}`",
                    ),
                ),
                (other, _) => {
                    let hint = match did_you_mean(other, known.iter().copied()) {
                        Some(close) => format!("did you mean `{close}`?"),
                        None => format!("the triggers are {}", backticked(&known)),
                    };
                    self.invalid(
                        &name.referenced,
                        &field,
                        format!("there is no trigger `{other}`"),
                        Some(&hint),
                    );
                }
            }
        }
        triggers
    }

    /// A trigger's `tasks`, which must name at least one task when the trigger is on.
    pub(super) fn trigger_tasks(
        &mut self,
        list: Option<RawTaskList>,
        enabled: bool,
        section: &Location,
        field: &str,
        tasks: &Tasks,
        example: &str,
    ) -> Vec<TaskName> {
        let at = list.as_ref().map_or(*section, |list| list.referenced);
        let written = list.as_ref().is_some_and(|list| !list.value.is_empty());
        let names = list
            .map(|list| self.task_list(&list, field, tasks))
            .unwrap_or_default();
        // A list of names that are all wrong is reported name by name already.
        if enabled && !written {
            let trigger = field.rsplit('.').next().unwrap_or(field);
            self.invalid(
                &at,
                &format!("{field}.tasks"),
                format!("`{trigger}` is on but lists no tasks"),
                Some(&format!(
                    "add `tasks: [{example}]`, or `enabled: false` to turn it off"
                )),
            );
        }
        names
    }

    /// Task names that must each be a task of this repository; duplicates are dropped.
    fn task_list(&mut self, list: &RawTaskList, field: &str, tasks: &Tasks) -> Vec<TaskName> {
        let mut names: Vec<TaskName> = Vec::new();
        for (index, name) in list.value.iter().enumerate() {
            match tasks.get_key_value(name.value.as_str()) {
                Some((known, _)) if !names.contains(known) => names.push(known.clone()),
                Some(_) => {}
                None => {
                    let known: Vec<&str> = tasks.keys().map(TaskName::as_str).collect();
                    let hint = match did_you_mean(&name.value, known.iter().copied()) {
                        Some(close) => format!("did you mean `{close}`?"),
                        None => format!("the tasks are {}", backticked(&known)),
                    };
                    self.invalid(
                        &name.referenced,
                        &format!("{field}.tasks[{index}]"),
                        format!("there is no task `{}`", name.value),
                        Some(&hint),
                    );
                }
            }
        }
        names
    }

    fn branches(&mut self, list: Spanned<Vec<Spanned<String>>>, field: &str) -> Vec<BranchPattern> {
        if list.value.len() > MAX_BRANCH_PATTERNS {
            self.invalid(
                &list.referenced,
                &format!("{field}.branches"),
                format!("more than {MAX_BRANCH_PATTERNS} branch patterns"),
                Some("use wildcards, like `release/*`"),
            );
        }
        let mut patterns = Vec::new();
        for (index, branch) in list.value.iter().enumerate() {
            match BranchPattern::parse(&branch.value) {
                Ok(pattern) => patterns.push(pattern),
                Err(message) => self.invalid(
                    &branch.referenced,
                    &format!("{field}.branches[{index}]"),
                    message,
                    None,
                ),
            }
        }
        patterns
    }
}
