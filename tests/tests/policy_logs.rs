//! What the policy function logs, captured at every level (the SDKs' and the HTTP
//! client's traces too): the App's private key, its JWTs and installation tokens never
//! appear. Its own test binary: capturing logs per test races with other tests' threads.

use e2e::fake_github::{FakeGitHub, Fault, Route};
use e2e::logs::CapturedLogs;
use e2e::policy::{PR, PolicyHarness, comment, envelope};
use secrecy::ExposeSecret;
use shared::excerpt::EXCERPT_CHARS;
use tracing::instrument::WithSubscriber;

#[tokio::test]
async fn no_key_jwt_or_token_is_ever_logged() {
    let logs = CapturedLogs::default();
    let harness = PolicyHarness::start()
        .with_subscriber(logs.subscriber())
        .await;
    harness
        .github
        .inject(Route::CreateComment, 1, Fault::Status(502));

    async {
        harness
            .process_ok(&[
                envelope(
                    "issue_comment",
                    &comment("Codertocat", "/ollama refactor", true),
                ),
                envelope(
                    "issue_comment",
                    &comment("Codertocat", "/ollama help", true),
                ),
            ])
            .await;
    }
    .with_subscriber(logs.subscriber())
    .await;

    let text = logs.text();
    assert!(
        text.contains("policy decision"),
        "the decision was logged:\n{text}"
    );
    assert!(!harness.jobs(PR).await.is_empty());
    // The decision is counted as an EMF line of its own: one accepted job.
    let decisions = logs.metric("PolicyDecisions");
    let accepted: Vec<_> = decisions
        .iter()
        .filter(|doc| doc["Decision"] == "accepted")
        .collect();
    assert_eq!(accepted.len(), 1, "{decisions:#?}");
    assert_eq!(accepted[0]["PolicyDecisions"], 1);
    assert_eq!(
        accepted[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        serde_json::json!([["Decision"]])
    );
    let tokens = harness.github.minted_tokens();
    assert!(!tokens.is_empty());
    for token in tokens {
        assert!(
            !text.contains(&token.token),
            "an installation token was logged"
        );
    }
    let key = FakeGitHub::app_credentials().private_key;
    for line in key.expose_secret().lines().filter(|line| line.len() > 20) {
        assert!(!text.contains(line), "the App's private key was logged");
    }
    // The base64 of an RS256 JWT header: no App JWT in the logs.
    assert!(!text.contains("eyJhbGciOiJSUzI1NiI"), "a JWT was logged");
    assert!(!text.contains("eyJ0eXAiOiJKV1Qi"), "a JWT was logged");
}

#[tokio::test]
async fn a_long_comment_line_is_logged_as_an_excerpt() {
    let logs = CapturedLogs::default();
    let harness = PolicyHarness::start()
        .with_subscriber(logs.subscriber())
        .await;
    // As long as GitHub lets a comment be, in two-byte characters.
    let pasted = "é".repeat(65_000);

    async {
        harness
            .process_ok(&[envelope(
                "issue_comment",
                &comment("Codertocat", &format!("/ollama refactor {pasted}"), true),
            )])
            .await;
    }
    .with_subscriber(logs.subscriber())
    .await;

    let text = logs.text();
    assert!(text.contains("policy decision"), "{text}");
    assert!(
        text.contains("characters)"),
        "the excerpt says how long the line was"
    );
    // Whatever logged the command line (the decision, a span, an error) kept its start.
    let most_quoted = text
        .lines()
        .map(|line| line.matches('é').count())
        .max()
        .unwrap_or(0);
    assert!(most_quoted > 0, "the excerpt is logged as written");
    assert!(
        most_quoted <= EXCERPT_CHARS,
        "a log line quotes {most_quoted} characters of the comment"
    );
    let audit = harness.audit().await;
    assert!(
        audit[0].command.chars().count() < 300,
        "{}",
        audit[0].command
    );
}
