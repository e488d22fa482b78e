//! The webhook function end to end: signed deliveries, shaped as Function URL events,
//! through the real handler, into a FIFO queue and against a secret served by moto.

use e2e::aws;
use e2e::delivery::{Delivery, Signature};
use e2e::fixtures;
use e2e::webhook::{APP_SLUG, INSTALLATION, SECRET, WebhookHarness as Harness, comment, post_to};
use serde_json::{Value, json};
use shared::envelope::{Envelope, EventName, Subject};
use shared::webhook::intake::Intake;
use shared::webhook::secrets::{DEFAULT_MIN_REFRESH_INTERVAL, WebhookSecrets};

#[tokio::test]
async fn a_signed_comment_is_queued_with_its_delivery_id_and_answered_202() {
    let harness = Harness::start().await;
    let payload = comment("/ollama refactor the auth module");
    let delivery = Delivery::json("issue_comment", &payload, SECRET);

    let (status, body) = harness.post(&delivery).await;

    assert_eq!(status, 202, "{body}");
    let delivery_id = delivery.delivery_id.clone().expect("id");
    assert_eq!(body, json!({ "status": "queued", "delivery": delivery_id }));
    let messages = harness.drain().await;
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0].deduplication_id.as_deref(),
        Some(delivery_id.as_str())
    );
    let repo_id = payload["repository"]["id"].as_u64().expect("repo id");
    assert_eq!(messages[0].group_id, Some(format!("repo-{repo_id}")));
    let envelope: Envelope = serde_json::from_str(&messages[0].body).expect("envelope");
    assert_eq!(envelope.delivery.as_str(), delivery_id);
    assert_eq!(envelope.event, EventName::IssueComment);
    assert_eq!(envelope.installation.map(|id| id.0), Some(INSTALLATION));
    let Subject::Comment(comment) = envelope.subject else {
        panic!("not a comment: {:?}", envelope.subject)
    };
    assert_eq!(comment.body, "/ollama refactor the auth module");
    assert_eq!(
        comment.id,
        payload["comment"]["id"].as_u64().expect("comment id")
    );
    assert_eq!(
        comment.number,
        payload["issue"]["number"].as_u64().expect("number")
    );
    assert!(!comment.body_truncated);
}

#[tokio::test]
async fn every_example_of_every_supported_event_is_accepted_and_normalized() {
    let harness = Harness::start().await;
    let mut checked = 0;
    for event in EventName::ALL {
        let examples = fixtures::examples(event.as_str());
        assert!(!examples.is_empty(), "no examples of {event}");
        for raw in examples {
            // As published: some lack `installation` (they come from repository
            // webhooks); they are still accepted, then dropped with a reason.
            let (status, body) = harness
                .post(&Delivery::json(event.as_str(), &raw, SECRET))
                .await;
            assert!(status == 200 || status == 202, "{event}: {status} {body}");
            let queued = harness.queued().await.len();
            assert_eq!(queued, usize::from(status == 202), "{event}: {body}");

            // As a GitHub App receives them: queued exactly when the action leads to work.
            let payload = fixtures::as_app_delivery(raw, INSTALLATION);
            let delivery = Delivery::json(event.as_str(), &payload, SECRET);
            let (status, body) = harness.post(&delivery).await;
            let action = payload["action"].as_str();
            let handled = event
                .handled_actions()
                .is_none_or(|actions| action.is_some_and(|action| actions.contains(&action)));
            let expect_queued = handled && event != EventName::Ping;
            assert_eq!(
                status,
                if expect_queued { 202 } else { 200 },
                "{event}.{action:?}: {body}"
            );
            let queued = harness.queued().await;
            if !expect_queued {
                assert!(queued.is_empty(), "{event}.{action:?} queued {queued:?}");
                assert!(
                    body["status"] == "ignored" || body["status"] == "pong",
                    "{body}"
                );
                continue;
            }
            assert_eq!(queued.len(), 1, "{event}.{action:?}");
            let envelope = &queued[0];
            assert_eq!(
                Some(envelope.delivery.as_str()),
                delivery.delivery_id.as_deref()
            );
            assert_eq!(envelope.event, event);
            assert_eq!(envelope.action.as_deref(), action);
            assert_eq!(
                envelope.installation.map(|id| id.0),
                payload["installation"]["id"].as_u64()
            );
            assert_eq!(
                envelope
                    .repository
                    .as_ref()
                    .map(|repo| repo.full_name.as_str()),
                payload["repository"]["full_name"].as_str()
            );
            assert_eq!(
                Some(envelope.sender.login.as_str()),
                payload["sender"]["login"].as_str()
            );
            checked += 1;
        }
    }
    // Enough handled examples went all the way through to mean something.
    assert!(checked >= 40, "only {checked} examples were queued");
}

