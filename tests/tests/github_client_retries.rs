//! The GitHub App client's retries against the fake GitHub over a real socket: transient
//! failures retried within bounds, rate limits waited out or handed back, and writes
//! (comments, check runs, reactions) that never happen twice, even when GitHub fails
//! after doing them.

use e2e::fake_github::{APP_ID, Fault, Route};
use e2e::github_client::{
    REPO, check, post_accepted_comment, pull, scope, start, start_with_permission_fault,
};
use ota_github::RetryPolicy;
use serde_json::json;
use shared::ports::{
    CheckConclusion, CheckOutput, CheckRunUpdate, GitHub, GitHubError, Permission, Reaction,
    ReactionTarget, marker_line,
};
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_server_error_then_success_posts_one_comment() {
    let (fake, client) = start().await;
    fake.inject(Route::CreateComment, 1, Fault::Status(500));

    let id = post_accepted_comment(&client).await;

    let comments = fake.comments(REPO, 7);
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].id, id);
    assert_eq!(
        comments[0].body,
        format!("Working on it.\n\n{}", marker_line("job:1:accepted"))
    );
    assert_eq!(fake.requests_to(Route::CreateComment).len(), 2);
    let searches = fake.requests_to(Route::ListComments);
    assert_eq!(
        searches.len(),
        2,
        "looked for the comment before each post: a redelivered event may have posted it"
    );
    assert!(searches[0].query.contains_key("since"));
    fake.assert_nothing_unexpected();
}

#[tokio::test]
async fn a_failure_after_github_created_the_comment_does_not_duplicate_it() {
    let (fake, client) = start().await;
    fake.inject(Route::CreateComment, 1, Fault::AfterCommit(502));

    let id = post_accepted_comment(&client).await;

    let comments = fake.comments(REPO, 7);
    assert_eq!(comments.len(), 1, "{comments:#?}");
    assert_eq!(comments[0].id, id);
    assert_eq!(fake.requests_to(Route::CreateComment).len(), 1);
    fake.assert_nothing_unexpected();
}

#[tokio::test]
async fn a_person_quoting_the_marker_does_not_stop_the_comment() {
    let (fake, client) = start().await;
    let marker = marker_line("job:1:accepted");
    fake.add_comment(REPO, 7, "mallory", "User", &format!("> {marker}"));
    fake.inject(Route::CreateComment, 1, Fault::Status(500));

    let id = post_accepted_comment(&client).await;

    let comments = fake.comments(REPO, 7);
    assert_eq!(comments.len(), 2);
    assert_eq!(comments[1].id, id);
    assert_eq!(comments[1].user_type, "Bot");
    fake.assert_nothing_unexpected();
}

#[tokio::test]
async fn a_rate_limited_call_waits_as_told_and_succeeds() {
    let (fake, client) = start_with_permission_fault(Fault::RateLimited {
        retry_after_secs: 1,
    })
    .await;

    let started = Instant::now();
    assert_eq!(
        client.permission(&scope(REPO), "ada").await,
        Ok(Permission::Write)
    );

    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(fake.requests_to(Route::Permission).len(), 2);
    fake.assert_nothing_unexpected();
}

