//! Which task runs, and how: the repository's `.ollama-turbo.yml` as committed at HEAD
//! (or the defaults without one), the task by name, and the model override.

use ota_runner::agent::TaskSpec;
use shared::config::{CONFIG_FILE_NAME, RepoConfig};

use super::errors::RunError;
use super::repo::LocalRepo;

/// The repository's configuration at its HEAD commit.
pub async fn config_at_head(repo: &LocalRepo) -> Result<RepoConfig, RunError> {
    match repo.file_at_head(CONFIG_FILE_NAME).await? {
        None => Ok(RepoConfig::default()),
        Some(bytes) => RepoConfig::parse_bytes(&bytes).map_err(|errors| RunError::InvalidConfig {
            commit: repo.head().short().to_owned(),
            errors,
        }),
    }
}

/// The spec of task `name`, with `model` in place of the configured one when given. A task
/// whose deliverable goes onto an existing pull request (a review) cannot run on a local
/// checkout.
pub fn choose(config: &RepoConfig, name: &str, model: Option<&str>) -> Result<TaskSpec, RunError> {
    let task = config.task(name).ok_or_else(|| RunError::UnknownTask {
        task: name.to_owned(),
        known: config.task_names().map(ToString::to_string).collect(),
    })?;
    if task.deliverable.needs_existing_pull_request() {
        return Err(RunError::ReviewIsNotLocal {
            task: name.to_owned(),
        });
    }
    let mut spec = TaskSpec::from_config(task);
    if let Some(model) = model {
        let model = model.trim();
        if model.is_empty() {
            return Err(RunError::EmptyModel);
        }
        spec.model = model.to_owned();
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> RepoConfig {
        RepoConfig::parse(
            "version: 1\nautomation:\n  tasks:\n    lint:\n      description: Fix lints\n      \
             prompt: Fix every warning.\n      command: cargo clippy\n      model: small:1b\n",
        )
        .expect("a valid config")
    }

    #[test]
    fn built_in_and_custom_tasks_are_found() {
        let config = config();
        let lint = choose(&config, "lint", None).expect("the custom task");
        assert_eq!(lint.model, "small:1b");
        assert_eq!(lint.commands, ["cargo clippy"]);
        let refactor = choose(&config, "refactor", Some(" big:70b ")).expect("a built-in task");
        assert_eq!(refactor.model, "big:70b");
    }

    #[test]
    fn unknown_tasks_list_every_known_one() {
        let Err(RunError::UnknownTask { known, .. }) = choose(&config(), "refactr", None) else {
            panic!("an unknown task");
        };
        assert_eq!(
            known,
            [
                "deps", "docs", "fix", "lint", "refactor", "resolve", "review", "test"
            ]
        );
    }

    #[test]
    fn review_and_empty_models_are_refused() {
        assert!(matches!(
            choose(&config(), "review", None),
            Err(RunError::ReviewIsNotLocal { .. })
        ));
        assert!(matches!(
            choose(&config(), "fix", Some("  ")),
            Err(RunError::EmptyModel)
        ));
    }
}
