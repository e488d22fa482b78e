//! A fake Ollama on a real socket, speaking the real `/api/chat` wire format: streamed NDJSON
//! objects (`message.content`, `message.tool_calls`, the final `done: true` object with
//! `prompt_eval_count`, `eval_count` and the durations), error answers as `{"error": ...}`.
//!
//! Each test scripts a queue of replies, one per `/api/chat` request in order: a streamed
//! chat turn ([`ChatReply`], optionally cut into small pieces to exercise chunk boundaries,
//! or paused), an HTTP status, a connection closed mid-stream, a delay, lines that are not
//! chat objects ([`Reply::garbage`]) or a reply that never ends ([`Reply::flood`], with the
//! bytes the client pulled in [`FakeOllama::flood_bytes_sent`]). Every request is
//! recorded ([`ChatCall`]: model, messages, tools, options, the `Authorization` header) for
//! assertions. `GET /api/version` answers [`FAKE_VERSION`], as a server that is up does. A
//! request with no reply left, or to any other path, answers 500 or 404 and shows up in
//! [`FakeOllama::unexpected`].
//!
//! The fake has only the models a test gives it ([`FakeOllama::add_model`], see
//! [`crate::fake_ollama_models`]): it answers `POST /api/show` for them, refuses others
//! and tools sent to a model without them as Ollama does, clamps `num_ctx` to the model's
//! trained length, drops the oldest messages of a prompt over it, and reports the
//! `prompt_eval_count` of what it kept unless the script sets one ([`ChatReply::with_counts`]).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State as Shared;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::fake_ollama_models::{FakeModel, Fitted, not_found};

/// What the fake answers to `GET /api/version`.
pub const FAKE_VERSION: &str = "0.0.0-fake";

/// A tool call as Ollama streams it.
pub fn call(name: &str, arguments: Value) -> Value {
    json!({"function": {"name": name, "arguments": arguments}})
}

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Stream these byte pieces, each written on its own after `pause`.
    Stream {
        pieces: Vec<Vec<u8>>,
        pause: Duration,
    },
    /// Answer with this status and body (Ollama's errors are `{"error": "..."}`).
    Status { status: u16, body: String },
    /// Stream these pieces, then drop the connection without ending the body.
    CloseMidStream { pieces: Vec<Vec<u8>> },
    /// Wait, then give `reply`.
    Delayed { delay: Duration, reply: Box<Reply> },
    /// A streamed chat turn, rendered when the request arrives (its `prompt_eval_count`
    /// is then what the fake kept of the prompt, unless the script set one).
    Chat(Box<ChatReply>),
    /// Stream `line` again and again, up to `total` bytes, as a server whose reply never
    /// ends; generated as the client reads, so what it never read is never sent.
    Flood { line: Vec<u8>, total: u64 },
    /// A turn of a model that thinks: rendered when the request arrives, with its
    /// thinking streamed first unless the request says `think: false` (see
    /// [`Reply::thinking_model`]).
    ThinkingModel(Box<ChatReply>),
}

impl Reply {
    /// An error answer as Ollama gives it.
    pub fn error(status: u16, message: &str) -> Self {
        Self::Status {
            status,
            body: json!({ "error": message }).to_string(),
        }
    }

    /// These lines as they are, then the stream ends: a 200 whose body is not Ollama's
    /// NDJSON (a model or server gone wrong, a proxy's page).
    pub fn garbage(lines: &[&str]) -> Self {
        Self::Stream {
            pieces: lines
                .iter()
                .map(|l| format!("{l}\n").into_bytes())
                .collect(),
            pause: Duration::ZERO,
        }
    }

    /// `total` bytes of valid content objects that never reach `done: true`.
    pub fn flood(total: u64) -> Self {
        let line = json!({"model": "fake-model", "created_at": "2026-01-01T00:00:00.000000Z",
            "message": {"role": "assistant", "content": "x".repeat(4000)}, "done": false});
        Self::Flood {
            line: format!("{line}\n").into_bytes(),
            total,
        }
    }