#[tokio::test]
async fn form_encoded_deliveries_are_queued_like_json_ones() {
    let harness = Harness::start().await;
    let payload = comment("/ollama docs");
    let mut delivery = Delivery::form("issue_comment", &payload, SECRET);
    delivery.base64 = true;

    let (status, body) = harness.post(&delivery).await;

    assert_eq!(status, 202, "{body}");
    let queued = harness.queued().await;
    assert_eq!(queued.len(), 1);
    let Subject::Comment(comment) = &queued[0].subject else {
        panic!("not a comment")
    };
    assert_eq!(comment.body, "/ollama docs");
}

#[tokio::test]
async fn a_five_megabyte_push_fits_in_one_queue_message() {
    let harness = Harness::start().await;
    let mut payload = fixtures::as_app_delivery(fixtures::example("push", None), INSTALLATION);
    let commit = payload["commits"][0].clone();
    let mut commits = Vec::new();
    let mut size = 0;
    while size < 5 * 1024 * 1024 {
        let mut commit = commit.clone();
        commit["message"] = json!("x".repeat(2000));
        size += commit.to_string().len();
        commits.push(commit);
    }
    let commit_count = commits.len();
    payload["commits"] = json!(commits);
    let delivery = Delivery::json("push", &payload, SECRET);
    assert!(delivery.body.len() >= 5 * 1024 * 1024);

    let (status, body) = harness.post(&delivery).await;

    assert_eq!(status, 202, "{body}");
    let messages = harness.drain().await;
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0].body.len() < 4096,
        "envelope is {} bytes",
        messages[0].body.len()
    );
    let envelope: Envelope = serde_json::from_str(&messages[0].body).expect("envelope");
    let Subject::Push(push) = envelope.subject else {
        panic!("not a push")
    };
    assert_eq!(push.commit_count, commit_count);
    assert_eq!(
        push.after.as_str(),
        payload["after"].as_str().expect("after")
    );
}

#[tokio::test]
async fn the_same_delivery_twice_leaves_one_message() {
    let harness = Harness::start().await;
    let delivery = Delivery::json("issue_comment", &comment("/ollama test"), SECRET);

    let first = harness.post(&delivery).await;
    let again = harness.post(&delivery).await;

    assert_eq!(first.0, 202);
    assert_eq!(again.0, 202, "a redelivery is acknowledged too");
    assert_eq!(harness.queued().await.len(), 1);
}

#[tokio::test]
async fn the_apps_own_comments_are_dropped() {
    let harness = Harness::start().await;
    let mut payload = comment("Job queued. /ollama help lists what I can do.");
    payload["sender"]["login"] = json!(format!("{APP_SLUG}[bot]"));
    payload["sender"]["type"] = json!("Bot");

    let (status, body) = harness
        .post(&Delivery::json("issue_comment", &payload, SECRET))
        .await;

    assert_eq!(status, 200);
    assert_eq!(body["status"], "ignored");
    assert_eq!(body["reason"], "caused by the App itself");
    assert!(harness.queued().await.is_empty());
}

#[tokio::test]
async fn a_completed_suite_is_the_apps_own_when_the_app_owns_the_suite_not_the_commit() {
    let harness = Harness::start().await;
    let suite = |owner: &str, pusher: &str| {
        let mut payload = fixtures::as_app_delivery(
            fixtures::example("check_suite", Some("completed")),
            INSTALLATION,
        );
        payload["check_suite"]["conclusion"] = json!("failure");
        payload["check_suite"]["app"]["slug"] = json!(owner);
        payload["sender"]["login"] = json!(pusher);
        payload["sender"]["type"] = json!(if pusher.ends_with("[bot]") {
            "Bot"
        } else {
            "User"
        });
        Delivery::json("check_suite", &payload, SECRET)
    };
    let bot = format!("{APP_SLUG}[bot]");

    // The App's own suite ended (one of its jobs failed): dropped, whoever pushed.
    let (status, body) = harness.post(&suite(APP_SLUG, "Codertocat")).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (200, Some("caused by the App itself"))
    );
    // CI's suite on the App's own commit: CI's verdict on its fix, queued.
    let (status, body) = harness.post(&suite("github-actions", &bot)).await;
    assert_eq!(status, 202, "{body}");
    let queued = harness.drain().await;
    assert_eq!(queued.len(), 1);
    let envelope: Envelope = serde_json::from_str(&queued[0].body).expect("envelope");
    let Subject::CheckSuite(suite) = envelope.subject else {
        panic!("not a check suite: {:?}", envelope.subject)
    };
    assert_eq!(suite.conclusion.as_deref(), Some("failure"));
    assert_eq!(suite.app_slug.as_deref(), Some("github-actions"));
    assert!(suite.head_author.is_some());
}

