//! Reviews on every push, end to end through `ota serve`: the second review looks only at
//! the commits since the head the first one reviewed, says so, repeats none of the inline
//! comments it made before, and the App's comment about the review is updated in place.

use e2e::delivery::Delivery;
use e2e::fake_github::{FakeComment, FakePull};
use e2e::fake_ollama::ChatReply;
use e2e::git_server::DEFAULT_BRANCH;
use e2e::ota_server::{
    JOB_TIMEOUT, OtaServer, PR, PR_BRANCH, REPO, SECRET, ServeWorld, eventually,
};
use e2e::policy::pull_request_event;
use e2e::runner_world::{LIB, TASK_MODEL};
use serde_json::{Value, json};

const OTA: &str = env!("CARGO_BIN_EXE_ota");

/// The pull request's diff before the second push, and what the second push changed.
const FIRST_PATCH: &str = "@@ -1,3 +1,5 @@\n pub fn fetch() {\n+    for attempt in 0..3 {\n+        let _ = attempt;\n+    }\n }\n";
const SECOND_PATCH: &str = "@@ -1,5 +1,6 @@\n pub fn fetch() {\n     for attempt in 0..3 {\n         let _ = attempt;\n+        sleep(attempt);\n     }\n }\n";

/// The model's review: `comments` as `(line, body)` on `src/lib.rs`.
fn review(summary: &str, comments: &[(u64, &str)]) -> ChatReply {
    let comments: Vec<Value> = comments
        .iter()
        .map(|(line, body)| json!({"path": "src/lib.rs", "line": line, "body": body}))
        .collect();
    ChatReply::call(
        "submit_review",
        json!({"summary": summary, "comments": comments}),
    )
}

fn pull_request(action: &str, head: &str) -> Delivery {
    let mut payload = pull_request_event(action, head);
    payload["repository"]["default_branch"] = json!(DEFAULT_BRANCH);
    payload["pull_request"]["head"]["ref"] = json!(PR_BRANCH);
    payload["pull_request"]["base"]["ref"] = json!(DEFAULT_BRANCH);
    Delivery::json("pull_request", &payload, SECRET)
}

/// The App's comments saying a job is done, once one of them contains `needle`.
async fn done(world: &ServeWorld, server: &OtaServer, needle: &str) -> Vec<FakeComment> {
    eventually(server, "the job's comment", JOB_TIMEOUT, || {
        let done: Vec<_> = world
            .github
            .comments(REPO, PR)
            .into_iter()
            .filter(|comment| comment.body.contains("is done"))
            .collect();
        done.iter()
            .any(|comment| comment.body.contains(needle))
            .then_some(done)
    })
    .await
}

#[tokio::test]
async fn a_review_after_a_push_covers_the_new_commits_and_repeats_nothing() {
    let config = format!(
        "version: 1\nautomation:\n  defaults:\n    model: {TASK_MODEL}\n  triggers:\n    pr_opened:\n      tasks: [review]\n"
    );
    let world = ServeWorld::new(&[("src/lib.rs", LIB)], &config).await;
    world
        .github
        .set_pull_files(REPO, PR, &[("src/lib.rs", FIRST_PATCH)]);
    world.ollama.push(review(
        "The loop needs a name.",
        &[(2, "Name the number of attempts.")],
    ));
    let server = world.serve(OTA, &["--retry-interval-seconds", "1"]);

    assert_eq!(
        server.post(&pull_request("opened", &world.head)).await.0,
        202
    );
    eventually(&server, "the first review", JOB_TIMEOUT, || {
        (world.github.reviews(REPO).len() == 1).then_some(())
    })
    .await;
    let first_done = done(&world, &server, "with 1 inline comment").await;
    assert_eq!(first_done.len(), 1);

    // A push: the model is asked about the new commit alone and says the old thing again
    // and one new thing.
    let second = world.git.commit(
        REPO,
        PR_BRANCH,
        &[("src/lib.rs", "pub fn fetch() {\n    for attempt in 0..3 {\n        let _ = attempt;\n        sleep(attempt);\n    }\n}\n")],
        "Wait between attempts",
    );
    world.github.set_pull_request(
        REPO,
        FakePull {
            number: PR,
            state: "open".to_owned(),
            head_sha: second.clone(),
            head_ref: PR_BRANCH.to_owned(),
            base_ref: DEFAULT_BRANCH.to_owned(),
            head_repo: Some(REPO.to_owned()),
        },
    );
    world
        .github
        .set_compare_patches(REPO, &world.head, &second, &[("src/lib.rs", SECOND_PATCH)]);
    world.github.set_pull_files(
        REPO,
        PR,
        &[(
            "src/lib.rs",
            "@@ -1,3 +1,6 @@\n pub fn fetch() {\n+    for attempt in 0..3 {\n+        let _ = attempt;\n+        sleep(attempt);\n+    }\n }\n",
        )],
    );
    world.ollama.push(review(
        "Waiting helps.",
        &[
            (2, "Name the number of attempts."),
            (4, "Back off exponentially."),
        ],
    ));
    assert_eq!(
        server.post(&pull_request("synchronize", &second)).await.0,
        202
    );
    eventually(&server, "the second review", JOB_TIMEOUT, || {
        (world.github.reviews(REPO).len() == 2).then_some(())
    })
    .await;

    let reviews = world.github.reviews(REPO);
    let latest = &reviews[1].fields;
    assert_eq!(latest["commit_id"], json!(second));
    assert_eq!(
        latest["comments"],
        json!([{"path": "src/lib.rs", "line": 4, "side": "RIGHT", "body": "Back off exponentially."}]),
        "the comment made before is not repeated"
    );
    let body = latest["body"].as_str().unwrap_or_default();
    assert!(
        body.starts_with(&format!(
            "Review of the changes since {}.",
            &world.head[..7]
        )),
        "{body}"
    );
    let prompt = world
        .ollama
        .calls()
        .last()
        .map(|call| serde_json::to_string(&call.messages).unwrap())
        .expect("a chat call");
    assert!(prompt.contains("sleep(attempt);"), "{prompt}");
    assert!(
        prompt.contains("You reviewed this pull request before"),
        "{prompt}"
    );

    // One comment about the review, updated in place.
    let after = done(&world, &server, "1 made before, not repeated").await;
    assert_eq!(after.len(), 1, "{after:#?}");
    assert_eq!(after[0].id, first_done[0].id);
    assert!(
        after[0]
            .body
            .contains(&format!("the changes since {}", &world.head[..7])),
        "{}",
        after[0].body
    );
}