#[tokio::test]
async fn a_wait_past_the_budget_is_left_to_the_caller() {
    let (fake, client) = start_with_permission_fault(Fault::QuotaExhausted {
        reset_in_secs: 1800,
    })
    .await;

    let started = Instant::now();
    let error = client
        .permission(&scope(REPO), "ada")
        .await
        .expect_err("rate limited");

    let GitHubError::RateLimited {
        retry_after: Some(after),
    } = error
    else {
        panic!("expected a rate limit with a wait, got {error:?}");
    };
    assert!(
        after > Duration::from_secs(1700) && after <= Duration::from_secs(1802),
        "{after:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(fake.requests_to(Route::Permission).len(), 1);
    fake.assert_nothing_unexpected();
}

#[tokio::test]
async fn a_persistent_outage_gives_up_after_bounded_attempts() {
    let (fake, client) = start().await;
    fake.set_pull_request(REPO, pull(12, Some(REPO)));
    fake.inject(Route::PullRequest, 10, Fault::Status(503));

    let error = client
        .pull_request(&scope(REPO), 12)
        .await
        .expect_err("outage");

    assert!(matches!(error, GitHubError::Unavailable(_)), "{error:?}");
    assert!(error.is_transient());
    assert_eq!(
        fake.requests_to(Route::PullRequest).len(),
        RetryPolicy::default().max_attempts as usize
    );
    fake.assert_nothing_unexpected();
}

#[tokio::test]
async fn reactions_go_to_the_right_kind_of_comment() {
    let (fake, client) = start().await;
    let repo = scope(REPO);

    client
        .react(&repo, ReactionTarget::IssueComment(11), Reaction::Eyes)
        .await
        .expect("eyes");
    client
        .react(&repo, ReactionTarget::IssueComment(11), Reaction::Eyes)
        .await
        .expect("again");
    client
        .react(
            &repo,
            ReactionTarget::ReviewComment(12),
            Reaction::ThumbsDown,
        )
        .await
        .expect("-1");

    let reactions = fake.reactions();
    assert_eq!(reactions.len(), 2, "{reactions:#?}");
    assert_eq!(
        (reactions[0].target, reactions[0].comment_id),
        ("issue", 11)
    );
    assert_eq!(reactions[0].content, "eyes");
    assert_eq!(
        (reactions[1].target, reactions[1].comment_id),
        ("review", 12)
    );
    assert_eq!(reactions[1].content, "-1");
    fake.assert_nothing_unexpected();
}

#[tokio::test]
async fn a_check_run_is_created_once_and_updated_with_what_changed() {
    let (fake, client) = start().await;
    fake.inject(Route::CreateCheckRun, 1, Fault::AfterCommit(500));
    let repo = scope(REPO);
    let name = "Ollama Turbo Agent · refactor";

    let id = client
        .create_check_run(&repo, &check(name, "job-1"))
        .await
        .expect("check run");

    let runs = fake.check_runs(REPO);
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0].id, id);
    assert_eq!(runs[0].fields["external_id"], json!("job-1"));
    assert_eq!(runs[0].fields["status"], json!("queued"));
    assert!(!runs[0].fields.contains_key("details_url"));
    let searches = fake.requests_to(Route::ListCheckRuns);
    assert_eq!(searches.len(), 1);
    assert_eq!(
        searches[0].query.get("check_name").map(String::as_str),
        Some(name)
    );
    assert_eq!(searches[0].query.get("app_id"), Some(&APP_ID.to_string()));

    let update = CheckRunUpdate {
        conclusion: Some(CheckConclusion::Success),
        output: Some(CheckOutput {
            title: "Done".to_owned(),
            summary: "Opened #8.".to_owned(),
            text: Some("details".to_owned()),
        }),
        ..CheckRunUpdate::default()
    };
    client
        .update_check_run(&repo, id, &update)
        .await
        .expect("update");

    let patch = &fake.requests_to(Route::UpdateCheckRun)[0];
    assert_eq!(
        patch.body,
        Some(json!({
            "conclusion": "success",
            "output": { "title": "Done", "summary": "Opened #8.", "text": "details" },
        }))
    );
    assert_eq!(
        fake.check_runs(REPO)[0].fields["status"],
        json!("completed")
    );
    fake.assert_nothing_unexpected();
}

#[tokio::test]
async fn labels_are_added_and_removed_harmlessly_twice() {
    let (fake, client) = start().await;
    let repo = scope(REPO);
    fake.inject(Route::AddLabels, 1, Fault::AfterCommit(502));

    client
        .add_labels(&repo, 7, &["automation:pending"])
        .await
        .expect("add");
    client
        .add_labels(&repo, 7, &["automation:applied"])
        .await
        .expect("add");
    assert_eq!(
        fake.labels(REPO, 7),
        vec!["automation:applied", "automation:pending"]
    );

    client
        .remove_label(&repo, 7, "automation:pending")
        .await
        .expect("remove");
    client
        .remove_label(&repo, 7, "automation:pending")
        .await
        .expect("removing an absent label is done");
    assert_eq!(fake.labels(REPO, 7), vec!["automation:applied"]);
    assert_eq!(fake.requests_to(Route::AddLabels).len(), 3);
    fake.assert_nothing_unexpected();
}
