//! `/approve`, `/cancel` and `/retry`: each finds its job on the thread, checks who is
//! asking, acts on the workflow and says what happened.

use super::comment::{CommandContext, Commenter};
use super::run::Ask;
use super::{PolicyStage, StageError, Store};
use crate::command::JobRef as CommandJobRef;
use crate::github::{CheckConclusion, CheckRunUpdate, CheckStatus, GitHub, Reaction};
use crate::job::{JobId, JobRecord, JobRef, JobStatus, Trigger, Wait};
use crate::policy::messages::{
    ambiguous_job_comment, approval_invalidated_comment, approval_refused_comment,
    approval_window_over_comment, approved_comment, cancelled_comment, job_not_found_comment,
    not_allowed_to_manage_comment, not_cancellable_comment, not_retryable_comment,
};
use crate::policy::{ApprovalRefusal, TriggerKind, approver_role, decide_approval, may_manage};
use crate::store::{AuditEntry, StoreError};
use crate::workflow::{Workflow, WorkflowError};

/// How many of a thread's jobs a command looks through.
const THREAD_JOBS: usize = 100;

impl<G: GitHub, S: Store, W: Workflow> PolicyStage<G, S, W> {
    pub(super) async fn approve(
        &self,
        context: &CommandContext<'_>,
        reference: Option<&CommandJobRef>,
        commenter: &mut Commenter,
    ) -> Result<(), StageError> {
        let CommandContext {
            envelope,
            scope,
            config,
            ..
        } = *context;
        let login = &envelope.sender.login;
        let Some(mut job) = self
            .find_job(context, reference, "waiting for an approval", |job| {
                job.status == JobStatus::AwaitingApproval
            })
            .await?
        else {
            return Ok(());
        };
        let permission = commenter.permission(&self.github, scope, login).await?;
        let current_head = match &job.trigger {
            Trigger::Comment {
                on_pull_request: true,
                number,
                ..
            }
            | Trigger::PullRequest { number } => {
                Some(self.github.pull_request(scope, *number).await?.head_sha)
            }
            _ => None,
        };
        let decision = decide_approval(
            login,
            envelope.sender.kind,
            permission,
            &job,
            current_head.as_ref(),
            config,
        );
        if let Err(refusal) = decision {
            let reply = match &refusal {
                ApprovalRefusal::NotWaiting { .. } => approval_window_over_comment(login, &job),
                ApprovalRefusal::HeadMoved { .. } => {
                    if let Some(head) = &current_head {
                        self.invalidate_approval(scope, job.clone(), head.as_str())
                            .await?;
                    }
                    approval_refused_comment(login, &refusal)
                }
                _ => approval_refused_comment(login, &refusal),
            };
            self.reply(context, "approve", &reply).await?;
            return self
                .audit(self.entry(context, "denied", refusal.to_string(), Some(job.id)))
                .await;
        }

        let token = self
            .store
            .task_token(&job.id, Wait::Approval)
            .await?
            .ok_or_else(|| {
                StageError::NotReady(format!(
                    "job {} has not reached its approval wait yet",
                    job.id
                ))
            })?;
        job.approval.approved_by = Some(login.clone());
        job.approval.approved_at_ms = Some((self.clock)());
        match self
            .store
            .update_job(&job, JobStatus::AwaitingApproval)
            .await
        {
            Ok(()) => {}
            // The workflow moved on (expired, cancelled) or another approval won.
            Err(StoreError::Conflict { .. }) => {
                let current = self.store.job(&job.id).await?.unwrap_or(job);
                if current.approval.approved_by.is_none() {
                    let reply = approval_window_over_comment(login, &current);
                    self.reply(context, "approve", &reply).await?;
                }
                return Ok(());
            }
            Err(err) => return Err(err.into()),
        }
        match self
            .workflow
            .succeed(&token, &serde_json::json!({ "approved_by": login }))
            .await
        {
            Ok(()) => {}
            Err(WorkflowError::TokenExpired) => {
                let reply = approval_window_over_comment(login, &job);
                self.reply(context, "approve", &reply).await?;
                return Ok(());
            }
            Err(err) => return Err(err.into()),
        }
        self.announce(context, &job, "approved", &approved_comment(&job, login))
            .await
    }

