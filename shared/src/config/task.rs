//! Tasks: their names, the seven built-in ones with their defaults and what each delivers,
//! and the resolved settings ([`TaskConfig`]) a job runs with.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::deliverable::Deliverable;
use super::limits::{DEFAULT_MAX_TOKENS, DEFAULT_MODEL, DEFAULT_TIMEOUT};
use super::sampling::{Sampling, Think};

/// Longest task name: names are typed after `/ollama`, and appear in branch names
/// (`ollama/<task>-<short job id>`) and check-run titles, which should stay readable.
pub const MAX_TASK_NAME_CHARS: usize = 32;

/// Words of the `/ollama` command grammar that are not tasks. A task with one of these
/// names could never be started, because the command would mean something else.
pub const RESERVED_TASK_NAMES: &[&str] =
    &["help", "approve", "cancel", "retry", "status", "revise"];

/// A valid task name: a lowercase letter, then lowercase letters, digits, `-` or `_`, at
/// most [`MAX_TASK_NAME_CHARS`] long, and not one of [`RESERVED_TASK_NAMES`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskName(String);

/// Why a string is not a [`TaskName`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskNameError {
    #[error("a task name can't be empty")]
    Empty,
    #[error("task name `{0}` is longer than {MAX_TASK_NAME_CHARS} characters")]
    TooLong(String),
    #[error(
        "task name `{0}` must start with a lowercase letter and contain only lowercase \
         letters, digits, `-` and `_`"
    )]
    BadCharacters(String),
    #[error("task name `{0}` is reserved: `/ollama {0}` is a command of its own")]
    Reserved(String),
}

impl TaskName {
    /// Checks `name` against the rules above.
    pub fn new(name: &str) -> Result<Self, TaskNameError> {
        let mut chars = name.chars();
        let Some(first) = chars.next() else {
            return Err(TaskNameError::Empty);
        };
        if name.chars().count() > MAX_TASK_NAME_CHARS {
            return Err(TaskNameError::TooLong(name.to_owned()));
        }
        let allowed =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
        if !first.is_ascii_lowercase() || !chars.all(allowed) {
            return Err(TaskNameError::BadCharacters(name.to_owned()));
        }
        if RESERVED_TASK_NAMES.contains(&name) {
            return Err(TaskNameError::Reserved(name.to_owned()));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TaskName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for TaskName {
    type Err = TaskNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl Borrow<str> for TaskName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for TaskName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<BuiltinTask> for TaskName {
    fn from(task: BuiltinTask) -> Self {
        Self(task.name().to_owned())
    }
}

/// The tasks every repository has, listed or not. A `.ollama-turbo.yml` entry with one of
/// these names overrides the keys it sets and keeps the defaults below for the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BuiltinTask {
    Refactor,
    Test,
    Docs,
    Fix,
    Review,
    /// Update the dependencies within the ranges the manifests allow (meant for schedules).
    Deps,
    /// Merge the pull request's base into its branch and resolve the conflicts.
    Resolve,
}

impl BuiltinTask {
    pub const ALL: [Self; 7] = [
        Self::Refactor,
        Self::Test,
        Self::Docs,
        Self::Fix,
        Self::Review,
        Self::Deps,
        Self::Resolve,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Refactor => "refactor",
            Self::Test => "test",
            Self::Docs => "docs",
            Self::Fix => "fix",
            Self::Review => "review",
            Self::Deps => "deps",
            Self::Resolve => "resolve",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|task| task.name() == name)
    }

    /// The one-line summary shown by `/ollama help` unless the file sets `description`.
    pub fn description(self) -> &'static str {
        match self {
            Self::Refactor => "Restructure code without changing what it does",
            Self::Test => "Write or extend tests",
            Self::Docs => "Write or update documentation",
            Self::Fix => "Fix a bug, a failing test or a failing build",
            Self::Review => "Review the pull request and comment on it",
            Self::Deps => "Update dependencies within their allowed versions",
            Self::Resolve => {
                "Merge the base branch into the pull request and resolve the conflicts"
            }
        }
    }

    /// Default time limit. A review reads and comments, so it gets less time; docs rarely
    /// need a test run.
    pub fn default_timeout(self) -> Duration {
        match self {
            Self::Refactor | Self::Test | Self::Fix | Self::Deps | Self::Resolve => DEFAULT_TIMEOUT,
            Self::Docs => Duration::from_secs(20 * 60),
            Self::Review => Duration::from_secs(15 * 60),
        }
    }

    /// Default for `auto_fix`: on for the tasks whose point is code that passes `command`.
    pub fn default_auto_fix(self) -> bool {
        match self {
            Self::Refactor | Self::Test | Self::Fix | Self::Deps | Self::Resolve => true,
            Self::Docs | Self::Review => false,
        }
    }

    /// What the task's job produces: a review posts one on its pull request, every other
    /// built-in task proposes its changes in a pull request.
    pub fn deliverable(self) -> Deliverable {
        match self {
            Self::Refactor | Self::Test | Self::Docs | Self::Fix | Self::Deps | Self::Resolve => {
                Deliverable::PullRequest
            }
            Self::Review => Deliverable::Review,
        }
    }
}

impl fmt::Display for BuiltinTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A task with every setting resolved: what the file says, else `automation.defaults`,
/// else the built-in default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskConfig {
    pub name: TaskName,
    /// Set for the seven built-in tasks, `None` for a repository's own.
    pub builtin: Option<BuiltinTask>,
    /// What the job produces: the built-in task's own ([`BuiltinTask::deliverable`]); a
    /// repository's own task changes code ([`Deliverable::PullRequest`]).
    pub deliverable: Deliverable,
    /// One line for `/ollama help`.
    pub description: String,
    /// Extra instructions for the model. Required for a custom task; for a built-in one,
    /// added to its own prompt.
    pub prompt: Option<String>,
    /// Shell command the agent may run to check its work (for example `cargo test`).
    pub command: Option<String>,
    /// Ollama model name, for example `qwen3-coder:30b`.
    pub model: String,
    /// The model to use when the job runs on Ollama's hosted service (for example
    /// `gpt-oss:120b`), whose models differ from a self-hosted GPU's. Without one, a job
    /// does not overflow to the hosted service while a GPU is configured: it waits for the
    /// GPU.
    pub hosted_model: Option<String>,
    /// Whether a thinking model thinks, sent as the request's `think`; `None` leaves
    /// Ollama's default (on, for models that can think).
    pub think: Option<Think>,
    /// Sampling options sent in the request's `options`.
    pub sampling: Sampling,
    /// Output token budget per model response.
    pub max_tokens: u32,
    /// Wall-clock limit for the whole task.
    pub timeout: Duration,
    /// When `command` fails after the agent's change, hand the output back to the model
    /// and let it try again before reporting.
    pub auto_fix: bool,
    /// Where the agent starts (a monorepo's package): its repository map, a search
    /// without a path and `command` start in this directory, relative to the repository
    /// root; `None` for the root.
    pub directory: Option<String>,
    /// How many candidate changes the runner makes from the same start before it keeps
    /// one (best-of-N): 1 makes one attempt.
    pub candidates: u8,
    /// Whether the job first explores read-only and posts a plan, which `/approve`
    /// applies and `/ollama revise` re-plans.
    pub plan: bool,
}

