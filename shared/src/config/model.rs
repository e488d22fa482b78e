//! The resolved configuration apart from tasks: which events start which tasks, who must
//! approve, and where results go. Values here have passed validation.

use serde::Deserialize;

use super::branch::BranchPattern;
use super::cron::CronSchedule;
use super::paths::PathFilter;
use super::task::TaskName;
use super::timezone::ScheduleZone;

/// `automation.triggers`: which events start which tasks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Triggers {
    pub comment: CommentTrigger,
    pub pr_opened: PrOpenedTrigger,
    pub push: PushTrigger,
    pub check_suite: CheckSuiteTrigger,
    pub ci_failed: CiFailedTrigger,
    pub schedule: ScheduleTrigger,
    /// `labeled`: a label added to an issue or pull request, in file order.
    pub labeled: Vec<LabelTrigger>,
}

impl Triggers {
    /// The tasks adding `label` starts; empty if none. GitHub's label names are unique
    /// regardless of case, so they are matched that way.
    pub fn tasks_for_label(&self, label: &str) -> &[TaskName] {
        self.labeled
            .iter()
            .find(|trigger| trigger.label.eq_ignore_ascii_case(label.trim()))
            .map_or(&[], |trigger| &trigger.tasks)
    }
}

/// One label of the `labeled` trigger and the tasks adding it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelTrigger {
    pub label: String,
    pub tasks: Vec<TaskName>,
}

/// `/ollama <task>` comments on issues and pull requests. On unless turned off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentTrigger {
    pub enabled: bool,
    /// The tasks a comment may start; `None` means all of them.
    pub tasks: Option<Vec<TaskName>>,
}

impl Default for CommentTrigger {
    fn default() -> Self {
        Self {
            enabled: true,
            tasks: None,
        }
    }
}

impl CommentTrigger {
    /// Whether `/ollama <task>` may start `task`.
    pub fn allows(&self, task: &str) -> bool {
        self.enabled
            && self
                .tasks
                .as_ref()
                .is_none_or(|tasks| tasks.iter().any(|t| t.as_str() == task))
    }
}

/// The `pull_request` actions the `pr_opened` trigger reacts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrAction {
    Opened,
    Synchronize,
    Reopened,
}

impl PrAction {
    pub const ALL: [Self; 3] = [Self::Opened, Self::Synchronize, Self::Reopened];

    /// The action as GitHub names it in the webhook payload.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Opened => "opened",
            Self::Synchronize => "synchronize",
            Self::Reopened => "reopened",
        }
    }
}

/// A pull request was opened, pushed to, or reopened. Off unless configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrOpenedTrigger {
    pub enabled: bool,
    pub actions: Vec<PrAction>,
    /// Which changed files count; the pull request's files are read only when set.
    pub paths: PathFilter,
    pub tasks: Vec<TaskName>,
}

impl Default for PrOpenedTrigger {
    fn default() -> Self {
        Self {
            enabled: false,
            actions: PrAction::ALL.to_vec(),
            paths: PathFilter::default(),
            tasks: Vec::new(),
        }
    }
}

impl PrOpenedTrigger {
    /// The tasks to start for a `pull_request` event with `action`; empty if none.
    pub fn tasks_for(&self, action: PrAction) -> &[TaskName] {
        if self.enabled && self.actions.contains(&action) {
            &self.tasks
        } else {
            &[]
        }
    }
}

/// Commits were pushed to a branch. Off unless configured.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PushTrigger {
    pub enabled: bool,
    /// Branches that start the tasks; empty means the repository's default branch.
    pub branches: Vec<BranchPattern>,
    /// Which changed files count; the pushed files are looked at only when set.
    pub paths: PathFilter,
    pub tasks: Vec<TaskName>,
}

impl PushTrigger {
    /// The tasks to start for a push to `branch` (a name, not a ref); empty if none.
    pub fn tasks_for(&self, branch: &str, default_branch: &str) -> &[TaskName] {
        let matched = if self.branches.is_empty() {
            branch == default_branch
        } else {
            self.branches.iter().any(|pattern| pattern.matches(branch))
        };
        if self.enabled && matched {
            &self.tasks
        } else {
            &[]
        }
    }
}

/// Someone asked GitHub to re-run the checks (`check_suite` `rerequested`). Off unless
/// configured.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckSuiteTrigger {
    pub enabled: bool,
    pub tasks: Vec<TaskName>,
}

impl CheckSuiteTrigger {
    /// The tasks to start when the check suite is re-requested; empty if none.
    pub fn tasks_for_rerequested(&self) -> &[TaskName] {
        if self.enabled { &self.tasks } else { &[] }
    }
}

/// How many times in a row the App tries to fix a failure of its own fix by default.
pub const DEFAULT_CI_FIX_ATTEMPTS: u32 = 2;

/// The most `ci_failed.max_attempts` may be: each attempt is a whole job.
pub const MAX_CI_FIX_ATTEMPTS: u32 = 10;

/// A pull request's checks failed (`check_suite` `completed` with a failing conclusion).
/// Off unless configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiFailedTrigger {
    pub enabled: bool,
    /// Which changed files of the pull request count; read only when set.
    pub paths: PathFilter,
    /// How many fix jobs may follow one another when each fails on the App's own fix.
    pub max_attempts: u32,
    pub tasks: Vec<TaskName>,
}

impl Default for CiFailedTrigger {
    fn default() -> Self {
        Self {
            enabled: false,
            paths: PathFilter::default(),
            max_attempts: DEFAULT_CI_FIX_ATTEMPTS,
            tasks: Vec::new(),
        }
    }
}

