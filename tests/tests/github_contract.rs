//! The GitHub App client against what GitHub itself refuses or answers oddly, as the fake
//! GitHub models it: text limits in GitHub's units (check-run output in bytes, bodies in
//! characters), review comments only on the diff, a `User-Agent` on every request, and a
//! 2xx answer of another shape.

use e2e::fake_github::{FakeGitHub, Fault, MANIFEST_APP_SLUG, Route};
use e2e::github_client::{REPO, SHA, check, pull, scope, start};
use shared::ids::CommitSha;
use shared::ports::{
    CheckOutput, CheckRunUpdate, CheckStatus, GitHub, GitHubError, InlineComment, NewReview,
    marker_line,
};

#[tokio::test]
async fn every_request_names_the_app_and_its_version_in_its_user_agent() {
    let (fake, client) = start().await;
    fake.set_role(REPO, "ada", "write");
    client.permission(&scope(REPO), "ada").await.expect("role");
    let requests = fake.requests();
    assert_eq!(requests.len(), 2, "a token, then the role");
    let expected = format!(
        "ollama-turbo-agent/{} (+https://github.com/apps/{MANIFEST_APP_SLUG})",
        env!("CARGO_PKG_VERSION")
    );
    for request in &requests {
        assert_eq!(request.user_agent.as_deref(), Some(expected.as_str()));
    }
    insta::assert_snapshot!("user_agent", expected);
    assert_eq!(
        ota_github::user_agent(None),
        format!("ollama-turbo-agent/{}", env!("CARGO_PKG_VERSION"))
    );
    fake.assert_nothing_unexpected();
}

#[tokio::test]
async fn the_fake_refuses_a_request_without_a_user_agent_as_github_does() {
    let fake = FakeGitHub::start().await;
    let answer = reqwest::Client::new()
        .get(format!("{}/repos/{REPO}/pulls/8", fake.base_url()))
        .send()
        .await
        .expect("an answer");
    assert_eq!(answer.status(), 403);
    let text = answer.text().await.expect("text");
    assert!(
        text.contains("Please make sure your request has a User-Agent header"),
        "{text}"
    );
    assert_eq!(fake.requests()[0].user_agent, None);
    // The refusal was the point: acknowledged, so dropping the fake doesn't fail the test.
    assert_eq!(fake.take_unexpected().len(), 1);
}

#[tokio::test]
async fn a_2xx_of_another_shape_is_one_call_and_names_the_route_and_the_field() {
    let (fake, client) = start().await;
    fake.set_pull_request(REPO, pull(8, Some(REPO)));
    fake.inject(Route::PullRequest, 1, Fault::WrongShape);
    let error = client
        .pull_request(&scope(REPO), 8)
        .await
        .expect_err("a body of another shape");
    assert!(
        matches!(error, GitHubError::UnexpectedAnswer(_)),
        "{error:?}"
    );
    assert!(!error.is_transient(), "asking again gets the same answer");
    assert_eq!(fake.requests_to(Route::PullRequest).len(), 1, "not retried");
    insta::assert_snapshot!("unexpected_answer", error.to_string());

    fake.inject(Route::CreateCheckRun, 1, Fault::WrongShape);
    let error = client
        .create_check_run(&scope(REPO), &check("ollama", "job:1"))
        .await
        .expect_err("an id that is not a number");
    assert_eq!(
        error.to_string(),
        "GitHub's answer is not what the App expects: POST /repos/{owner}/{repo}/check-runs answered 200 with a body the App cannot read: field `id`: invalid type: string \"…\", expected u64 at line 1 column 20"
    );
    assert_eq!(fake.requests_to(Route::CreateCheckRun).len(), 1);
}

/// GitHub counts a check run's `summary` and `text` in bytes: 40,000 `é` (80,000 bytes)
/// are refused with 422 "summary exceeds a maximum bytesize of 65535".
#[tokio::test]
async fn non_ascii_check_run_output_is_cut_by_bytes_and_accepted() {
    let (fake, client) = start().await;
    let mut new = check("ollama", "job:1");
    new.output = Some(CheckOutput {
        title: "Running".to_owned(),
        summary: "é".repeat(40_000),
        text: Some("🦀".repeat(20_000)),
    });
    let id = client
        .create_check_run(&scope(REPO), &new)
        .await
        .expect("created");
    let update = CheckRunUpdate {
        status: Some(CheckStatus::Completed),
        output: new.output.clone(),
        ..CheckRunUpdate::default()
    };
    client
        .update_check_run(&scope(REPO), id, &update)
        .await
        .expect("updated");
    let run = &fake.check_runs(REPO)[0];
    let summary = run.fields["output"]["summary"].as_str().expect("summary");
    let text = run.fields["output"]["text"].as_str().expect("text");
    assert!(
        summary.len() <= 65_535 && summary.len() > 65_000,
        "{}",
        summary.len()
    );
    assert!(text.len() <= 65_535 && text.ends_with("(cut to fit GitHub's limit)"));
    fake.assert_nothing_unexpected();
}

/// Comment bodies are counted in characters: 65,536 `é` fit; more are cut to that.
#[tokio::test]
async fn comment_bodies_are_cut_to_github_characters() {
    let (fake, client) = start().await;
    client
        .comment(&scope(REPO), 7, "job:1:finished", &"é".repeat(70_000))
        .await
        .expect("posted");
    let body = &fake.comments(REPO, 7)[0].body;
    assert_eq!(body.chars().count(), 65_536);
    assert!(body.ends_with(&marker_line("job:1:finished")));
    fake.assert_nothing_unexpected();
}

/// GitHub refuses a whole review when one inline comment's line is outside its file's
/// diff; the client moves such comments into the review's body with their place.
#[tokio::test]
async fn review_comments_outside_the_diff_are_folded_into_the_body() {
    let (fake, client) = start().await;
    let patch = "@@ -1,3 +1,5 @@\n pub fn fetch() {\n+    for attempt in 0..3 {\n+        let _ = attempt;\n+    }\n }";
    fake.set_pull_files(REPO, 8, &[("src/lib.rs", patch), ("logo.png", "")]);
    let comment = |path: &str, line: u64, body: &str| InlineComment {
        path: path.to_owned(),
        line,
        body: body.to_owned(),
    };
    let review = NewReview {
        commit: CommitSha::new(SHA),
        body: "Looks reasonable.".to_owned(),
        comments: vec![
            comment("src/lib.rs", 2, "Name the magic 3."),
            comment("src/lib.rs", 40, "This function is too long."),
            comment("README.md", 1, "Mention the retries."),
            comment("logo.png", 1, "A smaller image?"),
        ],
    };
    client
        .review(&scope(REPO), 8, "job:1:review", &review)
        .await
        .expect("the review is posted");
    let posted = &fake.reviews(REPO)[0];
    let comments = posted.fields["comments"].as_array().expect("comments");
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0]["path"], "src/lib.rs");
    assert_eq!(comments[0]["line"], 2);
    insta::assert_snapshot!(
        "review_body_with_folded_comments",
        posted.fields["body"].as_str().expect("body")
    );
    fake.assert_nothing_unexpected();
}
