//! Tasks as data: each task is a prompt template and a tool policy, not a code path. The
//! agent loop is the same for all of them; what differs is what the model is told and which
//! tools it gets, and the tools follow from what the task delivers ([`Deliverable`]).

use std::time::Duration;

use shared::config::{BuiltinTask, Deliverable, Sampling, TaskConfig, Think};

/// The tools the agent offers, by the names the model calls them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToolName {
    ListFiles,
    ReadFile,
    Search,
    EditFile,
    WriteFile,
    UndoEdit,
    RunCommand,
    Finish,
    SubmitReview,
}

impl ToolName {
    pub const ALL: [Self; 9] = [
        Self::ListFiles,
        Self::ReadFile,
        Self::Search,
        Self::EditFile,
        Self::WriteFile,
        Self::UndoEdit,
        Self::RunCommand,
        Self::Finish,
        Self::SubmitReview,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ListFiles => "list_files",
            Self::ReadFile => "read_file",
            Self::Search => "search",
            Self::EditFile => "edit_file",
            Self::WriteFile => "write_file",
            Self::UndoEdit => "undo_edit",
            Self::RunCommand => "run_command",
            Self::Finish => "finish",
            Self::SubmitReview => "submit_review",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|tool| tool.as_str() == name)
    }

    /// The tool that ends a run delivering `deliverable`: `finish` with a summary of the
    /// change, or `submit_review` with a summary and line comments.
    pub fn ending(deliverable: Deliverable) -> Self {
        match deliverable {
            Deliverable::PullRequest => Self::Finish,
            Deliverable::Review => Self::SubmitReview,
        }
    }
}

/// Which tools a task may use. Reading is always allowed; the rest follows from what the
/// task delivers ([`ToolPolicy::new`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolPolicy {
    /// `edit_file`, `write_file` and `undo_edit`.
    pub edit: bool,
    /// `run_command`, for the task's configured commands.
    pub run_command: bool,
    /// The one tool that ends the run ([`ToolName::ending`]).
    pub ending: ToolName,
}

impl ToolPolicy {
    /// The tools of a task delivering `deliverable`: editing and running its commands
    /// (when it has any) only when it edits code.
    pub fn new(deliverable: Deliverable, has_commands: bool) -> Self {
        Self {
            edit: deliverable.edits_code(),
            run_command: deliverable.edits_code() && has_commands,
            ending: ToolName::ending(deliverable),
        }
    }

    pub fn allows(&self, tool: ToolName) -> bool {
        match tool {
            ToolName::ListFiles | ToolName::ReadFile | ToolName::Search => true,
            ToolName::EditFile | ToolName::WriteFile | ToolName::UndoEdit => self.edit,
            ToolName::RunCommand => self.run_command,
            ToolName::Finish | ToolName::SubmitReview => self.ending == tool,
        }
    }

    /// The allowed tools, in a fixed order.
    pub fn tools(&self) -> Vec<ToolName> {
        ToolName::ALL
            .into_iter()
            .filter(|tool| self.allows(*tool))
            .collect()
    }
}

/// Everything the agent needs to know about the task it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSpec {
    pub name: String,
    pub model: String,
    /// The most tokens one response may have (`num_predict`).
    pub max_tokens: u32,
    /// The request's `think`; `None` leaves Ollama's default.
    pub think: Option<Think>,
    /// The request's sampling `options`.
    pub sampling: Sampling,
    /// The wall-clock limit of the whole run.
    pub timeout: Duration,
    /// What the job produces; the tool policy and the runner's last steps follow from it.
    pub deliverable: Deliverable,
    /// What the task is for, in the words of its template.
    pub instructions: String,
    /// The repository's own `prompt` from `.ollama-turbo.yml`.
    pub repo_instructions: Option<String>,
    /// The commands `run_command` may run; empty when none is configured.
    pub commands: Vec<String>,
    /// When the configured command fails after the model's change, hand the failure back
    /// and let it try again (within the budgets) instead of finishing.
    pub auto_fix: bool,
    /// Where the repository map, a search without a path and the commands start
    /// (`directory` in the config), relative to the repository root; empty for the root.
    pub directory: String,
    pub tools: ToolPolicy,
    /// Best-of-N: how many candidates the runner makes ([`super::candidates`]); 1 for one
    /// run.
    pub candidates: usize,
}

