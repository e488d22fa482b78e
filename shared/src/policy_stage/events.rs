//! Events other than comments: installations coming and going, and the triggers a
//! repository's config sets up (pull requests, pushes, "Re-run" on a check); labels are
//! in `labels`.

use super::run::{Ask, Target, ThreadRef};
use super::voice::Voice;
use super::{PolicyStage, StageError, Store, default_branch, scope_of};
use crate::config::{PrAction, RepoConfig, TaskName};
use crate::envelope::{CheckRun, CheckSuite, Envelope, Installation, PullRequest, Push};
use crate::ids::RepoFullName;
use crate::job::{JobId, JobStatus};
use crate::policy::TriggerKind;
use crate::ports::InstallationRecord;
use crate::ports::Workflow;
use crate::ports::{ChangeSet, GitHub, Permission, RepoScope};

/// How many of a pull request's jobs are checked for stale approvals on a push.
const PENDING_JOBS: usize = 100;

impl<G: GitHub, S: Store, W: Workflow> PolicyStage<G, S, W> {
    pub(super) async fn installation_changed(
        &self,
        envelope: &Envelope,
        installation: &Installation,
    ) -> Result<(), StageError> {
        let Some(id) = envelope.installation else {
            return Ok(());
        };
        let names = |repos: &[crate::envelope::InstalledRepository]| -> Vec<RepoFullName> {
            repos.iter().map(|repo| repo.full_name.clone()).collect()
        };
        match envelope.action.as_deref() {
            Some("deleted") => {
                self.store.remove_installation(id).await?;
                let removed = self.store.remove_installation_schedules(id).await?;
                if removed > 0 {
                    tracing::info!(
                        installation = id.0,
                        removed,
                        "schedules removed with the installation"
                    );
                }
                tracing::info!(installation = id.0, "installation removed");
                return Ok(());
            }
            Some(action @ ("created" | "suspend" | "unsuspend" | "new_permissions_accepted")) => {
                let account = installation.account.as_ref().map_or_else(
                    || envelope.sender.login.clone(),
                    |account| account.login.clone(),
                );
                let record = InstallationRecord {
                    id,
                    account,
                    repository_selection: installation.repository_selection.clone(),
                    suspended: action == "suspend",
                    updated_at_ms: (self.clock)(),
                };
                self.store.upsert_installation(&record).await?;
            }
            _ => {}
        }
        self.store
            .add_repositories(id, &names(&installation.repositories_added))
            .await?;
        self.store
            .remove_repositories(id, &names(&installation.repositories_removed))
            .await?;
        self.schedules_removed(&installation.repositories_removed)
            .await?;
        self.schedules_installed(id, &installation.repositories_added)
            .await?;
        if installation.repositories_truncated {
            tracing::warn!(
                installation = id.0,
                "more repositories changed than the event carries; the list is partial"
            );
        }
        Ok(())
    }

    pub(super) async fn pull_request_changed(
        &self,
        envelope: &Envelope,
        pr: &PullRequest,
    ) -> Result<(), StageError> {
        let Some(scope) = scope_of(envelope) else {
            return Ok(());
        };
        let action = match envelope.action.as_deref() {
            Some("opened") => PrAction::Opened,
            Some("synchronize") => {
                self.invalidate_stale_approvals(&scope, pr).await?;
                PrAction::Synchronize
            }
            Some("reopened") => PrAction::Reopened,
            Some("labeled") => {
                let thread = ThreadRef {
                    number: pr.number,
                    on_pull_request: true,
                    comment: None,
                };
                return self
                    .label_added(envelope, &scope, thread, Some(pr), pr.label.as_deref())
                    .await;
            }
            _ => return Ok(()),
        };
        let Some(config) = self.config_or_log(envelope, &scope).await? else {
            return Ok(());
        };
        let tasks = config.triggers.pr_opened.tasks_for(action).to_vec();
        let filter = &config.triggers.pr_opened.paths;
        let change = ChangeSet::PullRequest(pr.number);
        if tasks.is_empty()
            || !self
                .paths_admit(envelope, &scope, filter, None, change)
                .await?
        {
            return Ok(());
        }
        let thread = ThreadRef {
            number: pr.number,
            on_pull_request: true,
            comment: None,
        };
        let target = Target {
            commit: pr.refs.head_sha.clone(),
            git_ref: pr.refs.head_ref.clone(),
            from_fork: pr.refs.from_fork,
            thread: Some(thread),
        };
        self.run_tasks(
            envelope,
            &scope,
            &config,
            (TriggerKind::PrOpened, TriggerKind::PrOpened.as_str()),
            &tasks,
            target,
        )
        .await
    }

