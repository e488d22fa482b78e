//! What can go wrong talking to Ollama, sorted by what the caller does about it: retry
//! (transient), tell the operator or the repository what to change (permanent), or tell
//! the model (a tool call Ollama could not parse).
//!
//! No variant holds a credential: messages are built from the status, the server's error
//! text and the endpoint without its user info.

use std::time::Duration;

use shared::job::JobError;

/// Longest server error text kept in a message: enough for Ollama's one-line errors, while
/// an HTML error page from a proxy does not end up in a comment.
const MAX_SERVER_MESSAGE_CHARS: usize = 300;

/// A failed chat call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OllamaError {
    /// No connection (refused, DNS, TLS) or it broke while sending the request.
    #[error("could not reach Ollama at {endpoint}: {reason}")]
    Unreachable { endpoint: String, reason: String },
    /// Nothing arrived for too long (connect or between two streamed lines).
    #[error("Ollama at {endpoint} did not answer within {}s", .after.as_secs())]
    TimedOut { endpoint: String, after: Duration },
    /// 5xx, 429, or an `error` object in the middle of the stream.
    #[error("Ollama answered {status}: {message}")]
    Server { status: u16, message: String },
    /// The body ended (or the connection closed) before the object with `done: true`.
    #[error("the response stream from Ollama ended before the final message{}", .detail.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    StreamEnded { detail: Option<String> },
    /// The reply could not be read as `/api/chat`'s stream: a line that is not a chat
    /// object, or a line or a whole reply past its size limit. That is the model's answer
    /// (or a broken server's), not an outage: the same request would most likely get the
    /// same answer, so the client does not retry it; the agent gives the model one more
    /// turn and then stops.
    #[error("the model's reply could not be read: {reason}")]
    UnreadableReply { reason: String },
    /// The server does not have the model.
    #[error(
        "model `{model}` is not available on the Ollama server; pull it there with `ollama pull {model}`, or set `model` in .ollama-turbo.yml to a model the server has"
    )]
    ModelNotFound { model: String },
    /// The model's template has no tool support; the agent can't work without it.
    #[error(
        "model `{model}` does not support tool calling, which the agent needs; set `model` in .ollama-turbo.yml to a model with tool support (for example qwen3-coder:30b)"
    )]
    ToolsUnsupported { model: String },
    /// 401 or 403.
    #[error("Ollama at {endpoint} refused the request ({status}): {}", if *.key_sent { "check OLLAMA_API_KEY, the key was not accepted" } else { "set OLLAMA_API_KEY to an API key for this service" })]
    Unauthorized {
        endpoint: String,
        status: u16,
        key_sent: bool,
    },
    /// A 404 that is not about the model: the host is probably not an Ollama server.
    #[error("{endpoint} has no /api/chat (404); check that OLLAMA_HOST points at an Ollama server")]
    NoChatEndpoint { endpoint: String },
    /// Another 4xx: the request itself is wrong; retrying can't help.
    #[error("Ollama rejected the request ({status}): {message}")]
    Rejected { status: u16, message: String },
    /// The model wrote a tool call Ollama's parser could not read (Ollama reports it as a
    /// server error). The agent tells the model and lets it try again.
    #[error("the model wrote a tool call that could not be parsed: {message}")]
    MalformedToolCall { message: String },
    /// A 429 from Ollama's hosted service that names a usage limit of the account (hourly,
    /// session, weekly): no retry within minutes can help, so it is reported at once, with
    /// Ollama's message and when to try again.
    #[error("Ollama's hosted service refused the call: the account reached its {} ({message}); {}", window_words(window), retry_hint(window, *retry_after))]
    UsageLimit {
        /// `hourly`, `session`, `weekly`, … as the message names it; empty if it names none.
        window: String,
        message: String,
        /// From the answer's `Retry-After`, when it had one.
        retry_after: Option<Duration>,
    },
    /// Transient failures on every attempt.
    #[error("Ollama was unavailable after {attempts} attempts; last error: {last}")]
    Unavailable {
        attempts: u32,
        last: Box<OllamaError>,
    },
}

