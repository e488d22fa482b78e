//! Executing one tool call: checking it against the task's policy, reading its arguments,
//! and running it against the workspace or the command sandbox. Every failure becomes a
//! result addressed to the model; nothing here ends the run.

use serde_json::{Map, Value};
use tokio::time::Instant;

use super::args::{ArgError, Args};
use super::command::{CommandRun, CommandSandbox, run_command};
use super::output::head_and_tail;
use super::task::{TaskSpec, ToolName};
use crate::ollama::ToolCall;
use crate::tools::{
    CaseMode, DEFAULT_LIST_LIMIT, LineRange, PatternKind, SearchOptions, Workspace,
};

/// The longest tool result the model gets, in characters (about 12,000 tokens). The file
/// tools cap themselves below this (40,000 characters per read); it bounds anything else.
pub const MAX_TOOL_RESULT_CHARS: usize = 50_000;

/// The most line comments one review may have: more would bury the ones that matter.
pub const MAX_REVIEW_COMMENTS: usize = 30;

/// One line comment of a review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewComment {
    pub path: String,
    /// The line in the reviewed version of the file, from 1.
    pub line: usize,
    pub body: String,
}

/// What `submit_review` submitted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Review {
    pub summary: String,
    pub comments: Vec<ReviewComment>,
}

/// What a call did besides producing text, for the loop to act on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Effect {
    None,
    Changed(String),
    Ran(CommandRun),
    Finish(String),
    Review(Review),
}

/// The result of one call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ToolOutcome {
    /// What the model reads.
    pub text: String,
    /// False when the call failed (bad arguments, unknown tool, a command that timed out).
    pub ok: bool,
    pub effect: Effect,
}

impl ToolOutcome {
    fn ok(text: impl Into<String>, effect: Effect) -> Self {
        Self {
            text: head_and_tail(&text.into(), MAX_TOOL_RESULT_CHARS),
            ok: true,
            effect,
        }
    }

    pub(crate) fn error(message: impl std::fmt::Display) -> Self {
        Self {
            text: head_and_tail(&format!("error: {message}"), MAX_TOOL_RESULT_CHARS),
            ok: false,
            effect: Effect::None,
        }
    }
}

impl From<ArgError> for ToolOutcome {
    fn from(err: ArgError) -> Self {
        Self::error(err)
    }
}

/// Runs tool calls for one task.
pub(crate) struct Dispatcher<'a> {
    pub workspace: &'a Workspace,
    pub spec: &'a TaskSpec,
    pub sandbox: &'a CommandSandbox,
}

