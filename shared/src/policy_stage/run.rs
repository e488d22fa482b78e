//! Starting a job: decide, check the token budget and the rate limits, record the job, acknowledge on GitHub
//! (👀 on the comment, a queued check run on the pull request's head) and start its
//! workflow. The acknowledgements and the start are repeated safely when an event is
//! processed again.

use super::voice::Voice;
use super::{EffectiveLimits, PolicyStage, StageError, Store, default_branch};
use crate::config::RepoConfig;
use crate::envelope::{AccountKind, Comment, CommentSource, Envelope};
use crate::ids::{CommitSha, DeliveryId};
use crate::job::{
    APPROVAL_TIMEOUT, Approval, HEARTBEAT_TIMEOUT, JobId, JobRecord, JobRequest, JobStatus,
    MAX_QUEUE, PlanStep, Timeouts, Trigger,
};
use crate::policy::messages::{
    approval_requested_comment, budget_spent_comment, check_run_name, denied_comment,
    rate_limited_comment,
};
use crate::policy::{
    BudgetSpent, InstallationPolicy, RunDecision, RunRequest, TriggerKind, approver_role,
    budget_spent, decide_run, matching_policy,
};
use crate::policy_stage::operations::update_racing;
use crate::ports::{AuditEntry, Created, RateDecision, StoreError};
use crate::ports::{
    CheckOutput, CheckStatus, GitHub, NewCheckRun, Permission, Reaction, ReactionTarget, RepoScope,
};
use crate::ports::{Workflow, WorkflowInput};
use std::time::Duration;

/// The rate-limit window.
const HOUR: Duration = Duration::from_secs(3600);

/// The issue or pull request a job belongs to, and the comment that asked for it.
#[derive(Debug, Clone)]
pub(super) struct ThreadRef {
    pub number: u64,
    pub on_pull_request: bool,
    pub comment: Option<(u64, CommentSource)>,
}

impl ThreadRef {
    pub(super) fn from_comment(comment: &Comment) -> Self {
        Self {
            number: comment.number,
            on_pull_request: comment.on_pull_request,
            comment: Some((comment.id, comment.source)),
        }
    }
}

/// The code a job works on, and the thread it answers in (none for a push).
#[derive(Debug, Clone)]
pub(super) struct Target {
    pub commit: CommitSha,
    pub git_ref: String,
    pub from_fork: bool,
    pub thread: Option<ThreadRef>,
}

impl Target {
    /// Jobs on a pull request get a check run on `commit` and an approval pinned to it.
    fn on_pull_request(&self) -> bool {
        self.thread
            .as_ref()
            .is_some_and(|thread| thread.on_pull_request)
    }
}

/// Who asked for a job, whatever the event: a delivery's sender, or a request's source.
pub(super) struct Requester<'a> {
    /// The delivery or request: the job's `delivery`, and the audit log's.
    pub id: &'a DeliveryId,
    pub login: String,
    pub kind: AccountKind,
}

impl<'a> Requester<'a> {
    pub(super) fn of(envelope: &'a Envelope) -> Self {
        Self {
            id: &envelope.delivery,
            login: envelope.sender.login.clone(),
            kind: envelope.sender.kind,
        }
    }
}

/// A request for a job, before any decision.
pub(super) struct Ask {
    pub job: JobId,
    pub trigger: TriggerKind,
    pub task: String,
    pub params: String,
    /// The requester's role (only comments are judged by it).
    pub permission: Permission,
    /// What was asked, for the audit log.
    pub command: String,
    /// For `ci_failed`: which fix attempt in a row this is (0 for every other trigger).
    pub fix_attempt: u32,
    /// The job's step in plan, approve, apply, when the command sets it (`/approve` of a
    /// plan, `/ollama revise`); otherwise a task with `plan: true` starts with a draft.
    pub plan: Option<PlanStep>,
}

impl<G: GitHub, S: Store, W: Workflow> PolicyStage<G, S, W> {
    /// The code a command on `thread` works on: the pull request's head, or the default
    /// branch for an issue.
    pub(super) async fn thread_target(
        &self,
        envelope: &Envelope,
        scope: &RepoScope,
        thread: &ThreadRef,
    ) -> Result<Target, StageError> {
        if thread.on_pull_request {
            let pr = self.github.pull_request(scope, thread.number).await?;
            return Ok(Target {
                commit: pr.head_sha,
                git_ref: pr.head_ref,
                from_fork: pr.from_fork,
                thread: Some(thread.clone()),
            });
        }
        let branch = default_branch(envelope);
        let commit = self.github.branch_head(scope, &branch).await?;
        Ok(Target {
            commit,
            git_ref: branch,
            from_fork: false,
            thread: Some(thread.clone()),
        })
    }

