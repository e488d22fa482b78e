//! The live status on stderr while the agent works: turn, what it is doing (the model
//! thinking, the tool that ran), tokens in and out, elapsed time. On a terminal it is one
//! line redrawn in place, ticking every second even while the model thinks; otherwise
//! (a log, a pipe, a test) one plain line per event, so the record stays readable.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use ota_runner::agent::{Progress, ProgressKind};
use shared::job::TokenUsage;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

/// How often the terminal line is redrawn without an event: the elapsed time must not
/// freeze while the model takes a minute to answer.
const TICK: Duration = Duration::from_secs(1);

/// The longest activity text on the terminal line: a longer line wraps, and a wrapped
/// line can't be redrawn in place.
const MAX_ACTIVITY_CHARS: usize = 48;

/// The shortest activity text next to a long label: still says what is going on.
const MIN_ACTIVITY_CHARS: usize = 16;

/// `\r` back to the start of the line, then ANSI "erase the whole line".
const CLEAR_LINE: &str = "\r\x1b[2K";

/// How the status is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusMode {
    /// One line, redrawn in place.
    Terminal,
    /// One line per event.
    Plain,
}

impl StatusMode {
    /// [`StatusMode::Terminal`] when stderr is a terminal.
    pub fn for_stderr() -> Self {
        if std::io::stderr().is_terminal() {
            Self::Terminal
        } else {
            Self::Plain
        }
    }
}

/// Where the run stands, as the status shows it.
#[derive(Debug, Clone, Default, PartialEq)]
struct Status {
    turn: u32,
    tokens: TokenUsage,
    activity: String,
    /// The last tool that ran, shown while the model thinks about its result.
    last_tool: Option<String>,
}

impl Status {
    fn apply(&mut self, event: &Progress) {
        self.turn = event.turn;
        self.tokens = event.tokens;
        self.activity = match &event.kind {
            ProgressKind::ModelCall => match &self.last_tool {
                Some(tool) => format!("model thinking (after {tool})"),
                None => "model thinking".to_owned(),
            },
            ProgressKind::Retrying {
                attempt,
                delay,
                reason,
            } => format!(
                "model call {attempt} failed, retrying in {}s: {reason}",
                delay.as_secs()
            ),
            ProgressKind::ModelReply { tool_calls: 0, .. } => {
                "model replied without a tool call".to_owned()
            }
            ProgressKind::ModelReply { tool_calls, .. } => {
                format!("running {tool_calls} tool call(s)")
            }
            ProgressKind::ToolCall { tool, ok, duration } => {
                self.last_tool = Some(tool.clone());
                format!(
                    "{tool} {} ({})",
                    if *ok { "done" } else { "failed" },
                    short_duration(*duration)
                )
            }
            ProgressKind::ContextTrimmed { outputs, .. } => {
                format!("trimmed {outputs} old tool output(s) to fit the context")
            }
            ProgressKind::PromptTruncated { kept, .. } => {
                format!("Ollama cut the prompt to {kept} tokens; trimming old tool outputs")
            }
            ProgressKind::Done { outcome } => format!("agent {outcome}"),
            ProgressKind::Candidate { number, of } => format!("candidate {number} of {of}"),
        };
    }

    /// `turn 3 · read_file done (4 ms) · tokens 1,200 in / 80 out · 0:42`.
    fn line(&self, elapsed: Duration, max_activity_chars: Option<usize>) -> String {
        let activity = match max_activity_chars {
            Some(max) if self.activity.chars().count() > max => {
                let cut: String = self.activity.chars().take(max.saturating_sub(1)).collect();
                format!("{cut}…")
            }
            _ => self.activity.clone(),
        };
        format!(
            "turn {} · {activity} · tokens {} in / {} out · {}",
            self.turn,
            thousands(self.tokens.prompt),
            thousands(self.tokens.completion),
            clock(elapsed)
        )
    }
}

/// Shows `events` on stderr, each line after `label` (where the run stands among others,
/// for `ota eval`), until the channel closes (the agent is done); on a terminal the line
/// is cleared at the end, so what follows starts on a clean line.
pub async fn show(mut events: UnboundedReceiver<Progress>, mode: StatusMode, label: String) {
    let started = Instant::now();
    // The label takes its room from the activity, so the line still fits.
    let max_activity = MAX_ACTIVITY_CHARS
        .saturating_sub(label.chars().count())
        .max(MIN_ACTIVITY_CHARS);
    let mut status = Status {
        activity: "starting".to_owned(),
        ..Status::default()
    };
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { break };
                status.apply(&event);
                match mode {
                    StatusMode::Terminal => redraw(&format!("{label}{}", status.line(started.elapsed(), Some(max_activity)))),
                    StatusMode::Plain => eprintln!("ota: {label}{}", status.line(event.elapsed, None)),
                }
            }
            _ = ticks.tick(), if mode == StatusMode::Terminal => {
                redraw(&format!("{label}{}", status.line(started.elapsed(), Some(max_activity))));
            }
        }
    }
    if mode == StatusMode::Terminal {
        redraw("");
    }
}

/// Replaces the terminal's status line with `line` (an empty one clears it).
pub(crate) fn redraw(line: &str) {
    let mut stderr = std::io::stderr().lock();
    // A closed stderr is no reason to stop the run.
    let _ = write!(stderr, "{CLEAR_LINE}{line}");
    let _ = stderr.flush();
}

/// `0:42`, `12:05`, `1:02:03`.
pub fn clock(elapsed: Duration) -> String {
    let secs = elapsed.as_secs();
    let (hours, minutes, seconds) = (secs / 3600, secs / 60 % 60, secs % 60);
    if hours > 0 {
        format!("{hours}:{minutes:02}:{seconds:02}")
    } else {
        format!("{minutes}:{seconds:02}")
    }
}

/// `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn short_duration(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        format!("{} ms", duration.as_millis())
    } else {
        format!("{:.1} s", duration.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(turn: u32, kind: ProgressKind) -> Progress {
        Progress {
            turn,
            elapsed: Duration::from_secs(42),
            tokens: TokenUsage {
                prompt: 12_345,
                completion: 678,
            },
            kind,
        }
    }

    #[test]
    fn the_line_shows_turn_tool_tokens_and_time() {
        let mut status = Status::default();
        status.apply(&event(
            3,
            ProgressKind::ToolCall {
                tool: "read_file".into(),
                ok: true,
                duration: Duration::from_millis(4),
            },
        ));
        assert_eq!(
            status.line(Duration::from_secs(42), None),
            "turn 3 · read_file done (4 ms) · tokens 12,345 in / 678 out · 0:42"
        );
        status.apply(&event(4, ProgressKind::ModelCall));
        assert_eq!(
            status.line(Duration::from_secs(3_725), None),
            "turn 4 · model thinking (after read_file) · tokens 12,345 in / 678 out · 1:02:05"
        );
    }

    #[test]
    fn long_activities_are_cut_on_the_terminal() {
        let mut status = Status::default();
        status.apply(&event(
            1,
            ProgressKind::Retrying {
                attempt: 2,
                delay: Duration::from_secs(4),
                reason: "x".repeat(200),
            },
        ));
        let line = status.line(Duration::ZERO, Some(MAX_ACTIVITY_CHARS));
        assert!(line.chars().count() < 100, "{line}");
        assert!(line.contains("retrying in 4s"), "{line}");
    }

    #[test]
    fn numbers_read_naturally() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(clock(Duration::from_secs(5)), "0:05");
        assert_eq!(clock(Duration::from_secs(725)), "12:05");
    }
}
