//! `/ollama resolve` end to end through `ota serve`: the pull request's base is merged
//! into its branch, the agent resolves the conflicts, and the merge commit is pushed onto
//! the pull request's branch; a resolution that leaves markers pushes nothing.

use e2e::delivery::Delivery;
use e2e::fake_github::FakePull;
use e2e::fake_ollama::ChatReply;
use e2e::git_server::DEFAULT_BRANCH;
use e2e::ota_server::{
    JOB_TIMEOUT, PR, PR_BRANCH, REPO, SECRET, ServeWorld, eventually, pr_comment,
};
use e2e::runner_world::TASK_MODEL;
use serde_json::json;

const OTA: &str = env!("CARGO_BIN_EXE_ota");

const BASE: &str = "pub const ATTEMPTS: u32 = 3;\n";
const OURS: &str = "pub const ATTEMPTS: u32 = 5;\n";
const THEIRS: &str = "pub const ATTEMPTS: u32 = 4;\npub const DELAY_MS: u64 = 100;\n";
const RESOLVED: &str = "pub const ATTEMPTS: u32 = 5;\npub const DELAY_MS: u64 = 100;\n";

/// A pull request whose branch and base both changed `src/lib.rs`: the branch's head.
async fn conflicted_world() -> (ServeWorld, String) {
    let config = format!(
        "version: 1\nautomation:\n  defaults:\n    model: {TASK_MODEL}\n  tasks:\n    resolve:\n      command: \"grep -q DELAY_MS src/lib.rs\"\n"
    );
    let world = ServeWorld::new(&[("src/lib.rs", BASE)], &config).await;
    let head = world
        .git
        .commit(REPO, PR_BRANCH, &[("src/lib.rs", OURS)], "Five attempts");
    let base = world.git.commit(
        REPO,
        DEFAULT_BRANCH,
        &[("src/lib.rs", THEIRS)],
        "Four attempts and a delay",
    );
    world.github.set_branch(REPO, DEFAULT_BRANCH, &base);
    world.github.set_pull_request(
        REPO,
        FakePull {
            number: PR,
            state: "open".to_owned(),
            head_sha: head.clone(),
            head_ref: PR_BRANCH.to_owned(),
            base_ref: DEFAULT_BRANCH.to_owned(),
            head_repo: Some(REPO.to_owned()),
        },
    );
    (world, head)
}

fn resolve_comment() -> Delivery {
    Delivery::json(
        "issue_comment",
        &pr_comment("Codertocat", "/ollama resolve"),
        SECRET,
    )
}

#[tokio::test]
async fn resolve_merges_the_base_and_pushes_the_resolution_onto_the_branch() {
    let (world, head) = conflicted_world().await;
    world
        .ollama
        .push(ChatReply::read_file("src/lib.rs"))
        .push(ChatReply::call(
            "write_file",
            json!({"path": "src/lib.rs", "content": RESOLVED}),
        ))
        .push(ChatReply::call("run_command", json!({})))
        .push(ChatReply::finish(
            "Kept five attempts and the base's delay.",
        ));
    let server = world.serve(OTA, &["--retry-interval-seconds", "1"]);

    assert_eq!(server.post(&resolve_comment()).await.0, 202);
    let merged = eventually(&server, "the merge on the branch", JOB_TIMEOUT, || {
        world
            .git
            .branch_head(REPO, PR_BRANCH)
            .filter(|now| *now != head)
    })
    .await;
    assert_eq!(world.git.show(REPO, &merged, "src/lib.rs"), RESOLVED);
    let parents = world
        .git
        .git(REPO, &["rev-list", "--parents", "-n", "1", &merged]);
    let base = world.git.branch_head(REPO, DEFAULT_BRANCH).expect("base");
    assert_eq!(
        parents.split_whitespace().skip(1).collect::<Vec<_>>(),
        [head.as_str(), base.as_str()],
        "a merge commit of the branch and its base"
    );
    let prompt = world
        .ollama
        .calls()
        .first()
        .map(|call| serde_json::to_string(&call.messages).unwrap())
        .expect("a chat call");
    assert!(
        prompt.contains("Files with conflicts:\\n- src/lib.rs"),
        "{prompt}"
    );
    // What the model read first was the file with its markers.
    let read = world.ollama.calls()[1].tool_results().join("\n");
    assert!(read.contains("<<<<<<<"), "{read}");
    assert!(world.github.opened_pulls(REPO).is_empty());
}

#[tokio::test]
async fn a_resolution_that_leaves_markers_pushes_nothing() {
    let (world, head) = conflicted_world().await;
    world
        .ollama
        .push(ChatReply::read_file("src/lib.rs"))
        .push(ChatReply::finish("Done."));
    let server = world.serve(OTA, &["--retry-interval-seconds", "1"]);

    assert_eq!(server.post(&resolve_comment()).await.0, 202);
    let comment = world
        .comment_containing(&server, "the failure comment", "conflict markers are left")
        .await;
    assert!(comment.body.contains("src/lib.rs"), "{}", comment.body);
    assert_eq!(
        world.git.branch_head(REPO, PR_BRANCH).as_deref(),
        Some(head.as_str())
    );
    assert!(world.github.opened_pulls(REPO).is_empty());
}
