//! The fake Ollama behaves as the real server does for what the agent relies on: `/api/show`
//! in the server's shape, the exact refusals for a missing model and for tools sent to a
//! model without them, `num_ctx` clamped to the trained length, the oldest messages dropped
//! (system messages and the last one kept) and `prompt_eval_count` of what it kept.

use e2e::fake_ollama::{ChatReply, FakeOllama};
use e2e::fake_ollama_models::{FakeModel, TEMPLATE_TOKENS_PER_MESSAGE};
use serde_json::{Value, json};

async fn post(fake: &FakeOllama, path: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", fake.host()))
        .json(&body)
        .send()
        .await
        .expect("the fake answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let last = text.lines().last().unwrap_or_default().to_owned();
    (status, serde_json::from_str(&last).unwrap_or(Value::Null))
}

#[tokio::test]
async fn show_describes_a_known_model_and_refuses_others_as_ollama_does() {
    let fake = FakeOllama::start().await;
    fake.add_model(FakeModel::qwen3_coder());

    let (status, show) = post(&fake, "/api/show", json!({"model": "qwen3-coder:30b"})).await;
    assert_eq!(status, 200);
    assert_eq!(show["capabilities"], json!(["completion", "tools"]));
    assert_eq!(show["model_info"]["general.architecture"], "qwen3moe");
    assert_eq!(show["model_info"]["qwen3moe.context_length"], 262_144);
    assert_eq!(show["details"]["format"], "gguf");
    assert!(show["template"].is_string());

    // server/routes.go: `model '%s' not found`, 404, on /api/show and /api/chat alike.
    let (status, error) = post(&fake, "/api/show", json!({"model": "nope:1b"})).await;
    assert_eq!(
        (status, error),
        (404, json!({"error": "model 'nope:1b' not found"}))
    );
    let (status, error) = post(
        &fake,
        "/api/chat",
        json!({"model": "nope:1b", "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(
        (status, error),
        (404, json!({"error": "model 'nope:1b' not found"}))
    );
    assert_eq!(fake.remaining(), 0);
}

#[tokio::test]
async fn tools_sent_to_a_model_without_them_are_refused_with_its_full_name() {
    let fake = FakeOllama::start().await;
    fake.add_model(FakeModel::without_tools("gemma3:4b", 131_072));
    fake.add_model(FakeModel::without_tools("gemma3", 131_072));
    let tool = json!({"type": "function", "function": {"name": "read_file", "parameters": {}}});

    for (model, full) in [
        ("gemma3:4b", "registry.ollama.ai/library/gemma3:4b"),
        ("gemma3", "registry.ollama.ai/library/gemma3:latest"),
    ] {
        let body = json!({"model": model, "messages": [{"role": "user", "content": "hi"}], "tools": [tool]});
        let (status, error) = post(&fake, "/api/chat", body).await;
        assert_eq!(status, 400);
        assert_eq!(
            error,
            json!({"error": format!("{full} does not support tools")})
        );
    }
}

#[tokio::test]
async fn a_prompt_over_the_trained_length_loses_its_oldest_messages_but_not_the_system_one() {
    let fake = FakeOllama::start().await;
    fake.add_model(FakeModel::with_tools("tiny:1b", 120));
    fake.push(ChatReply::text("ok"));
    // 40 characters are 10 tokens, plus the template's per message.
    let text = |n: usize| "x".repeat(n);
    let messages = json!([
        {"role": "system", "content": text(40)},
        {"role": "user", "content": text(200)},
        {"role": "assistant", "content": text(300)},
        {"role": "user", "content": text(160)},
    ]);

    let (status, done) = post(
        &fake,
        "/api/chat",
        json!({"model": "tiny:1b", "messages": messages, "options": {"num_ctx": 65_536}}),
    )
    .await;

    assert_eq!(status, 200);
    let fitted = fake.calls()[0].fitted.expect("fitted");
    // num_ctx clamped to 120; the first user message and the assistant's dropped.
    assert_eq!((fitted.num_ctx, fitted.dropped), (120, 2));
    let kept = 10 + 40 + 2 * TEMPLATE_TOKENS_PER_MESSAGE;
    assert_eq!(fitted.prompt_tokens, kept);
    assert_eq!(done["prompt_eval_count"], json!(kept));
    assert_eq!(done["done"], json!(true));
}
