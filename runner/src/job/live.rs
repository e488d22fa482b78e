//! Live progress: each agent event becomes a log line (a structured log on stdout, and a
//! line in a [`LogTail`]), and the job's check run shows the tail while the job runs,
//! updated at most every [`LIVE_UPDATE_INTERVAL`].

use crate::agent::{Progress, ProgressKind};
use shared::github_text::CHECK_TEXT;
use shared::ports::{CheckOutput, CheckRunUpdate, CheckStatus, GitHub, RepoScope};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

/// How often the check run is updated at most: often enough to watch, far below GitHub's
/// rate limits over a long job.
pub const LIVE_UPDATE_INTERVAL: Duration = Duration::from_secs(5);

/// The most of the log the check run shows, in bytes: GitHub caps a check run's `text`
/// at 65,535 bytes (not characters; see `shared::github_text`), and the line saying where
/// the full log is must fit too.
pub const MAX_LOG_TAIL_BYTES: usize = 60_000;

/// The last lines of the job's log, within [`MAX_LOG_TAIL_BYTES`].
#[derive(Debug, Default, Clone)]
pub struct LogTail {
    lines: VecDeque<String>,
    bytes: usize,
    dropped: usize,
}

impl LogTail {
    pub fn push(&mut self, line: String) {
        // One line longer than the whole tail keeps its end.
        let line = if line.len() >= MAX_LOG_TAIL_BYTES {
            let mut start = line.len() - MAX_LOG_TAIL_BYTES / 2;
            while !line.is_char_boundary(start) {
                start += 1;
            }
            format!("…{}", &line[start..])
        } else {
            line
        };
        self.bytes += line.len() + 1;
        self.lines.push_back(line);
        while self.bytes > MAX_LOG_TAIL_BYTES {
            let Some(first) = self.lines.pop_front() else {
                break;
            };
            self.bytes -= first.len() + 1;
            self.dropped += 1;
        }
    }

    /// The tail as text, saying how many earlier lines were left out.
    pub fn text(&self) -> String {
        let mut text = String::new();
        if self.dropped > 0 {
            text.push_str(&format!("… {} earlier lines left out\n", self.dropped));
        }
        for line in &self.lines {
            text.push_str(line);
            text.push('\n');
        }
        text
    }
}

/// One event as a log line.
pub(crate) fn describe(event: &Progress) -> String {
    let at = event.elapsed.as_secs();
    let what = match &event.kind {
        ProgressKind::ModelCall => "asking the model".to_owned(),
        ProgressKind::Retrying {
            attempt,
            delay,
            reason,
        } => format!(
            "model call {attempt} failed ({reason}); trying again in {}s",
            delay.as_secs()
        ),
        ProgressKind::ModelReply {
            prompt_tokens,
            completion_tokens,
            tool_calls,
        } => format!(
            "model replied: {tool_calls} tool call(s), {prompt_tokens} prompt and {completion_tokens} completion tokens"
        ),
        ProgressKind::ToolCall { tool, ok, duration } => format!(
            "{tool} {} in {} ms",
            if *ok { "done" } else { "failed" },
            duration.as_millis()
        ),
        ProgressKind::ContextTrimmed {
            outputs,
            tokens_before,
            tokens_after,
        } => {
            format!("trimmed {outputs} old tool outputs ({tokens_before} → {tokens_after} tokens)")
        }
        ProgressKind::PromptTruncated {
            sent_at_least,
            kept,
        } => format!(
            "Ollama kept {kept} of at least {sent_at_least} prompt tokens (the model's context is smaller than asked); trimming old tool outputs"
        ),
        ProgressKind::Done { outcome } => format!("agent {outcome}"),
        ProgressKind::Candidate { number, of } => {
            format!("candidate {number} of {of}: starting from the job's commit")
        }
    };
    format!(
        "[{:02}:{:02}] turn {}: {what}",
        at / 60,
        at % 60,
        event.turn
    )
}

