//! The Ollama API key (`OLLAMA_API_KEY`, for the hosted service) goes out as a Bearer token
//! and nowhere else: not in logs, `Debug` output, progress events, reports or errors. Its own
//! test binary, because log capture with a scoped subscriber is unreliable while other tests
//! hit the same log call sites on other threads.

use e2e::agent_harness::Harness;
use e2e::fake_ollama::Reply;
use e2e::logs::CapturedLogs;
use ota_runner::agent::{Outcome, TaskInput};
use ota_runner::ollama::OllamaEnv;
use shared::config::BuiltinTask;
use shared::job::JobError;
use tracing::instrument::WithSubscriber;

const FILES: &[(&str, &str)] = &[("README.md", "# demo\n")];

#[tokio::test]
async fn the_api_key_is_sent_as_bearer_and_shown_nowhere() {
    const KEY: &str = "sk-ollama-TEST-ONLY-0123456789abcdef";
    let mut h = Harness::new(BuiltinTask::Docs, FILES).await;
    // `host:port` without a scheme, as the Ollama CLI accepts it.
    let host = h.fake.addr().to_string();
    h.env = OllamaEnv::from_vars(|name| match name {
        "OLLAMA_HOST" => Some(host.clone()),
        "OLLAMA_API_KEY" => Some(KEY.to_owned()),
        _ => None,
    })
    .unwrap();
    h.fake
        .push(Reply::error(502, "upstream hiccup"))
        .push(Reply::error(401, "unauthorized"));

    let logs = CapturedLogs::default();
    let (report, events) = h
        .run(&TaskInput::default())
        .with_subscriber(logs.subscriber())
        .await;

    let calls = h.fake.calls();
    assert_eq!(calls.len(), 2);
    for call in &calls {
        assert_eq!(
            call.authorization.as_deref(),
            Some(format!("Bearer {KEY}").as_str())
        );
    }
    let Outcome::ModelRejected { message, error } = &report.outcome else {
        panic!("{:?}", report.outcome);
    };
    assert!(
        message.contains("refused the request (401): check OLLAMA_API_KEY"),
        "{message}"
    );
    assert_eq!(*error, JobError::RunnerFailed);

    let logged = logs.text();
    assert!(
        logged.contains("retrying"),
        "the retry was logged: {logged}"
    );
    let shown = [
        logged,
        format!("{report:?}"),
        format!("{events:?}"),
        format!("{:?}", h.env),
        format!("{:?}", h.client()),
        message.clone(),
    ];
    for text in shown {
        assert!(
            !text.contains(KEY) && !text.contains("0123456789abcdef"),
            "the key leaked: {text}"
        );
    }
}