impl CiFailedTrigger {
    /// The tasks to start when a pull request's checks fail; empty if none.
    pub fn tasks(&self) -> &[TaskName] {
        if self.enabled { &self.tasks } else { &[] }
    }
}

/// A cron schedule: its tasks start on the default branch head at each of its times.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScheduleTrigger {
    pub enabled: bool,
    pub cron: Option<CronSchedule>,
    /// The zone `cron`'s times are read in (`timezone`); UTC by default.
    pub timezone: ScheduleZone,
    pub tasks: Vec<TaskName>,
}

impl ScheduleTrigger {
    /// The cron and tasks to register when the schedule is on and has both.
    pub fn active(&self) -> Option<(&CronSchedule, &[TaskName])> {
        match &self.cron {
            Some(cron) if self.enabled && !self.tasks.is_empty() => Some((cron, &self.tasks)),
            _ => None,
        }
    }
}

/// `automation.approval`: whether a job waits for `/approve`, and from whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Approval {
    /// Every job waits for an `/approve` comment before it runs.
    pub required: bool,
    /// Only maintainers (the maintain or admin role) may start jobs directly and approve
    /// them; without it, anyone with write access may. Others' jobs wait for an approval.
    pub maintainers_only: bool,
    /// The person who started a job may approve it themselves.
    pub allow_self_approval: bool,
}

/// `automation.output`: where a task's commits go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputMode {
    /// Push to a new branch `ollama/<task>-<short job id>` and open a pull request
    /// (`open_pr: true`, the default).
    #[default]
    PullRequest,
    /// Push the commits onto the branch the task ran on (`push_direct: true`).
    PushDirect,
    /// Push to a new branch and only link it (`open_pr: false`, `push_direct: false`).
    BranchOnly,
}

/// `automation.output.merge`: whether the App merges its own pull requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MergeWhen {
    /// Never (the default): a person merges.
    #[default]
    Never,
    /// Once someone with write access approved the pull request's head and its checks
    /// passed (`after_approval`).
    AfterApproval,
}

impl MergeWhen {
    /// The values as written in the file.
    pub const NAMES: [&'static str; 2] = ["never", "after_approval"];

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "never" => Some(Self::Never),
            "after_approval" => Some(Self::AfterApproval),
            _ => None,
        }
    }
}

/// `automation.output.merge_method`: how the App merges, as GitHub's merge endpoint takes
/// it (`merge_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MergeMethod {
    /// A merge commit: GitHub's own default, and allowed unless a repository turned it
    /// off, so the default here too.
    #[default]
    Merge,
    Squash,
    Rebase,
}

impl MergeMethod {
    /// The values as written in the file.
    pub const NAMES: [&'static str; 3] = ["merge", "squash", "rebase"];

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "merge" => Some(Self::Merge),
            "squash" => Some(Self::Squash),
            "rebase" => Some(Self::Rebase),
            _ => None,
        }
    }

    /// The name GitHub's API and the file use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Merge => "merge",
            Self::Squash => "squash",
            Self::Rebase => "rebase",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(names: &[&str]) -> Vec<TaskName> {
        names.iter().filter_map(|n| TaskName::new(n).ok()).collect()
    }

    #[test]
    fn comment_trigger_allows_listed_tasks_or_all() {
        let all = CommentTrigger::default();
        assert!(all.allows("refactor") && all.allows("anything"));
        let some = CommentTrigger {
            enabled: true,
            tasks: Some(names(&["review"])),
        };
        assert!(some.allows("review") && !some.allows("refactor"));
        let off = CommentTrigger {
            enabled: false,
            tasks: None,
        };
        assert!(!off.allows("review"));
    }

    #[test]
    fn push_trigger_defaults_to_the_default_branch() {
        let push = PushTrigger {
            enabled: true,
            branches: vec![],
            paths: PathFilter::default(),
            tasks: names(&["test"]),
        };
        assert_eq!(push.tasks_for("main", "main"), names(&["test"]).as_slice());
        assert!(push.tasks_for("feature/x", "main").is_empty());
        let release = PushTrigger {
            branches: BranchPattern::parse("release/*").into_iter().collect(),
            ..push.clone()
        };
        assert!(release.tasks_for("main", "main").is_empty());
        assert_eq!(release.tasks_for("release/2", "main").len(), 1);
        let off = PushTrigger {
            enabled: false,
            ..push
        };
        assert!(off.tasks_for("main", "main").is_empty());
    }

    #[test]
    fn pr_trigger_filters_on_action() {
        let pr = PrOpenedTrigger {
            enabled: true,
            actions: vec![PrAction::Opened],
            paths: PathFilter::default(),
            tasks: names(&["review"]),
        };
        assert_eq!(pr.tasks_for(PrAction::Opened).len(), 1);
        assert!(pr.tasks_for(PrAction::Synchronize).is_empty());
        assert!(
            PrOpenedTrigger::default()
                .tasks_for(PrAction::Opened)
                .is_empty()
        );
        let suite = CheckSuiteTrigger {
            enabled: true,
            tasks: names(&["fix"]),
        };
        assert_eq!(suite.tasks_for_rerequested().len(), 1);
    }

    #[test]
    fn label_triggers_match_regardless_of_case() {
        let triggers = Triggers {
            labeled: vec![LabelTrigger {
                label: "ollama:fix".to_owned(),
                tasks: names(&["fix"]),
            }],
            ..Triggers::default()
        };
        assert_eq!(
            triggers.tasks_for_label("Ollama:Fix"),
            names(&["fix"]).as_slice()
        );
        assert!(triggers.tasks_for_label("bug").is_empty());
        assert!(Triggers::default().tasks_for_label("ollama:fix").is_empty());
    }
}
