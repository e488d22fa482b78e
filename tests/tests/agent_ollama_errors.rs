//! How the agent and its client handle Ollama failing, over a real socket: transient
//! failures (5xx, refused connections, streams that end early or drop) are retried with
//! backoff and, when they last, reported as `Runner.ModelUnavailable`; permanent ones (no
//! such model, no tool support, refused credentials) stop at once with a message that says
//! what to change. (The API key's handling is in `agent_secrets.rs`.)

use e2e::agent_harness::Harness;
use e2e::fake_ollama::{ChatReply, Reply};
use ota_runner::agent::{Outcome, ProgressKind, TaskInput};
use ota_runner::ollama::OllamaEnv;
use serde_json::json;
use shared::config::BuiltinTask;
use shared::job::JobError;

const FILES: &[(&str, &str)] = &[("README.md", "# demo\n")];

#[tokio::test]
async fn a_500_is_retried_and_the_session_goes_on() {
    let h = Harness::new(BuiltinTask::Docs, FILES).await;
    h.fake
        .push(Reply::error(
            500,
            "llama runner process has terminated: exit status 2",
        ))
        .push(ChatReply::finish("Done."));

    let (report, events) = h.run(&TaskInput::default()).await;

    assert_eq!(
        report.outcome,
        Outcome::Finished {
            summary: "Done.".into()
        }
    );
    assert_eq!(h.fake.calls().len(), 2);
    let retries: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            ProgressKind::Retrying {
                attempt, reason, ..
            } => Some((*attempt, reason.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(retries.len(), 1);
    assert_eq!(retries[0].0, 1);
    assert!(
        retries[0].1.contains("llama runner process has terminated"),
        "{}",
        retries[0].1
    );
    assert_eq!(report.turns, 1, "a retry is not a turn");
}

#[tokio::test]
async fn a_server_that_stays_down_is_reported_as_model_unavailable() {
    let h = Harness::new(BuiltinTask::Docs, FILES).await;
    for _ in 0..3 {
        h.fake
            .push(Reply::error(503, "server busy, please try again"));
    }

    let (report, _) = h.run(&TaskInput::default()).await;

    let Outcome::ModelUnavailable { message } = &report.outcome else {
        panic!("{:?}", report.outcome);
    };
    assert!(
        message.starts_with("Ollama was unavailable after 3 attempts"),
        "{message}"
    );
    assert!(message.contains("503: server busy"), "{message}");
    assert_eq!(
        report.outcome.job_error(),
        Some(JobError::RunnerModelUnavailable)
    );
    assert!(JobError::RunnerModelUnavailable.is_transient());
    assert_eq!(h.fake.calls().len(), 3);
}

#[tokio::test]
async fn a_refused_connection_is_transient() {
    let mut h = Harness::new(BuiltinTask::Docs, FILES).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    h.env =
        OllamaEnv::from_vars(|name| (name == "OLLAMA_HOST").then(|| format!("127.0.0.1:{port}")))
            .unwrap();

    let (report, _) = h.run(&TaskInput::default()).await;

    let Outcome::ModelUnavailable { message } = &report.outcome else {
        panic!("{:?}", report.outcome);
    };
    assert!(
        message.contains(&format!(
            "could not reach Ollama at http://127.0.0.1:{port}"
        )),
        "{message}"
    );
}

#[tokio::test]
async fn streams_that_end_early_or_drop_are_retried() {
    let h = Harness::new(BuiltinTask::Docs, FILES).await;
    h.fake
        .push(Reply::lines_without_done(&[
            json!({"message": {"role": "assistant", "content": "Hel"}, "done": false}),
        ]))
        .push(Reply::close_mid_stream(ChatReply::text(
            "Hello there, I was cut off",
        )))
        .push(ChatReply::finish("Done.").in_pieces_of(1));

    let (report, events) = h.run(&TaskInput::default()).await;

    assert_eq!(
        report.outcome,
        Outcome::Finished {
            summary: "Done.".into()
        }
    );
    assert_eq!(h.fake.calls().len(), 3);
    let reasons: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            ProgressKind::Retrying { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(reasons.len(), 2);
    assert_eq!(
        reasons[0],
        "the response stream from Ollama ended before the final message"
    );
    assert!(
        reasons[1].starts_with("the response stream from Ollama ended before the final message"),
        "{}",
        reasons[1]
    );
}

#[tokio::test]
async fn a_model_without_tool_support_is_a_clear_permanent_error() {
    let h = Harness::new(BuiltinTask::Refactor, FILES).await;
    h.fake.push(Reply::error(
        400,
        "registry.ollama.ai/library/qwen3-coder:30b does not support tools",
    ));

    let (report, _) = h.run(&TaskInput::default()).await;

    assert_eq!(
        report.outcome,
        Outcome::ModelRejected {
            message: "model `qwen3-coder:30b` does not support tool calling, which the agent needs; set `model` in .ollama-turbo.yml to a model with tool support (for example qwen3-coder:30b)".into(),
            error: JobError::RunnerBadConfig,
        }
    );
    assert_eq!(h.fake.calls().len(), 1, "not retried");
}

#[tokio::test]
async fn a_missing_model_says_how_to_pull_it() {
    let h = Harness::new(BuiltinTask::Refactor, FILES).await;
    h.fake.push(Reply::error(
        404,
        "model \"qwen3-coder:30b\" not found, try pulling it first",
    ));

    let (report, _) = h.run(&TaskInput::default()).await;

    let Outcome::ModelRejected { message, error } = &report.outcome else {
        panic!("{:?}", report.outcome);
    };
    assert!(
        message.contains("pull it there with `ollama pull qwen3-coder:30b`"),
        "{message}"
    );
    assert_eq!(*error, JobError::RunnerBadConfig);
    assert_eq!(h.fake.calls().len(), 1);
}
