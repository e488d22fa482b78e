//! The agent: a model working on one task in the clone through tools, until it finishes or
//! a budget runs out.
//!
//! The model gets a system prompt with the shared rules and a first message with the task's
//! instructions, the repository's own `prompt`, the request, the issue or pull request diff,
//! and a map of the repository. It then works through the tools its task allows
//! ([`ToolPolicy`], which follows from what the task delivers): `list_files`, `read_file`
//! and `search` always; `edit_file` and `write_file` when it delivers code changes;
//! `run_command` when it also configures a command; and `finish` (or `submit_review` when
//! it delivers a review) to end. Tasks are data ([`TaskSpec`]): a template and a policy,
//! one loop for all.
//!
//! Tool calls come from the model, so they are outside input: an unknown tool, a tool the
//! task does not allow, malformed JSON arguments or wrong argument types become an error
//! result addressed to the model, and the loop goes on.
//!
//! # Budgets
//!
//! Enforced by the loop, never left to the model; when one runs out the run stops cleanly
//! with [`Outcome::BudgetExhausted`] and the report keeps the work done so far (the changed
//! files stay in the workspace).
//! - The task's `max_tokens` is the limit of **one response** (`num_predict`), as
//!   `.ollama-turbo.yml` documents it. The whole run is limited by
//!   [`AgentSettings::max_job_tokens`], prompt plus completion tokens as the server counts
//!   them, checked before each model call.
//! - [`AgentSettings::max_turns`]: model calls, checked before each call.
//! - The task's `timeout`: wall clock from the start of the run, checked before each model
//!   and tool call, and enforced during them (a model call or command is cut at the
//!   deadline).
//! - [`AgentSettings::max_tool_output_chars`]: tool output handed to the model over the run.
//! - The context window (`num_ctx`): old tool outputs are trimmed to fit (see the `context`
//!   module); when even that is not enough, the run stops.
//!
//! With `auto_fix`, `finish` after file changes runs the task's command first; when it
//! fails, the model gets the output instead of finishing, and iterates within the budgets.

mod args;
pub mod candidates;
mod command;
mod context;
mod dispatch;
mod outcome;
mod output;
mod progress;
mod prompt;
mod run;
mod schema;
mod task;

pub use args::ArgError;
pub use command::{
    CommandError, CommandRun, CommandSandbox, PASSED_THROUGH, RunAs, looks_like_a_credential,
    run_command,
};
pub use context::{ContextFull, ContextWindow, Observed, Transcript, Trimmed};
pub use dispatch::{MAX_REVIEW_COMMENTS, MAX_TOOL_RESULT_CHARS, Review, ReviewComment};
pub use outcome::{AgentReport, BudgetKind, Outcome, thought_past_budget_text};
pub use output::{HeadTail, head_and_tail};
pub use progress::{Progress, ProgressKind, ProgressSink};
pub use prompt::{TaskInput, system_prompt, task_prompt};
pub use run::{
    Agent, AgentSettings, DEFAULT_KEEP_ALIVE, DEFAULT_MAX_JOB_TOKENS,
    DEFAULT_MAX_TOOL_OUTPUT_CHARS, DEFAULT_MAX_TURNS, DEFAULT_NUM_CTX,
};
pub use schema::definitions;
pub use task::{TaskSpec, ToolName, ToolPolicy};
