//! A reply that is not Ollama's chat stream is the model's answer, not an outage: the
//! client reads it once (never past the reply's size limit) and does not retry it; the
//! agent tells the model once and, when the next reply is no better, stops with a
//! permanent error. Real outages (a 503, a refused connection, an `{"error": …}` line in
//! the stream, as <https://docs.ollama.com/api/errors> describes them) are still retried.

use e2e::agent_harness::Harness;
use e2e::fake_ollama::{ChatReply, Reply};
use ota_runner::agent::{Outcome, ProgressKind, TaskInput};
use ota_runner::ollama::reply_byte_limit;
use serde_json::json;
use shared::config::BuiltinTask;
use shared::job::JobError;

const FILES: &[(&str, &str)] = &[("README.md", "# demo\n")];

fn retries(events: &[ota_runner::agent::Progress]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e.kind, ProgressKind::Retrying { .. }))
        .count()
}

#[tokio::test]
async fn garbage_twice_fails_the_run_as_bad_output_after_one_more_turn() {
    let h = Harness::new(BuiltinTask::Docs, FILES).await;
    for _ in 0..6 {
        h.fake
            .push(Reply::garbage(&["I will now edit the file", "<tool_call>"]));
    }

    let (report, events) = h.run(&TaskInput::default()).await;

    assert_eq!(
        h.fake.calls().len(),
        2,
        "one more turn for the model, never retried as an outage"
    );
    assert_eq!(retries(&events), 0);
    let Outcome::UnreadableReplies { message } = &report.outcome else {
        panic!("{:?}", report.outcome);
    };
    assert!(
        message.starts_with("the model's reply could not be read: a line is not a chat object"),
        "{message}"
    );
    assert!(message.contains("I will now edit the file"), "{message}");
    let error = report.outcome.job_error().expect("an error");
    assert_eq!(error, JobError::RunnerAgentGaveUp);
    assert!(!error.is_transient(), "the workflow must not retry it");
    // The second call told the model what went wrong.
    let note = h.fake.calls()[1].messages.last().cloned().expect("a note");
    assert_eq!(note["role"], "user");
    assert!(
        note["content"]
            .as_str()
            .is_some_and(|t| t.starts_with("Your last reply could not be read")),
        "{note}"
    );
}

#[tokio::test]
async fn one_bad_reply_is_forgiven_when_the_next_one_is_readable() {
    let h = Harness::new(BuiltinTask::Docs, FILES).await;
    h.fake
        .push(Reply::garbage(&[
            "{\"message\": {\"content\": \"unterminated",
        ]))
        .push(ChatReply::read_file("README.md"))
        .push(Reply::garbage(&["not json either"]))
        .push(ChatReply::finish("Done."));

    let (report, events) = h.run(&TaskInput::default()).await;

    assert_eq!(
        report.outcome,
        Outcome::Finished {
            summary: "Done.".into()
        }
    );
    assert_eq!(h.fake.calls().len(), 4);
    assert_eq!(retries(&events), 0);
}

#[tokio::test]
async fn a_reply_that_never_ends_is_read_up_to_the_limit_once() {
    let h = Harness::new(BuiltinTask::Docs, FILES).await;
    let hundred_mb = 100 * 1024 * 1024;
    h.fake
        .push(Reply::flood(hundred_mb))
        .push(Reply::flood(hundred_mb));

    let (report, events) = h.run(&TaskInput::default()).await;

    let limit = reply_byte_limit(h.spec.max_tokens) as u64;
    let Outcome::UnreadableReplies { message } = &report.outcome else {
        panic!("{:?}", report.outcome);
    };
    assert!(
        message.contains(&format!("it passed {limit} bytes without ending")),
        "{message}"
    );
    assert_eq!(h.fake.calls().len(), 2, "each reply read once");
    assert_eq!(retries(&events), 0);
    // What the fake handed to the connection: the two replies up to the limit, plus what
    // the sockets' buffers took before the client hung up; nowhere near 2 × 100 MB.
    let sent = h.fake.flood_bytes_sent();
    assert!(
        sent < 2 * (limit + 16 * 1024 * 1024),
        "{sent} bytes sent for a limit of {limit}"
    );
}

#[tokio::test]
async fn outages_are_still_retried() {
    let h = Harness::new(BuiltinTask::Docs, FILES).await;
    h.fake
        .push(Reply::error(503, "server busy, please try again"))
        .push(Reply::lines_without_done(&[
            json!({"message": {"role": "assistant", "content": "Hel"}, "done": false}),
            json!({"error": "an error was encountered while running the model"}),
        ]))
        .push(ChatReply::finish("Done."));

    let (report, events) = h.run(&TaskInput::default()).await;

    assert_eq!(
        report.outcome,
        Outcome::Finished {
            summary: "Done.".into()
        }
    );
    assert_eq!(h.fake.calls().len(), 3);
    assert_eq!(retries(&events), 2);
    assert_eq!(report.turns, 1, "retries are not turns");
}