    /// These objects, one line each, with no final object: the stream just ends.
    pub fn lines_without_done(lines: &[Value]) -> Self {
        Self::Stream {
            pieces: lines
                .iter()
                .map(|l| format!("{l}\n").into_bytes())
                .collect(),
            pause: Duration::ZERO,
        }
    }

    /// The first lines of `reply`'s stream, then the connection drops.
    pub fn close_mid_stream(reply: ChatReply) -> Self {
        let mut lines = reply.lines();
        lines.pop();
        Self::CloseMidStream {
            pieces: lines
                .iter()
                .map(|l| format!("{l}\n").into_bytes())
                .collect(),
        }
    }

    /// `self`, after `delay`.
    pub fn after(self, delay: Duration) -> Self {
        Self::Delayed {
            delay,
            reply: Box::new(self),
        }
    }
}

/// A streamed chat turn, built up and turned into a [`Reply`].
#[derive(Debug, Clone)]
pub struct ChatReply {
    pub model: String,
    pub thinking: Option<String>,
    pub content: String,
    /// Elements of `message.tool_calls` (see [`call`]); any JSON, to script malformed ones.
    pub tool_calls: Vec<Value>,
    pub done_reason: String,
    /// `None`: the tokens of the prompt the fake kept.
    pub prompt_eval_count: Option<u64>,
    pub eval_count: u64,
    /// Cut the body into pieces of this many bytes (lines then straddle reads).
    pub piece_bytes: Option<usize>,
    pub pause: Duration,
}

impl ChatReply {
    /// A turn that calls these tools.
    pub fn calls(calls: impl IntoIterator<Item = Value>) -> Self {
        Self {
            tool_calls: calls.into_iter().collect(),
            ..Self::text("")
        }
    }

    /// A turn that calls one tool.
    pub fn call(name: &str, arguments: Value) -> Self {
        Self::calls([call(name, arguments)])
    }

    /// A turn that reads the file at `path`.
    pub fn read_file(path: &str) -> Self {
        Self::call("read_file", serde_json::json!({ "path": path }))
    }

    /// A turn that ends the task with `summary`.
    pub fn finish(summary: &str) -> Self {
        Self::call("finish", serde_json::json!({ "summary": summary }))
    }

    /// A turn with only text.
    pub fn text(content: &str) -> Self {
        Self {
            model: "fake-model".to_owned(),
            thinking: None,
            content: content.to_owned(),
            tool_calls: Vec::new(),
            done_reason: "stop".to_owned(),
            prompt_eval_count: None,
            eval_count: 20,
            piece_bytes: None,
            pause: Duration::ZERO,
        }
    }

    pub fn with_content(mut self, content: &str) -> Self {
        self.content = content.to_owned();
        self
    }

    pub fn with_counts(mut self, prompt_eval_count: u64, eval_count: u64) -> Self {
        self.prompt_eval_count = Some(prompt_eval_count);
        self.eval_count = eval_count;
        self
    }

    pub fn with_done_reason(mut self, reason: &str) -> Self {
        self.done_reason = reason.to_owned();
        self
    }

    pub fn in_pieces_of(mut self, bytes: usize) -> Self {
        self.piece_bytes = Some(bytes.max(1));
        self
    }

    pub fn with_pause(mut self, pause: Duration) -> Self {
        self.pause = pause;
        self
    }

