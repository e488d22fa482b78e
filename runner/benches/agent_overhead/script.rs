//! The scripted job: what the model asks for, turn by turn, and the real source files it
//! works on, added to the generated tree.
//!
//! The generated files are not whole programs (their functions never close), so reading and
//! editing them would not exercise what a real job does: the tree-sitter check after an
//! edit parses a file that parsed before. The job therefore works on a few of the runner's
//! own sources, 10 to 25 KB each, placed under `crates/agent/src/`, and searches and lists
//! the whole 50,000-file tree.

use std::path::Path;

use serde_json::{Value, json};

use crate::fake_ollama::{ChatReply, call};
use crate::tree_gen;

/// The real files the job reads and edits: (path in the tree, content).
pub const SOURCES: &[(&str, &str)] = &[
    (
        "crates/agent/src/run.rs",
        include_str!("../../src/agent/run.rs"),
    ),
    (
        "crates/agent/src/context.rs",
        include_str!("../../src/agent/context.rs"),
    ),
    (
        "crates/agent/src/dispatch.rs",
        include_str!("../../src/agent/dispatch.rs"),
    ),
    (
        "crates/agent/src/progress.rs",
        include_str!("../../src/agent/progress.rs"),
    ),
    (
        "crates/tools/src/edit.rs",
        include_str!("../../src/tools/edit.rs"),
    ),
];

/// Completion tokens of a turn that only calls a tool to look (a sentence of intent and the
/// call), and of one that edits (the old and the new text too). A coding model without
/// thinking, such as `qwen3-coder`, writes about this much; a thinking model writes more,
/// which only makes the agent's share smaller.
pub const LOOK_TOKENS: u64 = 150;
pub const EDIT_TOKENS: u64 = 350;
pub const FINISH_TOKENS: u64 = 250;

/// One turn of the script.
pub struct Turn {
    /// The row of the table it counts in.
    pub kind: &'static str,
    pub reply: ChatReply,
}

/// Writes (again) the real files into the tree, undoing the last run's edits.
pub fn put_sources(root: &Path) -> std::io::Result<()> {
    for (path, content) in SOURCES {
        let full = root.join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(full, content)?;
    }
    Ok(())
}

fn source(path: &str) -> &'static str {
    SOURCES
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, content)| *content)
        .unwrap_or_default()
}

/// `count` lines of `path` from the first that contains `anchor`.
fn lines_from(path: &str, anchor: &str, count: usize) -> String {
    let lines: Vec<&str> = source(path).lines().collect();
    let Some(first) = lines.iter().position(|l| l.contains(anchor)) else {
        panic!("the script's anchor `{anchor}` is no longer in {path}: update the script");
    };
    let mut text = lines[first..(first + count).min(lines.len())].join("\n");
    text.push('\n');
    text
}

/// The same lines without their indentation, as a model that lost it writes them: only the
/// whitespace-insensitive match finds them.
fn unindented(text: &str) -> String {
    text.lines()
        .map(|l| format!("{}\n", l.trim_start()))
        .collect()
}

fn turn(kind: &'static str, said: &str, name: &str, arguments: Value, tokens: u64) -> Turn {
    let mut reply = ChatReply::calls([call(name, arguments)]).with_content(said);
    reply.eval_count = tokens;
    Turn { kind, reply }
}

fn read(said: &str, arguments: Value) -> Turn {
    turn("read_file", said, "read_file", arguments, LOOK_TOKENS)
}

fn search(said: &str, pattern: &str, regex: bool) -> Turn {
    let kind = if regex {
        "search, regex"
    } else {
        "search, literal"
    };
    let arguments = json!({ "pattern": pattern, "regex": regex });
    turn(kind, said, "search", arguments, LOOK_TOKENS)
}

fn list(said: &str, arguments: Value) -> Turn {
    turn("list_files", said, "list_files", arguments, LOOK_TOKENS)
}

fn edit(said: &str, path: &str, old: String, new: String, loose: bool) -> Turn {
    let kind = if loose {
        "edit_file, whitespace-insensitive match (+ syntax check)"
    } else {
        "edit_file, exact match (+ syntax check)"
    };
    let arguments = json!({ "path": path, "old_text": old, "new_text": new });
    turn(kind, said, "edit_file", arguments, EDIT_TOKENS)
}