impl TaskSpec {
    /// The directory commands run in: the task's directory, checked like a path from the
    /// model (it must exist, and links must not lead out of the checkout).
    pub(crate) fn command_dir(
        &self,
        workspace: &crate::tools::Workspace,
    ) -> Result<std::path::PathBuf, crate::tools::ToolError> {
        Ok(workspace.resolve_dir(&self.directory)?.abs)
    }

    /// The first step of a task with `plan: true`: the same task, explored read-only and
    /// ended with a plan (`finish`'s summary) instead of a change. One run; no command.
    pub fn for_planning(&self) -> Self {
        let mut spec = self.clone();
        spec.instructions = format!(
            "{PLAN_INSTRUCTIONS}\n\nThe task the plan is for: {}",
            self.instructions
        );
        spec.tools = ToolPolicy {
            edit: false,
            run_command: false,
            ending: ToolName::Finish,
        };
        spec.auto_fix = false;
        spec.candidates = 1;
        spec
    }

    /// The spec of a configured task: its template (a built-in one's, or the generic one of
    /// a repository's own task) and its policy.
    pub fn from_config(config: &TaskConfig) -> Self {
        let commands: Vec<String> = config
            .command
            .iter()
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty())
            .collect();
        let deliverable = config.deliverable;
        Self {
            name: config.name.to_string(),
            deliverable,
            model: config.model.clone(),
            max_tokens: config.max_tokens,
            think: config.think,
            sampling: config.sampling,
            timeout: config.timeout,
            instructions: template(config.builtin).to_owned(),
            repo_instructions: config
                .prompt
                .as_ref()
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty()),
            auto_fix: config.auto_fix && deliverable.edits_code(),
            directory: config.directory.clone().unwrap_or_default(),
            tools: ToolPolicy::new(deliverable, !commands.is_empty()),
            commands,
            candidates: usize::from(config.candidates.max(1)),
        }
    }
}

/// What a planning run is told: explore, change nothing, end with a plan a maintainer
/// can approve.
const PLAN_INSTRUCTIONS: &str = "Plan the change; do not make it. You can read the code but \
     not change it. Explore until you know exactly what to change, then call finish with the \
     plan as the summary, in Markdown with these sections: **Files** (each file you will \
     change or add, and how: name the functions and types), **Steps** (in order), **Risks** \
     (what could break, what you are unsure of) and **Checks** (how the change will be \
     verified). A maintainer reads the plan and approves it or asks for changes; a later run \
     carries it out. Keep it short and specific.";

