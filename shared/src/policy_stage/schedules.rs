//! The schedule registry kept in step with the repositories' configs: a push that changes
//! `.ollama-turbo.yml` on the default branch, and the App installed on repositories, make
//! the stage read the config and register the repository's schedule or remove it; an
//! installation removed takes its schedules with it. And the tracking issue a schedule's
//! read-only tasks report on, opened once per repository.

use super::run::ThreadRef;
use super::{PolicyStage, StageError, Store};
use crate::config::CONFIG_FILE_NAME;
use crate::envelope::{InstalledRepository, Push, Repository};
use crate::ids::{InstallationId, RepoId};
use crate::ports::{GitHub, NewIssue, RepoScope, Workflow};
use crate::schedule::entry_for;

/// How many repositories of one installation event have their config read for a schedule:
/// each is a call or two to GitHub, made while the event is handled. The others are
/// registered when a push changes their config.
pub const MAX_INSTALLED_REPOS_READ: usize = 50;

/// The title of the issue a repository's scheduled read-only runs report on.
pub const TRACKING_ISSUE_TITLE: &str = "Ollama Turbo Agent: scheduled runs";

/// The label of the tracking issue, for people looking for it.
pub const TRACKING_ISSUE_LABEL: &str = "automation:scheduled";

/// The tracking issue's description.
pub fn tracking_issue_body() -> String {
    format!(
        "The results of the scheduled tasks of `{CONFIG_FILE_NAME}` that change no code \
         (`schedule` in `automation.triggers`) are posted here, one comment per run. \
         The App opened this issue and keeps using it, closed or open."
    )
}

/// Whether a push to the default branch may have changed the config: it lists the file,
/// or GitHub did not list every file it changes.
pub(super) fn changes_config(push: &Push) -> bool {
    push.created
        || push
            .changed_paths
            .as_ref()
            .is_none_or(|paths| paths.iter().any(|path| path == CONFIG_FILE_NAME))
}

impl<G: GitHub, S: Store, W: Workflow> PolicyStage<G, S, W> {
    /// Reads the config on `repository`'s default branch and registers its schedule, or
    /// removes the repository from the registry when it has none (or an invalid config,
    /// whose schedule could not run).
    pub(super) async fn refresh_schedule(
        &self,
        installation: InstallationId,
        repository: &Repository,
    ) -> Result<(), StageError> {
        let repo = repository.full_name.as_str();
        let Some(branch) = repository.default_branch.clone() else {
            return Ok(());
        };
        let scope = RepoScope {
            installation,
            repo: repository.full_name.clone(),
        };
        let existing = self.store.schedule(repository.id).await?;
        let entry = match self.load_config(&scope, &branch).await? {
            Ok(config) => entry_for(
                installation,
                repository.clone(),
                &config.triggers.schedule,
                existing.as_ref(),
                (self.clock)(),
            ),
            Err(errors) => {
                tracing::warn!(
                    repo,
                    problems = errors.problems().len(),
                    "the config on the default branch is invalid; its schedule, if any, is not run"
                );
                None
            }
        };
        match entry {
            Some(entry) => {
                tracing::info!(
                    repo,
                    cron = entry.cron,
                    timezone = entry.timezone,
                    next_fire_ms = entry.next_fire_ms,
                    "schedule registered"
                );
                self.store.put_schedule(&entry).await?;
            }
            None => {
                if self.store.remove_schedule(repository.id).await? {
                    tracing::info!(repo, "schedule removed");
                }
            }
        }
        Ok(())
    }

    /// Registers the schedules of repositories the App was installed on, reading at most
    /// [`MAX_INSTALLED_REPOS_READ`] configs.
    pub(super) async fn schedules_installed(
        &self,
        installation: InstallationId,
        added: &[InstalledRepository],
    ) -> Result<(), StageError> {
        if added.len() > MAX_INSTALLED_REPOS_READ {
            tracing::warn!(
                installation = installation.0,
                added = added.len(),
                read = MAX_INSTALLED_REPOS_READ,
                "more repositories were added than are read for schedules at once; the others register theirs when a push changes their config"
            );
        }
        for added in added.iter().take(MAX_INSTALLED_REPOS_READ) {
            let scope = RepoScope {
                installation,
                repo: added.full_name.clone(),
            };
            // One repository GitHub will not describe (gone since) does not hold back the
            // others; a passing failure has the event tried again.
            let read = match self.github.repository(&scope).await {
                Ok(info) => {
                    let repository = Repository {
                        id: added.id,
                        full_name: added.full_name.clone(),
                        default_branch: Some(info.default_branch),
                        private: info.private,
                    };
                    self.refresh_schedule(installation, &repository).await
                }
                Err(err) => Err(err.into()),
            };
            match read {
                Ok(()) => {}
                Err(err) if err.is_transient() => return Err(err),
                Err(err) => {
                    tracing::warn!(repo = added.full_name.as_str(), error = %err, "the repository's schedule could not be read");
                }
            }
        }
        Ok(())
    }

    /// Removes the schedules of repositories the App no longer reaches.
    pub(super) async fn schedules_removed(
        &self,
        removed: &[InstalledRepository],
    ) -> Result<(), StageError> {
        for repo in removed {
            if self.store.remove_schedule(repo.id).await? {
                tracing::info!(
                    repo = repo.full_name.as_str(),
                    "schedule removed with the repository"
                );
            }
        }
        Ok(())
    }

    /// The repository's tracking issue, opened the first time it is needed.
    pub(super) async fn tracking_thread(
        &self,
        scope: &RepoScope,
        repo: RepoId,
    ) -> Result<ThreadRef, StageError> {
        let number = match self.store.tracking_issue(repo).await? {
            Some(number) => number,
            None => {
                let issue = NewIssue {
                    title: TRACKING_ISSUE_TITLE.to_owned(),
                    body: tracking_issue_body(),
                    labels: vec![TRACKING_ISSUE_LABEL.to_owned()],
                };
                let number = self.github.open_issue(scope, &issue).await?;
                self.store.put_tracking_issue(repo, number).await?;
                tracing::info!(
                    repo = scope.repo.as_str(),
                    issue = number,
                    "opened the tracking issue of the scheduled runs"
                );
                number
            }
        };
        Ok(ThreadRef {
            number,
            on_pull_request: false,
            comment: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::Push;
    use crate::ids::CommitSha;

    #[test]
    fn the_tracking_issue_says_what_it_is_for() {
        insta::assert_snapshot!(format!(
            "{TRACKING_ISSUE_TITLE}\n[{TRACKING_ISSUE_LABEL}]\n\n{}",
            tracking_issue_body()
        ));
    }

    #[test]
    fn a_push_changes_the_config_when_it_lists_it_or_does_not_list_everything() {
        let push = |paths: Option<Vec<&str>>, created: bool| Push {
            git_ref: "refs/heads/main".to_owned(),
            before: CommitSha::new("a".repeat(40)),
            after: CommitSha::new("b".repeat(40)),
            created,
            deleted: false,
            forced: false,
            commit_count: 1,
            changed_paths: paths.map(|paths| paths.into_iter().map(str::to_owned).collect()),
        };
        assert!(changes_config(&push(Some(vec![CONFIG_FILE_NAME]), false)));
        assert!(!changes_config(&push(Some(vec!["src/lib.rs"]), false)));
        assert!(!changes_config(&push(
            Some(vec!["docs/.ollama-turbo.yml"]),
            false
        )));
        assert!(changes_config(&push(None, false)));
        assert!(changes_config(&push(Some(vec![]), true)));
    }
}