    /// The streamed objects: the content word by word (as tokens arrive), the tool calls in
    /// one object of their own, then the final object with the counters.
    pub fn lines(&self) -> Vec<Value> {
        let created_at = "2026-01-01T00:00:00.000000Z";
        let mut lines = Vec::new();
        if let Some(thinking) = &self.thinking {
            for word in thinking.split_inclusive(' ') {
                lines.push(json!({"model": self.model, "created_at": created_at,
                    "message": {"role": "assistant", "content": "", "thinking": word}, "done": false}));
            }
        }
        for word in self.content.split_inclusive(' ') {
            lines.push(json!({"model": self.model, "created_at": created_at,
                "message": {"role": "assistant", "content": word}, "done": false}));
        }
        if !self.tool_calls.is_empty() {
            lines.push(json!({"model": self.model, "created_at": created_at,
                "message": {"role": "assistant", "content": "", "tool_calls": self.tool_calls}, "done": false}));
        }
        lines.push(json!({
            "model": self.model,
            "created_at": created_at,
            "message": {"role": "assistant", "content": ""},
            "done": true,
            "done_reason": self.done_reason,
            "total_duration": 1_500_000_000u64,
            "load_duration": 20_000_000u64,
            "prompt_eval_count": self.prompt_eval_count.unwrap_or(100),
            "prompt_eval_duration": 300_000_000u64,
            "eval_count": self.eval_count,
            "eval_duration": 1_000_000_000u64,
        }));
        lines
    }
}

impl From<ChatReply> for Reply {
    fn from(reply: ChatReply) -> Self {
        Reply::Chat(Box::new(reply))
    }
}

impl ChatReply {
    /// The stream, cut into pieces as scripted.
    fn render(self) -> Reply {
        let reply = self;
        let body: Vec<u8> = reply
            .lines()
            .iter()
            .flat_map(|line| format!("{line}\n").into_bytes())
            .collect();
        let pieces = match reply.piece_bytes {
            Some(size) => body.chunks(size).map(<[u8]>::to_vec).collect(),
            None => vec![body],
        };
        Reply::Stream {
            pieces,
            pause: reply.pause,
        }
    }
}

/// One recorded `/api/chat` request.
#[derive(Debug, Clone)]
pub struct ChatCall {
    pub model: String,
    pub messages: Vec<Value>,
    pub tools: Vec<Value>,
    pub options: Value,
    pub keep_alive: Option<Value>,
    pub stream: Option<bool>,
    pub authorization: Option<String>,
    pub body: Value,
    /// What the fake did with the prompt, for a model it has.
    pub fitted: Option<Fitted>,
    /// When the handler had the whole request, and when it handed the answer to the
    /// connection (`None` if it refused the call): the fake's own share of a call, for a
    /// client that wants its time apart from the server's (`runner/benches/agent_overhead`).
    pub received: Instant,
    pub answered: Option<Instant>,
}

impl ChatCall {
    /// The names of the tools offered.
    pub fn tool_names(&self) -> Vec<String> {
        self.tools
            .iter()
            .filter_map(|t| t["function"]["name"].as_str().map(str::to_owned))
            .collect()
    }

    /// The messages with this role.
    pub fn with_role(&self, role: &str) -> Vec<&Value> {
        self.messages.iter().filter(|m| m["role"] == role).collect()
    }

