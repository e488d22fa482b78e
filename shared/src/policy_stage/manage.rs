//! `/approve`, `/cancel` and `/retry`: each finds its job on the thread, checks who is
//! asking, has the operation in [`crate::policy_stage::operations`] act on it and says what
//! happened.

use super::comment::{CommandContext, Commenter};
use super::run::Ask;
use super::voice::Voice;
use super::{PolicyStage, StageError, Store};
use crate::command::{CommandKind, JobRef as CommandJobRef};
use crate::job::{JobId, JobRecord, JobRef, JobStatus, Trigger};
use crate::policy::messages::{
    ambiguous_job_comment, approval_invalidated_comment, approval_refused_comment,
    approval_window_over_comment, approved_comment, cancelled_comment, job_not_found_comment,
    not_allowed_to_manage_comment, not_cancellable_comment, not_retryable_comment,
};
use crate::policy::{ApprovalRefusal, TriggerKind, decide_approval, may_give, needed_role};
use crate::policy_stage::operations::{self, Actor, Approved, Cancelled, Origin};
use crate::ports::Workflow;
use crate::ports::{CheckConclusion, CheckRunUpdate, CheckStatus, GitHub, Permission, Reaction};

/// How many of a thread's jobs a command looks through.
const THREAD_JOBS: usize = 100;

/// The job `/cancel` or `/retry` acts on, and what it must be.
struct Wanted {
    /// The command, for who may give it.
    kind: CommandKind,
    /// The command's word, for replies and their markers.
    verb: &'static str,
    /// What the job must be, for the reply when there is none.
    description: &'static str,
    fits: fn(&JobRecord) -> bool,
    /// The reply when the job named does not fit.
    unfit: fn(&str, &JobRecord) -> String,
}

const TO_CANCEL: Wanted = Wanted {
    kind: CommandKind::Cancel,
    verb: "cancel",
    description: "that can be cancelled",
    fits: |job| !job.status.is_terminal(),
    unfit: not_cancellable_comment,
};

const TO_RETRY: Wanted = Wanted {
    kind: CommandKind::Retry,
    verb: "retry",
    description: "to retry",
    fits: |job| job.status.is_retryable(),
    unfit: not_retryable_comment,
};

/// What came of looking for the job to manage and checking the commenter may.
enum Managed {
    Allowed(JobRecord, Permission),
    /// The commenter may not; they have been told.
    Denied(JobRecord),
    /// No job fits; the commenter has been told.
    Answered,
}

