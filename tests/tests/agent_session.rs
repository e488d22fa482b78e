//! The agent against a scripted Ollama over a real socket: whole sessions that read, search,
//! edit and finish; model mistakes (malformed arguments, unknown tools, tools the task does
//! not allow) answered with errors the model recovers from; a review with structured
//! comments; and a model that stops calling tools.

use e2e::agent_harness::{Harness, MODEL};
use e2e::fake_ollama::{ChatReply, Reply, call};
use ota_runner::agent::{Outcome, ProgressKind, ReviewComment, TaskInput};
use serde_json::{Value, json};
use shared::config::BuiltinTask;
use shared::job::JobError;

const LIB: &str = "pub fn old_name(x: u32) -> u32 {\n    x + 1\n}\n";
const MAIN: &str = "fn main() {\n    println!(\"{}\", demo::old_name(1));\n}\n";

fn rename_request() -> TaskInput {
    TaskInput {
        request: Some("Rename old_name to next_number.".into()),
        ..TaskInput::default()
    }
}

#[tokio::test]
async fn a_refactor_session_reads_searches_edits_and_finishes() {
    let h = Harness::new(
        BuiltinTask::Refactor,
        &[("src/lib.rs", LIB), ("src/main.rs", MAIN)],
    )
    .await;
    // Prompt counts a tokenizer could give for these prompts (a whole count is at least a
    // sixth of the bytes sent; a lower one reads as Ollama truncating the prompt).
    h.fake
        .push(
            ChatReply::call("search", json!({"pattern": "old_name"}))
                .with_content("Let me find every use.")
                .with_counts(1900, 30)
                // Lines straddle reads: the client must reassemble them.
                .in_pieces_of(7),
        )
        .push(ChatReply::read_file("src/lib.rs").with_counts(2100, 12))
        .push(
            ChatReply::calls([
                call(
                    "edit_file",
                    json!({"path": "src/lib.rs", "old_text": "pub fn old_name(", "new_text": "pub fn next_number("}),
                ),
                call(
                    "edit_file",
                    json!({"path": "src/main.rs", "old_text": "demo::old_name(1)", "new_text": "demo::next_number(1)"}),
                ),
            ])
            .with_counts(2300, 80),
        )
        .push(
            ChatReply::finish("Renamed `old_name` to `next_number`.")
                .with_counts(2500, 25),
        );

    let (report, events) = h.run(&rename_request()).await;

    assert_eq!(
        report.outcome,
        Outcome::Finished {
            summary: "Renamed `old_name` to `next_number`.".into()
        }
    );
    assert_eq!(report.outcome.job_error(), None);
    assert_eq!(
        h.read("src/lib.rs"),
        "pub fn next_number(x: u32) -> u32 {\n    x + 1\n}\n"
    );
    assert_eq!(
        h.read("src/main.rs"),
        MAIN.replace("old_name", "next_number")
    );
    assert_eq!(report.files_changed, ["src/lib.rs", "src/main.rs"]);
    assert_eq!(report.turns, 4);
    assert_eq!(
        (report.tokens.prompt, report.tokens.completion),
        (8800, 147)
    );
    assert_eq!(
        report.last_message.as_deref(),
        Some("Let me find every use.")
    );

    let calls = h.fake.calls();
    assert_eq!(calls.len(), 4);
    assert!(h.fake.unexpected().is_empty(), "{:?}", h.fake.unexpected());
    let first = &calls[0];
    assert_eq!(first.model, MODEL);
    assert_eq!(first.stream, Some(true));
    assert_eq!(first.options["num_ctx"], json!(h.settings.num_ctx));
    assert_eq!(first.options["num_predict"], json!(1024));
    assert_eq!(first.keep_alive, Some(json!("30m")));
    assert_eq!(first.authorization, None);
    assert_eq!(
        first.tool_names(),
        [
            "list_files",
            "read_file",
            "search",
            "edit_file",
            "write_file",
            "undo_edit",
            "finish"
        ]
    );
    assert_eq!(first.messages.len(), 2);
    assert_eq!(first.messages[0]["role"], "system");
    let task = first.messages[1]["content"].as_str().unwrap();
    assert!(task.starts_with("# Task: refactor\n"), "{task}");
    assert!(task.contains("Rename old_name to next_number."), "{task}");
    assert!(task.contains("Repository map: 2 files"), "{task}");
    // The map shows the definition main.rs calls, as its line of source.
    assert!(
        task.contains("src/lib.rs\n  1: pub fn old_name(x: u32) -> u32 {\n"),
        "{task}"
    );

    // The model sees each result of its calls, and its own calls echoed as objects.
    let second = &calls[1];
    assert_eq!(second.messages[2]["role"], "assistant");
    assert_eq!(
        second.messages[2]["tool_calls"][0]["function"]["arguments"],
        json!({"pattern": "old_name"})
    );
    let found = &second.tool_results()[0];
    assert!(
        found.contains("src/lib.rs:1:") && found.contains("src/main.rs:2:"),
        "{found}"
    );
    assert_eq!(second.messages[3]["tool_name"], "search");
    assert!(calls[2].tool_results()[1].contains("1\tpub fn old_name(x: u32) -> u32 {"));
    let edits = calls[3].tool_results();
    assert!(
        !edits[2].starts_with("error:") && !edits[3].starts_with("error:"),
        "{edits:?}"
    );

    let tools: Vec<&str> = events
        .iter()
        .filter_map(|e| match &e.kind {
            ProgressKind::ToolCall { tool, ok: true, .. } => Some(tool.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        tools,
        ["search", "read_file", "edit_file", "edit_file", "finish"]
    );
    let last = events.last().unwrap();
    assert!(matches!(&last.kind, ProgressKind::Done { outcome } if outcome == "finished"));
    assert_eq!(last.tokens.prompt, 8800);
}

#[tokio::test]
async fn malformed_calls_and_unknown_tools_get_errors_and_the_model_recovers() {
    let h = Harness::new(BuiltinTask::Refactor, &[("src/lib.rs", LIB)]).await;
    h.fake
        .push(ChatReply::calls([
            // Broken JSON in a string.
            json!({"function": {"name": "read_file", "arguments": "{\"path\": \"src/lib.rs\""}}),
            call("delete_everything", json!({})),
            json!({"function": {"name": "read_file", "arguments": 42}}),
            call("read_file", json!({"file": "src/lib.rs"})),
            call("read_file", json!({"path": ["src/lib.rs"]})),
            call("read_file", json!({"path": "../../etc/passwd"})),
            json!({"function": {"arguments": {}}}),
        ]))
        // Ollama's own parser failing on the model's output: a 500 that is not retried.
        .push(Reply::error(
            500,
            "error parsing tool call: raw='{\"name\": \"read_file\", \"arguments\": {\"path\": ', err=unexpected end of JSON input",
        ))
        // Arguments double-encoded as a string holding an object are fine.
        .push(ChatReply::calls([json!({"function": {"name": "read_file", "arguments": "{\"path\": \"src/lib.rs\"}"}})]))
        .push(ChatReply::finish("Nothing to change."));

    let (report, _) = h.run(&rename_request()).await;

    assert_eq!(
        report.outcome,
        Outcome::Finished {
            summary: "Nothing to change.".into()
        }
    );
    let calls = h.fake.calls();
    assert_eq!(
        calls.len(),
        4,
        "the parse failure must not be retried as a transient error"
    );
    let results = calls[1].tool_results();
    let expect = [
        "error: the call to `read_file` was not run: the arguments are a string that is not valid JSON",
        "error: there is no tool named `delete_everything`; the tools are `list_files`, `read_file`",
        "error: the call to `read_file` was not run: the arguments are a number, not a JSON object",
        "error: `read_file` needs the argument `path` (a string); its arguments are `path`, `start_line`, `end_line`",
        "error: the argument `path` of `read_file` must be a string, not [\"src/lib.rs\"]",
        "error: `../../etc/passwd` points outside the repository",
        "error: there is no tool named ``",
    ];
    assert_eq!(results.len(), expect.len());
    for (result, expected) in results.iter().zip(expect) {
        assert!(
            result.starts_with(expected),
            "{result}\n  should start with\n{expected}"
        );
    }
    // The malformed call is echoed with `{}`: Ollama accepts only objects there.
    assert_eq!(
        calls[1].messages[2]["tool_calls"][0]["function"]["arguments"],
        json!({})
    );
    assert_eq!(
        calls[1].messages[2]["tool_calls"][2]["function"]["arguments"],
        json!({})
    );

    let nudge = calls[2].messages.last().unwrap();
    assert_eq!(nudge["role"], "user");
    assert!(
        nudge["content"]
            .as_str()
            .unwrap()
            .contains("could not be parsed"),
        "{nudge}"
    );
    assert!(
        calls[3]
            .tool_results()
            .last()
            .unwrap()
            .contains("1\tpub fn old_name")
    );
}

#[tokio::test]
async fn a_review_is_read_only_and_submits_checked_line_comments() {
    let h = Harness::new(BuiltinTask::Review, &[("src/lib.rs", LIB)]).await;
    let diff = "--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1,3 +1,3 @@\n-pub fn old_name(x: u32) -> u32 {\n+pub fn old_name(x: u32) -> u32 {\n     x + 1\n }\n";
    let comment = json!({"path": "src/lib.rs", "line": 2, "body": "This overflows at `u32::MAX`."});
    h.fake
        .push(ChatReply::call(
            "edit_file",
            json!({"path": "src/lib.rs", "old_text": "x + 1", "new_text": "x.saturating_add(1)"}),
        ))
        .push(ChatReply::call(
            "submit_review",
            json!({"summary": "One problem.", "comments": [comment, {"path": "src/lib.rs", "line": 40, "body": "?"}, {"path": "nope.rs", "line": 1, "body": "?"}]}),
        ))
        .push(ChatReply::call("submit_review", json!({"summary": "One problem.", "comments": [comment]})));

    let input = TaskInput {
        pr_diff: Some(diff.into()),
        ..TaskInput::default()
    };
    let (report, _) = h.run(&input).await;

    assert_eq!(
        report.outcome,
        Outcome::Finished {
            summary: "One problem.".into()
        }
    );
    let review = report.review.expect("a review");
    assert_eq!(
        review.comments,
        [ReviewComment {
            path: "src/lib.rs".into(),
            line: 2,
            body: "This overflows at `u32::MAX`.".into()
        }]
    );
    assert_eq!(h.read("src/lib.rs"), LIB, "a review changes nothing");
    assert!(report.files_changed.is_empty());

    let calls = h.fake.calls();
    assert_eq!(
        calls[0].tool_names(),
        ["list_files", "read_file", "search", "submit_review"]
    );
    let task = calls[0].messages[1]["content"].as_str().unwrap();
    assert!(
        task.contains("## Pull request diff\n\n```diff\n--- a/src/lib.rs"),
        "{task}"
    );
    assert!(
        calls[1].tool_results()[0]
            .starts_with("error: `edit_file` is not available in the `review` task")
    );
    let refused = &calls[2].tool_results()[1];
    assert!(
        refused.contains("comment 2: `src/lib.rs` has 3 lines, so line 40 does not exist"),
        "{refused}"
    );
    assert!(
        refused.contains("comment 3: `nope.rs` does not exist"),
        "{refused}"
    );
}

#[tokio::test]
async fn a_model_that_stops_calling_tools_is_nudged_once_then_gives_up() {
    let h = Harness::new(BuiltinTask::Fix, &[("src/lib.rs", LIB)]).await;
    h.fake
        .push(ChatReply::text("I would change the function."))
        .push(ChatReply::text("I can't find the bug."));

    let (report, _) = h.run(&TaskInput::default()).await;

    assert_eq!(
        report.outcome,
        Outcome::GaveUp {
            reason: "I can't find the bug.".into()
        }
    );
    assert_eq!(
        report.outcome.job_error(),
        Some(JobError::RunnerAgentGaveUp)
    );
    let calls = h.fake.calls();
    assert_eq!(calls.len(), 2);
    let nudge: &Value = calls[1].messages.last().unwrap();
    assert_eq!(nudge["role"], "user");
    assert!(
        nudge["content"]
            .as_str()
            .unwrap()
            .starts_with("Continue by calling a tool.")
    );
}