    pub(super) async fn cancel(
        &self,
        context: &CommandContext<'_>,
        reference: Option<&CommandJobRef>,
        commenter: &mut Commenter,
    ) -> Result<(), StageError> {
        let CommandContext {
            envelope,
            scope,
            config,
            ..
        } = *context;
        let login = &envelope.sender.login;
        let Some(job) = self
            .find_job(context, reference, "that can be cancelled", |job| {
                !job.status.is_terminal()
            })
            .await?
        else {
            return Ok(());
        };
        if job.status.is_terminal() {
            let reply = not_cancellable_comment(login, &job);
            self.reply(context, "cancel", &reply).await?;
            return Ok(());
        }
        let permission = commenter.permission(&self.github, scope, login).await?;
        if !may_manage(login, permission, &job, config) {
            let reply = not_allowed_to_manage_comment(login, "cancel", &job, approver_role(config));
            self.reply(context, "cancel", &reply).await?;
            return self
                .audit(self.entry(
                    context,
                    "denied",
                    "not allowed to cancel".to_owned(),
                    Some(job.id),
                ))
                .await;
        }
        self.workflow
            .stop(&job.id, &format!("cancelled by @{login}"))
            .await?;
        let job = self.finish(job, JobStatus::Cancelled).await?;
        if let Some(check_run_id) = job.check_run_id {
            self.github
                .update_check_run(
                    scope,
                    check_run_id,
                    &CheckRunUpdate {
                        status: Some(CheckStatus::Completed),
                        conclusion: Some(CheckConclusion::Cancelled),
                        ..Default::default()
                    },
                )
                .await?;
        }
        self.announce(context, &job, "cancelled", &cancelled_comment(&job, login))
            .await
    }

    pub(super) async fn retry(
        &self,
        context: &CommandContext<'_>,
        reference: Option<&CommandJobRef>,
        commenter: &mut Commenter,
    ) -> Result<(), StageError> {
        let CommandContext {
            envelope,
            scope,
            config,
            thread,
            index,
            source,
        } = *context;
        let login = &envelope.sender.login;
        let Some(old) = self
            .find_job(context, reference, "to retry", |job| retryable(job.status))
            .await?
        else {
            return Ok(());
        };
        if !retryable(old.status) {
            let reply = not_retryable_comment(login, &old);
            self.reply(context, "retry", &reply).await?;
            return Ok(());
        }
        let permission = commenter.permission(&self.github, scope, login).await?;
        if !may_manage(login, permission, &old, config) {
            let reply = not_allowed_to_manage_comment(login, "retry", &old, approver_role(config));
            self.reply(context, "retry", &reply).await?;
            return Ok(());
        }
        let ask = Ask {
            job: JobId::for_command(&envelope.delivery, index),
            trigger: TriggerKind::Comment,
            task: old.task.clone(),
            params: old.params.clone(),
            permission,
            command: source.to_owned(),
        };
        self.run(envelope, scope, config, thread, ask).await
    }

    /// A push made a pending approval stale: the job will not run.
    pub(super) async fn invalidate_approval(
        &self,
        scope: &crate::github::RepoScope,
        job: JobRecord,
        new_head: &str,
    ) -> Result<(), StageError> {
        self.workflow
            .stop(&job.id, "new commits invalidated the pending approval")
            .await?;
        let job = self.finish(job, JobStatus::Expired).await?;
        if let Some(number) = job.trigger.number() {
            self.github
                .comment(
                    scope,
                    number,
                    &format!("job:{}:invalidated", job.id),
                    &approval_invalidated_comment(&job, new_head),
                )
                .await?;
        }
        Ok(())
    }