    /// A job asked for on an issue or pull request: it works on that thread's code.
    pub(super) async fn run(
        &self,
        envelope: &Envelope,
        scope: &RepoScope,
        config: &RepoConfig,
        thread: &ThreadRef,
        ask: Ask,
        voice: &mut Voice,
    ) -> Result<(), StageError> {
        let target = self.thread_target(envelope, scope, thread).await?;
        self.run_on(envelope, scope, config, ask, target, voice)
            .await
    }

    pub(super) async fn run_on(
        &self,
        envelope: &Envelope,
        scope: &RepoScope,
        config: &RepoConfig,
        ask: Ask,
        target: Target,
        voice: &mut Voice,
    ) -> Result<(), StageError> {
        self.start_job(&Requester::of(envelope), scope, config, ask, target, voice)
            .await
    }

    /// Decides on a job, records it, acknowledges it and starts its workflow, whatever
    /// asked for it. What the requester is told goes through `voice`.
    pub(super) async fn start_job(
        &self,
        asker: &Requester<'_>,
        scope: &RepoScope,
        config: &RepoConfig,
        ask: Ask,
        target: Target,
        voice: &mut Voice,
    ) -> Result<(), StageError> {
        let thread = target.thread.as_ref();
        let requester = &asker.login;
        let policies = self.store.policies(scope.installation).await?;
        let policy = matching_policy(&policies, &scope.repo);
        let request = RunRequest {
            trigger: ask.trigger,
            task: &ask.task,
            requester,
            requester_kind: asker.kind,
            permission: ask.permission,
            from_fork: target.from_fork,
        };
        if let Some(job) = self.store.job(&ask.job).await? {
            if job.status == JobStatus::AwaitingApproval
                && thread.is_some()
                && let RunDecision::Run { approval } = decide_run(&request, config, policy)
            {
                voice.say_again(|| {
                    approval_requested_comment(
                        &job,
                        &approval,
                        approver_role(config),
                        config.approval.allow_self_approval,
                    )
                });
            }
            return self
                .ensure_started(scope, config, policy, thread, job)
                .await;
        }
        let audit = |decision: &str, reason: String| AuditEntry {
            installation: scope.installation,
            repo: Some(scope.repo.clone()),
            at_ms: (self.clock)(),
            delivery: asker.id.to_string(),
            actor: requester.clone(),
            command: ask.command.clone(),
            decision: decision.to_owned(),
            reason,
            policy: policy.map(|policy| policy.name.clone()),
            job: Some(ask.job.clone()),
        };

        let reasons = match decide_run(&request, config, policy) {
            RunDecision::Run { approval } => approval,
            RunDecision::Denied(denial) => {
                if let Some(thread) = thread {
                    self.react(scope, thread, Reaction::ThumbsDown).await?;
                    voice
                        .say(
                            &self.github,
                            scope,
                            thread.number,
                            &format!("job:{}:denied", ask.job),
                            denied_comment(requester, &denial),
                        )
                        .await?;
                }
                return self.audit(audit("denied", denial.to_string())).await;
            }
        };

        // Before the rate limits, so a job refused here uses none of the hour's.
        if let Some(spent) = self.budget_spent(scope, policy).await? {
            if let Some(thread) = thread {
                let name = policy.map_or("", |policy| policy.name.as_str());
                voice
                    .say(
                        &self.github,
                        scope,
                        thread.number,
                        &format!("job:{}:over-budget", ask.job),
                        budget_spent_comment(requester, name, &spent),
                    )
                    .await?;
            }
            return self
                .audit(audit(
                    "over_budget",
                    format!(
                        "token_budget.per_{}: {} of {} tokens used in {}; resets at {}",
                        spent.period.as_str(),
                        spent.used,
                        spent.budget,
                        spent.window.label,
                        crate::policy::messages::utc_minute(spent.resets_at_ms())
                    ),
                ))
                .await;
        }

        if let Some((scope_word, limit, retry_at_ms)) =
            self.rate_limited(scope, requester, policy).await?
        {
            if let Some(thread) = thread {
                let minutes = retry_at_ms.saturating_sub((self.clock)()).div_ceil(60_000);
                voice
                    .say(
                        &self.github,
                        scope,
                        thread.number,
                        &format!("job:{}:rate-limited", ask.job),
                        rate_limited_comment(requester, scope_word, limit, minutes),
                    )
                    .await?;
            }
            return self
                .audit(audit(
                    "rate_limited",
                    format!("{scope_word} over {limit} jobs per hour"),
                ))
                .await;
        }

        let now = (self.clock)();
        let approval = if reasons.is_empty() {
            Approval::not_required()
        } else {
            Approval::required(target.on_pull_request().then(|| target.commit.clone()))
        };
        let mut job = JobRecord::new(
            JobRequest {
                id: ask.job.clone(),
                delivery: asker.id.clone(),
                installation: scope.installation,
                repo: scope.repo.clone(),
                commit: target.commit.clone(),
                git_ref: target.git_ref.clone(),
                trigger: trigger_of(ask.trigger, ask.fix_attempt, thread),
                task: ask.task.clone(),
                params: ask.params.clone(),
                requester: requester.clone(),
                approval,
            },
            now,
        );
        job.hosted_model = config
            .task(&ask.task)
            .and_then(|task| task.hosted_model.clone());
        job.config_layers = config.layers().clone();
        job.plan = ask.plan.clone().or_else(|| {
            config
                .task(&ask.task)
                .filter(|task| task.deliverable.edits_code())
                .is_some_and(|task| {
                    task.plan || policy.is_some_and(|policy| policy.plans_first(&ask.task))
                })
                .then(PlanStep::draft)
        });
        if !reasons.is_empty() {
            job.move_to(JobStatus::AwaitingApproval, now)
                .map_err(|err| StageError::Store(StoreError::Corrupt(err.to_string())))?;
            if let Some(thread) = thread {
                // Before the job is stored, so a retry after a failure here still asks.
                voice
                    .say(
                        &self.github,
                        scope,
                        thread.number,
                        &format!("job:{}:approval", job.id),
                        approval_requested_comment(
                            &job,
                            &reasons,
                            approver_role(config),
                            config.approval.allow_self_approval,
                        ),
                    )
                    .await?;
            }
        }
        let job = match self.store.create_job(&job).await? {
            Created::New => {
                let (decision, reason) = if reasons.is_empty() {
                    ("accepted", "allowed".to_owned())
                } else {
                    ("approval_required", format!("{reasons:?}"))
                };
                self.audit(audit(decision, reason)).await?;
                job
            }
            Created::Existing(existing) => *existing,
        };
        self.ensure_started(scope, config, policy, thread, job)
            .await
    }