    pub(super) async fn pushed(&self, envelope: &Envelope, push: &Push) -> Result<(), StageError> {
        let Some(scope) = scope_of(envelope) else {
            return Ok(());
        };
        let Some(branch) = push.git_ref.strip_prefix("refs/heads/") else {
            return Ok(()); // tags
        };
        if push.deleted {
            return Ok(());
        }
        if branch == default_branch(envelope)
            && super::schedules::changes_config(push)
            && let Some(repository) = &envelope.repository
        {
            self.refresh_schedule(scope.installation, repository)
                .await?;
        }
        let Some(config) = self.config_or_log(envelope, &scope).await? else {
            return Ok(());
        };
        let tasks = config
            .triggers
            .push
            .tasks_for(branch, &default_branch(envelope))
            .to_vec();
        // A new branch is compared with the default branch; a push to an existing one
        // (forced or not) with what the branch was before.
        let created = push.created || push.before.as_str().bytes().all(|b| b == b'0');
        let base = if created {
            default_branch(envelope)
        } else {
            push.before.as_str().to_owned()
        };
        let filter = &config.triggers.push.paths;
        if tasks.is_empty() {
            return Ok(());
        }
        if created && branch == default_branch(envelope) && filter.is_set() {
            // The default branch itself was just created: there is nothing to compare it
            // with, every file of it is new, so the filter cannot rule the push out.
            tracing::info!(
                delivery = %envelope.delivery,
                repo = %scope.repo,
                "the default branch was created by this push; its paths filter admits it"
            );
        } else {
            let change = ChangeSet::Compare {
                base,
                head: push.after.clone(),
            };
            let known = push.changed_paths.clone();
            if !self
                .paths_admit(envelope, &scope, filter, known, change)
                .await?
            {
                return Ok(());
            }
        }
        let target = Target {
            commit: push.after.clone(),
            git_ref: branch.to_owned(),
            from_fork: false,
            thread: None,
        };
        let trigger = (TriggerKind::Push, TriggerKind::Push.as_str());
        self.run_tasks(envelope, &scope, &config, trigger, &tasks, target)
            .await
    }

    pub(super) async fn check_suite_rerequested(
        &self,
        envelope: &Envelope,
        suite: &CheckSuite,
    ) -> Result<(), StageError> {
        let Some(scope) = scope_of(envelope) else {
            return Ok(());
        };
        let Some(config) = self.config_or_log(envelope, &scope).await? else {
            return Ok(());
        };
        let tasks = config.triggers.check_suite.tasks_for_rerequested().to_vec();
        let thread = suite.pull_requests.first().map(|number| ThreadRef {
            number: *number,
            on_pull_request: true,
            comment: None,
        });
        let target = Target {
            commit: suite.head_sha.clone(),
            git_ref: suite.head_branch.clone().unwrap_or_default(),
            from_fork: false,
            thread,
        };
        self.run_tasks(
            envelope,
            &scope,
            &config,
            (TriggerKind::CheckSuite, TriggerKind::CheckSuite.as_str()),
            &tasks,
            target,
        )
        .await
    }