impl<G: GitHub, S: Store, W: Workflow> PolicyStage<G, S, W> {
    pub(super) async fn approve(
        &self,
        context: &CommandContext<'_>,
        reference: Option<&CommandJobRef>,
        commenter: &mut Commenter,
        voice: &mut Voice,
    ) -> Result<(), StageError> {
        let CommandContext {
            envelope,
            scope,
            config,
            ..
        } = *context;
        let login = &envelope.sender.login;
        let thread_jobs = self.thread_jobs(context).await?;
        let Some(job) = self
            .find_job(
                context,
                reference,
                "waiting for an approval, or a plan to apply",
                voice,
                |job| {
                    job.status == JobStatus::AwaitingApproval
                        || super::plans::open_plan(job, &thread_jobs)
                },
            )
            .await?
        else {
            return Ok(());
        };
        if job.is_plan() && job.status != JobStatus::AwaitingApproval {
            return self
                .apply_plan(context, job, &thread_jobs, commenter, voice)
                .await;
        }
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
                        self.invalidate_approval(scope, job.clone(), head.as_str(), voice)
                            .await?;
                    }
                    approval_refused_comment(login, &refusal)
                }
                _ => approval_refused_comment(login, &refusal),
            };
            self.reply(context, "approve", reply, voice).await?;
            let origin = self.origin(context);
            return self
                .audit(origin.entry("denied", refusal.to_string(), Some(job.id)))
                .await;
        }

        let origin = self.origin(context);
        let reply = match operations::approve(&self.store, &self.workflow, job, &origin).await? {
            Approved::Approved(job) => {
                let text = approved_comment(&job, login);
                return self.announce(context, &job, "approved", text, voice).await;
            }
            Approved::NotReady(job) => {
                return Err(StageError::NotReady(format!(
                    "job {} has not reached its approval wait yet",
                    job.id
                )));
            }
            // Another approval won: it was announced.
            Approved::Raced(current) if current.approval.approved_by.is_some() => return Ok(()),
            Approved::Raced(job) | Approved::NotWaiting(job) | Approved::WindowOver(job) => {
                approval_window_over_comment(login, &job)
            }
        };
        self.reply(context, "approve", reply, voice).await
    }

    pub(super) async fn cancel(
        &self,
        context: &CommandContext<'_>,
        reference: Option<&CommandJobRef>,
        commenter: &mut Commenter,
        voice: &mut Voice,
    ) -> Result<(), StageError> {
        let login = &context.envelope.sender.login;
        let origin = self.origin(context);
        let job = match self
            .job_to_manage(context, reference, &TO_CANCEL, commenter, voice)
            .await?
        {
            Managed::Allowed(job, _) => job,
            Managed::Denied(job) => {
                let reason = "not allowed to cancel".to_owned();
                return self
                    .audit(origin.entry("denied", reason, Some(job.id)))
                    .await;
            }
            Managed::Answered => return Ok(()),
        };
        let job = match operations::cancel(&self.store, &self.workflow, job, &origin).await? {
            Cancelled::Stopped(job) => job,
            Cancelled::AlreadyFinished(job) => {
                let text = not_cancellable_comment(login, &job);
                return self.reply(context, "cancel", text, voice).await;
            }
        };
        if let Some(check_run_id) = job.check_run_id {
            self.github
                .update_check_run(
                    context.scope,
                    check_run_id,
                    &CheckRunUpdate {
                        status: Some(CheckStatus::Completed),
                        conclusion: Some(CheckConclusion::Cancelled),
                        ..Default::default()
                    },
                )
                .await?;
        }
        let text = cancelled_comment(&job, login);
        self.announce(context, &job, "cancelled", text, voice).await
    }

    /// `/retry`: a new request, by the commenter, for the old job's task and instructions
    /// on the thread's code as it is now; decided as any request is.
    pub(super) async fn retry(
        &self,
        context: &CommandContext<'_>,
        reference: Option<&CommandJobRef>,
        commenter: &mut Commenter,
        voice: &mut Voice,
    ) -> Result<(), StageError> {
        let Managed::Allowed(old, permission) = self
            .job_to_manage(context, reference, &TO_RETRY, commenter, voice)
            .await?
        else {
            return Ok(());
        };
        let ask = Ask {
            fix_attempt: 0,
            job: JobId::for_command(&context.envelope.delivery, context.index),
            trigger: TriggerKind::Comment,
            task: old.task,
            params: old.params,
            permission,
            command: context.source.to_owned(),
            plan: old.plan,
        };
        let CommandContext {
            envelope,
            scope,
            config,
            thread,
            ..
        } = *context;
        self.run(envelope, scope, config, thread, ask, voice).await
    }

    /// The job `/cancel` or `/retry` means, if it fits and the commenter may act on it;
    /// replies otherwise.
    async fn job_to_manage(
        &self,
        context: &CommandContext<'_>,
        reference: Option<&CommandJobRef>,
        wanted: &Wanted,
        commenter: &mut Commenter,
        voice: &mut Voice,
    ) -> Result<Managed, StageError> {
        let login = &context.envelope.sender.login;
        let Some(job) = self
            .find_job(context, reference, wanted.description, voice, wanted.fits)
            .await?
        else {
            return Ok(Managed::Answered);
        };
        if !(wanted.fits)(&job) {
            let reply = (wanted.unfit)(login, &job);
            self.reply(context, wanted.verb, reply, voice).await?;
            return Ok(Managed::Answered);
        }
        let permission = commenter
            .permission(&self.github, context.scope, login)
            .await?;
        let needs = wanted.kind.spec().needs;
        if !may_give(needs, login, permission, Some(&job), context.config) {
            let role = needed_role(needs, context.config);
            let reply = not_allowed_to_manage_comment(login, wanted.verb, &job, role);
            self.reply(context, wanted.verb, reply, voice).await?;
            return Ok(Managed::Denied(job));
        }
        Ok(Managed::Allowed(job, permission))
    }

    /// A push made a pending approval stale: the job will not run.
    pub(super) async fn invalidate_approval(
        &self,
        scope: &crate::ports::RepoScope,
        job: JobRecord,
        new_head: &str,
        voice: &mut Voice,
    ) -> Result<(), StageError> {
        self.workflow
            .stop(&job.id, "new commits invalidated the pending approval")
            .await?;
        let job = operations::finish(&self.store, job, JobStatus::Expired, self.clock).await?;
        if let Some(number) = job.trigger.number() {
            voice
                .say(
                    &self.github,
                    scope,
                    number,
                    &format!("job:{}:invalidated", job.id),
                    approval_invalidated_comment(&job, new_head),
                )
                .await?;
        }
        Ok(())
    }

    /// The job a command means: the one it names, or the newest that `fits`. Replies
    /// and returns `None` when there is no such job, or the name is ambiguous.
    async fn find_job(
        &self,
        context: &CommandContext<'_>,
        reference: Option<&CommandJobRef>,
        wanted: &str,
        voice: &mut Voice,
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
            self.reply(context, "find", reply, voice).await?;
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
        self.reply(context, "find", reply, voice).await?;
        Ok(None)
    }

    /// Answers the command in `context` (once, however often its event is processed).
    pub(super) async fn reply(
        &self,
        context: &CommandContext<'_>,
        what: &str,
        text: String,
        voice: &mut Voice,
    ) -> Result<(), StageError> {
        let marker = format!(
            "delivery:{}:{}:{what}",
            context.envelope.delivery, context.index
        );
        voice
            .say(
                &self.github,
                context.scope,
                context.thread.number,
                &marker,
                text,
            )
            .await
    }

    /// The end of a command that acted on `job`: 👀 and the announcement (the operation
    /// wrote the audit entry).
    async fn announce(
        &self,
        context: &CommandContext<'_>,
        job: &JobRecord,
        decision: &str,
        text: String,
        voice: &mut Voice,
    ) -> Result<(), StageError> {
        self.react(context.scope, context.thread, Reaction::Eyes)
            .await?;
        let marker = format!("job:{}:{decision}", job.id);
        voice
            .say(
                &self.github,
                context.scope,
                context.thread.number,
                &marker,
                text,
            )
            .await
    }

    /// Who gives the command in `context`, for the operations on jobs.
    pub(super) fn origin(&self, context: &CommandContext<'_>) -> Origin {
        Origin {
            actor: Actor::User(context.envelope.sender.login.clone()),
            command: context.source.to_owned(),
            delivery: Some(context.envelope.delivery.clone()),
            scope: context.scope.clone(),
            clock: self.clock,
        }
    }
}
