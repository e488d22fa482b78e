//! What a comment gets back from the policy function: one reply, whatever it holds. A
//! comment acts on its first ten commands and says so when it held more; the outcomes of
//! its commands share one reply, posted once however often the event is processed; and a
//! `.ollama-turbo.yml` that cannot be read (too large, not UTF-8, on a branch that is gone,
//! in an empty repository) is a refusal the commenter reads, never a silent failure.

use e2e::fake_github::{Fault, Route};
use e2e::policy::{
    DEFAULT_BRANCH, INSTALLATION, PR, PR_HEAD, PolicyHarness, REPO, comment, envelope, pull, redact,
};
use e2e::redact::Redact;
use shared::command::MAX_COMMANDS_PER_COMMENT;
use shared::ids::InstallationId;
use shared::policy::InstallationPolicy;
use shared::ports::{AuditLog, PolicyStore};

/// A policy that lets one user start `per_hour` jobs an hour.
async fn user_limit(harness: &PolicyHarness, per_hour: u32) {
    harness
        .store
        .put_policy(&InstallationPolicy {
            installation: InstallationId(INSTALLATION),
            name: "tight".to_owned(),
            repo_pattern: "Codertocat/*".to_owned(),
            allowed_triggers: None,
            allowed_users: None,
            require_approval: None,
            max_runtime_seconds: None,
            allow_hosted_model: None,
            user_jobs_per_hour: Some(per_hour),
            installation_jobs_per_hour: None,
            allowed_overrides: None,
            token_budget: None,
            plan_first: None,
        })
        .await
        .expect("policy");
}

#[tokio::test]
async fn a_thousand_help_lines_get_one_reply() {
    let harness = PolicyHarness::start().await;

    harness
        .comment("Codertocat", &"/ollama help\n".repeat(1_000))
        .await;

    let reply = harness.the_comment();
    assert_eq!(reply.matches("**Ollama Turbo Agent commands**").count(), 1);
    insta::assert_snapshot!("thousand_help_lines", redact(&reply));
    assert_eq!(harness.github.requests_to(Route::CreateComment).len(), 1);
    assert_eq!(harness.audit().await[0].decision, "ignored");
    harness.github.assert_nothing_unexpected();
}

#[tokio::test]
async fn a_thousand_jobs_asked_in_one_comment_start_at_most_ten_and_share_one_reply() {
    let harness = PolicyHarness::start().await;
    user_limit(&harness, 3).await;

    harness
        .comment("Codertocat", &"/ollama refactor\n".repeat(1_000))
        .await;

    assert_eq!(harness.jobs(PR).await.len(), 3);
    assert_eq!(harness.execution_names().await.len(), 3);
    let reply = harness.the_comment();
    insta::assert_snapshot!(
        "thousand_jobs",
        Redact::new()
            .ids()
            .after("Try again in about ", "[minutes]")
            .apply(&reply)
    );
    // The rate limit was asked for the ten commands acted on, not for a thousand.
    let audit = harness
        .store
        .recent(InstallationId(INSTALLATION), 100)
        .await
        .expect("audit");
    let decisions = |decision: &str| audit.iter().filter(|e| e.decision == decision).count();
    assert_eq!(
        (
            decisions("accepted"),
            decisions("rate_limited"),
            decisions("ignored")
        ),
        (3, MAX_COMMANDS_PER_COMMENT - 3, 1)
    );
    harness.github.assert_nothing_unexpected();
}

#[tokio::test]
async fn commands_of_every_kind_in_one_comment_share_one_reply() {
    let harness = PolicyHarness::start().await;
    harness
        .github
        .set_pull_request(REPO, pull(PR_HEAD, Some("someone/Hello-World")));

    harness
        .comment(
            "Codertocat",
            "/ollama test\n/ollama status\n/ollama refactr\n/cancel jnope",
        )
        .await;

    insta::assert_snapshot!("every_kind", redact(&harness.the_comment()));
    harness.github.assert_nothing_unexpected();
}