/// The instructions of each task.
fn template(task: Option<BuiltinTask>) -> &'static str {
    match task {
        Some(BuiltinTask::Refactor) => {
            "Refactor the code as requested: restructure it without changing what it does. \
             Keep public interfaces unless the request says otherwise, follow the style of the \
             surrounding code, and keep the change focused on the request. Update the tests and \
             documentation the change affects."
        }
        Some(BuiltinTask::Fix) => {
            "Fix the problem described: find its cause before changing anything, then make the \
             smallest change that fixes it. When the project has tests, add or adjust one that \
             fails without the fix."
        }
        Some(BuiltinTask::Docs) => {
            "Write or update documentation as requested: README files, guides, and doc comments \
             in the code. Describe what the code actually does (read it first); do not change \
             its behaviour."
        }
        Some(BuiltinTask::Test) => {
            "Write or extend tests as requested. Follow the project's existing test layout and \
             helpers. Run the tests and make them pass; never weaken or delete an existing \
             assertion to make a test pass. When a new test reveals a bug, keep the test and \
             say so in your summary."
        }
        Some(BuiltinTask::Deps) => {
            "Update the project's dependencies within the version ranges its manifests already \
             allow (Cargo.toml, package.json, pyproject.toml or requirements files, go.mod, and \
             the like): refresh the lock files with the package manager's own update command, \
             and do not widen a range or move to a new major version unless the request says \
             so. Run the project's check and make it pass; when an update breaks it, hold that \
             one package back and say so in your summary. List the packages you updated, from \
             which version to which."
        }
        Some(BuiltinTask::Resolve) => {
            "The pull request's base branch has been merged into its branch in your working \
             copy, and the files listed below have conflicts, marked with <<<<<<<, ======= \
             and >>>>>>> lines. Resolve every conflict: read both sides and the code around \
             them, keep what each side meant to do (ask yourself what the base changed and \
             why), and remove every marker. Do not change anything else. Run the project's \
             check and make it pass. In your summary, say for each file how you resolved it."
        }
        Some(BuiltinTask::Review) => {
            "Review the pull request: read the diff below and the code around it. Report \
             concrete problems (bugs, missed edge cases, security issues, misleading names or \
             docs, missing tests) with the file and the line in the new version of the file. \
             Do not comment on style a formatter would fix, and do not praise. You cannot \
             change files. When done, call submit_review once with a short overall summary \
             and your comments (an empty list when you found nothing worth a comment)."
        }
        None => {
            "Do what the repository's instructions below ask, changing files as needed, and \
             keep the change focused on them."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn review_is_read_only_and_ends_with_a_review() {
        let mut config = TaskConfig::builtin(BuiltinTask::Review);
        config.command = Some("cargo test".into());
        config.auto_fix = true;
        let spec = TaskSpec::from_config(&config);
        assert_eq!(spec.deliverable, Deliverable::Review);
        assert_eq!(
            spec.tools.tools(),
            [
                ToolName::ListFiles,
                ToolName::ReadFile,
                ToolName::Search,
                ToolName::SubmitReview
            ]
        );
        assert!(!spec.auto_fix);
    }

    #[test]
    fn each_deliverable_has_its_tools_and_its_ending() {
        for deliverable in Deliverable::ALL {
            let policy = ToolPolicy::new(deliverable, true);
            let ending = ToolName::ending(deliverable);
            assert!(policy.allows(ending), "{deliverable:?}");
            let other_ending = [ToolName::Finish, ToolName::SubmitReview]
                .into_iter()
                .filter(|tool| !policy.allows(*tool))
                .count();
            assert_eq!(other_ending, 1, "one ending only: {deliverable:?}");
            assert_eq!(policy.edit, deliverable.edits_code());
            assert_eq!(policy.run_command, deliverable.edits_code());
            assert!(!ToolPolicy::new(deliverable, false).run_command);
        }
        assert_eq!(ToolName::ending(Deliverable::PullRequest), ToolName::Finish);
        assert_eq!(
            ToolName::ending(Deliverable::Review),
            ToolName::SubmitReview
        );
    }

    #[test]
    fn code_tasks_edit_and_run_their_command() {
        let mut config = TaskConfig::builtin(BuiltinTask::Test);
        config.command = Some("  cargo test  ".into());
        let spec = TaskSpec::from_config(&config);
        assert_eq!(spec.commands, ["cargo test"]);
        assert!(spec.tools.allows(ToolName::EditFile));
        assert!(spec.tools.allows(ToolName::RunCommand));
        assert!(spec.tools.allows(ToolName::Finish));
        assert!(!spec.tools.allows(ToolName::SubmitReview));
        assert!(spec.auto_fix);

        let docs = TaskSpec::from_config(&TaskConfig::builtin(BuiltinTask::Docs));
        assert!(docs.tools.edit && !docs.tools.run_command && !docs.auto_fix);
    }

    #[test]
    fn names_round_trip() {
        for tool in ToolName::ALL {
            assert_eq!(ToolName::from_name(tool.as_str()), Some(tool));
        }
        assert_eq!(ToolName::from_name("rm_rf"), None);
    }
}
