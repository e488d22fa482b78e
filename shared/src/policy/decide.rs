//! The rules, as pure functions: may this request run, does it need an approval, may
//! this person approve, cancel or retry that job. Everything they need is passed in;
//! the policy stage gathers it (permissions from GitHub, config, installation policy).

use super::installation::{InstallationPolicy, TriggerKind};
use crate::command::{CommandKind, Needs};
use crate::config::RepoConfig;
use crate::envelope::AccountKind;
use crate::ids::CommitSha;
use crate::job::{JobRecord, JobStatus};
use crate::ports::Permission;

/// Someone, or something, asking for a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRequest<'a> {
    pub trigger: TriggerKind,
    pub task: &'a str,
    pub requester: &'a str,
    pub requester_kind: AccountKind,
    /// The requester's role on the repository, as GitHub says.
    pub permission: Permission,
    /// The code the job would run on comes from a fork.
    pub from_fork: bool,
}

/// Why a job must wait for `/approve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApprovalReason {
    /// `automation.approval.required` in the repository's config.
    Config,
    /// The installation policy requires it.
    Policy(String),
    /// The pull request's head is in a fork: its code is untrusted.
    Fork,
    /// The requester's role is below the one that may start jobs directly.
    Permission { has: Permission, needs: Permission },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunDecision {
    /// Run, after an approval if `approval` lists reasons.
    Run {
        approval: Vec<ApprovalReason>,
    },
    Denied(Denial),
}

/// Why a request is refused outright.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    #[error("requests from bots are not accepted")]
    Bot,
    #[error("the repository's `.ollama-turbo.yml` does not let comments start `{task}`")]
    TaskNotEnabled { task: String },
    #[error("the installation policy `{policy}` does not allow `{trigger}` triggers")]
    TriggerNotAllowed {
        policy: String,
        trigger: &'static str,
    },
    #[error(
        "the installation policy `{policy}` does not list @{user} among the users who may start jobs"
    )]
    UserNotAllowed { policy: String, user: String },
    #[error(
        "asking for a job takes at least the {MIN_REQUEST_ROLE} role on this repository, and @{user} has {has}; a maintainer can ask for it instead"
    )]
    Permission { user: String, has: Permission },
}

/// The least role that may ask for a job at all (it then waits for an approval unless
/// the role is also [`approver_role`]): read-only users and strangers cannot queue work.
pub const MIN_REQUEST_ROLE: Permission = Permission::Triage;

/// The role needed to start jobs without approval, and to approve them.
pub fn approver_role(config: &RepoConfig) -> Permission {
    if config.approval.maintainers_only {
        Permission::Maintain
    } else {
        Permission::Write
    }
}

pub fn decide_run(
    request: &RunRequest<'_>,
    config: &RepoConfig,
    policy: Option<&InstallationPolicy>,
) -> RunDecision {
    if request.requester_kind == AccountKind::Bot && request.trigger == TriggerKind::Comment {
        return RunDecision::Denied(Denial::Bot);
    }
    let run_needs = CommandKind::Run.spec().needs;
    if request.trigger == TriggerKind::Comment
        && !may_give(
            run_needs,
            request.requester,
            request.permission,
            None,
            config,
        )
    {
        return RunDecision::Denied(Denial::Permission {
            user: request.requester.to_owned(),
            has: request.permission,
        });
    }
    if request.trigger == TriggerKind::Comment && !config.triggers.comment.allows(request.task) {
        return RunDecision::Denied(Denial::TaskNotEnabled {
            task: request.task.to_owned(),
        });
    }
    if let Some(policy) = policy {
        if let Some(triggers) = &policy.allowed_triggers
            && !triggers.contains(&request.trigger)
        {
            return RunDecision::Denied(Denial::TriggerNotAllowed {
                policy: policy.name.clone(),
                trigger: request.trigger.as_str(),
            });
        }
        if let Some(users) = &policy.allowed_users
            && request.trigger == TriggerKind::Comment
            && !users
                .iter()
                .any(|user| user.eq_ignore_ascii_case(request.requester))
        {
            return RunDecision::Denied(Denial::UserNotAllowed {
                policy: policy.name.clone(),
                user: request.requester.to_owned(),
            });
        }
    }

    let mut approval = Vec::new();
    if config.approval.required {
        approval.push(ApprovalReason::Config);
    }
    if let Some(policy) = policy.filter(|policy| policy.require_approval == Some(true)) {
        approval.push(ApprovalReason::Policy(policy.name.clone()));
    }
    if request.from_fork {
        approval.push(ApprovalReason::Fork);
    }
    let needs = approver_role(config);
    if request.trigger == TriggerKind::Comment && request.permission < needs {
        approval.push(ApprovalReason::Permission {
            has: request.permission,
            needs,
        });
    }
    RunDecision::Run { approval }
}

