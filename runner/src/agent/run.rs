//! The agent loop: call the model, run its tool calls, repeat until it finishes or a budget
//! runs out. Budgets are checked here, outside the model, before every model call and every
//! tool call.

use shared::job::TokenUsage;
use tokio::time::Instant;

use super::command::{CommandSandbox, run_command};
use super::context::{ContextWindow, Observed, Transcript};
use super::dispatch::{Dispatcher, Effect, Review, ToolOutcome};
use super::outcome::{AgentReport, BudgetKind, Outcome};
use super::progress::{Progress, ProgressKind, ProgressSink};
use super::prompt::{TaskInput, system_prompt, task_prompt};
use super::schema::definitions;
use super::task::TaskSpec;
use crate::ollama::{ChatOptions, ChatRequest, Message, OllamaClient, OllamaError, ToolCall};
use crate::tools::{RepoMapLimits, Workspace};

/// Context window when the operator sets none: room for the repository map, several files
/// and a test run's output, and it fits the KV cache of a 30B coding model on one 48 GB GPU.
/// Ollama's own default (a few thousand tokens) would truncate an agent's conversation at
/// once.
pub const DEFAULT_NUM_CTX: u32 = 65_536;

/// Model calls per run when the operator sets none: a focused change takes 10–30; past 60 an
/// agent is usually going in circles.
pub const DEFAULT_MAX_TURNS: u32 = 60;

/// Prompt plus completion tokens per run when the operator sets none. Each call re-reads the
/// whole conversation, so this is mostly prompt tokens: about 60 calls at half of the default
/// window.
pub const DEFAULT_MAX_JOB_TOKENS: u64 = 2_000_000;

/// Tool output characters per run when the operator sets none: about 500,000 tokens of file
/// contents, search results and command output, far more than a sound run reads; a run that
/// reads more is reading the repository blindly.
pub const DEFAULT_MAX_TOOL_OUTPUT_CHARS: usize = 2_000_000;

/// How long Ollama keeps the model loaded between calls: longer than a test run between two
/// calls, so the model is not unloaded and reloaded mid-job (Ollama's default is 5 minutes).
pub const DEFAULT_KEEP_ALIVE: &str = "30m";

/// Replies in a row without a tool call before the run counts as given up: one nudge, then
/// the model has had its chance.
const MAX_REPLIES_WITHOUT_TOOLS: u32 = 2;

/// Unreadable replies in a row (a stream that is not a chat stream, a tool call Ollama
/// could not parse) before the run stops: the model is told once and gets one more turn;
/// a second bad reply in a row means it will not produce a readable one.
const MAX_BAD_REPLIES_IN_A_ROW: u32 = 2;

/// The runner's settings, the same for every task (the task's own are in [`TaskSpec`]).
#[derive(Debug, Clone)]
pub struct AgentSettings {
    pub num_ctx: u32,
    pub keep_alive: Option<String>,
    pub temperature: Option<f32>,
    pub max_turns: u32,
    pub max_job_tokens: u64,
    pub max_tool_output_chars: usize,
    pub sandbox: CommandSandbox,
}

impl Default for AgentSettings {
    fn default() -> Self {
        Self {
            num_ctx: DEFAULT_NUM_CTX,
            keep_alive: Some(DEFAULT_KEEP_ALIVE.to_owned()),
            temperature: None,
            max_turns: DEFAULT_MAX_TURNS,
            max_job_tokens: DEFAULT_MAX_JOB_TOKENS,
            max_tool_output_chars: DEFAULT_MAX_TOOL_OUTPUT_CHARS,
            sandbox: CommandSandbox::from_process_env(),
        }
    }
}

/// One task's run against one workspace.
pub struct Agent<'a> {
    pub client: &'a OllamaClient,
    pub workspace: &'a Workspace,
    pub spec: &'a TaskSpec,
    pub settings: &'a AgentSettings,
    pub progress: ProgressSink,
}

/// Where a run stands.
struct State {
    started: Instant,
    deadline: Instant,
    turns: u32,
    tokens: TokenUsage,
    tool_output_chars: usize,
    files_changed: Vec<String>,
    review: Option<Review>,
    last_command: Option<super::command::CommandRun>,
    last_message: Option<String>,
    replies_without_tools: u32,
    /// Unreadable replies since the last readable one.
    bad_replies: u32,
    /// Files changed since the configured command last passed.
    unchecked_changes: bool,
}

