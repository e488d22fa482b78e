//! Keeping the conversation inside the model's context window.
//!
//! Ollama does not fail when a prompt exceeds `num_ctx`: it silently drops the oldest
//! messages (keeping the system messages and the last one, `server/prompt.go`), and the
//! model carries on without knowing what it lost. So the agent keeps count itself. Before
//! each call it estimates the prompt's tokens from its size, and when the estimate passes
//! the budget (`num_ctx` minus room for the response) it replaces old tool outputs, oldest
//! first, with a note that they were removed (the model can call the tool again), down to
//! a low-water mark in one cut.
//!
//! Between cuts the message list only grows at its end. Ollama reuses its KV cache for the
//! longest prefix a request shares with the previous one, so an append-only conversation
//! costs only its new tokens per turn; every rewrite of an early message costs the whole
//! rest of the prompt again.
//!
//! After each call the server's `prompt_eval_count` is checked. It counts the prompt Ollama
//! kept, cached tokens included (as before 0.30 and again since 0.30.1, ollama/ollama#16428;
//! only 0.30.0 counted the uncached tokens alone, and with it this check is off). A count
//! below what was sent by any tokenizer's measure, or below the previous request's count
//! when this one only added messages, means Ollama truncated: the run says so,
//! trims every old output, and budgets from then on against the count the server kept. A
//! count at the budget means the estimate was wrong and Ollama may have truncated, so every
//! old tool output is trimmed before the next call. Whole counts calibrate the estimate
//! (about a tenth above what the server counted for the same messages), so a window is
//! filled with what it really holds rather than with a guess of 3 bytes to a token.
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

/// The most bytes one token stands for, for a lower bound on what a prompt can count: the
/// tokenizers of the models Ollama serves average 3–5 bytes per token on code and English,
/// so a prompt counted at fewer tokens than its bytes over this was not counted whole.
const MAX_BYTES_PER_TOKEN: f64 = 6.0;

/// The share of the bytes per token the server's counts show that the estimate uses: the
/// estimate stays about a tenth above the server's count for the same messages.
const CALIBRATION_MARGIN: f64 = 0.9;

/// Tokens each message costs beyond its text: the chat template's role markers.
const TOKENS_PER_MESSAGE: usize = 8;

/// After trimming, the prompt is brought down to this share of the budget, so that the next
/// few turns fit without trimming again (each trim rewrites early messages, which costs
/// Ollama its prompt cache).
const TRIM_TARGET: f64 = 0.5;

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

/// What the server's count for the last prompt says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    Fine,
    /// The count reached the budget: Ollama may have truncated.
    AtBudget,
    /// The count is below what was sent: Ollama dropped part of the prompt.
    Truncated {
        sent_at_least: usize,
        kept: usize,
    },
}

/// The prompt can't fit even with every old output trimmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextFull {
    pub estimated_tokens: usize,
    pub budget: usize,
}

/// The conversation, with the bookkeeping to keep it inside the window.
#[derive(Debug)]
pub struct Transcript {
    messages: Vec<Message>,
    trimmed: Vec<bool>,
    /// Bytes of the tool definitions, sent with every request.
    tools_bytes: usize,
    bytes_per_token: f64,
    /// Set when the server's count showed the last prompt at the budget.
    trim_all: bool,
    /// The most tokens the server was seen to keep of a prompt it truncated: the window it
    /// really has, whatever `num_ctx` says.
    kept_at_most: Option<u32>,
    /// The server's count for the previous request, while every request since only added
    /// messages at the end: a longer prompt can't count fewer tokens unless it was cut.
    previous_count: Option<usize>,
}

impl Transcript {
    pub fn new(messages: Vec<Message>, tools_bytes: usize) -> Self {
        Self {
            trimmed: vec![false; messages.len()],
            messages,
            tools_bytes,
            bytes_per_token: INITIAL_BYTES_PER_TOKEN,
            trim_all: false,
            kept_at_most: None,
            previous_count: None,
        }
    }

    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    pub fn push(&mut self, message: Message) {
        self.messages.push(message);
        self.trimmed.push(false);
    }

    fn bytes(&self) -> usize {
        self.tools_bytes + self.messages.iter().map(Message::weight).sum::<usize>()
    }

    /// The estimated prompt tokens of the next request.
    pub fn estimate(&self) -> usize {
        (self.bytes() as f64 / self.bytes_per_token).ceil() as usize
            + self.messages.len() * TOKENS_PER_MESSAGE
    }

    /// The fewest tokens the next request can count, whatever the tokenizer.
    fn floor(&self) -> usize {
        (self.bytes() as f64 / MAX_BYTES_PER_TOKEN).floor() as usize
    }

    /// `window`, or the smaller one the server was seen to keep.
    pub fn window(&self, window: ContextWindow) -> ContextWindow {
        match self.kept_at_most {
            Some(kept) if kept < window.num_ctx => ContextWindow::new(kept, window.reserve),
            _ => window,
        }
    }