    /// "Re-run" on one of the App's check runs runs its job again.
    pub(super) async fn check_run_rerequested(
        &self,
        envelope: &Envelope,
        run: &CheckRun,
    ) -> Result<(), StageError> {
        let Some(scope) = scope_of(envelope) else {
            return Ok(());
        };
        let Some(old) = run
            .external_id
            .as_deref()
            .and_then(|id| JobId::parse(id).ok())
        else {
            return Ok(()); // not one of ours
        };
        let Some(old) = self.store.job(&old).await? else {
            return Ok(());
        };
        let Some(config) = self.config_or_log(envelope, &scope).await? else {
            return Ok(());
        };
        let permission = self
            .github
            .permission(&scope, &envelope.sender.login)
            .await?;
        let thread = run.pull_requests.first().map(|number| ThreadRef {
            number: *number,
            on_pull_request: true,
            comment: None,
        });
        let ask = Ask {
            fix_attempt: 0,
            job: JobId::for_trigger(&envelope.delivery, 0),
            // Judged like a comment: whoever clicks must be allowed to start jobs.
            trigger: TriggerKind::Comment,
            task: old.task.clone(),
            params: old.params.clone(),
            permission,
            command: format!("re-run of {}", old.id),
            plan: old.plan.clone(),
        };
        let target = Target {
            commit: run.head_sha.clone(),
            git_ref: old.git_ref.clone(),
            from_fork: false,
            thread,
        };
        self.run_on(envelope, &scope, &config, ask, target, &mut Voice::Direct)
            .await
    }

    /// Starts each of `tasks` on `target`, with ids from the delivery: a redelivery finds
    /// its jobs and starts none twice. `command` is what the audit log says was asked.
    pub(super) async fn run_tasks(
        &self,
        envelope: &Envelope,
        scope: &RepoScope,
        config: &RepoConfig,
        (trigger, command): (TriggerKind, &str),
        tasks: &[TaskName],
        target: Target,
    ) -> Result<(), StageError> {
        for (index, task) in tasks.iter().enumerate() {
            let ask = Ask {
                fix_attempt: 0,
                job: JobId::for_trigger(&envelope.delivery, index),
                trigger,
                task: task.as_str().to_owned(),
                params: String::new(),
                // Triggers are not judged by the sender's role; forks need approval.
                permission: Permission::None,
                command: command.to_owned(),
                plan: None,
            };
            self.run_on(
                envelope,
                scope,
                config,
                ask,
                target.clone(),
                &mut Voice::Direct,
            )
            .await?;
        }
        Ok(())
    }

    /// The config for a trigger; an invalid one only logs (nobody asked, so nobody to
    /// tell), and nothing runs.
    pub(super) async fn config_or_log(
        &self,
        envelope: &Envelope,
        scope: &RepoScope,
    ) -> Result<Option<RepoConfig>, StageError> {
        match self.load_config(scope, &default_branch(envelope)).await? {
            Ok(config) => Ok(Some(config)),
            Err(errors) => {
                tracing::warn!(
                    delivery = %envelope.delivery,
                    repo = %scope.repo,
                    problems = errors.problems().len(),
                    "invalid .ollama-turbo.yml; trigger ignored"
                );
                Ok(None)
            }
        }
    }

    /// New commits on a pull request void the approvals still pending for it.
    async fn invalidate_stale_approvals(
        &self,
        scope: &RepoScope,
        pr: &PullRequest,
    ) -> Result<(), StageError> {
        let jobs = self
            .store
            .jobs_for_thread(&scope.repo, pr.number, PENDING_JOBS)
            .await?;
        for job in jobs {
            let stale = job.status == JobStatus::AwaitingApproval
                && job
                    .approval
                    .pinned_head
                    .as_ref()
                    .is_some_and(|pinned| *pinned != pr.refs.head_sha);
            if stale {
                let head = pr.refs.head_sha.as_str();
                self.invalidate_approval(scope, job, head, &mut Voice::Direct)
                    .await?;
            }
        }
        Ok(())
    }
}
