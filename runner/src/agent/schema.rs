//! The tool definitions sent to the model: names, what each tool is for, and its arguments
//! as JSON Schema. The descriptions are the model's only manual, so they say when to use a
//! tool, not only what it does.

use serde_json::{Value, json};

use super::task::{TaskSpec, ToolName};

/// The definitions of the tools `spec` allows, in Ollama's `tools` format.
pub fn definitions(spec: &TaskSpec) -> Vec<Value> {
    spec.tools
        .tools()
        .into_iter()
        .map(|tool| definition(tool, &spec.commands))
        .collect()
}

fn definition(tool: ToolName, commands: &[String]) -> Value {
    let (description, properties, required): (String, Value, &[&str]) = match tool {
        ToolName::ListFiles => (
            "List the files under a directory of the repository (recursively, sorted; files \
             ignored by .gitignore are left out). Use it to find where things are."
                .into(),
            json!({
                "path": {"type": "string", "description": "Directory relative to the repository root; empty or omitted for the root."},
                "glob": {"type": "string", "description": "Only files matching this glob, such as `*.rs` or `src/**/*.ts`."},
                "limit": {"type": "integer", "description": "At most this many files (default 200)."}
            }),
            &[],
        ),
        ToolName::ReadFile => (
            "Read a text file, with line numbers. Read a range of lines of a large file. Read \
             before you edit: edit_file needs the exact current text."
                .into(),
            json!({
                "path": {"type": "string", "description": "File path relative to the repository root."},
                "start_line": {"type": "integer", "description": "First line to show (from 1)."},
                "end_line": {"type": "integer", "description": "Last line to show."}
            }),
            &["path"],
        ),
        ToolName::Search => (
            "Search the repository's files for text, line by line, like ripgrep. Returns \
             `path:line: text` for each match. Use it to find definitions and every use of a name."
                .into(),
            json!({
                "pattern": {"type": "string", "description": "The text to find (exact text unless `regex` is true)."},
                "regex": {"type": "boolean", "description": "Treat the pattern as a regular expression."},
                "case_insensitive": {"type": "boolean", "description": "Ignore letter case."},
                "path": {"type": "string", "description": "Search only this file or directory."},
                "glob": {"type": "string", "description": "Search only files matching this glob, such as `*.py`."},
                "context": {"type": "integer", "description": "Lines of context around each match (at most 10)."},
                "max_results": {"type": "integer", "description": "At most this many matching lines (default 100)."}
            }),
            &["pattern"],
        ),
        ToolName::EditFile => (
            "Change a file by replacing one exact piece of its text. `old_text` must occur \
             exactly once in the file, copied exactly (whitespace included) from read_file \
             output without the line numbers; include enough surrounding lines to make it unique."
                .into(),
            json!({
                "path": {"type": "string", "description": "File path relative to the repository root."},
                "old_text": {"type": "string", "description": "The exact text to replace."},
                "new_text": {"type": "string", "description": "The text to put in its place (empty to delete it)."}
            }),
            &["path", "old_text", "new_text"],
        ),
        ToolName::WriteFile => (
            "Write a whole file, creating it (and its directories) or replacing its content. \
             Use it for new files; prefer edit_file for changes to existing ones."
                .into(),
            json!({
                "path": {"type": "string", "description": "File path relative to the repository root."},
                "content": {"type": "string", "description": "The complete new content of the file."}
            }),
            &["path", "content"],
        ),
        ToolName::UndoEdit => (
            "Put a file back as it was before your last edit_file or write_file of it (a file \
             write_file created is removed). Call it again to go further back. Use it when an \
             edit broke the file, rather than repairing it by hand."
                .into(),
            json!({
                "path": {"type": "string", "description": "File path relative to the repository root."}
            }),
            &["path"],
        ),
        ToolName::RunCommand => (
            format!(
                "Run one of the repository's configured commands in the repository root and \
                 get its exit code and output. Available: {}. Run it after changing code to \
                 check your work.",
                commands
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            json!({
                "command": {"type": "string", "enum": commands, "description": "The command to run; omit for the first one."}
            }),
            &[],
        ),
        ToolName::Finish => (
            "Finish the task. Call it once the work is done (and checked, when a command is \
             available), with a summary of what you changed and why."
                .into(),
            json!({
                "summary": {"type": "string", "description": "What you changed and why, in a few sentences of Markdown, for the pull request."}
            }),
            &["summary"],
        ),
        ToolName::SubmitReview => (
            "Submit the review and finish. Each comment is about one line of the new version \
             of a file."
                .into(),
            json!({
                "summary": {"type": "string", "description": "The overall assessment, in a few sentences of Markdown."},
                "comments": {
                    "type": "array",
                    "description": "Line comments; empty when nothing needs a comment.",
                    "items": {
                        "type": "object",
                        "properties": {
                            "path": {"type": "string", "description": "File path relative to the repository root."},
                            "line": {"type": "integer", "description": "Line number in the file."},
                            "body": {"type": "string", "description": "The comment, in Markdown."}
                        },
                        "required": ["path", "line", "body"]
                    }
                }
            }),
            &["summary", "comments"],
        ),
    };
    json!({
        "type": "function",
        "function": {
            "name": tool.as_str(),
            "description": description,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": required,
            }
        }
    })
}