    /// The contents of the `tool` messages, in order.
    pub fn tool_results(&self) -> Vec<String> {
        self.with_role("tool")
            .iter()
            .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

/// A request the script did not expect.
#[derive(Debug, Clone)]
pub struct Unexpected {
    pub method: String,
    pub path: String,
    pub why: String,
}

#[derive(Default)]
struct State {
    replies: VecDeque<Reply>,
    calls: Vec<ChatCall>,
    unexpected: Vec<Unexpected>,
    /// Chat calls being answered now, and the most there ever were at once.
    in_flight: usize,
    most_in_flight: usize,
    flood_sent: Arc<AtomicU64>,
    models: Vec<FakeModel>,
    /// The model of every `/api/show` request, in order.
    shows: Vec<String>,
}

/// The running fake. Dropping it stops the server.
pub struct FakeOllama {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeOllama {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeOllama {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Ollama");
        let addr = listener.local_addr().expect("fake Ollama address");
        // Ollama is a Go server, and Go turns Nagle's algorithm off on every TCP connection
        // (`net.TCPConn.SetNoDelay`: "The default is true (no delay)"). Left on, a streamed
        // answer's second write waits for the client's delayed ACK: 40 ms on Linux.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let app = Router::new().fallback(handle).with_state(state.clone());
        let server = tokio::spawn(async move {
            // Ends when the test drops the fake (the task is aborted).
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            state,
            server,
        }
    }

    /// The value for `OLLAMA_HOST`.
    pub fn host(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address without a scheme (`127.0.0.1:port`), as `OLLAMA_HOST` also accepts.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues the answer to the next unanswered request.
    pub fn push(&self, reply: impl Into<Reply>) -> &Self {
        self.lock().replies.push_back(reply.into());
        self
    }

    /// Every `/api/chat` request so far.
    pub fn calls(&self) -> Vec<ChatCall> {
        self.lock().calls.clone()
    }

    /// Requests nobody scripted an answer for.
    pub fn unexpected(&self) -> Vec<Unexpected> {
        self.lock().unexpected.clone()
    }

    /// The most chat calls that were being answered at the same time.
    pub fn most_at_once(&self) -> usize {
        self.lock().most_in_flight
    }

    /// Bytes of [`Reply::flood`] replies handed to the connection so far: at most what the
    /// client read plus what the sockets' buffers hold.
    pub fn flood_bytes_sent(&self) -> u64 {
        self.lock().flood_sent.load(Ordering::Relaxed)
    }

    /// Gives the fake a model: it answers `/api/show` for it and serves chats with it.
    pub fn add_model(&self, model: FakeModel) -> &Self {
        let mut state = self.lock();
        state.models.retain(|m| m.name != model.name);
        state.models.push(model);
        self
    }

    /// The model named in every `/api/show` request so far.
    pub fn shows(&self) -> Vec<String> {
        self.lock().shows.clone()
    }

    /// Replies still queued.
    pub fn remaining(&self) -> usize {
        self.lock().replies.len()
    }
}

async fn handle(
    Shared(state): Shared<Arc<Mutex<State>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = Instant::now();
    let (reply, flood_sent, index) = {
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        let unexpected = |why: &str| Unexpected {
            method: method.to_string(),
            path: uri.path().to_owned(),
            why: why.to_owned(),
        };
        if method == Method::GET && uri.path() == "/api/version" {
            // Clients check that the server answers before they start; not a chat call.
            return axum::Json(json!({ "version": FAKE_VERSION })).into_response();
        }
        if method == Method::POST && uri.path() == "/api/show" {
            return show(&mut state, &body);
        }
        if method != Method::POST || uri.path() != "/api/chat" {
            state.unexpected.push(unexpected("not POST /api/chat"));
            return (StatusCode::NOT_FOUND, "404 page not found").into_response();
        }
        let Ok(json) = serde_json::from_slice::<Value>(&body) else {
            state.unexpected.push(unexpected("the body is not JSON"));
            return Reply::error(400, "invalid JSON").into_response_now(Arc::default());
        };
        state.calls.push(ChatCall {
            model: json["model"].as_str().unwrap_or_default().to_owned(),
            messages: json["messages"].as_array().cloned().unwrap_or_default(),
            tools: json["tools"].as_array().cloned().unwrap_or_default(),
            options: json["options"].clone(),
            keep_alive: json.get("keep_alive").cloned(),
            stream: json["stream"].as_bool(),
            authorization: headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: json,
            fitted: None,
            received,
            answered: None,
        });
        let fitted = match chat_model(&state, state.calls.last()) {
            Ok(fitted) => fitted,
            Err(refusal) => return *refusal,
        };
        if let Some(call) = state.calls.last_mut() {
            call.fitted = Some(fitted);
        }
        match state.replies.pop_front() {
            Some(mut reply) => {
                reply.count_prompt(fitted.prompt_tokens);
                state.in_flight += 1;
                state.most_in_flight = state.most_in_flight.max(state.in_flight);
                let index = state.calls.len() - 1;
                (
                    reply.for_request(&state.calls[index].body),
                    state.flood_sent.clone(),
                    index,
                )
            }
            None => {
                state.unexpected.push(unexpected("no scripted reply left"));
                return Reply::error(500, "fake Ollama: no scripted reply left")
                    .into_response_now(Arc::default());
            }
        }
    };
    let response = reply.into_response(flood_sent).await;
    let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
    state.in_flight = state.in_flight.saturating_sub(1);
    state.calls[index].answered = Some(Instant::now());
    response
}

impl Reply {
    /// A reply that needs no waiting.
    fn into_response_now(self, flood_sent: Arc<AtomicU64>) -> Response {
        match self {
            Reply::Status { status, body } => (
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
                body,
            )
                .into_response(),
            Reply::Stream { pieces, pause } => {
                let stream = futures_util::stream::iter(pieces).then(move |piece| async move {
                    tokio::time::sleep(pause).await;
                    Ok::<_, std::io::Error>(Bytes::from(piece))
                });
                ndjson(Body::from_stream(stream))
            }
            Reply::CloseMidStream { pieces } => {
                // The pause lets the head and the pieces reach the client before the abort;
                // an error hyper sees at once would drop the connection before the head.
                let cut = futures_util::stream::once(async {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Err(std::io::Error::other("connection dropped by the script"))
                });
                let stream = futures_util::stream::iter(
                    pieces.into_iter().map(|piece| Ok(Bytes::from(piece))),
                )
                .chain(cut);
                ndjson(Body::from_stream(stream))
            }
            Reply::Delayed { reply, .. } => reply.into_response_now(flood_sent),
            Reply::ThinkingModel(reply) => Reply::from(*reply).into_response_now(flood_sent),
            Reply::Chat(reply) => reply.render().into_response_now(flood_sent),
            Reply::Flood { line, total } => {
                let size = line.len() as u64;
                let count = total.div_ceil(size.max(1));
                let stream = futures_util::stream::iter(0..count).map(move |_| {
                    flood_sent.fetch_add(size, Ordering::Relaxed);
                    Ok::<_, std::io::Error>(Bytes::from(line.clone()))
                });
                ndjson(Body::from_stream(stream))
            }
        }
    }

    async fn into_response(self, flood_sent: Arc<AtomicU64>) -> Response {
        let mut reply = self;
        while let Reply::Delayed {
            delay,
            reply: inner,
        } = reply
        {
            tokio::time::sleep(delay).await;
            reply = *inner;
        }
        reply.into_response_now(flood_sent)
    }
}

fn ndjson(body: Body) -> Response {
    let mut response = Response::new(body);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/x-ndjson"),
    );
    response
}

// --- Thinking models, the hosted service's usage limits, errors mid-stream ---------------
//
// What Ollama does, as its docs and issue threads show it:
// - A model that can think thinks by default: its reasoning streams first, in
//   `message.thinking`, before any `message.content`; `think: false` in the request turns
//   it off, and then no `thinking` is streamed (docs.ollama.com, "Thinking"). Thinking
//   tokens count in `eval_count` and against `num_predict`: a turn that spends them all
//   ends with `done_reason: "length"` and no content.
// - Ollama's hosted service answers 429 with `{"error": "you (<account>) have reached your
//   weekly usage limit, upgrade for higher limits: https://ollama.com/upgrade"}` (also
//   `hourly`, `session`) once the account's usage limit is reached; a plain 429 (too many
//   requests at once) names no limit.
// - An error after the stream began arrives as one more line, `{"error": "..."}`, under
//   the HTTP 200 already sent.

impl ChatReply {
    /// `self`, with this reasoning streamed (word by word) before the content.
    pub fn with_thinking(mut self, thinking: &str) -> Self {
        self.thinking = Some(thinking.to_owned());
        self
    }

    /// A thinking turn cut at `num_predict` before any answer: only reasoning, then
    /// `done_reason: "length"`.
    pub fn thought_until_the_limit(max_tokens: u64) -> Self {
        Self::text("")
            .with_thinking("Let me think about this very carefully, step by step, again ")
            .with_done_reason("length")
            .with_counts(100, max_tokens)
    }
}

impl Reply {
    /// `reply` as a thinking model gives it: thinking first, unless the request turns
    /// thinking off (then the same turn without it, and fewer output tokens).
    pub fn thinking_model(reply: ChatReply) -> Self {
        Self::ThinkingModel(Box::new(reply))
    }

    /// The hosted service's answer once the account reached its `window` usage limit
    /// (`hourly`, `session`, `weekly`).
    pub fn usage_limit(window: &str) -> Self {
        Self::error(
            429,
            &format!(
                "you (fake-account) have reached your {window} usage limit, upgrade for higher \
                 limits: https://ollama.com/upgrade"
            ),
        )
    }

    /// The first `lines` objects of `reply`'s stream, then `{"error": message}` under the
    /// 200 already sent, as Ollama reports a failure mid-stream.
    pub fn error_mid_stream(reply: ChatReply, lines: usize, message: &str) -> Self {
        let mut objects: Vec<Value> = reply.lines().into_iter().take(lines).collect();
        objects.push(json!({ "error": message }));
        Self::lines_without_done(&objects)
    }

    /// The reply for the request `body`: a thinking model's turn loses its thinking when
    /// the request says `think: false`.
    fn for_request(self, body: &Value) -> Self {
        match self {
            Self::ThinkingModel(mut reply) => {
                if body.get("think") == Some(&Value::Bool(false)) {
                    reply.thinking = None;
                }
                Self::from(*reply)
            }
            Self::Delayed { delay, reply } => Self::Delayed {
                delay,
                reply: Box::new(reply.for_request(body)),
            },
            other => other,
        }
    }
}

// What a real server checks before it answers: the models it has.

/// `POST /api/show`: the model's description, or Ollama's 404.
fn show(state: &mut State, body: &[u8]) -> Response {
    let json = serde_json::from_slice::<Value>(body).unwrap_or_default();
    let name = json["model"]
        .as_str()
        .or_else(|| json["name"].as_str())
        .unwrap_or_default()
        .to_owned();
    state.shows.push(name.clone());
    match state.models.iter().find(|m| m.name == name) {
        Some(model) => axum::Json(model.show()).into_response(),
        None => (StatusCode::NOT_FOUND, axum::Json(not_found(&name))).into_response(),
    }
}

/// The chat's model, checked as Ollama checks it, and what it does with the prompt; or the
/// refusal to send.
fn chat_model(state: &State, call: Option<&ChatCall>) -> Result<Fitted, Box<Response>> {
    let Some(call) = call else {
        return Err(Box::new(
            Reply::error(500, "fake Ollama: no call").into_response_now(Arc::default()),
        ));
    };
    let Some(model) = state.models.iter().find(|m| m.name == call.model) else {
        return Err(Box::new(
            (StatusCode::NOT_FOUND, axum::Json(not_found(&call.model))).into_response(),
        ));
    };
    if !call.tools.is_empty() && !model.has_tools() {
        let message = format!("{} does not support tools", model.full_name());
        return Err(Box::new(
            Reply::error(400, &message).into_response_now(Arc::default()),
        ));
    }
    Ok(model.fit(
        &call.messages,
        &call.tools,
        call.options["num_ctx"].as_u64(),
    ))
}

impl Reply {
    /// Sets a chat turn's `prompt_eval_count` to `tokens`, unless the script set one.
    fn count_prompt(&mut self, tokens: u64) {
        match self {
            Reply::Chat(reply) => {
                reply.prompt_eval_count.get_or_insert(tokens);
            }
            Reply::ThinkingModel(reply) => {
                reply.prompt_eval_count.get_or_insert(tokens);
            }
            Reply::Delayed { reply, .. } => reply.count_prompt(tokens),
            _ => {}
        }
    }
}
