//! The text the runner writes for people: commit messages and pull requests. Built by
//! named functions so that their wording is tested and easy to find. None of it ever holds
//! a credential: it is made from the job record and the agent's report only.

use crate::agent::candidates::Selection;
use crate::agent::{AgentReport, CommandRun};
use shared::job::{JobRecord, PlanStep};
use std::time::Duration;

/// The trailer linking a commit to its job.
pub const JOB_TRAILER: &str = "Ollama-Turbo-Job";

/// The first line of a commit message, kept within what `git log --oneline` shows.
const MAX_SUBJECT_CHARS: usize = 72;

fn one_line(text: &str, max: usize) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if line.chars().count() <= max {
        return line.to_owned();
    }
    let cut: String = line.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", cut.trim_end())
}

/// `ollama <task>: <request>`, or the task alone without a request.
pub fn pull_request_title(job: &JobRecord) -> String {
    let request = one_line(&job.params, MAX_SUBJECT_CHARS);
    if request.is_empty() {
        format!("ollama {}", job.task)
    } else {
        one_line(
            &format!("ollama {}: {request}", job.task),
            MAX_SUBJECT_CHARS,
        )
    }
}

/// The commit message: the title, what was done and why (the agent's summary), who
/// asked, and the trailer that links the job. `partial` marks work a budget cut short.
pub fn commit_message(job: &JobRecord, summary: &str, partial: bool) -> String {
    let mut message = pull_request_title(job);
    message.push_str("\n\n");
    if partial {
        message.push_str("Partial work: the job's budget ran out before the agent finished.\n\n");
    }
    let summary = summary.trim();
    if !summary.is_empty() {
        message.push_str(summary);
        message.push_str("\n\n");
    }
    message.push_str(&format!("Requested by @{}.\n\n", job.requester));
    message.push_str(&format!("{JOB_TRAILER}: {}\n", job.id));
    message
}

fn minutes_and_seconds(elapsed: Duration) -> String {
    let secs = elapsed.as_secs();
    if secs >= 60 {
        format!("{}m {:02}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

fn test_line(run: &CommandRun) -> String {
    format!("`{}`: {}", run.command, run.outcome())
}

/// The pull request's body: what changed and why, the tests run and their result, the
/// candidates tried and why this one was kept (best-of-N), the model, the tokens and the
/// time, and the job's id.
pub fn pull_request_body(
    job: &JobRecord,
    report: &AgentReport,
    summary: &str,
    model: &str,
    candidates: Option<&Selection>,
) -> String {
    let mut body = String::new();
    body.push_str(&format!(
        "Opened by Ollama Turbo Agent for @{}'s `/ollama {}` request.\n\n",
        job.requester, job.task
    ));
    if let Some(PlanStep::Apply {
        plan, approved_by, ..
    }) = &job.plan
    {
        body.push_str(&format!(
            "It carries out the plan of job `{plan}`, approved by @{approved_by}; the summary \
             says where it departed from the plan.\n\n"
        ));
    }
    let request = job.params.trim();
    if !request.is_empty() {
        body.push_str("## Request\n\n");
        for line in request.lines() {
            body.push_str(&format!("> {line}\n"));
        }
        body.push('\n');
    }
    body.push_str("## What changed and why\n\n");
    body.push_str(summary.trim());
    body.push_str("\n\n");
    if !report.files_changed.is_empty() {
        body.push_str("Files changed:\n");
        for file in &report.files_changed {
            body.push_str(&format!("- `{file}`\n"));
        }
        body.push('\n');
    }
    body.push_str("## Tests\n\n");
    match &report.last_command {
        Some(run) => body.push_str(&format!("{}\n\n", test_line(run))),
        None => body.push_str("No test command was run.\n\n"),
    }
    if let Some(selection) = candidates {
        body.push_str("## Candidates\n\n");
        body.push_str(&selection.markdown());
        body.push('\n');
    }
    body.push_str("## Run\n\n");
    body.push_str(&format!(
        "- Model: `{model}`\n- Tokens: {} prompt, {} completion\n- Time: {} ({} model turns)\n- Job: `{}` from commit `{}`\n",
        report.tokens.prompt,
        report.tokens.completion,
        minutes_and_seconds(report.elapsed),
        report.turns,
        job.id,
        job.commit.as_str(),
    ));
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_requests_make_short_titles() {
        assert_eq!(one_line("  \n first line \nsecond", 72), "first line");
        let long = "x".repeat(100);
        let cut = one_line(&long, 10);
        assert_eq!(cut.chars().count(), 10);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(minutes_and_seconds(Duration::from_secs(42)), "42s");
        assert_eq!(minutes_and_seconds(Duration::from_secs(125)), "2m 05s");
    }
}
