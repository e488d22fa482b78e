//! Every text the report stage shows on GitHub — check run titles, summaries and texts,
//! the summary comment, the labels — each built by one named function, so the wording is
//! easy to find and its snapshots show in review.

use crate::dispatch::RunOutput;
use crate::github_text::CHECK_TEXT;
use crate::job::{JobError, JobId, JobRecord, JobStatus, PlanStep};
use crate::ports::{CheckConclusion, CheckOutput};

/// On an issue or pull request while one of its jobs runs.
pub const LABEL_PENDING: &str = "automation:pending";
/// After a job succeeded: its change is there to review.
pub const LABEL_APPLIED: &str = "automation:applied";
/// After a job failed or was dead-lettered.
pub const LABEL_FAILED: &str = "automation:failed";

pub use crate::github_text::MAX_CHECK_TEXT_BYTES;

/// How much of an error's cause a comment quotes: enough for a stack trace's top or a
/// config error's position; the rest is in the check run and the log.
const MAX_QUOTED_CAUSE_CHARS: usize = 1_000;

/// The labels to add and remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelChange {
    pub add: &'static [&'static str],
    pub remove: &'static [&'static str],
}

/// A job of the thread started running: the latest job's outcome is what the labels say.
pub fn labels_while_running() -> LabelChange {
    LabelChange {
        add: &[LABEL_PENDING],
        remove: &[LABEL_APPLIED, LABEL_FAILED],
    }
}

/// The labels once a job ended in `status`. Cancelled and expired jobs did nothing, so
/// they only clear `automation:pending`.
pub fn labels_when_finished(status: JobStatus) -> LabelChange {
    match status {
        JobStatus::Succeeded => LabelChange {
            add: &[LABEL_APPLIED],
            remove: &[LABEL_PENDING, LABEL_FAILED],
        },
        JobStatus::Failed | JobStatus::DeadLettered => LabelChange {
            add: &[LABEL_FAILED],
            remove: &[LABEL_PENDING, LABEL_APPLIED],
        },
        JobStatus::Cancelled
        | JobStatus::Expired
        | JobStatus::Queued
        | JobStatus::AwaitingApproval
        | JobStatus::Dispatching
        | JobStatus::Running => LabelChange {
            add: &[],
            remove: &[LABEL_PENDING],
        },
    }
}

/// The check run's conclusion for a finished job.
pub fn check_conclusion(job: &JobRecord) -> CheckConclusion {
    match job.status {
        JobStatus::Succeeded => CheckConclusion::Success,
        JobStatus::Cancelled => CheckConclusion::Cancelled,
        JobStatus::Expired => CheckConclusion::TimedOut,
        JobStatus::Failed if error_of(job) == Some(JobError::RunnerTimedOut) => {
            CheckConclusion::TimedOut
        }
        _ => CheckConclusion::Failure,
    }
}

/// The check run while the job is being dispatched and run.
pub fn running_output(job: &JobRecord) -> CheckOutput {
    let approval = match &job.approval.approved_by {
        Some(approver) => format!(" Approved by @{approver}."),
        None => String::new(),
    };
    CheckOutput {
        title: "Running".to_owned(),
        summary: format!(
            "Job `{}` (`{}`) for @{} is starting a runner.{approval}",
            job.id, job.task, job.requester
        ),
        text: None,
    }
}

/// The check run while the job waits in line for a runner slot.
pub fn queued_output(job: &JobRecord, reason: &str) -> CheckOutput {
    CheckOutput {
        title: "Queued".to_owned(),
        summary: format!(
            "Job `{}` (`{}`) for @{} is waiting for a runner slot: {reason}. It starts as \
             soon as one is free.",
            job.id, job.task, job.requester
        ),
        text: None,
    }
}

/// The check run once the job finished; `run` is the runner's output when it succeeded.
pub fn finished_output(job: &JobRecord, run: Option<&RunOutput>) -> CheckOutput {
    let title = match job.status {
        JobStatus::Succeeded if job.is_plan() => "Plan ready: /approve to carry it out".to_owned(),
        JobStatus::Succeeded => match pull_request_number(job) {
            Some(number) => format!("Done: pull request #{number}"),
            None => "Done".to_owned(),
        },
        JobStatus::DeadLettered => format!(
            "Dead-lettered after {} attempt{}",
            job.attempts,
            if job.attempts == 1 { "" } else { "s" }
        ),
        JobStatus::Expired => "Expired: not approved in time".to_owned(),
        JobStatus::Cancelled => "Cancelled".to_owned(),
        _ => match error_name(job) {
            Some(name) => format!("Failed: {name}"),
            None => "Failed".to_owned(),
        },
    };
    let mut text = String::new();
    if let Some(details) = run.and_then(|run| run.details.as_deref()) {
        text.push_str(details);
        text.push_str("\n\n");
    }
    if let Some(cause) = error_cause(job) {
        text.push_str("### Error\n\n```text\n");
        text.push_str(cause);
        text.push_str("\n```\n");
    }
    let pointer = log_pointer(&job.id, job.log.as_deref());
    let text = (!text.is_empty()).then(|| fit_check_text(&text, pointer.as_deref()));
    CheckOutput {
        title,
        summary: fit_check_text(&finished_comment(job, run), pointer.as_deref()),
        text,
    }
}

