//! The sample events in `events/` go through the function they are for and get the
//! answer `events/README.md` promises.

use e2e::delivery::function_url_request;
use e2e::fixtures::root;
use e2e::webhook::WebhookHarness;
use serde_json::Value;
use shared::envelope::Envelope;

const SAMPLE_SECRET: &str = "sample webhook secret";

#[tokio::test]
async fn webhook_sample_events_get_the_documented_answers() {
    let harness = WebhookHarness::start_with_secret(SAMPLE_SECRET, |_| {}).await;
    let expected = [
        ("issue_comment.json", 202),
        ("pull_request_opened.json", 202),
        ("push.json", 202),
        ("ping.json", 200),
    ];
    let dir = root().join("events/webhook");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("events/webhook")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    files.sort();
    let mut listed: Vec<String> = expected
        .iter()
        .map(|(file, _)| (*file).to_owned())
        .collect();
    listed.sort();
    assert_eq!(
        files, listed,
        "every sample event has an expected answer here"
    );

    for (file, status) in expected {
        let text = std::fs::read_to_string(dir.join(file)).expect("sample event");
        let event: Value = serde_json::from_str(&text).expect("sample event is JSON");
        let response = webhook_function::handle(&harness.intake, function_url_request(event)).await;
        assert_eq!(response.status().as_u16(), status, "{file}");
    }
    let queued: Vec<Envelope> = harness
        .drain()
        .await
        .iter()
        .map(|message| serde_json::from_str(&message.body).expect("envelope"))
        .collect();
    assert_eq!(queued.len(), 3);
    assert!(
        queued
            .iter()
            .all(|envelope| envelope.installation.is_some())
    );
}