    /// The acknowledgements and the workflow start, each done only if missing.
    pub(super) async fn ensure_started(
        &self,
        scope: &RepoScope,
        config: &RepoConfig,
        policy: Option<&InstallationPolicy>,
        thread: Option<&ThreadRef>,
        mut job: JobRecord,
    ) -> Result<(), StageError> {
        if job.status.is_terminal() {
            return Ok(());
        }
        if let Some(thread) = thread {
            self.react(scope, thread, Reaction::Eyes).await?;
        }
        let on_pull_request = job.trigger.on_pull_request();
        if on_pull_request && job.check_run_id.is_none() {
            let waiting = job.status == JobStatus::AwaitingApproval;
            let check_run_id = self
                .github
                .create_check_run(
                    scope,
                    &NewCheckRun {
                        name: check_run_name(&job.task),
                        head_sha: job.commit.clone(),
                        external_id: job.id.to_string(),
                        status: CheckStatus::Queued,
                        details_url: None,
                        output: Some(CheckOutput {
                            title: if waiting {
                                "Waiting for approval"
                            } else {
                                "Queued"
                            }
                            .to_owned(),
                            summary: format!(
                                "Job `{}` (`{}`) asked for by @{}.",
                                job.id, job.task, job.requester
                            ),
                            text: None,
                        }),
                    },
                )
                .await?;
            job = self.record_check_run(job, check_run_id).await?;
        }
        let input = WorkflowInput {
            job: job.id.clone(),
            approval_required: job.approval.required && !job.approval.is_satisfied(),
            timeouts: timeouts(config, policy, &job.task),
        };
        self.workflow.start(&input).await?;
        Ok(())
    }