#[tokio::test]
async fn other_bots_comments_are_not_dropped_at_the_edge() {
    let harness = Harness::start().await;
    let mut payload = comment("/ollama fix");
    payload["sender"]["login"] = json!("dependabot[bot]");
    payload["sender"]["type"] = json!("Bot");

    let (status, _) = harness
        .post(&Delivery::json("issue_comment", &payload, SECRET))
        .await;

    // The policy stage decides about other bots; the edge only stops self-talk.
    assert_eq!(status, 202);
    assert_eq!(harness.queued().await.len(), 1);
}

#[tokio::test]
async fn ping_unsupported_events_and_edits_are_answered_200_and_not_queued() {
    let harness = Harness::start().await;
    let ping = fixtures::example("ping", None);
    let edited = fixtures::as_app_delivery(
        fixtures::example("issue_comment", Some("edited")),
        INSTALLATION,
    );
    let cases = [
        (Delivery::json("ping", &ping, SECRET), "pong", None),
        (
            Delivery::json("star", &json!({"action": "created"}), SECRET),
            "ignored",
            Some("event `star` is not one the App handles"),
        ),
        (
            Delivery::json("issue_comment", &edited, SECRET),
            "ignored",
            Some("action `edited` of `issue_comment` does not lead to any work"),
        ),
    ];
    for (delivery, status_word, reason) in cases {
        let (status, body) = harness.post(&delivery).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], status_word);
        if let Some(reason) = reason {
            assert_eq!(body["reason"], reason);
        }
    }
    assert!(harness.queued().await.is_empty());
}

#[tokio::test]
async fn every_rejection_has_its_status_and_queues_nothing() {
    let harness = Harness::start_with(|settings| settings.max_body_bytes = 64 * 1024).await;
    let payload = comment("/ollama refactor");
    let good = || Delivery::json("issue_comment", &payload, SECRET);
    let unsigned = |mut delivery: Delivery, signature| {
        delivery.signature = signature;
        delivery
    };

    let mut no_event = good();
    no_event.event = None;
    let mut no_delivery = good();
    no_delivery.delivery_id = None;
    let mut bad_delivery = good();
    bad_delivery.delivery_id = Some("not a valid id".to_owned());
    let mut plain_text = good();
    plain_text.content_type = Some("text/plain".to_owned());
    let mut no_content_type = good();
    no_content_type.content_type = None;
    let huge = good().raw_body(vec![b' '; 64 * 1024 + 1]);
    let form_without_payload = {
        let mut delivery = good().raw_body(b"other=1".to_vec());
        delivery.content_type = Some("application/x-www-form-urlencoded".to_owned());
        delivery
    };

    let cases: Vec<(&str, Delivery, u16, &str)> = vec![
        (
            "no signature",
            unsigned(good(), Signature::Missing),
            401,
            "missing X-Hub-Signature-256 header",
        ),
        (
            "wrong secret",
            unsigned(good(), Signature::With("guessed".to_owned())),
            401,
            "X-Hub-Signature-256 does not match the body and the webhook secret",
        ),
        (
            "sha1 signature",
            unsigned(
                good(),
                Signature::Header("sha1=0123456789abcdef0123456789abcdef01234567".to_owned()),
            ),
            401,
            "malformed X-Hub-Signature-256 header: expected `sha256=` and 64 hex digits",
        ),
        (
            "no event header",
            no_event,
            400,
            "missing X-GitHub-Event header",
        ),
        (
            "no delivery header",
            no_delivery,
            400,
            "missing X-GitHub-Delivery header",
        ),
        (
            "bad delivery header",
            bad_delivery,
            400,
            "invalid X-GitHub-Delivery header: contains characters other than printable ASCII",
        ),
        (
            "not JSON",
            good().raw_body(b"{\"action\": \"created\", ".to_vec()),
            400,
            "`issue_comment` payload is invalid: EOF while parsing a value at line 1 column 22",
        ),
        (
            "mistyped field",
            good().raw_body(br#"{"action":"created","issue":{"number":"one"}}"#.to_vec()),
            400,
            "`issue_comment` payload is invalid at `issue.number`: invalid type: string \"one\", expected u64 at line 1 column 43",
        ),
        (
            "form without payload",
            form_without_payload,
            400,
            "form body has no `payload` field",
        ),
        ("too large", huge, 413, "body is larger than 65536 bytes"),
        (
            "plain text",
            plain_text,
            415,
            "Content-Type must be application/json or application/x-www-form-urlencoded, not `text/plain`",
        ),
        (
            "no content type",
            no_content_type,
            415,
            "Content-Type must be application/json or application/x-www-form-urlencoded, not a missing Content-Type",
        ),
    ];
    for (name, delivery, expected_status, expected_error) in cases {
        let (status, body) = harness.post(&delivery).await;
        assert_eq!(status, expected_status, "{name}: {body}");
        assert_eq!(body["status"], "rejected", "{name}");
        assert_eq!(body["error"], expected_error, "{name}");
    }
    assert!(harness.queued().await.is_empty());
}

#[tokio::test]
async fn a_queue_that_cannot_be_reached_gets_503_so_github_redelivers() {
    let harness = Harness::start().await;
    let unreachable = aws::config_for(&format!("http://127.0.0.1:{}", aws::closed_port())).await;
    let intake = Intake::new(
        ota_aws::SqsEventQueue::new(
            aws_sdk_sqs::Client::new(&unreachable),
            &harness.settings.queue_url,
        ),
        WebhookSecrets::new(
            ota_aws::SecretsManagerSecret::new(
                harness.secrets.clone(),
                &harness.settings.secret_arn,
            ),
            DEFAULT_MIN_REFRESH_INTERVAL,
        ),
        Default::default(),
    );

    let (status, body) = post_to(
        &intake,
        &Delivery::json("issue_comment", &comment("/ollama fix"), SECRET),
    )
    .await;

    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "the event queue is unavailable; retry later");
}