impl TaskConfig {
    /// The model for a job on `hosted` (Ollama's hosted service) or not: `hosted_model`
    /// there when set, else `model`.
    pub fn model_for(&self, hosted: bool) -> &str {
        match &self.hosted_model {
            Some(hosted_model) if hosted => hosted_model,
            _ => &self.model,
        }
    }

    /// A built-in task exactly as it is when the file doesn't mention it.
    pub fn builtin(task: BuiltinTask) -> Self {
        Self {
            name: task.into(),
            builtin: Some(task),
            deliverable: task.deliverable(),
            description: task.description().to_owned(),
            prompt: None,
            command: None,
            model: DEFAULT_MODEL.to_owned(),
            hosted_model: None,
            think: None,
            sampling: Sampling::default(),
            max_tokens: DEFAULT_MAX_TOKENS,
            timeout: task.default_timeout(),
            auto_fix: task.default_auto_fix(),
            directory: None,
            candidates: 1,
            plan: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_names_follow_the_rules() {
        for good in ["lint", "a", "bump-deps", "e2e_tests", "x1"] {
            assert_eq!(
                TaskName::new(good).map(|n| n.to_string()),
                Ok(good.to_owned())
            );
        }
        assert_eq!(TaskName::new(""), Err(TaskNameError::Empty));
        for bad in [
            "Lint",
            "1st",
            "-x",
            "_x",
            "with space",
            "émoji",
            "a.b",
            "a/b",
        ] {
            assert!(
                matches!(TaskName::new(bad), Err(TaskNameError::BadCharacters(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            TaskName::new(&"a".repeat(33)),
            Err(TaskNameError::TooLong(_))
        ));
        assert!(TaskName::new(&"a".repeat(32)).is_ok());
        assert!(matches!(
            TaskName::new("help"),
            Err(TaskNameError::Reserved(_))
        ));
    }

    #[test]
    fn builtin_names_are_valid_task_names_and_round_trip() {
        for task in BuiltinTask::ALL {
            assert!(TaskName::new(task.name()).is_ok());
            assert_eq!(BuiltinTask::from_name(task.name()), Some(task));
            assert!(!RESERVED_TASK_NAMES.contains(&task.name()));
        }
        assert_eq!(BuiltinTask::from_name("lint"), None);
    }

    #[test]
    fn every_builtin_task_has_its_deliverable() {
        let delivered: Vec<_> = BuiltinTask::ALL
            .into_iter()
            .map(|task| (task.name(), task.deliverable()))
            .collect();
        assert_eq!(
            delivered,
            [
                ("refactor", Deliverable::PullRequest),
                ("test", Deliverable::PullRequest),
                ("docs", Deliverable::PullRequest),
                ("fix", Deliverable::PullRequest),
                ("review", Deliverable::Review),
                ("deps", Deliverable::PullRequest),
                ("resolve", Deliverable::PullRequest),
            ]
        );
        for task in BuiltinTask::ALL {
            assert_eq!(TaskConfig::builtin(task).deliverable, task.deliverable());
        }
    }
}