/// The summary comment on the job's issue or pull request.
pub fn finished_comment(job: &JobRecord, run: Option<&RunOutput>) -> String {
    match job.status {
        JobStatus::Succeeded => succeeded_comment(job, run),
        JobStatus::DeadLettered => dead_lettered_comment(job),
        JobStatus::Expired => expired_comment(job),
        JobStatus::Cancelled => cancelled_comment(job),
        _ => failed_comment(job),
    }
}

pub fn succeeded_comment(job: &JobRecord, run: Option<&RunOutput>) -> String {
    let result = job.result.clone().unwrap_or_default();
    let mut text = if job.is_plan() {
        format!(
            "**Job `{}` (`{}`) made a plan.** Nothing is changed yet.",
            job.id, job.task
        )
    } else {
        let mut text = format!("**Job `{}` (`{}`) is done.**", job.id, job.task);
        match &result.pull_request_url {
            Some(url) => text.push_str(&format!(" Pull request: {url}")),
            None => text.push_str(" It needed no pull request."),
        }
        text
    };
    if let Some(PlanStep::Apply {
        plan, approved_by, ..
    }) = &job.plan
    {
        text.push_str(&format!(
            " It carried out the plan of job `{plan}`, approved by @{approved_by}."
        ));
    }
    if let Some(summary) = result.summary.as_deref().filter(|s| !s.trim().is_empty()) {
        text.push_str(&format!("\n\n{}", summary.trim()));
    }
    if job.is_plan() {
        text.push_str(&format!(
            "\n\nTo carry out this plan, reply `/approve {}`. To plan again, reply \
             `/ollama revise` and what to change, on one line.",
            job.id
        ));
    }
    text.push_str("\n\n| | |\n| --- | --- |\n");
    let tests = run.map(|run| run.tests.as_slice()).unwrap_or_default();
    let tests = if tests.is_empty() {
        "none run".to_owned()
    } else {
        tests
            .iter()
            .map(|test| {
                format!(
                    "{} `{}`",
                    if test.passed { "✅" } else { "❌" },
                    test.command
                )
            })
            .collect::<Vec<_>>()
            .join(" · ")
    };
    if !job.is_plan() {
        text.push_str(&format!("| Tests | {tests} |\n"));
    }
    if let Some(run) = run {
        let on = run
            .endpoint
            .map(|endpoint| format!(" on {}", endpoint.description()))
            .unwrap_or_default();
        text.push_str(&format!("| Model | `{}`{on} |\n", run.model));
    }
    if let Some(tokens) = result.tokens {
        text.push_str(&format!(
            "| Tokens | {} in · {} out |\n",
            thousands(tokens.prompt),
            thousands(tokens.completion)
        ));
    }
    text.push_str(&format!("| Time | {} |\n", elapsed(job)));
    if let Some(branch) = &result.branch {
        text.push_str(&format!("| Branch | `{branch}` |\n"));
    }
    text
}

pub fn failed_comment(job: &JobRecord) -> String {
    let what = error_of(job).map_or("The job failed.", JobError::description);
    let mut text = format!("**Job `{}` (`{}`) failed:** {what}", job.id, job.task);
    push_cause(&mut text, job);
    text.push_str(&format!(
        "\n\nWhen the cause is fixed, try again with `/retry {}`.",
        job.id
    ));
    push_log(&mut text, job);
    text
}

pub fn dead_lettered_comment(job: &JobRecord) -> String {
    let what = match (error_of(job), error_name(job)) {
        (Some(error), _) => error.description().to_owned(),
        (None, Some(name)) => format!("the workflow stopped with `{name}`."),
        (None, None) => "the workflow stopped.".to_owned(),
    };
    let mut text = format!(
        "**Job `{}` (`{}`) could not be completed** after {} attempt{}: {what}",
        job.id,
        job.task,
        job.attempts,
        if job.attempts == 1 { "" } else { "s" }
    );
    push_cause(&mut text, job);
    text.push_str(&format!(
        "\n\nIt was set aside on the jobs' dead-letter queue for the App's operators. \
         Try again later with `/retry {}`.",
        job.id
    ));
    push_log(&mut text, job);
    text
}