/// Feeds the check run from `events` until the channel closes (the agent is done); the
/// text ends with `log_pointer` (`shared::report::text::log_pointer`), never a server path.
pub(crate) async fn feed_check_run<G: GitHub>(
    github: &G,
    scope: &RepoScope,
    check_run_id: Option<u64>,
    title: String,
    log_pointer: Option<String>,
    mut events: UnboundedReceiver<Progress>,
    interval: Duration,
) -> LogTail {
    let mut tail = LogTail::default();
    let mut dirty = false;
    let mut last_update: Option<tokio::time::Instant> = None;
    let mut summary = String::new();
    loop {
        let wait = match (dirty, last_update) {
            (true, Some(at)) => interval.saturating_sub(at.elapsed()),
            (true, None) => Duration::ZERO,
            (false, _) => Duration::from_secs(3_600),
        };
        tokio::select! {
            event = events.recv() => match event {
                Some(event) => {
                    let line = describe(&event);
                    tracing::info!(turn = event.turn, prompt_tokens = event.tokens.prompt, completion_tokens = event.tokens.completion, "{line}");
                    summary = format!(
                        "Turn {}, {} s, {} tokens so far.",
                        event.turn,
                        event.elapsed.as_secs(),
                        event.tokens.prompt + event.tokens.completion
                    );
                    tail.push(line);
                    dirty = true;
                }
                None => break,
            },
            () = tokio::time::sleep(wait), if dirty => {
                update(github, scope, check_run_id, &title, &summary, &tail, log_pointer.as_deref()).await;
                dirty = false;
                last_update = Some(tokio::time::Instant::now());
            }
        }
    }
    if dirty {
        // The last lines (the agent's ending) show too.
        update(
            github,
            scope,
            check_run_id,
            &title,
            &summary,
            &tail,
            log_pointer.as_deref(),
        )
        .await;
    }
    tail
}

/// Shows `tail` on the check run, if the job has one; a failure is logged, not fatal.
async fn update<G: GitHub>(
    github: &G,
    scope: &RepoScope,
    check_run_id: Option<u64>,
    title: &str,
    summary: &str,
    tail: &LogTail,
    log_pointer: Option<&str>,
) {
    let Some(id) = check_run_id else {
        return;
    };
    let mut text = tail.text();
    if let Some(pointer) = log_pointer {
        text.push_str(&format!("\n{pointer}\n"));
    }
    let text = CHECK_TEXT.fit(&text);
    let update = CheckRunUpdate {
        status: Some(CheckStatus::InProgress),
        output: Some(CheckOutput {
            title: title.to_owned(),
            summary: summary.to_owned(),
            text: Some(text),
        }),
        ..CheckRunUpdate::default()
    };
    if let Err(err) = github.update_check_run(scope, id, &update).await {
        tracing::warn!(check_run = id, error = %err, "could not update the check run");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_last_lines_within_the_limit() {
        let mut tail = LogTail::default();
        for n in 0..10_000 {
            tail.push(format!("line {n:05} {}", "x".repeat(20)));
        }
        let text = tail.text();
        assert!(text.len() <= MAX_LOG_TAIL_BYTES + 100);
        assert!(text.starts_with("… "));
        assert!(
            text.trim_end()
                .ends_with(&format!("line 09999 {}", "x".repeat(20)))
        );
    }

    /// GitHub counts a check run's text in bytes: a tail of `é` within 60,000 characters
    /// would be twice over.
    #[test]
    fn the_tail_of_a_non_ascii_log_is_counted_in_bytes() {
        let mut tail = LogTail::default();
        for n in 0..10_000 {
            tail.push(format!("ligne {n:05} {}", "é".repeat(20)));
        }
        assert!(tail.text().len() <= MAX_LOG_TAIL_BYTES + 100);
        let mut tail = LogTail::default();
        tail.push("🦀".repeat(40_000));
        let text = tail.text();
        assert!(!text.is_empty() && text.len() <= MAX_LOG_TAIL_BYTES + 100);
        assert!(text.trim_end().ends_with('🦀'));
    }
}