impl OllamaError {
    /// Worth another attempt after a pause: the server or the network was not ready. What
    /// the model wrote ([`Self::UnreadableReply`], [`Self::MalformedToolCall`]) is not.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Unreachable { .. }
                | Self::TimedOut { .. }
                | Self::Server { .. }
                | Self::StreamEnded { .. }
        )
    }

    /// The job error this ends a job with, once retries are spent.
    pub fn job_error(&self) -> JobError {
        match self {
            Self::Unreachable { .. }
            | Self::TimedOut { .. }
            | Self::Server { .. }
            | Self::StreamEnded { .. }
            | Self::Unavailable { .. } => JobError::RunnerModelUnavailable,
            Self::ModelNotFound { .. } | Self::ToolsUnsupported { .. } => JobError::RunnerBadConfig,
            Self::MalformedToolCall { .. } | Self::UnreadableReply { .. } => {
                JobError::RunnerAgentGaveUp
            }
            Self::Unauthorized { .. }
            | Self::NoChatEndpoint { .. }
            | Self::Rejected { .. }
            | Self::UsageLimit { .. } => JobError::RunnerFailed,
        }
    }

    /// Classifies an HTTP error answer. `body` is the response text (Ollama's is
    /// `{"error": "..."}`).
    pub(crate) fn from_status(
        status: u16,
        body: &str,
        model: &str,
        endpoint: &str,
        key_sent: bool,
    ) -> Self {
        let message = server_message(body);
        let lower = message.to_lowercase();
        match status {
            401 | 403 => Self::Unauthorized {
                endpoint: endpoint.to_owned(),
                status,
                key_sent,
            },
            404 if lower.contains("model") || lower.contains(&model.to_lowercase()) => {
                Self::ModelNotFound {
                    model: model.to_owned(),
                }
            }
            404 => Self::NoChatEndpoint {
                endpoint: endpoint.to_owned(),
            },
            400 if lower.contains("does not support tools") => Self::ToolsUnsupported {
                model: model.to_owned(),
            },
            429 if lower.contains("usage limit") => Self::usage_limit(&message),
            408 | 429 | 500..=599 => Self::from_server_message(status, message),
            _ => Self::Rejected { status, message },
        }
    }

    /// A usage-limit answer, its account name left out (`you (name) have reached …`: the
    /// message ends up in comments, and the operator's account is not the reader's
    /// business).
    fn usage_limit(message: &str) -> Self {
        let lower = message.to_lowercase();
        let window = lower
            .split("usage limit")
            .next()
            .and_then(|before| before.split_whitespace().last())
            .filter(|word| USAGE_WINDOWS.contains(word))
            .unwrap_or_default()
            .to_owned();
        let message = match (message.find("you ("), message.find(") ")) {
            (Some(start), Some(end)) if start < end => {
                format!("{}you{}", &message[..start], &message[end + 1..])
            }
            _ => message.to_owned(),
        };
        Self::UsageLimit {
            window,
            message,
            retry_after: None,
        }
    }

    /// Adds the answer's `Retry-After` (seconds) to a [`Self::UsageLimit`].
    pub(crate) fn with_retry_after(mut self, seconds: Option<u64>) -> Self {
        if let Self::UsageLimit { retry_after, .. } = &mut self {
            *retry_after = seconds.map(Duration::from_secs);
        }
        self
    }

    /// An error reported by the server, before or during the stream.
    pub(crate) fn from_server_message(status: u16, message: String) -> Self {
        if message.to_lowercase().contains("error parsing tool call") {
            Self::MalformedToolCall { message }
        } else {
            Self::Server { status, message }
        }
    }
}

/// The usage windows Ollama's hosted service names in its 429 messages ("you've reached
/// your hourly usage limit", "… your session usage limit", "… your weekly usage limit").
const USAGE_WINDOWS: [&str; 5] = ["hourly", "session", "daily", "weekly", "monthly"];

fn window_words(window: &str) -> String {
    if window.is_empty() {
        "usage limit".to_owned()
    } else {
        format!("{window} usage limit")
    }
}

/// When a job may try again after a usage limit.
fn retry_hint(window: &str, retry_after: Option<Duration>) -> String {
    if let Some(after) = retry_after {
        let minutes = after.as_secs().div_ceil(60).max(1);
        return format!("try again in {minutes} minutes, or raise the plan's limits");
    }
    let when = match window {
        "hourly" => "within the hour, when the hourly limit resets",
        "session" => "when the session limit resets, within a few hours",
        "daily" => "tomorrow, when the daily limit resets",
        "weekly" => "when the weekly limit resets",
        "monthly" => "when the monthly limit resets",
        _ => "once the limit resets",
    };
    format!(
        "try again {when} (the account's usage page on ollama.com shows when), or raise the \
         plan's limits"
    )
}

/// The readable part of an error body, cut to [`MAX_SERVER_MESSAGE_CHARS`].
pub(crate) fn server_message(body: &str) -> String {
    let text = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error").map(super::wire::error_text))
        .unwrap_or_else(|| body.to_owned());
    clip(&text)
}

