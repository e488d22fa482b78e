//! The task names a repository accepts after `/ollama`: the built-in ones and those its
//! `.ollama-turbo.yml` defines, with the short descriptions the help text shows.

use crate::config::{BuiltinTask, RESERVED_TASK_NAMES, TaskName};

/// Whether `name` could never be run as a task: empty, containing whitespace (the parser
/// splits words on it), or a reserved word, compared without regard to ASCII case.
fn is_unusable_task_name(name: &str) -> bool {
    name.is_empty()
        || name.chars().any(char::is_whitespace)
        || RESERVED_TASK_NAMES
            .iter()
            .any(|reserved| reserved.eq_ignore_ascii_case(name))
}

/// A task the repository accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskInfo {
    pub name: TaskName,
    /// One line for the help text; `None` shows the name alone.
    pub description: Option<String>,
}

/// The tasks a repository accepts, in the order the help text lists them. Names are
/// matched without regard to ASCII case; the first spelling added is the one kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownTasks {
    tasks: Vec<TaskInfo>,
}

impl KnownTasks {
    /// The built-in tasks ([`BuiltinTask`]), with their descriptions.
    pub fn builtin() -> Self {
        let mut tasks = Self::default();
        for task in BuiltinTask::ALL {
            tasks.add(task.name(), Some(task.description().to_owned()));
        }
        tasks
    }

    /// Tasks known by name only; a built-in name keeps its built-in description.
    pub fn from_names(names: &[&str]) -> Self {
        let mut tasks = Self::default();
        for name in names {
            tasks.add(name, None);
        }
        tasks
    }

    /// Adds a task, or replaces the description of the task with that name. Without a
    /// description, a built-in name gets its built-in one. Returns `false`, and adds
    /// nothing, for a name that could never be typed as a task: empty, containing whitespace,
    /// or one of `help`, `status`, `approve`, `cancel` and `retry` (the configuration's
    /// validation refuses those with a message; here they are only left out).
    pub fn add(&mut self, name: &str, description: Option<String>) -> bool {
        if is_unusable_task_name(name) {
            return false;
        }
        // Configured names are validated lowercase; comments may use any case.
        let Ok(task_name) = TaskName::new(&name.to_ascii_lowercase()) else {
            return false;
        };
        let description = description.or_else(|| {
            BuiltinTask::from_name(task_name.as_str()).map(|task| task.description().to_owned())
        });
        match self
            .tasks
            .iter_mut()
            .find(|task| task.name.as_str().eq_ignore_ascii_case(name))
        {
            Some(task) => task.description = description,
            None => self.tasks.push(TaskInfo {
                name: task_name,
                description,
            }),
        }
        true
    }

    /// The task called `word`, compared without regard to ASCII case.
    pub fn find(&self, word: &str) -> Option<&TaskName> {
        self.tasks
            .iter()
            .map(|task| &task.name)
            .find(|name| name.as_str().eq_ignore_ascii_case(word))
    }

    pub fn iter(&self) -> impl Iterator<Item = &TaskInfo> {
        self.tasks.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_tasks_are_found_in_any_case_and_keep_their_spelling() {
        let tasks = KnownTasks::builtin();
        assert_eq!(
            tasks.find("REFACTOR").map(TaskName::as_str),
            Some("refactor")
        );
        assert_eq!(tasks.find("refactors"), None);
        assert_eq!(tasks.iter().count(), BuiltinTask::ALL.len());
    }

    #[test]
    fn configured_tasks_join_and_may_redescribe_builtins() {
        let mut tasks = KnownTasks::builtin();
        assert!(tasks.add("Migrate-DB", Some("Write a migration.".to_owned())));
        assert!(tasks.add("fix", Some("Fix it our way.".to_owned())));
        // Task names are lowercase, as the configuration's validation requires.
        assert_eq!(
            tasks.find("MIGRATE-db").map(TaskName::as_str),
            Some("migrate-db")
        );
        let fix = tasks.iter().find(|task| task.name.as_str() == "fix");
        assert_eq!(
            fix.and_then(|task| task.description.as_deref()),
            Some("Fix it our way.")
        );
        assert_eq!(tasks.iter().count(), BuiltinTask::ALL.len() + 1);
    }

    #[test]
    fn names_that_could_never_be_typed_are_refused() {
        let mut tasks = KnownTasks::default();
        assert!(!tasks.add("Help", None));
        assert!(!tasks.add("status", None));
        assert!(!tasks.add("approve", None));
        assert!(!tasks.add("two words", None));
        assert!(!tasks.add("", None));
        assert!(tasks.is_empty());
    }

    #[test]
    fn names_alone_borrow_builtin_descriptions() {
        let tasks = KnownTasks::from_names(&["docs", "lint"]);
        let descriptions: Vec<_> = tasks.iter().map(|t| t.description.as_deref()).collect();
        assert_eq!(
            descriptions,
            vec![Some(BuiltinTask::Docs.description()), None]
        );
    }
}
