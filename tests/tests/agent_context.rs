//! Ollama silently truncates a prompt longer than `num_ctx`; the agent must not let it. These
//! tests assert on what the fake Ollama received: old tool outputs replaced by a note once
//! the conversation outgrows the window, or as soon as the server's `prompt_eval_count`
//! shows the prompt at the limit, with the latest outputs always intact.

use e2e::agent_harness::Harness;
use e2e::fake_ollama::ChatReply;
use ota_runner::agent::{BudgetKind, Outcome, ProgressKind, TaskInput};
use serde_json::json;
use shared::config::BuiltinTask;

/// A text file of `lines` lines of 80 characters, each line saying which file it is from.
fn text(name: &str, lines: usize) -> String {
    (0..lines)
        .map(|i| format!("{name} {i:04} {}\n", "-".repeat(80 - name.len() - 6)))
        .collect()
}

const TRIMMED: &str = "[The output of this read_file call (";

#[tokio::test]
async fn old_tool_outputs_are_trimmed_when_the_conversation_outgrows_the_window() {
    let (a, b) = (text("alpha", 150), text("bravo", 150));
    let mut h = Harness::new(BuiltinTask::Docs, &[("a.txt", &a), ("b.txt", &b)]).await;
    h.settings.num_ctx = 8192;
    h.spec.max_tokens = 512;
    h.fake
        .push(ChatReply::read_file("a.txt"))
        .push(ChatReply::read_file("b.txt"))
        .push(ChatReply::finish("Read both."));

    let (report, events) = h.run(&TaskInput::default()).await;

    assert_eq!(
        report.outcome,
        Outcome::Finished {
            summary: "Read both.".into()
        }
    );
    let calls = h.fake.calls();
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[2].options["num_ctx"], json!(8192));
    assert_eq!(calls[2].options["num_predict"], json!(512));
    // The second request still had room for the first file.
    assert!(calls[1].tool_results()[0].contains("alpha 0149"));
    let third = calls[2].tool_results();
    assert!(third[0].starts_with(TRIMMED), "{}", third[0]);
    assert!(third[0].contains("Call the tool again if you still need it."));
    assert!(!third[0].contains("alpha 0001"));
    assert!(
        third[1].contains("bravo 0000") && third[1].contains("bravo 0149"),
        "the latest output stays whole"
    );
    let trims: Vec<(usize, usize, usize)> = events
        .iter()
        .filter_map(|e| match e.kind {
            ProgressKind::ContextTrimmed {
                outputs,
                tokens_before,
                tokens_after,
            } => Some((outputs, tokens_before, tokens_after)),
            _ => None,
        })
        .collect();
    assert_eq!(trims.len(), 1, "{trims:?}");
    assert_eq!(trims[0].0, 1);
    assert!(trims[0].1 > 7680 && trims[0].2 <= 7680, "{trims:?}");
}

#[tokio::test]
async fn a_prompt_count_at_the_window_trims_old_outputs_at_once() {
    let (a, b) = (text("alpha", 20), text("bravo", 20));
    let mut h = Harness::new(BuiltinTask::Docs, &[("a.txt", &a), ("b.txt", &b)]).await;
    h.settings.num_ctx = 32_768;
    h.fake
        .push(ChatReply::read_file("a.txt").with_counts(2_000, 10))
        // The server evaluated a full window: the estimate was wrong, Ollama may have cut.
        .push(ChatReply::read_file("b.txt").with_counts(32_768, 10))
        .push(ChatReply::finish("Read both."));

    let (report, _) = h.run(&TaskInput::default()).await;

    assert_eq!(
        report.outcome,
        Outcome::Finished {
            summary: "Read both.".into()
        }
    );
    let calls = h.fake.calls();
    assert!(!calls[1].tool_results()[0].starts_with(TRIMMED));
    let third = calls[2].tool_results();
    assert!(third[0].starts_with(TRIMMED), "{}", third[0]);
    assert!(third[1].contains("bravo 0019"));
}

#[tokio::test]
async fn a_task_that_cannot_fit_the_window_stops_before_calling_the_model() {
    let mut h = Harness::new(BuiltinTask::Docs, &[("README.md", "# demo\n")]).await;
    h.settings.num_ctx = 1024;

    let (report, _) = h.run(&TaskInput::default()).await;

    assert_eq!(
        report.outcome,
        Outcome::BudgetExhausted {
            budget: BudgetKind::ContextWindow
        }
    );
    assert!(h.fake.calls().is_empty());
}
