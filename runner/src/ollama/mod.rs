//! The Ollama client: native `/api/chat`, streamed as NDJSON, with tool calling, and
//! `/api/show` ([`ModelInfo`], cached per model) to check a model before any work.
//!
//! Works against a self-hosted server (`OLLAMA_HOST`) or Ollama's hosted service
//! (`OLLAMA_HOST=https://ollama.com` with `OLLAMA_API_KEY`, sent as a Bearer token that never
//! appears in logs, `Debug` output or errors). Every request sets `num_ctx` and
//! `num_predict` explicitly: Ollama's defaults would silently truncate an agent's
//! conversation.
//!
//! Errors are sorted by what to do ([`OllamaError::is_transient`]): connection failures,
//! timeouts, 5xx, `{"error": …}` lines in the stream (Ollama's way of failing once the
//! 200 is sent, <https://docs.ollama.com/api/errors>) and streams that end early are retried
//! with exponential backoff and jitter ([`RetryPolicy`]), then reported as
//! `Runner.ModelUnavailable`; a missing model, a model without tool support and refused
//! credentials are permanent and say what to change. A reply that is not a chat stream
//! (garbage lines, a reply past [`reply_byte_limit`]) is the model's answer, not an outage:
//! it is read once, up to that limit, and never retried by the client.

mod client;
mod error;
mod host;
mod ndjson;
mod retry;
mod show;
mod stream;
mod tool_call;
mod wire;

pub use client::{ClientError, ClientOptions, OllamaClient, RetryNotice};
pub use error::OllamaError;
pub use host::{DEFAULT_HOST, HostError, OllamaEnv, OllamaHost};
pub use ndjson::{LineSplitter, LineTooLong, MAX_LINE_BYTES, MAX_REPLY_BYTES, reply_byte_limit};
pub use retry::RetryPolicy;
pub use show::ModelInfo;
pub use stream::{ChatResponse, Timings, Usage};
pub use tool_call::{MalformedArguments, ToolCall, parse_arguments};
pub use wire::{ChatOptions, ChatRequest, Message, Role, WireFunction, WireToolCall};
