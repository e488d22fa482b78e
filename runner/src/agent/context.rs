//! Keeping the conversation inside the model's context window.
//!
//! Ollama does not fail when a prompt exceeds `num_ctx`: it silently drops the oldest
//! messages, and the model carries on without knowing what it lost. So the agent keeps
//! count itself. Before each call it estimates the prompt's tokens from its size, and when
//! the estimate passes the budget (`num_ctx` minus room for the response) it replaces old
//! tool outputs, oldest first, with a note that they were removed (the model can call the
//! tool again). After each call it compares the server's `prompt_eval_count` with the
//! window: a count at the budget means the estimate was wrong and Ollama may have
//! truncated, so every old tool output is trimmed before the next call, and the estimate is
//! recalibrated from the counts the server reports.
//!
//! The outputs of the latest turn are never trimmed: the model has not seen them yet.

use crate::ollama::{Message, Role};

/// Bytes per token assumed until the server's counts say otherwise. Source code and English
/// come to 3.5–4.5 bytes per token with the tokenizers of the coding models Ollama serves;
/// 3 overestimates the count, so trimming starts early rather than late.
const INITIAL_BYTES_PER_TOKEN: f64 = 3.0;

/// The floor of the calibrated ratio: no tokenizer averages fewer bytes per token on text,
/// so a lower observation is a miscount, not a reason to trim everything.
const MIN_BYTES_PER_TOKEN: f64 = 1.5;

/// Tokens each message costs beyond its text: the chat template's role markers.
const TOKENS_PER_MESSAGE: usize = 8;

/// After trimming, the prompt is brought down to this share of the budget, so that the next
/// few turns fit without trimming again (each trim rewrites early messages, which costs
/// Ollama its prompt cache).
const TRIM_TARGET: f64 = 0.75;

/// Outputs shorter than this are not worth replacing with a note of about the same size.
const MIN_TRIMMABLE_CHARS: usize = 300;

/// The context window of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextWindow {
    /// `num_ctx`: prompt and response together.
    pub num_ctx: u32,
    /// Room kept for the response: the response limit, but at most a quarter of the window.
    pub reserve: u32,
}

impl ContextWindow {
    pub fn new(num_ctx: u32, max_tokens: u32) -> Self {
        Self {
            num_ctx,
            reserve: max_tokens.min(num_ctx / 4),
        }
    }

    /// The most tokens a prompt may have.
    pub fn prompt_budget(&self) -> usize {
        (self.num_ctx - self.reserve) as usize
    }
}

/// What a trim did, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trimmed {
    pub outputs: usize,
    pub tokens_before: usize,
    pub tokens_after: usize,
}

/// The prompt can't fit even with every old output trimmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextFull {
    pub estimated_tokens: usize,
    pub budget: usize,
}

/// The conversation, with the bookkeeping to keep it inside the window.
#[derive(Debug)]
pub(crate) struct Transcript {
    messages: Vec<Message>,
    trimmed: Vec<bool>,
    /// Bytes of the tool definitions, sent with every request.
    tools_bytes: usize,
    bytes_per_token: f64,
    /// Set when the server's count showed the last prompt at the budget.
    trim_all: bool,
}

impl Transcript {
    pub(crate) fn new(messages: Vec<Message>, tools_bytes: usize) -> Self {
        Self {
            trimmed: vec![false; messages.len()],
            messages,
            tools_bytes,
            bytes_per_token: INITIAL_BYTES_PER_TOKEN,
            trim_all: false,
        }
    }

    pub(crate) fn messages(&self) -> &[Message] {
        &self.messages
    }

    pub(crate) fn push(&mut self, message: Message) {
        self.messages.push(message);
        self.trimmed.push(false);
    }

    fn bytes(&self) -> usize {
        self.tools_bytes + self.messages.iter().map(Message::weight).sum::<usize>()
    }

    /// The estimated prompt tokens of the next request.
    pub(crate) fn estimate(&self) -> usize {
        (self.bytes() as f64 / self.bytes_per_token).ceil() as usize
            + self.messages.len() * TOKENS_PER_MESSAGE
    }

    /// Learns from the server's count for the prompt just sent (the transcript as it was
    /// before the response was added). Returns whether the prompt may have been truncated.
    pub(crate) fn observe(&mut self, prompt_tokens: u64, window: ContextWindow) -> bool {
        if prompt_tokens == 0 {
            return false;
        }
        let at_budget = prompt_tokens as usize >= window.prompt_budget();
        if at_budget {
            self.trim_all = true;
        } else {
            let overhead = self.messages.len() * TOKENS_PER_MESSAGE;
            let text_tokens = (prompt_tokens as usize).saturating_sub(overhead).max(1);
            let observed = self.bytes() as f64 / text_tokens as f64;
            if observed < self.bytes_per_token {
                self.bytes_per_token = observed.max(MIN_BYTES_PER_TOKEN);
            }
        }
        at_budget
    }