    /// Learns from the server's count for the prompt just sent (the transcript as it was
    /// before the response was added). `counts_whole_prompt` is false for a server whose
    /// count leaves out cached tokens: then only the budget check applies.
    pub fn observe(
        &mut self,
        prompt_tokens: u64,
        window: ContextWindow,
        counts_whole_prompt: bool,
    ) -> Observed {
        if prompt_tokens == 0 {
            return Observed::Fine;
        }
        let window = self.window(window);
        let kept = usize::try_from(prompt_tokens).unwrap_or(usize::MAX);
        let previous = self.previous_count.replace(kept);
        let sent_at_least = self.floor().max(previous.unwrap_or(0));
        if counts_whole_prompt && kept < sent_at_least {
            // The estimate stays as earlier whole counts calibrated it: what was wrong is
            // the window, not the bytes per token.
            self.trim_all = true;
            let kept_u32 = u32::try_from(kept).unwrap_or(u32::MAX);
            self.kept_at_most = Some(self.kept_at_most.map_or(kept_u32, |k| k.min(kept_u32)));
            return Observed::Truncated {
                sent_at_least,
                kept,
            };
        }
        if kept >= window.prompt_budget() {
            self.trim_all = true;
            return Observed::AtBudget;
        }
        let overhead = self.messages.len() * TOKENS_PER_MESSAGE;
        let text_tokens = kept.saturating_sub(overhead).max(1);
        let observed = self.bytes() as f64 / text_tokens as f64;
        if counts_whole_prompt {
            // A whole count of this very conversation: estimate from it, a margin above.
            // A later prompt that tokenizes denser is caught by the checks above.
            self.bytes_per_token = (observed * CALIBRATION_MARGIN).clamp(
                MIN_BYTES_PER_TOKEN,
                MAX_BYTES_PER_TOKEN * CALIBRATION_MARGIN,
            );
        } else if observed < self.bytes_per_token {
            // A count without the cached tokens only ever shows the estimate too low.
            self.bytes_per_token = observed.max(MIN_BYTES_PER_TOKEN);
        }
        Observed::Fine
    }

    /// Trims old tool outputs if the next request would not fit (or the server said the
    /// last one did not).
    pub fn fit(&mut self, window: ContextWindow) -> Result<Option<Trimmed>, ContextFull> {
        let window = self.window(window);
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
        if outputs > 0 {
            // The prompt was rewritten: the next count starts a new series.
            self.previous_count = None;
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
        assert_eq!(t.observe(1500, window, true), Observed::Fine);
        assert_eq!(t.observe(28_672, window, true), Observed::AtBudget);
        assert_eq!(t.fit(window).unwrap().map(|r| r.outputs), Some(2));
        assert_eq!(contents(&t), [true, true, false]);
        assert_eq!(t.fit(window), Ok(None));
    }

    #[test]
    fn server_counts_make_the_estimate_more_careful_never_less() {
        let mut t = conversation(&[9000]);
        let before = t.estimate();
        t.observe(1, ContextWindow::new(32_768, 1024), false);
        assert_eq!(t.estimate(), before);
        t.observe(6000, ContextWindow::new(32_768, 1024), true);
        assert!(t.estimate() > before);
        assert_eq!(ContextWindow::new(4096, 100_000).reserve, 1024);
    }

    #[test]
    fn a_whole_count_calibrates_the_estimate_a_margin_above_it() {
        let mut t = conversation(&[40_000]);
        let window = ContextWindow::new(65_536, 1024);
        let guessed = t.estimate();
        // The server counts 4 bytes to a token; the first guess was 3.
        let counted = t.bytes() / 4 + t.messages().len() * TOKENS_PER_MESSAGE;
        assert_eq!(t.observe(counted as u64, window, true), Observed::Fine);
        let calibrated = t.estimate();
        assert!(calibrated < guessed, "{calibrated} < {guessed}");
        let margin = calibrated as f64 / counted as f64;
        assert!(
            (1.05..1.15).contains(&margin),
            "estimate {calibrated}, count {counted}"
        );
        // A count that leaves out cached tokens never makes the estimate bolder.
        let mut cached = conversation(&[40_000]);
        cached.observe(counted as u64, window, false);
        assert_eq!(cached.estimate(), guessed);
    }

    #[test]
    fn a_count_below_what_was_sent_is_truncation() {
        let mut t = conversation(&[20_000, 20_000, 3000]);
        let window = ContextWindow::new(65_536, 1024);
        assert!(
            matches!(
                t.observe(5000, window, true),
                Observed::Truncated { sent_at_least, kept: 5000 } if sent_at_least >= 7000
            ),
            "43,000 bytes are at least 7,000 tokens"
        );
        // From now on the budget is what the server kept, and every old output goes.
        assert_eq!(t.window(window).prompt_budget(), 5000 - 1024);
        let trimmed = t.fit(window).unwrap().unwrap();
        assert_eq!(trimmed.outputs, 2);
        assert!(trimmed.tokens_after <= 5000 - 1024);
        // A server whose count leaves out cached tokens (Ollama 0.30.0) proves nothing.
        let mut cached = conversation(&[20_000, 20_000, 3000]);
        assert_eq!(cached.observe(5000, window, false), Observed::Fine);
    }

    #[test]
    fn a_longer_prompt_counted_shorter_was_cut() {
        let mut t = conversation(&[3000]);
        let window = ContextWindow::new(65_536, 1024);
        assert_eq!(t.observe(6000, window, true), Observed::Fine);
        t.push(Message::assistant("", Vec::new()));
        t.push(Message::tool("read_file", None, "x".repeat(3000)));
        assert_eq!(
            t.observe(5900, window, true),
            Observed::Truncated {
                sent_at_least: 6000,
                kept: 5900
            }
        );
    }
}
