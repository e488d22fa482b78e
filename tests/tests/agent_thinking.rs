//! Thinking models and the per-task model settings, over a real socket against the fake
//! Ollama: what the agent sends (`think`, sampling `options`, the turn's `thinking` back
//! with its tool calls), a turn that thinks its whole budget away, the hosted service's
//! usage limits (reported at once) and an error mid-stream under a 200.

use e2e::agent_harness::Harness;
use e2e::fake_ollama::{ChatReply, Reply};
use ota_runner::agent::{Outcome, TaskInput, thought_past_budget_text};
use serde_json::{Value, json};
use shared::config::{BuiltinTask, Sampling, Think};
use shared::job::JobError;

const FILES: &[(&str, &str)] = &[("README.md", "# demo\n")];

#[tokio::test]
async fn a_thinking_turn_s_reasoning_goes_back_with_its_tool_calls() {
    let h = Harness::new(BuiltinTask::Docs, FILES).await;
    h.fake
        .push(Reply::thinking_model(
            ChatReply::read_file("README.md").with_thinking("The README is short; read it first."),
        ))
        .push(Reply::thinking_model(
            ChatReply::finish("Read it.").with_thinking("Nothing to change."),
        ));

    let (report, _) = h.run(&TaskInput::default()).await;

    assert_eq!(
        report.outcome,
        Outcome::Finished {
            summary: "Read it.".into()
        }
    );
    let calls = h.fake.calls();
    assert_eq!(
        calls[0].body.get("think"),
        None,
        "Ollama's default unless set"
    );
    let assistant = calls[1].with_role("assistant");
    assert_eq!(assistant.len(), 1);
    assert_eq!(
        assistant[0]["thinking"], "The README is short; read it first.",
        "the thinking goes back with the tool call: {}",
        assistant[0]
    );
    assert_eq!(
        assistant[0]["tool_calls"][0]["function"]["name"],
        "read_file"
    );
}

#[tokio::test]
async fn think_and_the_sampling_options_are_sent_as_configured() {
    let mut h = Harness::new(BuiltinTask::Docs, FILES).await;
    h.spec.think = Some(Think::Off);
    h.spec.sampling = Sampling {
        temperature: Some(0.25),
        top_p: Some(0.5),
        top_k: Some(20),
        seed: Some(42),
    };
    h.fake
        .push(Reply::thinking_model(
            ChatReply::read_file("README.md").with_thinking("hidden"),
        ))
        .push(ChatReply::finish("Done."));

    let (report, _) = h.run(&TaskInput::default()).await;

    assert!(matches!(report.outcome, Outcome::Finished { .. }));
    let calls = h.fake.calls();
    assert_eq!(calls[0].body["think"], Value::Bool(false));
    assert_eq!(
        calls[0].options,
        json!({"num_ctx": h.settings.num_ctx, "num_predict": 1024, "temperature": 0.25,
            "top_p": 0.5, "top_k": 20, "seed": 42})
    );
    let assistant = calls[1].with_role("assistant");
    assert_eq!(
        assistant[0].get("thinking"),
        None,
        "with think: false the model did not think"
    );

    let mut h = Harness::new(BuiltinTask::Docs, FILES).await;
    h.spec.think = Some(Think::Low);
    h.fake.push(ChatReply::finish("Done."));
    h.run(&TaskInput::default()).await;
    assert_eq!(h.fake.calls()[0].body["think"], "low");
}

#[tokio::test]
async fn a_turn_that_thinks_its_whole_budget_away_says_so() {
    let h = Harness::new(BuiltinTask::Docs, FILES).await;
    h.fake
        .push(Reply::thinking_model(ChatReply::thought_until_the_limit(
            1024,
        )));

    let (report, _) = h.run(&TaskInput::default()).await;

    assert_eq!(
        report.outcome,
        Outcome::ThoughtPastBudget { max_tokens: 1024 }
    );
    assert_eq!(
        report.outcome.job_error(),
        Some(JobError::RunnerBudgetExceeded)
    );
    assert_eq!(
        h.fake.calls().len(),
        1,
        "not asked to shorten an answer it never began"
    );
    insta::assert_snapshot!("thought_past_budget", thought_past_budget_text(1024));
}

#[tokio::test]
async fn a_usage_limit_of_the_hosted_service_is_reported_at_once() {
    let h = Harness::new(BuiltinTask::Docs, FILES).await;
    h.fake.push(Reply::usage_limit("weekly"));

    let (report, _) = h.run(&TaskInput::default()).await;

    assert_eq!(h.fake.calls().len(), 1, "no retries against a usage limit");
    let Outcome::ModelRejected { message, error } = &report.outcome else {
        panic!("expected a refusal, got {:?}", report.outcome);
    };
    assert_eq!(*error, JobError::RunnerFailed);
    assert!(
        !error.is_transient(),
        "the workflow does not retry it either"
    );
    assert!(!message.contains("fake-account"), "{message}");
    insta::assert_snapshot!("usage_limit", message);
}

#[tokio::test]
async fn a_plain_429_and_an_error_mid_stream_are_retried() {
    let h = Harness::new(BuiltinTask::Docs, FILES).await;
    h.fake
        .push(Reply::error(429, "too many concurrent requests"))
        .push(Reply::error_mid_stream(
            ChatReply::text("I will now"),
            2,
            "an error was encountered while running the model: unexpected EOF",
        ))
        .push(ChatReply::finish("Done."));

    let (report, _) = h.run(&TaskInput::default()).await;

    assert_eq!(
        report.outcome,
        Outcome::Finished {
            summary: "Done.".into()
        }
    );
    assert_eq!(h.fake.calls().len(), 3);
}