/// The job: 25 model calls, each with one tool call, the last one `finish`. A fix that
/// looks around (8 searches of the whole tree, 8 reads, 3 listings), makes 4 edits, and
/// finishes. Its reads and search results bring the prompt to about 38,000 tokens by the
/// end, so the context is estimated and fitted on a growing conversation every turn (at the
/// default 65,536-token window nothing needs trimming).
pub fn job() -> Vec<Turn> {
    let run = "crates/agent/src/run.rs";
    let dispatch = "crates/agent/src/dispatch.rs";
    let progress = "crates/agent/src/progress.rs";
    let context = "crates/agent/src/context.rs";

    let limit = lines_from(run, "const MAX_REPLIES_WITHOUT_TOOLS", 1);
    let limit_new = limit.replace("= 2;", "= 3;");
    let nudge = lines_from(run, "state.replies_without_tools += 1;", 3);
    let nudge_new = nudge.replace("+= 1;", "+= 1;\n// Counted before the nudge below.");
    let finish = lines_from(dispatch, "fn finish(map", 4);
    let finish_new = finish.replace("Ok(\"\") =>", "Ok(\"\") | Ok(\"-\") =>");
    let emit = lines_from(progress, "pub(crate) fn emit(&self", 1);
    let emit_new = format!("    #[inline]\n{emit}");

    vec![
        search(
            "Let me find where the limit on replies without tools is defined.",
            "MAX_REPLIES_WITHOUT_TOOLS",
            false,
        ),
        read("I'll read the agent loop.", json!({ "path": run })),
        search("Where are the budgets checked?", r"fn \w+_budget", true),
        list(
            "Let me see the agent's files.",
            json!({ "path": "crates/agent" }),
        ),
        read(
            "The context module decides what is kept.",
            json!({ "path": context }),
        ),
        search("Every use of the counter:", "replies_without_tools", false),
        read(
            "How tool calls are dispatched:",
            json!({ "path": dispatch, "start_line": 1, "end_line": 140 }),
        ),
        search("Which errors does the code return?", tree_gen::REGEX, true),
        list(
            "The Rust files of the agent:",
            json!({ "path": "crates", "glob": "*.rs", "limit": 100 }),
        ),
        edit(
            "Raise the limit to three replies.",
            run,
            limit,
            limit_new,
            false,
        ),
        read(
            "Check the loop around the counter.",
            json!({ "path": run, "start_line": 300, "end_line": 420 }),
        ),
        edit(
            "Note where the counter is incremented.",
            run,
            unindented(&nudge),
            nudge_new,
            true,
        ),
        search(
            "Is there a marker to keep in sync?",
            tree_gen::LITERAL,
            false,
        ),
        read(
            "How edits are applied:",
            json!({ "path": "crates/tools/src/edit.rs" }),
        ),
        list("The whole repository:", json!({})),
        search(
            "Every outcome the loop returns:",
            r"Outcome::[A-Z]\w+",
            true,
        ),
        read("Progress events:", json!({ "path": progress })),
        edit(
            "Treat a bare dash as an empty summary.",
            dispatch,
            unindented(&finish),
            finish_new,
            true,
        ),
        read(
            "Check the edit.",
            json!({ "path": dispatch, "start_line": 190, "end_line": 215 }),
        ),
        search("Who reports tool calls?", "ProgressKind::ToolCall", false),
        edit(
            "Emitting is on the hot path.",
            progress,
            emit,
            emit_new,
            false,
        ),
        read(
            "Read the loop once more.",
            json!({ "path": run, "start_line": 150, "end_line": 300 }),
        ),
        search("Any other counters?", r"state\.\w+ \+= 1", true),
        read(
            "And the trimming.",
            json!({ "path": context, "start_line": 120, "end_line": 260 }),
        ),
        turn(
            "finish",
            "",
            "finish",
            json!({ "summary": "The agent now allows three replies without a tool call before it gives up, and a summary of `-` counts as empty." }),
            FINISH_TOKENS,
        ),
    ]
}