/// A server's error text as kept in a message: trimmed and cut.
pub(crate) fn clip(text: &str) -> String {
    let text = text.trim();
    if text.is_empty() {
        "no error message".to_owned()
    } else {
        cut(text, MAX_SERVER_MESSAGE_CHARS)
    }
}

pub(crate) fn cut(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        None => text.to_owned(),
        Some((at, _)) => format!("{}…", &text[..at]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(status: u16, body: &str) -> OllamaError {
        OllamaError::from_status(status, body, "qwen3:8b", "http://127.0.0.1:11434", false)
    }

    #[test]
    fn statuses_are_classified() {
        let not_found = classify(
            404,
            r#"{"error":"model \"qwen3:8b\" not found, try pulling it first"}"#,
        );
        assert_eq!(
            not_found,
            OllamaError::ModelNotFound {
                model: "qwen3:8b".into()
            }
        );
        assert!(not_found.to_string().contains("ollama pull qwen3:8b"));
        assert!(!not_found.is_transient());
        assert_eq!(not_found.job_error(), JobError::RunnerBadConfig);

        let no_tools = classify(
            400,
            r#"{"error":"registry.ollama.ai/library/gemma3:4b does not support tools"}"#,
        );
        assert!(matches!(no_tools, OllamaError::ToolsUnsupported { .. }));
        assert!(
            no_tools
                .to_string()
                .contains("does not support tool calling")
        );

        assert!(matches!(
            classify(404, "404 page not found"),
            OllamaError::NoChatEndpoint { .. }
        ));
        assert!(classify(500, r#"{"error":"llama runner process has terminated"}"#).is_transient());
        assert!(classify(503, "").is_transient());
        assert!(classify(429, "{}").is_transient());
        assert!(matches!(
            classify(400, r#"{"error":"invalid options"}"#),
            OllamaError::Rejected { .. }
        ));
        assert!(matches!(
            classify(
                500,
                r#"{"error":"error parsing tool call: raw='{\"a\"', err=unexpected end of JSON input"}"#
            ),
            OllamaError::MalformedToolCall { .. }
        ));
    }

    #[test]
    fn unauthorized_says_what_to_set() {
        let without = classify(401, r#"{"error":"unauthorized"}"#);
        assert!(
            without.to_string().contains("set OLLAMA_API_KEY"),
            "{without}"
        );
        let with = OllamaError::from_status(403, "", "m", "https://ollama.com", true);
        assert!(with.to_string().contains("check OLLAMA_API_KEY"), "{with}");
        assert_eq!(with.job_error(), JobError::RunnerFailed);
    }

    #[test]
    fn long_bodies_are_cut() {
        let page = format!("<html>{}</html>", "x".repeat(5_000));
        let message = server_message(&page);
        assert!(message.chars().count() <= MAX_SERVER_MESSAGE_CHARS + 1);
        assert_eq!(server_message(""), "no error message");
    }
}

#[cfg(test)]
mod usage_limit_tests {
    use super::*;

    fn classify(body: &str) -> OllamaError {
        OllamaError::from_status(429, body, "gpt-oss:120b", "https://ollama.com", true)
    }

    /// The bodies as Ollama's hosted service sends them (quoted in ollama/ollama and
    /// client issue threads, e.g. continuedev/continue#9233 and #11444).
    #[test]
    fn a_usage_limit_is_reported_at_once_with_when_to_try_again() {
        let weekly = classify(
            r#"{"error":"you (octo-ops) have reached your weekly usage limit, upgrade for higher limits: https://ollama.com/upgrade"}"#,
        );
        assert!(!weekly.is_transient());
        assert_eq!(weekly.job_error(), JobError::RunnerFailed);
        let hourly = classify(
            r#"{"error":"you've reached your hourly usage limit, please wait or upgrade to continue"}"#,
        );
        let session = classify(
            r#"{"error":"you (octo-ops) have reached your session usage limit, please wait or upgrade to continue"}"#,
        )
        .with_retry_after(Some(5400));
        let texts = [weekly, hourly, session].map(|error| error.to_string());
        assert!(
            texts.iter().all(|text| !text.contains("octo-ops")),
            "{texts:#?}"
        );
        insta::assert_snapshot!("usage_limits", texts.join("\n"));

        let plain = classify(r#"{"error":"too many concurrent requests"}"#);
        assert!(plain.is_transient(), "a plain 429 stays retryable: {plain}");
    }
}
