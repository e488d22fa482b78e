//! The fake GitHub is as strict as GitHub: requests are checked against GitHub's REST
//! description (route, query, JSON body), tokens against production's endpoint →
//! permission table, and answers come in the full shape the description gives them. A
//! refused request answers as GitHub does and fails the test that made it.

use e2e::fake_github::FakeGitHub;
use e2e::github_client::{REPO, scope, start};
use ota_github::{Access, TokenPermissions};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use shared::ports::GitHub;

/// A raw request to the fake with a token of `permissions`: (status, body).
async fn raw(
    fake: &FakeGitHub,
    permissions: &TokenPermissions,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let client = fake.client();
    let token = client
        .installation_token(&scope(REPO), permissions)
        .await
        .expect("a token");
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", fake.base_url()))
        .header(
            "authorization",
            format!("token {}", token.secret().expose_secret()),
        )
        .header("accept", "application/vnd.github+json")
        // GitHub refuses a request without one before anything else.
        .header("user-agent", "ota-fake-github-test");
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the fake answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn repo_path(rest: &str) -> String {
    format!("/repos/{REPO}/{rest}")
}

#[tokio::test]
async fn a_route_github_does_not_have_answers_404_and_is_unexpected() {
    let (fake, _client) = start().await;
    let all = TokenPermissions::policy_and_report();
    let (status, body) = raw(
        &fake,
        &all,
        reqwest::Method::GET,
        &repo_path("nonsense/1"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["message"], "Not Found");
    assert!(body["documentation_url"].is_string(), "{body}");
    let (status, _) = raw(
        &fake,
        &all,
        reqwest::Method::PUT,
        &repo_path("check-runs"),
        None,
    )
    .await;
    assert_eq!(status, 404, "a method the route does not have");
    assert_eq!(fake.take_unexpected().len(), 2);
}

#[tokio::test]
async fn a_body_the_description_refuses_answers_422_and_is_unexpected() {
    let (fake, _client) = start().await;
    let checks = TokenPermissions::new().with("checks", Access::Write);
    for (body, why) in [
        (
            json!({ "name": "ota", "head_sha": "abc", "status": "bogus" }),
            "status",
        ),
        (json!({ "name": "ota" }), "head_sha"),
        (json!({ "name": 7, "head_sha": "abc" }), "name"),
    ] {
        let (status, answer) = raw(
            &fake,
            &checks,
            reqwest::Method::POST,
            &repo_path("check-runs"),
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 422, "{body}");
        let message = answer["message"].as_str().unwrap_or("");
        assert!(message.starts_with("Invalid request.\n\n"), "{message}");
        assert!(message.contains(why), "{message}");
        assert_eq!(
            answer["documentation_url"],
            "https://docs.github.com/rest/reference/checks#create-a-check-run"
        );
        let refused = fake.take_unexpected();
        assert_eq!(refused.len(), 1, "{body}");
    }
    assert!(fake.check_runs(REPO).is_empty(), "nothing was created");

    let (status, _) = raw(
        &fake,
        &checks,
        reqwest::Method::GET,
        &repo_path("commits/abc/check-runs?filter=newest"),
        None,
    )
    .await;
    assert_eq!(status, 422, "a query value outside the enum");
    assert_eq!(fake.take_unexpected().len(), 1);
}

#[tokio::test]
async fn a_query_parameter_github_ignores_is_answered_but_unexpected() {
    let (fake, _client) = start().await;
    let pulls = TokenPermissions::new().with("pull_requests", Access::Read);
    let (status, _) = raw(
        &fake,
        &pulls,
        reqwest::Method::GET,
        &repo_path("pulls?head=octo-org:x&author=me"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let unexpected = fake.take_unexpected();
    assert_eq!(unexpected.len(), 1);
    assert!(
        unexpected[0]
            .refused
            .as_deref()
            .unwrap_or("")
            .contains("author"),
        "{unexpected:?}"
    );
}

#[tokio::test]
async fn a_token_without_the_endpoints_permission_gets_403() {
    let (fake, _client) = start().await;
    fake.set_issue(REPO, 7, "Title", "Body");
    let pulls_only = TokenPermissions::new().with("pull_requests", Access::Write);
    let (status, body) = raw(
        &fake,
        &pulls_only,
        reqwest::Method::GET,
        &repo_path("issues/7"),
        None,
    )
    .await;
    assert_eq!(status, 403, "reading an issue takes issues: read");
    assert_eq!(body["message"], "Resource not accessible by integration");
    assert_eq!(fake.take_unexpected().len(), 1);

    // A comment takes issues or pull requests: write, either will do.
    let (status, _) = raw(
        &fake,
        &pulls_only,
        reqwest::Method::POST,
        &repo_path("issues/7/comments"),
        Some(json!({ "body": "hi" })),
    )
    .await;
    assert_eq!(status, 201);
    fake.assert_nothing_unexpected();
}

#[tokio::test]
async fn the_runners_client_reads_the_issue_and_the_pull_requests_diff() {
    let fake = FakeGitHub::start().await;
    fake.set_issue(REPO, 7, "Fix the parser", "It breaks on tabs.");
    fake.set_pull_files(REPO, 7, &[("src/a.rs", "@@ -1 +1 @@\n-a\n+b")]);
    let runner = fake
        .app()
        .client(TokenPermissions::runner())
        .expect("the runner's client");
    let text = runner
        .thread_text(&scope(REPO), 7, true)
        .await
        .expect("the runner may read the issue");
    assert_eq!(text.title, "Fix the parser");
    assert!(text.diff.unwrap_or_default().contains("+b"));
    fake.assert_nothing_unexpected();
}

#[tokio::test]
async fn answers_have_the_full_shape_github_gives_them() {
    let (fake, _client) = start().await;
    fake.set_file(REPO, "", "docs/readme.md", "hello");
    fake.set_issue(REPO, 7, "Title", "Body");
    let all = TokenPermissions::policy_and_report().with("issues", Access::Write);
    let (status, file) = raw(
        &fake,
        &all,
        reqwest::Method::GET,
        &repo_path("contents/docs/readme.md"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    for field in [
        "sha",
        "url",
        "git_url",
        "html_url",
        "download_url",
        "_links",
        "size",
        "encoding",
    ] {
        assert!(
            file.get(field).is_some(),
            "contents answer without {field}: {file}"
        );
    }
    assert_eq!(file["size"], 5);
    let (status, issue) = raw(
        &fake,
        &all,
        reqwest::Method::GET,
        &repo_path("issues/7"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    for field in [
        "id",
        "node_id",
        "url",
        "html_url",
        "state",
        "user",
        "labels",
        "created_at",
    ] {
        assert!(
            issue.get(field).is_some(),
            "issue answer without {field}: {issue}"
        );
    }
    assert_eq!(issue["title"], "Title");
    fake.assert_nothing_unexpected();
}