impl Agent<'_> {
    /// Runs the task to its end. Never fails: every ending is an [`Outcome`], with the work
    /// done so far in the report.
    pub async fn run(&self, input: &TaskInput) -> AgentReport {
        let started = Instant::now();
        let mut state = State {
            started,
            deadline: started + self.spec.timeout,
            turns: 0,
            tokens: TokenUsage::default(),
            tool_output_chars: 0,
            files_changed: Vec::new(),
            review: None,
            last_command: None,
            last_message: None,
            replies_without_tools: 0,
            bad_replies: 0,
            unchecked_changes: false,
        };
        let outcome = self.run_loop(input, &mut state).await;
        tracing::info!(
            outcome = %outcome.label(),
            turns = state.turns,
            prompt_tokens = state.tokens.prompt,
            completion_tokens = state.tokens.completion,
            files_changed = state.files_changed.len(),
            "agent run ended"
        );
        self.emit(
            &state,
            ProgressKind::Done {
                outcome: outcome.label(),
            },
        );
        AgentReport {
            outcome,
            tokens: state.tokens,
            turns: state.turns,
            elapsed: started.elapsed(),
            files_changed: state.files_changed,
            review: state.review,
            last_command: state.last_command,
            last_message: state.last_message,
        }
    }

    fn emit(&self, state: &State, kind: ProgressKind) {
        self.progress.emit(&Progress {
            turn: state.turns,
            elapsed: state.started.elapsed(),
            tokens: state.tokens,
            kind,
        });
    }

    /// The model's facts (from the client's cache when the job already asked) and the
    /// `num_ctx` to send: the configured one, but no more than the model was trained with.
    async fn model_window(&self) -> Result<(u32, bool), Outcome> {
        let info = self
            .client
            .check_model(&self.spec.model)
            .await
            .map_err(|error| failed(&error))?;
        let num_ctx = info.num_ctx(self.settings.num_ctx);
        if num_ctx < self.settings.num_ctx {
            tracing::info!(
                model = %self.spec.model,
                configured = self.settings.num_ctx,
                trained = num_ctx,
                "num_ctx lowered to the model's trained context length, as Ollama would"
            );
        }
        let version = self.client.version().await.ok().flatten();
        Ok((num_ctx, counts_whole_prompt(version.as_deref())))
    }

    async fn run_loop(&self, input: &TaskInput, state: &mut State) -> Outcome {
        let (num_ctx, counts_whole_prompt) = match self.model_window().await {
            Ok(found) => found,
            Err(outcome) => return outcome,
        };
        let window = ContextWindow::new(num_ctx, self.spec.max_tokens);
        let tools = definitions(self.spec);
        let tools_bytes = serde_json::to_string(&tools).map_or(0, |t| t.len());
        // Each long text of the first message gets at most a quarter of the prompt budget
        // (counting three bytes to a token).
        let max_text_chars = window.prompt_budget() * 3 / 4;
        let map = self.repo_map(max_text_chars).await;
        let mut transcript = Transcript::new(
            vec![
                Message::system(system_prompt(self.spec)),
                Message::user(task_prompt(self.spec, input, &map, max_text_chars)),
            ],
            tools_bytes,
        );
        let dispatcher = Dispatcher {
            workspace: self.workspace,
            spec: self.spec,
            sandbox: &self.settings.sandbox,
        };

        loop {
            if let Some(budget) = self.spent(state) {
                return Outcome::BudgetExhausted { budget };
            }
            match transcript.fit(window) {
                Err(full) => {
                    tracing::warn!(
                        estimated_tokens = full.estimated_tokens,
                        budget = full.budget,
                        "the conversation no longer fits the context window"
                    );
                    return Outcome::BudgetExhausted {
                        budget: BudgetKind::ContextWindow,
                    };
                }
                Ok(Some(trimmed)) => self.emit(
                    state,
                    ProgressKind::ContextTrimmed {
                        outputs: trimmed.outputs,
                        tokens_before: trimmed.tokens_before,
                        tokens_after: trimmed.tokens_after,
                    },
                ),
                Ok(None) => {}
            }
            state.turns += 1;
            self.emit(state, ProgressKind::ModelCall);

            let request = ChatRequest {
                model: &self.spec.model,
                messages: transcript.messages(),
                tools: &tools,
                options: ChatOptions {
                    // Always the same: another value would make Ollama reload the model.
                    num_ctx,
                    num_predict: self.spec.max_tokens,
                    temperature: self.spec.sampling.temperature.or(self.settings.temperature),
                    top_p: self.spec.sampling.top_p,
                    top_k: self.spec.sampling.top_k,
                    seed: self.spec.sampling.seed,
                },
                keep_alive: self.settings.keep_alive.as_deref(),
                think: self.spec.think,
            };
            let snapshot = (state.turns, state.started, state.tokens);
            let call = self.client.chat_observed(&request, |notice| {
                self.progress.emit(&Progress {
                    turn: snapshot.0,
                    elapsed: snapshot.1.elapsed(),
                    tokens: snapshot.2,
                    kind: ProgressKind::Retrying {
                        attempt: notice.attempt,
                        delay: notice.delay,
                        reason: notice.error.to_string(),
                    },
                });
            });
            let response = match tokio::time::timeout_at(state.deadline, call).await {
                Err(_) => {
                    return Outcome::BudgetExhausted {
                        budget: BudgetKind::WallClock,
                    };
                }
                Ok(Err(
                    error @ (OllamaError::MalformedToolCall { .. }
                    | OllamaError::UnreadableReply { .. }),
                )) => {
                    state.bad_replies += 1;
                    tracing::warn!(bad_replies = state.bad_replies, error = %error, "the model's reply could not be read");
                    if state.bad_replies >= MAX_BAD_REPLIES_IN_A_ROW {
                        return Outcome::UnreadableReplies {
                            message: error.to_string(),
                        };
                    }
                    transcript.push(Message::user(bad_reply_note(&error)));
                    continue;
                }
                Ok(Err(error)) => return failed(&error),
                Ok(Ok(response)) => response,
            };

            state.bad_replies = 0;
            state.tokens.prompt += response.usage.prompt_tokens;
            state.tokens.completion += response.usage.completion_tokens;
            match transcript.observe(response.usage.prompt_tokens, window, counts_whole_prompt) {
                Observed::Fine => {}
                Observed::AtBudget => tracing::warn!(
                    prompt_tokens = response.usage.prompt_tokens,
                    num_ctx,
                    "the prompt reached the context budget; Ollama may have truncated it"
                ),
                Observed::Truncated {
                    sent_at_least,
                    kept,
                } => {
                    tracing::warn!(
                        model = %self.spec.model,
                        sent_at_least,
                        kept,
                        num_ctx,
                        "Ollama kept fewer prompt tokens than were sent: it dropped the oldest messages; trimming old tool outputs and budgeting against what it kept"
                    );
                    self.emit(
                        state,
                        ProgressKind::PromptTruncated {
                            sent_at_least,
                            kept,
                        },
                    );
                }
            }
            self.emit(
                state,
                ProgressKind::ModelReply {
                    prompt_tokens: response.usage.prompt_tokens,
                    completion_tokens: response.usage.completion_tokens,
                    tool_calls: response.tool_calls.len(),
                },
            );
            if !response.content.trim().is_empty() {
                state.last_message = Some(response.content.trim().to_owned());
            }
            let wire_calls: Vec<_> = response.tool_calls.iter().map(ToolCall::to_wire).collect();
            let mut reply = Message::assistant(response.content.clone(), wire_calls);
            if !response.tool_calls.is_empty() {
                reply = reply.with_thinking(&response.thinking);
            }
            transcript.push(reply);

            if response.tool_calls.is_empty() {
                if response.hit_length_limit()
                    && response.content.trim().is_empty()
                    && !response.thinking.trim().is_empty()
                {
                    return Outcome::ThoughtPastBudget {
                        max_tokens: self.spec.max_tokens,
                    };
                }
                if response.hit_length_limit() {
                    transcript.push(Message::user(format!(
                        "Your reply was cut off at the response limit ({} tokens) before it \
                         ended. Work in smaller steps: one edit per tool call, no long explanations.",
                        self.spec.max_tokens
                    )));
                    continue;
                }
                state.replies_without_tools += 1;
                if state.replies_without_tools >= MAX_REPLIES_WITHOUT_TOOLS {
                    return Outcome::GaveUp {
                        reason: state
                            .last_message
                            .clone()
                            .unwrap_or_else(|| "the model stopped calling tools".to_owned()),
                    };
                }
                transcript.push(Message::user(
                    "Continue by calling a tool. When the work is done, call the tool that \
                     ends the task, as the system message says.",
                ));
                continue;
            }
            state.replies_without_tools = 0;

            for call in &response.tool_calls {
                if let Some(budget) = self.spent_mid_turn(state) {
                    return Outcome::BudgetExhausted { budget };
                }
                let began = Instant::now();
                let mut outcome = dispatcher.call(call, state.deadline).await;
                let mut ending = None;
                match &outcome.effect {
                    Effect::None => {}
                    Effect::Changed(path) => {
                        state.unchecked_changes = true;
                        if !state.files_changed.contains(path) {
                            state.files_changed.push(path.clone());
                        }
                    }
                    Effect::Ran(run) => {
                        if run.succeeded() && self.spec.commands.first() == Some(&run.command) {
                            state.unchecked_changes = false;
                        }
                        state.last_command = Some(run.clone());
                    }
                    Effect::Review(review) => {
                        state.review = Some(review.clone());
                        ending = Some(review.summary.clone());
                    }
                    Effect::Finish(summary) => match self.check_before_finish(state).await {
                        None => ending = Some(summary.clone()),
                        Some(refusal) => outcome = refusal,
                    },
                }
                tracing::info!(tool = %call.name, ok = outcome.ok, turn = state.turns, "tool call");
                self.emit(
                    state,
                    ProgressKind::ToolCall {
                        tool: call.name.clone(),
                        ok: outcome.ok,
                        duration: began.elapsed(),
                    },
                );
                if let Some(summary) = ending {
                    return Outcome::Finished { summary };
                }
                state.tool_output_chars += outcome.text.chars().count();
                let name = if call.name.is_empty() {
                    "unknown"
                } else {
                    &call.name
                };
                transcript.push(Message::tool(name, call.id.clone(), outcome.text));
            }
        }
    }

    /// The budget that is used up, checked before each model call.
    fn spent(&self, state: &State) -> Option<BudgetKind> {
        if state.turns >= self.settings.max_turns {
            return Some(BudgetKind::Turns);
        }
        if state.tokens.prompt + state.tokens.completion >= self.settings.max_job_tokens {
            return Some(BudgetKind::Tokens);
        }
        self.spent_mid_turn(state)
    }

    /// The budgets checked before each tool call too.
    fn spent_mid_turn(&self, state: &State) -> Option<BudgetKind> {
        if Instant::now() >= state.deadline {
            return Some(BudgetKind::WallClock);
        }
        if state.tool_output_chars >= self.settings.max_tool_output_chars {
            return Some(BudgetKind::ToolOutput);
        }
        None
    }

    /// With `auto_fix` and unchecked changes, runs the task's command before accepting
    /// `finish`. Returns the refusal to send back when it fails; `None` to accept.
    async fn check_before_finish(&self, state: &mut State) -> Option<ToolOutcome> {
        let command = self.spec.commands.first()?;
        if !self.spec.auto_fix || !state.unchecked_changes {
            return None;
        }
        state.unchecked_changes = false;
        let began = Instant::now();
        let dir = match self.spec.command_dir(self.workspace) {
            Ok(dir) => dir,
            Err(err) => {
                tracing::warn!(error = %err, "the task's directory can't be used for the check");
                return None;
            }
        };
        let run = run_command(&dir, command, &self.settings.sandbox, Some(state.deadline)).await;
        let run = match run {
            Ok(run) => run,
            Err(err) => {
                tracing::warn!(error = %err, "the check before finishing could not run");
                return None;
            }
        };
        self.emit(
            state,
            ProgressKind::ToolCall {
                tool: "run_command".to_owned(),
                ok: run.succeeded(),
                duration: began.elapsed(),
            },
        );
        let passed = run.succeeded();
        let text = format!(
            "the task is not finished: after your changes, {run}\n\nFix the cause, then \
             call finish again."
        );
        state.last_command = Some(run);
        (!passed).then(|| ToolOutcome::error(text))
    }

    /// The repository map for the first message, built on a blocking thread.
    async fn repo_map(&self, max_chars: usize) -> String {
        let workspace = self.workspace.clone();
        let limits = RepoMapLimits {
            max_chars: max_chars.min(RepoMapLimits::default().max_chars),
            ..RepoMapLimits::default()
        };
        let directory = self.spec.directory.clone();
        match tokio::task::spawn_blocking(move || workspace.repo_map_in(&directory, limits)).await {
            Ok(Ok(map)) => map.render(),
            Ok(Err(err)) => format!("(the repository map could not be built: {err})"),
            Err(_) => "(the repository map could not be built)".to_owned(),
        }
    }
}

/// How a run ends on an error from Ollama that is not the model's reply.
fn failed(error: &OllamaError) -> Outcome {
    if error.job_error().is_transient() {
        Outcome::ModelUnavailable {
            message: error.to_string(),
        }
    } else {
        Outcome::ModelRejected {
            message: error.to_string(),
            error: error.job_error(),
        }
    }
}

/// Whether the server's `prompt_eval_count` counts the whole prompt it kept, cached tokens
/// included: every Ollama but 0.30.0, which counted only the tokens it evaluated anew
/// (fixed in 0.30.1, ollama/ollama#16428). An unknown version is taken at its word.
fn counts_whole_prompt(version: Option<&str>) -> bool {
    !version.is_some_and(|v| v == "0.30.0" || v.starts_with("0.30.0-"))
}

/// What the model is told after a reply that could not be read.
fn bad_reply_note(error: &OllamaError) -> String {
    match error {
        OllamaError::MalformedToolCall { message } => format!(
            "Your last reply contained a tool call that could not be parsed ({message}). \
             Call the tool again with its arguments as one valid JSON object."
        ),
        other => format!(
            "Your last reply could not be read ({other}). Reply again, briefly, with one \
             tool call."
        ),
    }
}