/// Why an `/approve` is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalRefusal {
    #[error("approving needs the {needs} role on this repository; @{approver} has {has}")]
    Permission {
        approver: String,
        has: Permission,
        needs: Permission,
    },
    #[error("@{0} asked for this job and cannot approve it too")]
    SelfApproval(String),
    #[error("job `{job}` is not waiting for an approval (it is {status})")]
    NotWaiting { job: String, status: JobStatus },
    #[error(
        "new commits were pushed since the approval was asked for (it was for {pinned}, the head is now {current}); ask for the job again"
    )]
    HeadMoved { pinned: String, current: String },
    #[error("bots cannot approve jobs")]
    Bot,
}

/// May `approver` approve `job` now? `current_head` is the pull request's head as GitHub
/// reports it now, for jobs on pull requests.
pub fn decide_approval(
    approver: &str,
    approver_kind: AccountKind,
    permission: Permission,
    job: &JobRecord,
    current_head: Option<&CommitSha>,
    config: &RepoConfig,
) -> Result<(), ApprovalRefusal> {
    if approver_kind == AccountKind::Bot {
        return Err(ApprovalRefusal::Bot);
    }
    if job.status != JobStatus::AwaitingApproval {
        return Err(ApprovalRefusal::NotWaiting {
            job: job.id.to_string(),
            status: job.status,
        });
    }
    if !may_give(
        CommandKind::Approve.spec().needs,
        approver,
        permission,
        None,
        config,
    ) {
        let needs = needed_role(CommandKind::Approve.spec().needs, config);
        return Err(ApprovalRefusal::Permission {
            approver: approver.to_owned(),
            has: permission,
            needs,
        });
    }
    if approver.eq_ignore_ascii_case(&job.requester) && !config.approval.allow_self_approval {
        return Err(ApprovalRefusal::SelfApproval(approver.to_owned()));
    }
    if let (Some(pinned), Some(current)) = (&job.approval.pinned_head, current_head)
        && pinned != current
    {
        return Err(ApprovalRefusal::HeadMoved {
            pinned: short_sha(pinned),
            current: short_sha(current),
        });
    }
    Ok(())
}

/// The role a command that `needs` this takes under `config`: what [`Needs`] stands for.
pub fn needed_role(needs: Needs, config: &RepoConfig) -> Permission {
    match needs {
        Needs::Nothing => Permission::None,
        Needs::Requester => MIN_REQUEST_ROLE,
        Needs::Approver | Needs::RequesterOrApprover => approver_role(config),
    }
}

/// May `actor`, whose role is `permission`, give a command that `needs` this, about `job`
/// when it acts on one? The one permission check of the comment commands; what else
/// decides a run or an approval is in [`decide_run`] and [`decide_approval`].
pub fn may_give(
    needs: Needs,
    actor: &str,
    permission: Permission,
    job: Option<&JobRecord>,
    config: &RepoConfig,
) -> bool {
    let requester = job.is_some_and(|job| actor.eq_ignore_ascii_case(&job.requester));
    (needs == Needs::RequesterOrApprover && requester) || permission >= needed_role(needs, config)
}

pub fn short_sha(sha: &CommitSha) -> String {
    sha.as_str().chars().take(7).collect()
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