pub fn expired_comment(job: &JobRecord) -> String {
    format!(
        "**Job `{}` (`{}`) expired:** nobody approved it in time, so it will not run. \
         Ask again with `/ollama {}`.",
        job.id, job.task, job.task
    )
}

pub fn cancelled_comment(job: &JobRecord) -> String {
    let mut text = if error_of(job) == Some(JobError::ApprovalDenied) {
        format!(
            "**Job `{}` (`{}`) will not run:** its approval was refused.",
            job.id, job.task
        )
    } else {
        format!("**Job `{}` (`{}`) was cancelled.**", job.id, job.task)
    };
    push_cause(&mut text, job);
    text
}

/// Where a user finds the job's full log, for comments and check runs: a link when the log
/// is at a URL (the CloudWatch console on AWS); otherwise (a file on the machine of
/// `ota serve`) the job's id and who can show it. A path on the server's disk is of no use
/// to a user and tells everyone how the server is laid out, so it is never published.
pub fn log_pointer(job: &JobId, log: Option<&str>) -> Option<String> {
    let log = log?.trim();
    if log.is_empty() {
        return None;
    }
    let is_link = ["https://", "http://"].iter().any(|scheme| {
        log.get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
    }) && !log.chars().any(char::is_whitespace);
    Some(if is_link {
        format!("Full log: {log}")
    } else {
        format!(
            "Full log: kept by the App's operator, who can show it for job `{job}` (`ota job {job}` on the App's server)."
        )
    })
}

/// `text` cut to [`MAX_CHECK_TEXT_BYTES`] bytes (GitHub counts a check run's text in
/// bytes), ending with `pointer` (see [`log_pointer`]) when there is one; the pointer
/// survives any cut.
pub fn fit_check_text(text: &str, pointer: Option<&str>) -> String {
    if let Some(pointer) = pointer
        && text.contains(pointer)
        && CHECK_TEXT.fits(text)
    {
        // It says where the log is already.
        return text.to_owned();
    }
    let pointer = pointer
        .map(|pointer| format!("\n\n{pointer}"))
        .unwrap_or_default();
    CHECK_TEXT.fit_with_tail(text, &pointer)
}

/// How long the job took: from its runner's start (or its request, if no runner ever
/// reported) to its end.
pub fn elapsed(job: &JobRecord) -> String {
    let start = job.started_at_ms.unwrap_or(job.created_at_ms);
    let end = job.completed_at_ms.unwrap_or(start);
    format_duration(end.saturating_sub(start))
}

/// `4 min 12 s`, `1 h 3 min`, `850 ms`.
pub fn format_duration(ms: u64) -> String {
    let seconds = ms / 1_000;
    match seconds {
        0 => format!("{ms} ms"),
        1..60 => format!("{seconds} s"),
        60..3_600 => format!("{} min {} s", seconds / 60, seconds % 60),
        _ => format!("{} h {} min", seconds / 3_600, seconds % 3_600 / 60),
    }
}

/// `12345678` as `12,345,678`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn error_name(job: &JobRecord) -> Option<&str> {
    Some(job.result.as_ref()?.error.as_ref()?.name.as_str())
}

fn error_of(job: &JobRecord) -> Option<JobError> {
    JobError::from_name(error_name(job)?)
}

fn error_cause(job: &JobRecord) -> Option<&str> {
    let message = job.result.as_ref()?.error.as_ref()?.message.as_str();
    (!message.trim().is_empty()).then_some(message)
}

fn pull_request_number(job: &JobRecord) -> Option<u64> {
    let url = job.result.as_ref()?.pull_request_url.as_deref()?;
    url.rsplit('/').next()?.parse().ok()
}

/// Quotes the error's cause, cut short.
fn push_cause(text: &mut String, job: &JobRecord) {
    let Some(cause) = error_cause(job) else {
        return;
    };
    let mut quoted: String = cause.chars().take(MAX_QUOTED_CAUSE_CHARS).collect();
    if cause.chars().count() > MAX_QUOTED_CAUSE_CHARS {
        quoted.push('…');
    }
    text.push_str("\n\n");
    for line in quoted.lines() {
        text.push_str(&format!("> {line}\n"));
    }
    if text.ends_with('\n') {
        text.pop();
    }
}

fn push_log(text: &mut String, job: &JobRecord) {
    if let Some(pointer) = log_pointer(&job.id, job.log.as_deref()) {
        text.push(' ');
        text.push_str(&pointer);
    }
}

#[cfg(test)]
#[path = "text_tests.rs"]
mod tests;
