//! Edits a small model can land, against a scripted Ollama over a real socket: an edit that
//! breaks the file's syntax is answered with where it broke, `undo_edit` puts the file back,
//! and the model's next edit lands; the pull request's files are what the edits left.

use e2e::agent_harness::Harness;
use e2e::fake_ollama::{ChatReply, call};
use ota_runner::agent::{Outcome, TaskInput};
use serde_json::json;
use shared::config::BuiltinTask;

const LIB: &str = "pub fn double(x: u32) -> u32 {\n    x * 2\n}\n";

#[tokio::test]
async fn an_edit_that_breaks_the_syntax_is_told_undone_and_done_again() {
    let h = Harness::new(BuiltinTask::Refactor, &[("src/lib.rs", LIB)]).await;
    h.fake
        // The model drops the closing brace with its old text.
        .push(ChatReply::call(
            "edit_file",
            json!({"path": "src/lib.rs", "old_text": "    x * 2\n}\n", "new_text": "    x.saturating_mul(2)\n"}),
        ))
        .push(ChatReply::call("undo_edit", json!({"path": "src/lib.rs"})))
        .push(ChatReply::calls([
            call(
                "edit_file",
                json!({"path": "src/lib.rs", "old_text": "    x * 2\n", "new_text": "    x.saturating_mul(2)\n"}),
            ),
            // A second undo goes back past the original: there is nothing left.
            call("undo_edit", json!({"path": "src/missing.rs"})),
        ]))
        .push(ChatReply::finish("Doubling saturates."));

    let input = TaskInput {
        request: Some("Make double saturate.".into()),
        ..TaskInput::default()
    };
    let (report, _events) = h.run(&input).await;

    assert_eq!(
        report.outcome,
        Outcome::Finished {
            summary: "Doubling saturates.".into()
        }
    );
    assert_eq!(
        h.read("src/lib.rs"),
        "pub fn double(x: u32) -> u32 {\n    x.saturating_mul(2)\n}\n"
    );
    assert_eq!(report.files_changed, ["src/lib.rs"]);

    let calls = h.fake.calls();
    assert!(h.fake.unexpected().is_empty(), "{:?}", h.fake.unexpected());
    let broken = calls[1].tool_results().pop().unwrap_or_default();
    insta::assert_snapshot!("broken_edit_result", broken);
    let undone = calls[2].tool_results().pop().unwrap_or_default();
    assert_eq!(
        undone,
        "restored `src/lib.rs` to what it was before your last edit of it; no earlier edit \
         of it is left to undo. Read it again before editing it"
    );
    let last = calls[3].tool_results();
    let [.., edited, missing] = last.as_slice() else {
        panic!("two results: {last:?}");
    };
    assert!(
        edited.starts_with("edited `src/lib.rs`") && !edited.contains("Warning"),
        "{edited}"
    );
    assert_eq!(
        missing,
        "error: there is no edit of `src/missing.rs` in this task to undo"
    );
}
