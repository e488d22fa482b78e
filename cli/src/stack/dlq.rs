//! `ota --stack NAME dlq list | redrive [QUEUE]`: the stack's dead-letter queues. `list`
//! shows each queue's depth and a one-line summary of its messages without taking them
//! (they are received with a visibility timeout of 0), built from the few fields that
//! say what a message is about — never a task token, never a whole body. `redrive` hands
//! the event queues' dead letters back to their queues with SQS's redrive; the jobs'
//! queue holds jobs the workflow set aside, so its redrive retries each job and then
//! deletes its message.

use super::jobs::retry_job;
use super::{DEAD_LETTER_QUEUES, DeadLetterQueueSpec, Stack};
use anyhow::bail;
use ota_aws::{DeadLetterQueue, dead_letter_job, dead_letter_summary};
use shared::clock::now_ms;
use shared::policy_stage::operations::Retried;
use shared::ports::JobStore;
use shared::report::text::format_duration;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::process::ExitCode;

/// How many messages of each queue `dlq list` summarizes.
const LISTED_PER_QUEUE: usize = 20;
/// How long a job's dead letter stays hidden while its job is retried: time for the
/// retry's few calls; a message left behind (its job could not be retried) shows again
/// after it.
const REDRIVE_VISIBILITY_SECONDS: i32 = 60;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum DlqCommand {
    /// Each dead-letter queue's depth and a summary of its messages (left in place).
    List,
    /// Send dead letters back: the event queues' to their queues, the jobs' as retries.
    Redrive {
        /// One queue: intake, approvals, dispatch, report or jobs (default: every queue
        /// with messages).
        queue: Option<String>,
    },
}

pub async fn run(stack: &Stack, command: DlqCommand) -> anyhow::Result<ExitCode> {
    match command {
        DlqCommand::List => list(stack).await,
        DlqCommand::Redrive { queue } => redrive(stack, queue.as_deref()).await,
    }
}

async fn list(stack: &Stack) -> anyhow::Result<ExitCode> {
    let now = now_ms();
    let mut out = String::new();
    for spec in &DEAD_LETTER_QUEUES {
        let queue = stack.dead_letter_queue(spec)?;
        let (depth, _) = queue.depth().await?;
        let count = depth.visible + depth.in_flight;
        let _ = writeln!(
            out,
            "{:<10} {count:>5} {:<9} {}",
            spec.name,
            if count == 1 { "message" } else { "messages" },
            spec.what
        );
        if count == 0 {
            continue;
        }
        for letter in queue.peek(LISTED_PER_QUEUE).await? {
            let age = letter.sent_at_ms.map_or_else(
                || "?".to_owned(),
                |at| format!("{} ago", format_duration(now.saturating_sub(at))),
            );
            let _ = writeln!(out, "  {age:<12} {}", dead_letter_summary(&letter.body));
        }
        if depth.in_flight > 0 {
            let _ = writeln!(
                out,
                "  ({} being handled by someone else right now)",
                depth.in_flight
            );
        }
    }
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

/// The queues `name` picks: one by name, or every queue.
fn chosen(name: Option<&str>) -> anyhow::Result<Vec<&'static DeadLetterQueueSpec>> {
    match name {
        None => Ok(DEAD_LETTER_QUEUES.iter().collect()),
        Some(name) => match DEAD_LETTER_QUEUES.iter().find(|spec| spec.name == name) {
            Some(spec) => Ok(vec![spec]),
            None => {
                let names: Vec<&str> = DEAD_LETTER_QUEUES.iter().map(|s| s.name).collect();
                bail!(
                    "no dead-letter queue {name:?}; one of: {}",
                    names.join(", ")
                )
            }
        },
    }
}

async fn redrive(stack: &Stack, name: Option<&str>) -> anyhow::Result<ExitCode> {
    let mut left_behind = 0;
    for spec in chosen(name)? {
        let queue = stack.dead_letter_queue(spec)?;
        let (depth, arn) = queue.depth().await?;
        if depth.visible == 0 {
            println!("{}: nothing to redrive.", spec.name);
            continue;
        }
        if spec.holds_jobs() {
            left_behind += retry_dead_jobs(stack, &queue).await?;
        } else {
            let handle = queue.start_redrive(&arn).await?;
            println!(
                "{}: moving {} messages back to the queue they came from (SQS task {handle}); \
                 `ota dlq list` shows what is left.",
                spec.name, depth.visible
            );
        }
    }
    Ok(if left_behind == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Retries the job of each message of the jobs' dead-letter queue and deletes the message;
/// a message whose job cannot be retried stays. Returns how many stayed.
async fn retry_dead_jobs(stack: &Stack, queue: &DeadLetterQueue) -> anyhow::Result<usize> {
    let store = stack.store()?;
    let mut seen = BTreeSet::new();
    let mut left_behind = 0;
    loop {
        let batch = queue.receive(REDRIVE_VISIBILITY_SECONDS).await?;
        let fresh: Vec<_> = batch
            .into_iter()
            .filter(|letter| seen.insert(letter.message_id.clone()))
            .collect();
        if fresh.is_empty() {
            break;
        }
        for letter in fresh {
            let Some(id) = dead_letter_job(&letter.body) else {
                println!(
                    "jobs: left a message that names no job ({})",
                    dead_letter_summary(&letter.body)
                );
                left_behind += 1;
                continue;
            };
            let Some(old) = store.job(&id).await? else {
                println!("jobs: left the message of job {id}, which the table does not hold");
                left_behind += 1;
                continue;
            };
            match retry_job(stack, &store, &old).await? {
                Retried::Started(new) => {
                    queue.delete(&letter).await?;
                    println!("jobs: job {id} runs again as job {}.", new.id);
                }
                Retried::NotRetryable(old) => {
                    println!(
                        "jobs: left the message of job {id}: it is {}, which cannot be \
                         retried (redrive again once its workflow has set it aside)",
                        old.status
                    );
                    left_behind += 1;
                }
            }
        }
    }
    Ok(left_behind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_queue_is_refused_with_the_names() {
        let err = chosen(Some("dead")).unwrap_err().to_string();
        assert_eq!(
            err,
            "no dead-letter queue \"dead\"; one of: intake, approvals, dispatch, report, jobs"
        );
    }
}