    /// Trims old tool outputs if the next request would not fit (or the server said the
    /// last one did not).
    pub(crate) fn fit(&mut self, window: ContextWindow) -> Result<Option<Trimmed>, ContextFull> {
        let budget = window.prompt_budget();
        let before = self.estimate();
        let trim_all = std::mem::take(&mut self.trim_all);
        if before <= budget && !trim_all {
            return Ok(None);
        }
        let target = (budget as f64 * TRIM_TARGET) as usize;
        let latest_turn = self
            .messages
            .iter()
            .rposition(|m| m.role == Role::Assistant)
            .unwrap_or(self.messages.len());
        let mut outputs = 0;
        for index in 0..latest_turn {
            if !trim_all && self.estimate() <= target {
                break;
            }
            let message = &mut self.messages[index];
            if message.role != Role::Tool
                || self.trimmed[index]
                || message.content.chars().count() < MIN_TRIMMABLE_CHARS
            {
                continue;
            }
            message.content = format!(
                "[The output of this {} call ({} characters) was removed to keep the conversation within the context window. Call the tool again if you still need it.]",
                message.tool_name.as_deref().unwrap_or("tool"),
                message.content.chars().count()
            );
            self.trimmed[index] = true;
            outputs += 1;
        }
        let after = self.estimate();
        if after > budget {
            return Err(ContextFull {
                estimated_tokens: after,
                budget,
            });
        }
        Ok((outputs > 0).then_some(Trimmed {
            outputs,
            tokens_before: before,
            tokens_after: after,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conversation(outputs: &[usize]) -> Transcript {
        let mut transcript = Transcript::new(vec![Message::system("s"), Message::user("u")], 0);
        for (i, size) in outputs.iter().enumerate() {
            transcript.push(Message::assistant("", Vec::new()));
            transcript.push(Message::tool(
                "read_file",
                None,
                format!("{i}").repeat(*size),
            ));
        }
        transcript
    }

    fn contents(t: &Transcript) -> Vec<bool> {
        t.messages()
            .iter()
            .filter(|m| m.role == Role::Tool)
            .map(|m| m.content.starts_with("[The output"))
            .collect()
    }

    #[test]
    fn nothing_is_trimmed_while_the_prompt_fits() {
        let mut t = conversation(&[3000, 3000]);
        let window = ContextWindow::new(8192, 1024);
        assert_eq!(t.fit(window), Ok(None));
        assert_eq!(contents(&t), [false, false]);
    }

    #[test]
    fn old_outputs_go_first_and_the_latest_turn_stays() {
        let mut t = conversation(&[6000, 6000, 6000]);
        let window = ContextWindow::new(6000, 1000);
        let trimmed = t.fit(window).unwrap().unwrap();
        assert_eq!(contents(&t), [true, true, false]);
        assert_eq!(trimmed.outputs, 2);
        assert!(trimmed.tokens_after <= window.prompt_budget());
        assert!(
            t.messages()[3]
                .content
                .contains("read_file call (6000 characters)")
        );
    }

    #[test]
    fn a_prompt_that_cannot_fit_is_reported() {
        let mut t = conversation(&[60_000]);
        let full = t.fit(ContextWindow::new(4096, 512)).unwrap_err();
        assert_eq!(full.budget, 3584);
    }

    #[test]
    fn a_server_count_at_the_budget_trims_every_old_output() {
        let mut t = conversation(&[1000, 1000, 1000]);
        let window = ContextWindow::new(32_768, 4096);
        assert!(!t.observe(1500, window));
        assert!(t.observe(28_672, window));
        assert_eq!(t.fit(window).unwrap().map(|r| r.outputs), Some(2));
        assert_eq!(contents(&t), [true, true, false]);
        assert_eq!(t.fit(window), Ok(None));
    }

    #[test]
    fn server_counts_make_the_estimate_more_careful_never_less() {
        let mut t = conversation(&[9000]);
        let before = t.estimate();
        t.observe(1, ContextWindow::new(32_768, 1024));
        assert_eq!(t.estimate(), before);
        t.observe(6000, ContextWindow::new(32_768, 1024));
        assert!(t.estimate() > before);
        assert_eq!(ContextWindow::new(4096, 100_000).reserve, 1024);
    }
}