#[tokio::test]
async fn a_reply_that_failed_is_posted_whole_when_the_event_comes_again() {
    let harness = PolicyHarness::start().await;
    harness
        .github
        .set_pull_request(REPO, pull(PR_HEAD, Some("someone/Hello-World")));
    let event = envelope(
        "issue_comment",
        &comment("Codertocat", "/ollama test\n/ollama help", true),
    );
    // Every attempt the client makes at the reply fails: the message is retried later.
    harness
        .github
        .inject(Route::CreateComment, 3, Fault::Status(502));
    let failed = harness.process(std::slice::from_ref(&event)).await;
    assert_eq!(failed.batch_item_failures.len(), 1);
    assert!(harness.comments(PR).is_empty());

    // The redelivery and the queue's retry: the job exists by now, and is not asked
    // for twice, but its approval request is in the one reply.
    harness.process_ok(std::slice::from_ref(&event)).await;
    harness.process_ok(std::slice::from_ref(&event)).await;

    let jobs = harness.jobs(PR).await;
    assert_eq!(jobs.len(), 1);
    let reply = harness.the_comment();
    assert!(
        reply.contains(&format!("/approve {}", jobs[0].id)),
        "{reply}"
    );
    assert!(reply.contains("**Ollama Turbo Agent commands**"), "{reply}");
}

/// The one reply to `/ollama refactor` with the default branch's config as `harness` has
/// it, after checking nothing ran.
async fn config_refusal(harness: &PolicyHarness) -> String {
    harness.comment("Codertocat", "/ollama refactor").await;
    assert!(harness.jobs(PR).await.is_empty());
    assert!(harness.execution_names().await.is_empty());
    assert_eq!(harness.audit().await[0].decision, "invalid_config");
    harness.github.assert_nothing_unexpected();
    redact(&harness.the_comment())
}

#[tokio::test]
async fn a_config_file_of_ten_megabytes_is_refused_in_a_reply() {
    let harness = PolicyHarness::start().await;
    harness.set_config(&"#".repeat(10 * 1024 * 1024));
    insta::assert_snapshot!("config_too_large", config_refusal(&harness).await);
}

#[tokio::test]
async fn a_latin1_config_file_is_refused_with_the_line_of_its_first_odd_byte() {
    let harness = PolicyHarness::start().await;
    harness.github.set_file(
        REPO,
        DEFAULT_BRANCH,
        ".ollama-turbo.yml",
        b"version: 1\n# r\xe9sum\xe9 of the tasks\n".to_vec(),
    );
    insta::assert_snapshot!("config_latin1", config_refusal(&harness).await);
}

#[tokio::test]
async fn a_utf16_config_file_is_refused_with_save_it_as_utf8() {
    let harness = PolicyHarness::start().await;
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain("version: 1\n".encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    harness
        .github
        .set_file(REPO, DEFAULT_BRANCH, ".ollama-turbo.yml", utf16);
    insta::assert_snapshot!("config_utf16", config_refusal(&harness).await);
}

#[tokio::test]
async fn a_default_branch_that_is_gone_is_refused_in_a_reply() {
    let harness = PolicyHarness::start().await;
    harness.github.remove_branch(REPO, DEFAULT_BRANCH);
    insta::assert_snapshot!("config_branch_gone", config_refusal(&harness).await);
}

#[tokio::test]
async fn an_empty_repository_is_refused_in_a_reply() {
    let harness = PolicyHarness::start().await;
    harness.github.set_empty_repository(REPO);
    insta::assert_snapshot!("config_empty_repository", config_refusal(&harness).await);
}

#[tokio::test]
async fn a_config_directory_is_refused_in_a_reply() {
    let harness = PolicyHarness::start().await;
    harness
        .github
        .set_file(REPO, DEFAULT_BRANCH, ".ollama-turbo.yml/tasks.yml", "x: 1");
    insta::assert_snapshot!("config_not_a_file", config_refusal(&harness).await);
}

#[tokio::test]
async fn a_missing_config_file_still_means_the_defaults() {
    let harness = PolicyHarness::start().await;

    harness.comment("Codertocat", "/ollama refactor").await;

    assert_eq!(harness.jobs(PR).await.len(), 1);
    assert!(harness.comments(PR).is_empty(), "accepted without a word");
    harness.github.assert_nothing_unexpected();
}
