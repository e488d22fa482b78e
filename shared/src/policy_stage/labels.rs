//! The `labeled` trigger: a label the config lists, added to an issue or a pull request,
//! starts its tasks — on the pull request's head, or on the default branch's head for an
//! issue — and is then removed, so that adding it again starts another job.
//!
//! A redelivered event (or one processed again after a transient error) finds its jobs
//! by id (from the delivery) and starts none twice; removing the label again is harmless
//! (GitHub's 404 for a label that is gone counts as done). The App's own removal comes back as `unlabeled`, which starts nothing.

use super::run::ThreadRef;
use super::{PolicyStage, StageError, Store, scope_of};
use crate::envelope::{Envelope, Issue, PullRequest};
use crate::job::JobId;
use crate::policy::TriggerKind;
use crate::ports::{GitHub, RepoScope, Workflow};

use super::run::Target;

impl<G: GitHub, S: Store, W: Workflow> PolicyStage<G, S, W> {
    /// `issues` events: only `labeled` starts anything.
    pub(super) async fn issue_changed(
        &self,
        envelope: &Envelope,
        issue: &Issue,
    ) -> Result<(), StageError> {
        if envelope.action.as_deref() != Some("labeled") {
            return Ok(());
        }
        let Some(scope) = scope_of(envelope) else {
            return Ok(());
        };
        let thread = ThreadRef {
            number: issue.number,
            on_pull_request: false,
            comment: None,
        };
        self.label_added(envelope, &scope, thread, None, issue.label.as_deref())
            .await
    }

    /// `label` was added to `thread` (a pull request when `pr` is given).
    pub(super) async fn label_added(
        &self,
        envelope: &Envelope,
        scope: &RepoScope,
        thread: ThreadRef,
        pr: Option<&PullRequest>,
        label: Option<&str>,
    ) -> Result<(), StageError> {
        let Some(label) = label else {
            return Ok(());
        };
        let Some(config) = self.config_or_log(envelope, scope).await? else {
            return Ok(());
        };
        let tasks = config.triggers.tasks_for_label(label).to_vec();
        if tasks.is_empty() {
            return Ok(()); // a label nobody configured
        }
        let number = thread.number;
        let target = match pr {
            Some(pr) => Target {
                commit: pr.refs.head_sha.clone(),
                git_ref: pr.refs.head_ref.clone(),
                from_fork: pr.refs.from_fork,
                thread: Some(thread),
            },
            None => self.thread_target(envelope, scope, &thread).await?,
        };
        // Removed before the jobs are recorded, so that the App's own label changes on the
        // thread (`automation:pending`, ...) come after it. A label that stays only means
        // it must be removed by hand before it can start another job.
        if let Err(error) = self.github.remove_label(scope, number, label).await {
            tracing::warn!(
                delivery = %envelope.delivery,
                repo = %scope.repo,
                job = %JobId::for_trigger(&envelope.delivery, 0),
                number,
                label,
                error = %error,
                "could not remove the label that started the job"
            );
        }
        let command = format!("{} {label}", TriggerKind::Labeled.as_str());
        let trigger = (TriggerKind::Labeled, command.as_str());
        self.run_tasks(envelope, scope, &config, trigger, &tasks, target)
            .await
    }
}
