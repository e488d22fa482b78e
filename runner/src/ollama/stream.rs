//! Folding the streamed chat objects into one response: content and thinking concatenated,
//! tool calls collected from whichever objects carry them, counters from the final object.

use std::time::Duration;

use super::error::{OllamaError, clip, cut};
use super::tool_call::ToolCall;
use super::wire::{ChatChunk, error_text};

/// How much of an unparsable line an error message quotes.
const LINE_PREVIEW_CHARS: usize = 80;

/// Tokens of one call, from the final object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// `prompt_eval_count`: prompt tokens the server evaluated.
    pub prompt_tokens: u64,
    /// `eval_count`: tokens the model wrote.
    pub completion_tokens: u64,
}

/// Where the time of one call went, from the final object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    pub total: Duration,
    /// Loading the model (non-zero when the server had to load it for this call).
    pub load: Duration,
    pub prompt_eval: Duration,
    pub eval: Duration,
}

/// A whole chat response.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatResponse {
    pub content: String,
    pub thinking: String,
    pub tool_calls: Vec<ToolCall>,
    /// `stop`, `length` (hit `num_predict`), `load`, …
    pub done_reason: Option<String>,
    pub usage: Usage,
    pub timings: Timings,
}

impl ChatResponse {
    /// The response was cut because it reached `num_predict`.
    pub fn hit_length_limit(&self) -> bool {
        self.done_reason.as_deref() == Some("length")
    }
}

/// Accumulates streamed objects until the one with `done: true`.
#[derive(Debug, Default)]
pub(crate) struct Assembler {
    content: String,
    thinking: String,
    tool_calls: Vec<ToolCall>,
}

impl Assembler {
    /// Takes one line; returns the response once the final object arrives.
    pub(crate) fn push_line(&mut self, line: &[u8]) -> Result<Option<ChatResponse>, OllamaError> {
        let chunk: ChatChunk =
            serde_json::from_slice(line).map_err(|err| OllamaError::UnreadableReply {
                reason: format!(
                    "a line is not a chat object ({err}): `{}`",
                    cut(&String::from_utf8_lossy(line), LINE_PREVIEW_CHARS)
                ),
            })?;
        if let Some(error) = &chunk.error {
            return Err(OllamaError::from_server_message(
                500,
                clip(&error_text(error)),
            ));
        }
        if let Some(message) = chunk.message {
            if let Some(content) = message.content {
                self.content.push_str(&content);
            }
            if let Some(thinking) = message.thinking {
                self.thinking.push_str(&thinking);
            }
            for call in message.tool_calls.unwrap_or_default() {
                self.tool_calls.push(ToolCall::from_wire(&call));
            }
        }
        if !chunk.done {
            return Ok(None);
        }
        let nanos = |n: Option<u64>| Duration::from_nanos(n.unwrap_or(0));
        Ok(Some(ChatResponse {
            content: std::mem::take(&mut self.content),
            thinking: std::mem::take(&mut self.thinking),
            tool_calls: std::mem::take(&mut self.tool_calls),
            done_reason: chunk.done_reason,
            usage: Usage {
                prompt_tokens: chunk.prompt_eval_count.unwrap_or(0),
                completion_tokens: chunk.eval_count.unwrap_or(0),
            },
            timings: Timings {
                total: nanos(chunk.total_duration),
                load: nanos(chunk.load_duration),
                prompt_eval: nanos(chunk.prompt_eval_duration),
                eval: nanos(chunk.eval_duration),
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(lines: &[&str]) -> Result<Option<ChatResponse>, OllamaError> {
        let mut assembler = Assembler::default();
        let mut last = None;
        for line in lines {
            last = assembler.push_line(line.as_bytes())?;
        }
        Ok(last)
    }

    #[test]
    fn content_tool_calls_and_counters_are_assembled() {
        let response = feed(&[
            r#"{"model":"m","message":{"role":"assistant","content":"Let me ","thinking":"hmm"},"done":false}"#,
            r#"{"model":"m","message":{"role":"assistant","content":"look."},"done":false}"#,
            r#"{"model":"m","message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"read_file","arguments":{"path":"a.rs"}}}]},"done":false}"#,
            r#"{"model":"m","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","total_duration":2000000,"load_duration":1000,"prompt_eval_count":120,"prompt_eval_duration":5,"eval_count":17,"eval_duration":7}"#,
        ])
        .unwrap()
        .unwrap();
        assert_eq!(response.content, "Let me look.");
        assert_eq!(response.thinking, "hmm");
        assert_eq!(response.tool_calls.len(), 1);
        assert_eq!(response.tool_calls[0].name, "read_file");
        assert_eq!(
            response.usage,
            Usage {
                prompt_tokens: 120,
                completion_tokens: 17
            }
        );
        assert_eq!(response.timings.total, Duration::from_millis(2));
        assert!(!response.hit_length_limit());
    }

    #[test]
    fn an_unfinished_stream_gives_nothing_yet() {
        assert_eq!(
            feed(&[r#"{"message":{"content":"x"},"done":false}"#]).unwrap(),
            None
        );
    }

    #[test]
    fn errors_in_the_stream_and_garbage_are_reported() {
        let server =
            feed(&[r#"{"error":"an error was encountered while running the model"}"#]).unwrap_err();
        assert!(server.is_transient(), "{server}");
        let tool = feed(&[r#"{"error":"error parsing tool call: raw='{', err=unexpected end"}"#])
            .unwrap_err();
        assert!(matches!(tool, OllamaError::MalformedToolCall { .. }));
        let garbage = feed(&["<html>502 Bad Gateway</html>"]).unwrap_err();
        assert!(matches!(garbage, OllamaError::UnreadableReply { .. }));
        assert!(!garbage.is_transient(), "bad output is not an outage");
        assert_eq!(
            garbage.job_error(),
            shared::job::JobError::RunnerAgentGaveUp
        );
    }
}
