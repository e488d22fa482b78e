//! Ollama silently truncates a prompt longer than `num_ctx`; the agent must not let it. These
//! tests assert on what the fake Ollama received: old tool outputs replaced by a note once
//! the conversation outgrows the window, or as soon as the server's `prompt_eval_count`
//! shows the prompt at the limit, with the latest outputs always intact.

use e2e::agent_harness::Harness;
use e2e::fake_ollama::ChatReply;
use e2e::fake_ollama_models::FakeModel;
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

/// Reads `a.txt`, `b.txt`, `c.txt` (`lines` lines each) and `a.txt` again, then finishes,
/// with `model`.
async fn read_three(model: FakeModel, lines: usize) -> (Harness, Vec<ProgressKind>, Outcome) {
    let files = [
        ("a.txt", text("alpha", lines)),
        ("b.txt", text("bravo", lines)),
        ("c.txt", text("charlie", lines)),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(p, c)| (*p, c.as_str())).collect();
    let mut h = Harness::new(BuiltinTask::Docs, &files).await;
    h.spec.model = model.name.clone();
    h.fake.add_model(model);
    h.settings.num_ctx = 65_536;
    h.spec.max_tokens = 512;
    h.fake
        .push(ChatReply::read_file("a.txt"))
        .push(ChatReply::read_file("b.txt"))
        .push(ChatReply::read_file("c.txt"))
        .push(ChatReply::read_file("a.txt"))
        .push(ChatReply::finish("Read all three."));
    let (report, events) = h.run(&TaskInput::default()).await;
    (
        h,
        events.into_iter().map(|e| e.kind).collect(),
        report.outcome,
    )
}

#[tokio::test]
async fn num_ctx_is_capped_at_the_models_trained_length_so_ollama_drops_nothing() {
    let (h, events, outcome) = read_three(FakeModel::with_tools("small-coder:7b", 8192), 120).await;

    assert_eq!(
        outcome,
        Outcome::Finished {
            summary: "Read all three.".into()
        }
    );
    let calls = h.fake.calls();
    assert_eq!(calls.len(), 5);
    for call in &calls {
        // Ollama would have clamped 65,536 to 8,192 and dropped the oldest messages.
        assert_eq!(call.options["num_ctx"], json!(8192));
        assert_eq!(call.fitted.map(|f| f.dropped), Some(0), "{:?}", call.fitted);
    }
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ProgressKind::ContextTrimmed { .. }))
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, ProgressKind::PromptTruncated { .. }))
    );
}

#[tokio::test]
async fn a_truncation_the_model_info_did_not_predict_is_reported_and_not_repeated() {
    // The server does not say the model's context length, and clamps to 8,192.
    let model = FakeModel::with_tools("small-coder:7b", 8192).hiding_context_length();
    let (h, events, outcome) = read_three(model, 120).await;

    assert_eq!(
        outcome,
        Outcome::Finished {
            summary: "Read all three.".into()
        }
    );
    let calls = h.fake.calls();
    let dropped: Vec<usize> = calls
        .iter()
        .map(|c| c.fitted.map_or(0, |f| f.dropped))
        .collect();
    let first_cut = dropped
        .iter()
        .position(|&d| d > 0)
        .expect("Ollama cut a prompt");
    assert!(
        dropped[first_cut + 1..].iter().all(|&d| d == 0),
        "once seen, the agent trims before Ollama has to: {dropped:?}"
    );
    let truncated: Vec<&ProgressKind> = events
        .iter()
        .filter(|e| matches!(e, ProgressKind::PromptTruncated { .. }))
        .collect();
    assert_eq!(truncated.len(), 1, "{events:?}");
    let ProgressKind::PromptTruncated {
        sent_at_least,
        kept,
    } = truncated[0]
    else {
        unreachable!()
    };
    assert!(kept < sent_at_least && *kept <= 8192, "{truncated:?}");
    // The same num_ctx every call: another would make Ollama reload the model.
    assert!(calls.iter().all(|c| c.options["num_ctx"] == json!(65_536)));
}