    /// Moves the job to a terminal status, unless it got to one first.
    async fn finish(&self, mut job: JobRecord, to: JobStatus) -> Result<JobRecord, StageError> {
        for _ in 0..3 {
            if job.status.is_terminal() {
                return Ok(job);
            }
            let expected = job.status;
            let mut moved = job.clone();
            moved
                .move_to(to, (self.clock)())
                .map_err(|err| StoreError::Corrupt(err.to_string()))?;
            match self.store.update_job(&moved, expected).await {
                Ok(()) => return Ok(moved),
                Err(StoreError::Conflict { .. }) => {
                    job =
                        self.store.job(&job.id).await?.ok_or_else(|| {
                            StoreError::Corrupt(format!("job {} vanished", job.id))
                        })?;
                }
                Err(err) => return Err(err.into()),
            }
        }
        Err(StageError::NotReady(format!(
            "job {} kept changing",
            job.id
        )))
    }

    /// The job a command means: the one it names, or the newest that `fits`. Replies
    /// and returns `None` when there is no such job, or the name is ambiguous.
    async fn find_job(
        &self,
        context: &CommandContext<'_>,
        reference: Option<&CommandJobRef>,
        wanted: &str,
        fits: impl Fn(&JobRecord) -> bool,
    ) -> Result<Option<JobRecord>, StageError> {
        let CommandContext {
            envelope,
            scope,
            thread,
            ..
        } = *context;
        let login = &envelope.sender.login;
        let jobs = self
            .store
            .jobs_for_thread(&scope.repo, thread.number, THREAD_JOBS)
            .await?;
        let Some(reference) = reference else {
            if let Some(job) = jobs.into_iter().find(|job| fits(job)) {
                return Ok(Some(job));
            }
            let reply = job_not_found_comment(login, None, wanted);
            self.reply(context, "find", &reply).await?;
            return Ok(None);
        };
        let parsed = JobRef::parse(reference.as_str()).ok();
        let matching: Vec<&JobRecord> = jobs
            .iter()
            .filter(|job| {
                parsed
                    .as_ref()
                    .is_some_and(|parsed| parsed.matches(&job.id))
            })
            .collect();
        let reply = match matching.as_slice() {
            [job] => return Ok(Some((*job).clone())),
            [] => job_not_found_comment(login, Some(reference.as_str()), wanted),
            several => ambiguous_job_comment(login, reference.as_str(), several),
        };
        self.reply(context, "find", &reply).await?;
        Ok(None)
    }

    /// Answers the command in `context` (once, however often its event is processed).
    async fn reply(
        &self,
        context: &CommandContext<'_>,
        what: &str,
        text: &str,
    ) -> Result<(), StageError> {
        let marker = format!(
            "delivery:{}:{}:{what}",
            context.envelope.delivery, context.index
        );
        self.github
            .comment(context.scope, context.thread.number, &marker, text)
            .await?;
        Ok(())
    }

    /// The end of a command that acted on `job`: 👀, the announcement, the audit entry.
    async fn announce(
        &self,
        context: &CommandContext<'_>,
        job: &JobRecord,
        decision: &str,
        text: &str,
    ) -> Result<(), StageError> {
        self.react(context.scope, context.thread, Reaction::Eyes)
            .await?;
        self.github
            .comment(
                context.scope,
                context.thread.number,
                &format!("job:{}:{decision}", job.id),
                text,
            )
            .await?;
        self.audit(self.entry(context, decision, decision.to_owned(), Some(job.id.clone())))
            .await
    }

    fn entry(
        &self,
        context: &CommandContext<'_>,
        decision: &str,
        reason: String,
        job: Option<JobId>,
    ) -> AuditEntry {
        AuditEntry {
            installation: context.scope.installation,
            repo: Some(context.scope.repo.clone()),
            at_ms: (self.clock)(),
            delivery: context.envelope.delivery.to_string(),
            actor: context.envelope.sender.login.clone(),
            command: context.source.to_owned(),
            decision: decision.to_owned(),
            reason,
            policy: None,
            job,
        }
    }
}

fn retryable(status: JobStatus) -> bool {
    matches!(
        status,
        JobStatus::Failed | JobStatus::Cancelled | JobStatus::Expired | JobStatus::DeadLettered
    )
}
