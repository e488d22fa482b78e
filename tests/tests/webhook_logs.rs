//! What the webhook function logs, captured at every level (the AWS SDK's traces too).
//! Its own test binary: capturing logs per test races with other tests' threads.

use e2e::delivery::{Delivery, Signature};
use e2e::logs::CapturedLogs;
use e2e::webhook::{INSTALLATION, SECRET, WebhookHarness as Harness, comment};
use serde_json::{Value, json};
use tracing::instrument::WithSubscriber;

#[tokio::test]
async fn logs_name_the_delivery_and_never_carry_body_signature_or_secret() {
    let harness = Harness::start().await;
    let logs = CapturedLogs::default();
    let marker = "body-marker-that-must-not-be-logged";
    let good = Delivery::json(
        "issue_comment",
        &comment(&format!("/ollama fix {marker}")),
        SECRET,
    );
    let mistyped = Delivery::json(
        "issue_comment",
        &json!({"issue": {"number": marker}}),
        SECRET,
    );
    let forged = {
        let mut delivery = Delivery::json("issue_comment", &comment(marker), SECRET);
        delivery.signature = Signature::With("forged".to_owned());
        delivery
    };

    async {
        for delivery in [&good, &mistyped, &forged] {
            harness.post(delivery).await;
        }
    }
    .with_subscriber(logs.subscriber())
    .await;

    // Everything logged at any level, the AWS SDK's traces included.
    let text = logs.text();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("JSON log line"))
        .filter(|line| line["target"] == "shared::webhook::telemetry")
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0]["fields"]["outcome"], "queued");
    assert_eq!(
        lines[0]["fields"]["delivery"],
        good.delivery_id.clone().expect("id")
    );
    assert_eq!(lines[0]["fields"]["installation"], INSTALLATION);
    assert_eq!(lines[1]["fields"]["reason"], "malformed_payload");
    assert_eq!(
        lines[1]["fields"]["error"],
        "malformed `issue_comment` payload at `issue.number`"
    );
    assert_eq!(lines[2]["fields"]["reason"], "bad_signature");
    for secret_thing in [
        marker.to_owned(),
        SECRET.to_owned(),
        good.signature_header().expect("signed"),
        forged.signature_header().expect("signed"),
    ] {
        assert!(
            !text.contains(&secret_thing),
            "logs contain {secret_thing:?}:\n{text}"
        );
    }
}
