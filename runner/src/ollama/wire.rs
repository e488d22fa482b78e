//! The `/api/chat` wire format: the request the client sends, and the streamed objects
//! Ollama answers with (one per line, the last with `done: true` and the counters).
//!
//! What comes back is outside input: the streamed objects are read leniently (unknown fields
//! ignored, missing ones defaulted) and tool calls are kept as raw JSON until
//! [`super::ToolCall::from_wire`] looks at them, so a malformed call is reported to the model
//! instead of failing the whole response.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use shared::config::Think;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

/// One message of the conversation, as sent to Ollama.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    #[serde(default)]
    pub content: String,
    /// The reasoning of a thinking model. Sent back on the assistant message that carries
    /// the turn's tool calls, as Ollama's tool-calling guide does, so that the model
    /// continues from its own reasoning after the results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<WireToolCall>,
    /// On a `tool` message: the tool whose result this is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
    /// On a `tool` message: the id of the call, when the model's call had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl Message {
    fn plain(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            thinking: None,
            tool_calls: Vec::new(),
            tool_name: None,
            tool_call_id: None,
        }
    }

    pub fn system(content: impl Into<String>) -> Self {
        Self::plain(Role::System, content)
    }

    pub fn user(content: impl Into<String>) -> Self {
        Self::plain(Role::User, content)
    }

    pub fn assistant(content: impl Into<String>, tool_calls: Vec<WireToolCall>) -> Self {
        Self {
            tool_calls,
            ..Self::plain(Role::Assistant, content)
        }
    }

    /// The result of a tool call, sent back to the model.
    pub fn tool(name: &str, call_id: Option<String>, content: impl Into<String>) -> Self {
        Self {
            tool_name: Some(name.to_owned()),
            tool_call_id: call_id,
            ..Self::plain(Role::Tool, content)
        }
    }

    /// `self` with the turn's reasoning, when there was some.
    pub fn with_thinking(mut self, thinking: &str) -> Self {
        let thinking = thinking.trim();
        self.thinking = (!thinking.is_empty()).then(|| thinking.to_owned());
        self
    }

    /// Bytes this message adds to a request: what the context estimate counts.
    pub fn weight(&self) -> usize {
        let calls: usize = self
            .tool_calls
            .iter()
            .map(|call| {
                call.function.name.len()
                    + Value::Object(call.function.arguments.clone())
                        .to_string()
                        .len()
            })
            .sum();
        self.content.len()
            + calls
            + self.tool_name.as_ref().map_or(0, String::len)
            + self.thinking.as_ref().map_or(0, String::len)
    }
}

/// A tool call as it is echoed back in the assistant's message. Ollama only accepts an
/// object for `arguments`, so a malformed call is echoed with `{}` (the tool result then
/// says what was wrong with it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireToolCall {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub function: WireFunction,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireFunction {
    pub name: String,
    pub arguments: Map<String, Value>,
}

/// The model options the agent sets explicitly rather than trusting the server's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ChatOptions {
    /// The context window. Ollama's default (a few thousand tokens) silently truncates an
    /// agent's conversation, so it is always sent.
    pub num_ctx: u32,
    /// The most tokens one response may have: the task's `max_tokens`.
    pub num_predict: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
}

/// One `/api/chat` request. Always streamed.
#[derive(Debug, Clone, Copy)]
pub struct ChatRequest<'a> {
    pub model: &'a str,
    pub messages: &'a [Message],
    /// Tool definitions (`{"type": "function", "function": {...}}`).
    pub tools: &'a [Value],
    pub options: ChatOptions,
    /// How long Ollama keeps the model loaded after the call (`"30m"`, `"-1"`); `None`
    /// leaves the server's default.
    pub keep_alive: Option<&'a str>,
    /// Whether a thinking model thinks (`false`, `true`, a level); `None` leaves Ollama's
    /// default, which is on for models that can think.
    pub think: Option<Think>,
}

/// The JSON body of a [`ChatRequest`].
#[derive(Serialize)]
pub(crate) struct ChatBody<'a> {
    model: &'a str,
    messages: &'a [Message],
    #[serde(skip_serializing_if = "<[Value]>::is_empty")]
    tools: &'a [Value],
    stream: bool,
    options: ChatOptions,
    #[serde(skip_serializing_if = "Option::is_none")]
    keep_alive: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    think: Option<Value>,
}

impl<'a> From<&ChatRequest<'a>> for ChatBody<'a> {
    fn from(request: &ChatRequest<'a>) -> Self {
        Self {
            model: request.model,
            messages: request.messages,
            tools: request.tools,
            stream: true,
            options: request.options,
            keep_alive: request.keep_alive,
            think: request.think.map(Think::to_json),
        }
    }
}

/// One streamed object. Every field is optional: what matters is checked where it is used.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ChatChunk {
    #[serde(default)]
    pub message: Option<ChunkMessage>,
    #[serde(default)]
    pub done: bool,
    #[serde(default)]
    pub done_reason: Option<String>,
    #[serde(default)]
    pub prompt_eval_count: Option<u64>,
    #[serde(default)]
    pub eval_count: Option<u64>,
    #[serde(default)]
    pub total_duration: Option<u64>,
    #[serde(default)]
    pub load_duration: Option<u64>,
    #[serde(default)]
    pub prompt_eval_duration: Option<u64>,
    #[serde(default)]
    pub eval_duration: Option<u64>,
    /// Set when the server failed mid-stream (the HTTP status is already 200 by then).
    #[serde(default)]
    pub error: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ChunkMessage {
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub thinking: Option<String>,
    #[serde(default)]
    pub tool_calls: Option<Vec<Value>>,
}

/// The `error` of an error body (`{"error": "..."}`), however it is shaped.
pub(crate) fn error_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Object(map) => map
            .get("message")
            .and_then(Value::as_str)
            .map_or_else(|| value.to_string(), str::to_owned),
        other => other.to_string(),
    }
}
