//! Plan, approve, apply: a task with `plan: true` starts with a job that explores
//! read-only and posts a plan ([`PlanStep::Draft`]). `/approve` on that plan starts a
//! job that carries it out ([`PlanStep::Apply`]), and `/ollama revise <notes>` a job that
//! plans again from the last plan and the notes. Both are new requests by the commenter,
//! decided as any request is (rate limits, budgets, the approval a role needs), for the
//! plan's task and instructions on the thread's code as it is now.

use super::comment::{CommandContext, Commenter};
use super::run::Ask;
use super::voice::Voice;
use super::{PolicyStage, StageError, Store};
use crate::command::CommandKind;
use crate::job::{JobId, JobRecord, JobStatus, PlanStep, plan_text};
use crate::policy::messages::{
    job_not_found_comment, plan_already_applied_comment, plan_approval_refused_comment,
    plan_superseded_comment,
};
use crate::policy::{TriggerKind, may_give, needed_role};
use crate::ports::{GitHub, Permission, Workflow};

/// How many of a thread's jobs are looked through for plans.
const THREAD_JOBS: usize = 100;

/// Whether `job` is a plan ready to approve: made, and neither applied nor revised by
/// one of `jobs` (the thread's).
pub(super) fn open_plan(job: &JobRecord, jobs: &[JobRecord]) -> bool {
    job.is_plan() && job.status == JobStatus::Succeeded && follow_up(job, jobs).is_none()
}

/// The commenter's request for the job that follows `plan` as `step`: the plan's task and
/// instructions, on the thread's code as it is now.
fn follow_up_ask(
    context: &CommandContext<'_>,
    plan: &JobRecord,
    permission: Permission,
    step: PlanStep,
) -> Ask {
    Ask {
        fix_attempt: 0,
        job: JobId::for_command(&context.envelope.delivery, context.index),
        trigger: TriggerKind::Comment,
        task: plan.task.clone(),
        params: plan.params.clone(),
        permission,
        command: context.source.to_owned(),
        plan: Some(step),
    }
}

/// The plan `job` posted (its summary), as a job that follows it carries it.
fn posted_plan(job: &JobRecord) -> String {
    plan_text(
        job.result
            .as_ref()
            .and_then(|result| result.summary.as_deref())
            .unwrap_or_default(),
    )
}

/// The job that applies or revises the plan `plan`, if one does.
fn follow_up<'a>(plan: &JobRecord, jobs: &'a [JobRecord]) -> Option<&'a JobRecord> {
    jobs.iter().find(|job| match &job.plan {
        Some(PlanStep::Apply { plan: id, .. }) => *id == plan.id,
        Some(PlanStep::Draft {
            revises: Some(id), ..
        }) => *id == plan.id,
        _ => false,
    })
}

impl<G: GitHub, S: Store, W: Workflow> PolicyStage<G, S, W> {
    /// The thread's jobs, newest first.
    pub(super) async fn thread_jobs(
        &self,
        context: &CommandContext<'_>,
    ) -> Result<Vec<JobRecord>, StageError> {
        Ok(self
            .store
            .jobs_for_thread(&context.scope.repo, context.thread.number, THREAD_JOBS)
            .await?)
    }

    /// `/approve` of the plan job `plan`: a job that carries it out, unless one of `jobs`
    /// (the thread's, as `/approve` read them) applies or revises it already, or the
    /// commenter may not approve.
    pub(super) async fn apply_plan(
        &self,
        context: &CommandContext<'_>,
        plan: JobRecord,
        jobs: &[JobRecord],
        commenter: &mut Commenter,
        voice: &mut Voice,
    ) -> Result<(), StageError> {
        let CommandContext {
            envelope,
            scope,
            config,
            thread,
            ..
        } = *context;
        let login = &envelope.sender.login;
        if let Some(next) = follow_up(&plan, jobs) {
            let reply = match next.plan {
                Some(PlanStep::Apply { .. }) => plan_already_applied_comment(login, &plan, next),
                _ => plan_superseded_comment(login, &plan, next),
            };
            return self.reply(context, "approve", reply, voice).await;
        }
        let permission = commenter.permission(&self.github, scope, login).await?;
        let needs = CommandKind::Approve.spec().needs;
        if !may_give(needs, login, permission, None, config) {
            let reply = plan_approval_refused_comment(login, &plan, needed_role(needs, config));
            self.reply(context, "approve", reply, voice).await?;
            let origin = self.origin(context);
            return self
                .audit(origin.entry(
                    "denied",
                    "not allowed to approve a plan".to_owned(),
                    Some(plan.id),
                ))
                .await;
        }
        let step = PlanStep::Apply {
            plan: plan.id.clone(),
            approved_by: login.clone(),
            text: posted_plan(&plan),
        };
        let ask = follow_up_ask(context, &plan, permission, step);
        self.run(envelope, scope, config, thread, ask, voice).await
    }

    /// `/ollama revise <notes>`: a job that plans the thread's latest open plan again.
    pub(super) async fn revise(
        &self,
        context: &CommandContext<'_>,
        notes: &str,
        commenter: &mut Commenter,
        voice: &mut Voice,
    ) -> Result<(), StageError> {
        let CommandContext {
            envelope,
            scope,
            config,
            thread,
            ..
        } = *context;
        let login = &envelope.sender.login;
        let jobs = self.thread_jobs(context).await?;
        let Some(plan) = jobs.iter().find(|job| open_plan(job, &jobs)) else {
            let reply = job_not_found_comment(login, None, "with a plan to revise");
            return self.reply(context, "revise", reply, voice).await;
        };
        let permission = commenter.permission(&self.github, scope, login).await?;
        let step = PlanStep::Draft {
            revises: Some(plan.id.clone()),
            notes: Some(plan_text(notes)),
            previous: Some(posted_plan(plan)),
        };
        let ask = follow_up_ask(context, plan, permission, step);
        self.run(envelope, scope, config, thread, ask, voice).await
    }
}
