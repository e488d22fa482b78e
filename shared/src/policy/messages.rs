//! Every comment the policy stage writes, each built by one named function so the
//! wording is easy to find and is checked by tests. User errors say what to do and point
//! at `/ollama help`.

use super::budget::BudgetSpent;
use super::decide::{ApprovalReason, ApprovalRefusal, Denial, short_sha};
use crate::config::MergeMethod;
use crate::ids::CommitSha;
use crate::job::{JobRecord, JobStatus};
use crate::ports::{BudgetPeriod, BudgetWindow, Permission};
use crate::report::text::thousands;

const HELP_POINTER: &str = "Comment `/ollama help` to see what I can do.";

/// The check run's name: the product, then the task.
pub fn check_run_name(task: &str) -> String {
    format!("Ollama Turbo Agent · {task}")
}

/// A job waits for `/approve`: why, and who may give it.
pub fn approval_requested_comment(
    job: &JobRecord,
    reasons: &[ApprovalReason],
    approver_role: Permission,
    self_approval_allowed: bool,
) -> String {
    let mut text = format!(
        "Job `{}` (`{}`) for @{} needs an approval before it runs:\n\n",
        job.id, job.task, job.requester
    );
    for reason in reasons {
        let line = match reason {
            ApprovalReason::Config => {
                "this repository's `.ollama-turbo.yml` requires an approval for every job"
                    .to_owned()
            }
            ApprovalReason::Policy(name) => {
                format!("the installation policy `{name}` requires an approval for every job")
            }
            ApprovalReason::Fork => {
                "the pull request's code comes from a fork, so it is not trusted yet".to_owned()
            }
            ApprovalReason::Permission { has, needs } => format!(
                "@{} has the {has} role here; starting jobs directly takes {needs}",
                job.requester
            ),
        };
        text.push_str(&format!("- {line}\n"));
    }
    let who = if self_approval_allowed {
        format!("Anyone with the {approver_role} role or higher")
    } else {
        format!(
            "Anyone with the {approver_role} role or higher, other than @{},",
            job.requester
        )
    };
    text.push_str(&format!(
        "\n{who} can approve it with `/approve {}`, or stop it with `/cancel {}`.",
        job.id, job.id
    ));
    if let Some(head) = &job.approval.pinned_head {
        text.push_str(&format!(
            " The approval applies to commit {}; new commits need a new request.",
            short_sha(head)
        ));
    }
    text
}

/// The `ci_failed` trigger stops: the App's own fixes kept failing.
pub fn ci_fix_gave_up_comment(attempts: u32, head: &str) -> String {
    let short = &head[..head.len().min(7)];
    format!(
        "The checks still fail on {short} after {attempts} fix attempt(s) in a row, so no \
         further fix starts on its own. Push a fix, or comment `/ollama fix` to ask for \
         another attempt."
    )
}

/// `output.merge: after_approval`: the App merged its own pull request.
pub fn merged_comment(approvers: &[String], method: MergeMethod, head: &CommitSha) -> String {
    let how = match method {
        MergeMethod::Merge => "with a merge commit",
        MergeMethod::Squash => "as one squashed commit",
        MergeMethod::Rebase => "by rebasing its commits",
    };
    let who: Vec<String> = approvers.iter().map(|login| format!("@{login}")).collect();
    format!(
        "Merged {how}: {} approved {} and its checks passed \
         (`automation.output.merge: after_approval`).",
        who.join(", "),
        short_sha(head)
    )
}

pub fn denied_comment(login: &str, denial: &Denial) -> String {
    format!("@{login}, I can't run that: {denial}. {HELP_POINTER}")
}

pub fn rate_limited_comment(login: &str, scope: &str, limit: u32, retry_in_minutes: u64) -> String {
    format!(
        "@{login}, {scope} reached the limit of {limit} jobs per hour. Try again in about {} minute{}.",
        retry_in_minutes.max(1),
        if retry_in_minutes > 1 { "s" } else { "" }
    )
}

/// A job is not started: the installation's token budget for the day or month is spent.
pub fn budget_spent_comment(login: &str, policy: &str, spent: &BudgetSpent) -> String {
    let (adjective, period) = match spent.period {
        BudgetPeriod::Day => ("daily", "day"),
        BudgetPeriod::Month => ("monthly", "month"),
    };
    format!(
        "@{login}, I can't start that job: this installation's jobs have used {} of the {} \
         tokens its {adjective} budget allows (UTC {period} {}; `token_budget.per_{period}` \
         of the installation policy `{policy}`). The budget resets at {}. Jobs already \
         running go on. Ask again after the reset, or ask the App's operator to raise the \
         budget.",
        thousands(spent.used),
        thousands(spent.budget),
        spent.window.label,
        utc_minute(spent.resets_at_ms()),
    )
}

/// `2026-12-04 00:00 UTC`.
pub(crate) fn utc_minute(ms: u64) -> String {
    let day = BudgetWindow::containing(BudgetPeriod::Day, ms);
    let in_day = (ms - day.start_ms) / 60_000;
    format!("{} {:02}:{:02} UTC", day.label, in_day / 60, in_day % 60)
}

pub fn approved_comment(job: &JobRecord, approver: &str) -> String {
    format!(
        "@{approver} approved job `{}` (`{}`); it is starting.",
        job.id, job.task
    )
}

pub fn approval_refused_comment(login: &str, refusal: &ApprovalRefusal) -> String {
    format!("@{login}, that approval does not count: {refusal}. {HELP_POINTER}")
}

