//! Progress of a run as events, for whoever watches: a CLI status line, a check-run
//! updater, a log. The agent calls one sink; [`ProgressSink::channel`] turns it into a
//! stream for consumers that live on another task, and [`ProgressSink::fan_out`] feeds
//! several.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use shared::job::TokenUsage;
use tokio::sync::mpsc;

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum ProgressKind {
    /// A model call is starting.
    ModelCall,
    /// A model call failed and will be retried after `delay`.
    Retrying {
        attempt: u32,
        delay: Duration,
        reason: String,
    },
    /// The model answered.
    ModelReply {
        prompt_tokens: u64,
        completion_tokens: u64,
        tool_calls: usize,
    },
    /// A tool call ran.
    ToolCall {
        tool: String,
        ok: bool,
        duration: Duration,
    },
    /// Old tool outputs were trimmed to fit the context window.
    ContextTrimmed {
        outputs: usize,
        tokens_before: usize,
        tokens_after: usize,
    },
    /// Ollama kept fewer prompt tokens than were sent: it dropped the oldest messages.
    /// Old tool outputs are trimmed before the next call.
    PromptTruncated { sent_at_least: usize, kept: usize },
    /// The run ended (see the report for how).
    Done { outcome: String },
    /// Best-of-N: candidate `number` of `of` starts, from the job's commit.
    Candidate { number: usize, of: usize },
}

/// One event, with where the run stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// The model call the event belongs to (1 for the first).
    pub turn: u32,
    /// Since the run started.
    pub elapsed: Duration,
    /// Tokens used so far.
    pub tokens: TokenUsage,
    pub kind: ProgressKind,
}

type Callback = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Where progress events go. Cloning shares the destination.
#[derive(Clone, Default)]
pub struct ProgressSink {
    callbacks: Vec<Callback>,
}

impl fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProgressSink({} consumers)", self.callbacks.len())
    }
}

impl ProgressSink {
    /// Events go nowhere.
    pub fn none() -> Self {
        Self::default()
    }

    /// Events go to `callback`, called on the agent's task: it must be quick.
    pub fn from_fn(callback: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        Self {
            callbacks: vec![Arc::new(callback)],
        }
    }

    /// Events go to a channel; a consumer that went away is ignored.
    pub fn channel() -> (Self, mpsc::UnboundedReceiver<Progress>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let sink = Self::from_fn(move |event| {
            let _ = sender.send(event.clone());
        });
        (sink, receiver)
    }

    /// Events go to every one of `sinks`.
    pub fn fan_out(sinks: impl IntoIterator<Item = ProgressSink>) -> Self {
        Self {
            callbacks: sinks.into_iter().flat_map(|s| s.callbacks).collect(),
        }
    }

    pub(crate) fn emit(&self, event: &Progress) {
        for callback in &self.callbacks {
            callback(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn events_reach_every_consumer() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let (channel, mut receiver) = ProgressSink::channel();
        let sink = ProgressSink::fan_out([
            ProgressSink::from_fn(move |p| log.lock().unwrap().push(p.turn)),
            channel,
            ProgressSink::none(),
        ]);
        let event = Progress {
            turn: 3,
            elapsed: Duration::from_secs(1),
            tokens: TokenUsage::default(),
            kind: ProgressKind::ModelCall,
        };
        sink.emit(&event);
        assert_eq!(*seen.lock().unwrap(), [3]);
        assert_eq!(receiver.try_recv().unwrap(), event);
        drop(receiver);
        sink.emit(&event);
    }
}