#[tokio::test]
async fn a_missing_queue_gets_503() {
    let harness = Harness::start_with(|settings| {
        settings.queue_url = settings.queue_url.replace("intake", "deleted");
    })
    .await;

    let (status, _) = harness
        .post(&Delivery::json(
            "issue_comment",
            &comment("/ollama fix"),
            SECRET,
        ))
        .await;

    assert_eq!(status, 503);
}

#[tokio::test]
async fn an_unreadable_secret_gets_503_not_401() {
    let harness = Harness::start_with(|settings| settings.secret_arn.push_str("-missing")).await;

    let (status, body) = harness
        .post(&Delivery::json(
            "issue_comment",
            &comment("/ollama fix"),
            SECRET,
        ))
        .await;

    assert_eq!(status, 503, "{body}");
    assert_eq!(
        body["error"],
        "the webhook secret could not be read; retry later"
    );
    assert!(harness.queued().await.is_empty());
}

#[tokio::test]
async fn after_a_rotation_new_and_previous_secrets_are_accepted() {
    let harness = Harness::start().await;
    let payload = comment("/ollama refactor");
    let (status, _) = harness
        .post(&Delivery::json("issue_comment", &payload, SECRET))
        .await;
    assert_eq!(status, 202, "the container has read the first secret");

    let rotated = "rotated webhook secret";
    aws::rotate_secret(&harness.secrets, &harness.settings.secret_arn, rotated).await;

    let (new, _) = harness
        .post(&Delivery::json("issue_comment", &payload, rotated))
        .await;
    let (old, _) = harness
        .post(&Delivery::json("issue_comment", &payload, SECRET))
        .await;
    let (other, _) = harness
        .post(&Delivery::json("issue_comment", &payload, "neither"))
        .await;
    assert_eq!((new, old, other), (202, 202, 401));
    assert_eq!(harness.queued().await.len(), 3);
}

#[tokio::test]
async fn metrics_count_received_queued_and_rejections_by_reason() {
    let harness = Harness::start().await;
    let mut forged = Delivery::json("issue_comment", &comment("/ollama fix"), SECRET);
    forged.signature = Signature::With("forged".to_owned());
    let request = forged.to_lambda_request();
    let (parts, body) = request.into_parts();
    let receipt = harness.intake.receive(&parts.headers, body.as_ref()).await;

    let line = lambda_support::metrics::receipt_line(&receipt, 1_795_000_000_000);

    let doc: Value = serde_json::from_str(&line).expect("EMF is JSON");
    assert_eq!(doc["Received"], 1);
    assert_eq!(doc["Queued"], 0);
    assert_eq!(doc["Rejected"], 1);
    assert_eq!(doc["Reason"], "bad_signature");
    assert_eq!(doc["Outcome"], "rejected");
    let directives = &doc["_aws"]["CloudWatchMetrics"];
    assert_eq!(directives[1]["Dimensions"], json!([[], ["Reason"]]));
    assert_eq!(directives[0]["Namespace"], "OllamaTurboAgent");
}