pub fn approval_window_over_comment(login: &str, job: &JobRecord) -> String {
    format!(
        "@{login}, job `{}` is no longer waiting for an approval (it is {}). Ask for it again with `/ollama {}`.",
        job.id, job.status, job.task
    )
}

pub fn approval_invalidated_comment(job: &JobRecord, new_head: &str) -> String {
    format!(
        "New commits were pushed (head is now {}), so the pending approval of job `{}` (`{}`) no longer applies and the job will not run. Ask again with `/ollama {}`.",
        new_head.chars().take(7).collect::<String>(),
        job.id,
        job.task,
        job.task
    )
}

pub fn cancelled_comment(job: &JobRecord, by: &str) -> String {
    format!("@{by} cancelled job `{}` (`{}`).", job.id, job.task)
}

pub fn not_cancellable_comment(login: &str, job: &JobRecord) -> String {
    format!(
        "@{login}, job `{}` has already finished ({}); there is nothing to cancel.",
        job.id, job.status
    )
}

pub fn not_retryable_comment(login: &str, job: &JobRecord) -> String {
    let why = match job.status {
        JobStatus::Succeeded => "it succeeded".to_owned(),
        status => format!("it is still {status}"),
    };
    format!(
        "@{login}, job `{}` can't be retried: {why}. Only failed, cancelled, expired or dead-lettered jobs can.",
        job.id
    )
}

pub fn not_allowed_to_manage_comment(
    login: &str,
    action: &str,
    job: &JobRecord,
    needs: Permission,
) -> String {
    format!(
        "@{login}, only @{} (who asked for job `{}`) or someone with the {needs} role can {action} it.",
        job.requester, job.id
    )
}

pub fn job_not_found_comment(login: &str, reference: Option<&str>, wanted: &str) -> String {
    match reference {
        Some(reference) => format!(
            "@{login}, I found no job `{reference}` on this thread. `/ollama status` lists them; {}",
            lowercase_first(HELP_POINTER)
        ),
        None => format!(
            "@{login}, there is no job {wanted} on this thread. `/ollama status` lists them; {}",
            lowercase_first(HELP_POINTER)
        ),
    }
}

pub fn ambiguous_job_comment(login: &str, reference: &str, matches: &[&JobRecord]) -> String {
    let ids: Vec<String> = matches.iter().map(|job| format!("`{}`", job.id)).collect();
    format!(
        "@{login}, `{reference}` matches several jobs ({}); use more of the id.",
        ids.join(", ")
    )
}

/// `/ollama status`: the thread's jobs, newest first.
pub fn status_comment(jobs: &[JobRecord]) -> String {
    if jobs.is_empty() {
        return format!("No jobs on this thread yet. {HELP_POINTER}");
    }
    let mut text = String::from("| job | task | status | asked by |\n| --- | --- | --- | --- |\n");
    for job in jobs {
        text.push_str(&format!(
            "| `{}` | `{}` | {} | @{} |\n",
            job.id, job.task, job.status, job.requester
        ));
    }
    text
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}

/// `/approve` of a plan that a job applies already.
pub fn plan_already_applied_comment(login: &str, plan: &JobRecord, applying: &JobRecord) -> String {
    format!(
        "@{login}, the plan of job `{}` is already approved: job `{}` applies it ({}).",
        plan.id, applying.id, applying.status
    )
}

/// `/approve` of a plan by someone without the approver's role: the plan's requester
/// alone may not approve it, since it starts a job that changes code.
pub fn plan_approval_refused_comment(login: &str, plan: &JobRecord, needs: Permission) -> String {
    format!(
        "@{login}, only someone with the {needs} role can approve it: the plan of job `{}` \
         starts a job that changes code.",
        plan.id
    )
}

/// `/approve` of a plan that `/ollama revise` replaced.
pub fn plan_superseded_comment(login: &str, plan: &JobRecord, revision: &JobRecord) -> String {
    format!(
        "@{login}, the plan of job `{}` was revised: job `{}` plans it again. Approve that \
         plan once it is posted.",
        plan.id, revision.id
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::budget_spent;
    use crate::ports::{TokenBudget, TokensUsed};

    /// 2026-12-03 10:00 UTC.
    const NOW: u64 = 1_796_292_000_000;

    #[test]
    fn times_are_told_to_the_minute_in_utc() {
        assert_eq!(utc_minute(NOW + 61_000), "2026-12-03 10:01 UTC");
        assert_eq!(utc_minute(NOW - 10 * 3_600_000), "2026-12-03 00:00 UTC");
    }

    #[test]
    fn the_spent_budget_comment_says_which_how_much_and_when_it_resets() {
        let budget = TokenBudget {
            per_day: Some(2_000_000),
            per_month: Some(40_000_000),
        };
        let day = budget_spent(
            Some(&budget),
            TokensUsed {
                day: 2_000_150,
                month: 9_000_000,
            },
            NOW,
        )
        .expect("spent");
        insta::assert_snapshot!(
            "budget_spent_day",
            budget_spent_comment("octocat", "everything", &day)
        );
        let month = budget_spent(
            Some(&budget),
            TokensUsed {
                day: 10,
                month: 40_000_000,
            },
            NOW,
        )
        .expect("spent");
        insta::assert_snapshot!(
            "budget_spent_month",
            budget_spent_comment("octocat", "everything", &month)
        );
    }
}