impl Dispatcher<'_> {
    pub(crate) async fn call(&self, call: &ToolCall, deadline: Instant) -> ToolOutcome {
        let Some(tool) = ToolName::from_name(&call.name) else {
            return ToolOutcome::error(format!(
                "there is no tool named `{}`; the tools are {}",
                call.name,
                self.available()
            ));
        };
        if !self.spec.tools.allows(tool) {
            return ToolOutcome::error(format!(
                "`{}` is not available in the `{}` task; the tools are {}",
                tool.as_str(),
                self.spec.name,
                self.available()
            ));
        }
        let map = match &call.arguments {
            Ok(map) => map,
            Err(malformed) => {
                return ToolOutcome::error(format!(
                    "the call to `{}` was not run: {malformed}",
                    tool.as_str()
                ));
            }
        };
        match tool {
            ToolName::RunCommand => self.run(map, deadline).await,
            ToolName::Finish => finish(map),
            ToolName::SubmitReview => self.review(map).await,
            _ => {
                let workspace = self.workspace.clone();
                let map = map.clone();
                let start = self.spec.directory.clone();
                let work = move || file_tool(&workspace, tool, &map, &start);
                match tokio::task::spawn_blocking(work).await {
                    Ok(outcome) => outcome,
                    Err(_) => ToolOutcome::error("the tool failed inside the runner; try again"),
                }
            }
        }
    }

    fn available(&self) -> String {
        self.spec
            .tools
            .tools()
            .iter()
            .map(|t| format!("`{}`", t.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    async fn run(&self, map: &Map<String, Value>, deadline: Instant) -> ToolOutcome {
        let args = Args::new("run_command", &["command"], map);
        let asked = match args.opt_string("command") {
            Ok(asked) => asked,
            Err(err) => return err.into(),
        };
        let listed = self
            .spec
            .commands
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let command = match asked.map(normalize) {
            None => self.spec.commands.first(),
            Some(asked) if asked.is_empty() => self.spec.commands.first(),
            Some(asked) => self.spec.commands.iter().find(|c| normalize(c) == asked),
        };
        let Some(command) = command else {
            return ToolOutcome::error(format!(
                "`{}` is not a configured command; run_command can only run {listed}",
                asked.unwrap_or_default()
            ));
        };
        let dir = match self.spec.command_dir(self.workspace) {
            Ok(dir) => dir,
            Err(err) => {
                return ToolOutcome::error(format!("the task's directory can't be used: {err}"));
            }
        };
        match run_command(&dir, command, self.sandbox, Some(deadline)).await {
            Ok(run) if run.timed_out => ToolOutcome {
                text: format!("error: {run}"),
                ok: false,
                effect: Effect::Ran(run),
            },
            Ok(run) => ToolOutcome::ok(run.to_string(), Effect::Ran(run)),
            Err(err) => ToolOutcome::error(err),
        }
    }

    async fn review(&self, map: &Map<String, Value>) -> ToolOutcome {
        let workspace = self.workspace.clone();
        let map = map.clone();
        tokio::task::spawn_blocking(move || review(&workspace, &map))
            .await
            .unwrap_or_else(|_| ToolOutcome::error("the review could not be checked; try again"))
    }
}

/// Whitespace-insensitive form of a command, for matching what the model asked for.
fn normalize(command: &str) -> String {
    command.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn finish(map: &Map<String, Value>) -> ToolOutcome {
    let args = Args::new("finish", &["summary"], map);
    match args.string("summary").map(str::trim) {
        Ok("") => ToolOutcome::error("the summary is empty; say what you changed and why"),
        Ok(summary) => ToolOutcome::ok("finished", Effect::Finish(summary.to_owned())),
        Err(err) => err.into(),
    }
}

/// The tools that only touch files; run on a blocking thread.
/// `start` is where a search without a path looks (the task's directory).
fn file_tool(ws: &Workspace, tool: ToolName, map: &Map<String, Value>, start: &str) -> ToolOutcome {
    let result = match tool {
        ToolName::ListFiles => list_files(ws, map),
        ToolName::ReadFile => read_file(ws, map),
        ToolName::Search => search(ws, map, start),
        ToolName::EditFile => edit_file(ws, map),
        ToolName::WriteFile => write_file(ws, map),
        ToolName::UndoEdit => undo_edit(ws, map),
        _ => Err(ToolOutcome::error("this tool can't run here")),
    };
    result.unwrap_or_else(|outcome| outcome)
}

type Step = Result<ToolOutcome, ToolOutcome>;

fn tool_error(err: crate::tools::ToolError) -> ToolOutcome {
    if err.is_internal() {
        tracing::warn!(error = %err, "a repository tool failed");
    }
    ToolOutcome::error(err)
}

fn list_files(ws: &Workspace, map: &Map<String, Value>) -> Step {
    let args = Args::new("list_files", &["path", "glob", "limit"], map);
    let dir = args.opt_string("path")?.unwrap_or("");
    let glob = args.opt_string("glob")?;
    let limit = args.opt_usize("limit")?.unwrap_or(DEFAULT_LIST_LIMIT);
    let list = ws.list_files(dir, glob, limit).map_err(tool_error)?;
    Ok(ToolOutcome::ok(list.to_string(), Effect::None))
}

fn read_file(ws: &Workspace, map: &Map<String, Value>) -> Step {
    let args = Args::new("read_file", &["path", "start_line", "end_line"], map);
    let path = args.string("path")?;
    let start = args.opt_usize("start_line")?;
    let end = args.opt_usize("end_line")?;
    let range = (start.is_some() || end.is_some()).then(|| LineRange {
        start: start.unwrap_or(1),
        end,
    });
    let view = ws.read_file(path, range).map_err(tool_error)?;
    Ok(ToolOutcome::ok(view.to_string(), Effect::None))
}

fn search(ws: &Workspace, map: &Map<String, Value>, start: &str) -> Step {
    let known = &[
        "pattern",
        "regex",
        "case_insensitive",
        "path",
        "glob",
        "context",
        "max_results",
    ];
    let args = Args::new("search", known, map);
    let pattern = args.string("pattern")?;
    if pattern.is_empty() {
        return Err(ToolOutcome::error("the search pattern is empty"));
    }
    let defaults = SearchOptions::default();
    let options = SearchOptions {
        kind: if args.opt_bool("regex")?.unwrap_or(false) {
            PatternKind::Regex
        } else {
            PatternKind::Literal
        },
        case: if args.opt_bool("case_insensitive")?.unwrap_or(false) {
            CaseMode::Insensitive
        } else {
            CaseMode::Sensitive
        },
        glob: args.opt_string("glob")?.map(str::to_owned),
        path: args
            .opt_string("path")?
            .map(str::to_owned)
            .or_else(|| (!start.is_empty()).then(|| start.to_owned())),
        max_results: args
            .opt_usize("max_results")?
            .unwrap_or(defaults.max_results),
        context: args.opt_usize("context")?.unwrap_or(defaults.context),
    };
    let results = ws.search(pattern, &options).map_err(tool_error)?;
    Ok(ToolOutcome::ok(results.to_string(), Effect::None))
}

fn edit_file(ws: &Workspace, map: &Map<String, Value>) -> Step {
    let args = Args::new("edit_file", &["path", "old_text", "new_text"], map);
    let path = args.string("path")?;
    let old = args.string("old_text")?;
    let new = args.string("new_text")?;
    let outcome = ws.edit_file(path, old, new).map_err(tool_error)?;
    Ok(ToolOutcome::ok(
        outcome.to_string(),
        Effect::Changed(outcome.path),
    ))
}

fn write_file(ws: &Workspace, map: &Map<String, Value>) -> Step {
    let args = Args::new("write_file", &["path", "content"], map);
    let path = args.string("path")?;
    let content = args.string("content")?;
    let outcome = ws.write_file(path, content).map_err(tool_error)?;
    Ok(ToolOutcome::ok(
        outcome.to_string(),
        Effect::Changed(outcome.path),
    ))
}

fn undo_edit(ws: &Workspace, map: &Map<String, Value>) -> Step {
    let args = Args::new("undo_edit", &["path"], map);
    let path = args.string("path")?;
    let outcome = ws.undo_edit(path).map_err(tool_error)?;
    Ok(ToolOutcome::ok(
        outcome.to_string(),
        Effect::Changed(outcome.path),
    ))
}

/// Checks a submitted review: every comment on an existing line of an existing file.
fn review(ws: &Workspace, map: &Map<String, Value>) -> ToolOutcome {
    let args = Args::new("submit_review", &["summary", "comments"], map);
    let checked = (|| {
        let summary = args.string("summary")?.trim().to_owned();
        let items = args.array("comments")?;
        Ok::<_, ArgError>((summary, items))
    })();
    let (summary, items) = match checked {
        Ok(parts) => parts,
        Err(err) => return err.into(),
    };
    if summary.is_empty() {
        return ToolOutcome::error("the review summary is empty; give an overall assessment");
    }
    if items.len() > MAX_REVIEW_COMMENTS {
        return ToolOutcome::error(format!(
            "the review has {} comments, the limit is {MAX_REVIEW_COMMENTS}; keep the most important ones",
            items.len()
        ));
    }
    let mut comments = Vec::new();
    let mut problems = Vec::new();
    for (index, item) in items.iter().enumerate() {
        match review_comment(ws, item) {
            Ok(comment) => comments.push(comment),
            Err(problem) => problems.push(format!("comment {}: {problem}", index + 1)),
        }
    }
    if !problems.is_empty() {
        return ToolOutcome::error(format!(
            "the review was not submitted; fix these comments and call submit_review again:\n{}",
            problems.join("\n")
        ));
    }
    let count = comments.len();
    ToolOutcome::ok(
        format!("review submitted with {count} comments"),
        Effect::Review(Review { summary, comments }),
    )
}

fn review_comment(ws: &Workspace, item: &Value) -> Result<ReviewComment, String> {
    let Value::Object(map) = item else {
        return Err("each comment must be an object with `path`, `line` and `body`".to_owned());
    };
    let args = Args::new("submit_review", &["path", "line", "body"], map);
    let path = args.string("path").map_err(|e| e.to_string())?;
    let line = args.usize("line").map_err(|e| e.to_string())?;
    let body = args.string("body").map_err(|e| e.to_string())?.trim();
    if body.is_empty() {
        return Err("the comment's body is empty".to_owned());
    }
    if line == 0 {
        return Err("lines are numbered from 1".to_owned());
    }
    let view = ws
        .read_file(
            path,
            Some(LineRange {
                start: line,
                end: Some(line),
            }),
        )
        .map_err(|e| e.to_string())?;
    Ok(ReviewComment {
        path: view.path,
        line,
        body: body.to_owned(),
    })
}