    /// Stores the check run's id on the job, even if the workflow moved it meanwhile.
    async fn record_check_run(
        &self,
        job: JobRecord,
        check_run_id: u64,
    ) -> Result<JobRecord, StageError> {
        let id = job.id.clone();
        let recorded = update_racing(&self.store, job, |job| {
            let mut job = job.clone();
            job.check_run_id = Some(check_run_id);
            Ok(Some(job))
        })
        .await?;
        recorded.ok_or_else(|| {
            StageError::NotReady(format!(
                "job {id} kept changing while its check run was recorded"
            ))
        })
    }

    pub(super) async fn react(
        &self,
        scope: &RepoScope,
        thread: &ThreadRef,
        reaction: Reaction,
    ) -> Result<(), StageError> {
        let target = match thread.comment {
            Some((id, CommentSource::IssueComment)) => ReactionTarget::IssueComment(id),
            Some((id, CommentSource::ReviewComment)) => ReactionTarget::ReviewComment(id),
            // A review's body takes no reactions; the reply comments say enough.
            Some((_, CommentSource::Review)) | None => return Ok(()),
        };
        self.github.react(scope, target, reaction).await?;
        Ok(())
    }

    /// The policy's token budget that is spent, if any: the installation's counters of
    /// the current UTC day and month are read only when the policy sets a budget.
    async fn budget_spent(
        &self,
        scope: &RepoScope,
        policy: Option<&InstallationPolicy>,
    ) -> Result<Option<BudgetSpent>, StageError> {
        let Some(budget) = policy.and_then(|policy| policy.token_budget.as_ref()) else {
            return Ok(None);
        };
        let now = (self.clock)();
        let used = self.store.tokens_used(scope.installation, now).await?;
        Ok(budget_spent(Some(budget), used, now))
    }

    /// `Some((who, limit, retry_at))` when the user or the installation is over its limit.
    async fn rate_limited(
        &self,
        scope: &RepoScope,
        login: &str,
        policy: Option<&InstallationPolicy>,
    ) -> Result<Option<(&'static str, u32, u64)>, StageError> {
        let now = (self.clock)();
        let limits = EffectiveLimits::of(policy);
        let (user_limit, _) = limits.user;
        let user_key = format!("user:{}:{}", scope.installation, login.to_ascii_lowercase());
        if let RateDecision::Limited { retry_at_ms } =
            self.store.acquire(&user_key, user_limit, HOUR, now).await?
        {
            return Ok(Some(("you have", user_limit, retry_at_ms)));
        }
        let (installation_limit, _) = limits.installation;
        let installation_key = format!("installation:{}", scope.installation);
        if let RateDecision::Limited { retry_at_ms } = self
            .store
            .acquire(&installation_key, installation_limit, HOUR, now)
            .await?
        {
            return Ok(Some((
                "this installation has",
                installation_limit,
                retry_at_ms,
            )));
        }
        Ok(None)
    }
}

fn trigger_of(kind: TriggerKind, fix_attempt: u32, thread: Option<&ThreadRef>) -> Trigger {
    match (kind, thread) {
        (TriggerKind::CiFailed, Some(thread)) => Trigger::CiFailed {
            number: thread.number,
            attempt: fix_attempt,
        },
        (TriggerKind::Comment, Some(thread)) => match thread.comment {
            Some((comment_id, source)) => Trigger::Comment {
                comment_id,
                source,
                number: thread.number,
                on_pull_request: thread.on_pull_request,
            },
            None => Trigger::PullRequest {
                number: thread.number,
            },
        },
        (TriggerKind::Schedule, Some(thread)) => Trigger::Tracking {
            number: thread.number,
        },
        (_, Some(thread)) if thread.on_pull_request => Trigger::PullRequest {
            number: thread.number,
        },
        (_, Some(thread)) => Trigger::Issue {
            number: thread.number,
        },
        (TriggerKind::Schedule | TriggerKind::Operator, None) => Trigger::Request,
        (_, None) => Trigger::Push,
    }
}

/// The job's limits: the task's timeout, capped by the installation policy.
fn timeouts(config: &RepoConfig, policy: Option<&InstallationPolicy>, task: &str) -> Timeouts {
    let task_timeout = config
        .task(task)
        .map_or(Timeouts::DEFAULT.max_runtime, |task| task.timeout);
    let cap = policy
        .and_then(|policy| policy.max_runtime_seconds)
        .map(Duration::from_secs);
    Timeouts {
        approval: APPROVAL_TIMEOUT,
        heartbeat: HEARTBEAT_TIMEOUT,
        max_runtime: cap.map_or(task_timeout, |cap| cap.min(task_timeout)),
        max_queue: MAX_QUEUE,
    }
}
