//! Plan, approve, apply end to end through `ota serve`: a task with `plan: true` first
//! explores read-only and posts its plan as a comment and a check run, with no branch and
//! no pull request; `/ollama revise <notes>` plans again from the last plan and the
//! notes; `/approve` starts a job that carries out the approved plan, which the model is
//! given, and whose pull request says whose plan it carried out. A second `/approve` of the
//! same plan starts nothing.

use e2e::delivery::Delivery;
use e2e::fake_ollama::ChatReply;
use e2e::ota_server::{
    JOB_TIMEOUT, OtaServer, PR, REPO, SECRET, ServeWorld, eventually, pr_comment, refactor_request,
};
use e2e::redact::Redact;
use e2e::runner_world::{LIB, REFACTORED, TASK_MODEL};
use serde_json::json;

const OTA: &str = env!("CARGO_BIN_EXE_ota");

const PLAN: &str = "**Files**\n- `src/lib.rs`: move the loop of `fetch` into `retry_with_backoff(times)`.\n\n**Steps**\n1. Extract the loop.\n\n**Risks**\nNone.\n\n**Checks**\n`true`";
const REVISED: &str = "**Files**\n- `src/lib.rs`: move the loop of `fetch` into `retry_with_backoff(times: u32)`, keeping the count a parameter.\n\n**Steps**\n1. Extract the loop.\n\n**Risks**\nNone.\n\n**Checks**\n`true`";
const NOTES: &str = "keep the number of attempts a parameter";

fn config() -> String {
    format!(
        "version: 1\nautomation:\n  defaults:\n    model: {TASK_MODEL}\n  tasks:\n    refactor:\n      command: \"true\"\n      plan: true\n"
    )
}

async fn comment(server: &OtaServer, login: &str, body: &str) {
    let delivery = Delivery::json("issue_comment", &pr_comment(login, body), SECRET);
    assert_eq!(server.post(&delivery).await.0, 202);
}

/// The ids of the jobs `ota jobs` lists, oldest first.
fn job_ids(world: &ServeWorld) -> Vec<String> {
    let mut ids: Vec<String> = world
        .job_list(OTA)
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .collect();
    ids.reverse();
    ids
}

async fn nth_job_succeeded(world: &ServeWorld, server: &OtaServer, n: usize) -> String {
    let id = eventually(server, "the job", JOB_TIMEOUT, || {
        job_ids(world).get(n).cloned()
    })
    .await;
    eventually(server, "the job to succeed", JOB_TIMEOUT, || {
        (world.job_status(OTA, &id) == "succeeded").then_some(())
    })
    .await;
    id
}

#[tokio::test]
async fn a_plan_is_posted_revised_approved_and_carried_out() {
    let world = ServeWorld::new(&[("src/lib.rs", LIB)], &config()).await;
    let server = world.serve(OTA, &[]);

    // 1. The plan: read-only tools, no branch, no pull request.
    world
        .ollama
        .push(ChatReply::read_file("src/lib.rs"))
        .push(ChatReply::finish(PLAN));
    assert_eq!(server.post(&refactor_request("Codertocat")).await.0, 202);
    let plan_id = nth_job_succeeded(&world, &server, 0).await;
    let posted = world
        .comment_containing(&server, "the plan", "made a plan")
        .await;
    assert!(posted.body.contains(PLAN), "{}", posted.body);
    assert!(
        posted.body.contains(&format!("reply `/approve {plan_id}`")),
        "{}",
        posted.body
    );
    insta::assert_snapshot!(
        "plan_comment",
        Redact::new()
            .ids()
            .after("| Tokens |", "[tokens]")
            .after("| Time |", "[time]")
            .apply(&posted.body)
    );
    let calls = world.ollama.calls();
    let tools = calls[0].tool_names();
    assert_eq!(
        tools,
        ["list_files", "read_file", "search", "finish"],
        "read-only"
    );
    assert!(world.github.opened_pulls(REPO).is_empty());
    let check = world
        .first_completed_check_run(&server, "the plan's check run")
        .await;
    assert_eq!(
        check.fields["output"]["title"],
        "Plan ready: /approve to carry it out"
    );
    let branches = world.git.git(REPO, &["branch", "--list", "ollama/*"]);
    assert_eq!(branches.trim(), "", "a plan pushes nothing");

    // 2. Revised with notes: the model gets the last plan and the notes.
    world.ollama.push(ChatReply::finish(REVISED));
    comment(&server, "Codertocat", &format!("/ollama revise {NOTES}")).await;
    let revised_id = nth_job_succeeded(&world, &server, 1).await;
    let calls = world.ollama.calls();
    let asked = calls[2].with_role("user")[0]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(asked.contains(PLAN) && asked.contains(NOTES), "{asked}");
    world
        .comment_containing(&server, "the revised plan", "keeping the count a parameter")
        .await;

    // The first plan was revised: approving it by id is refused.
    comment(&server, "Codertocat", &format!("/approve {plan_id}")).await;
    world
        .comment_containing(&server, "the refusal", "was revised")
        .await;

    // 3. Approved: the model carries out the revised plan, which it is given.
    world
        .ollama
        .push(ChatReply::call(
            "write_file",
            json!({"path": "src/lib.rs", "content": REFACTORED}),
        ))
        .push(ChatReply::finish(
            "Extracted the retry loop.\n\n**Departures from the plan**\nNone: I followed it.",
        ));
    comment(&server, "Codertocat", "/approve").await;
    let pull = world.opened_pull(&server).await;
    assert_eq!(world.git.show(REPO, &pull.head, "src/lib.rs"), REFACTORED);
    assert!(
        pull.body.contains(&format!(
            "It carries out the plan of job `{revised_id}`, approved by @Codertocat"
        )),
        "{}",
        pull.body
    );
    let calls = world.ollama.calls();
    let asked = calls[3].with_role("user")[0]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        asked.contains(REVISED),
        "the apply run gets the approved plan: {asked}"
    );
    assert!(asked.contains("Departures from the plan"), "{asked}");
    assert!(
        calls[3].tool_names().contains(&"write_file".to_owned()),
        "the apply run may edit"
    );
    let apply_id = nth_job_succeeded(&world, &server, 2).await;
    world
        .comment_containing(
            &server,
            "the apply job's summary",
            "It carried out the plan of job",
        )
        .await;

    // 4. A second approval of the same plan starts nothing.
    comment(&server, "Codertocat", &format!("/approve {revised_id}")).await;
    let reply = world
        .comment_containing(
            &server,
            "the second approval's reply",
            "is already approved",
        )
        .await;
    assert!(
        reply.body.contains(&format!("job `{apply_id}` applies it")),
        "{}",
        reply.body
    );
    assert_eq!(job_ids(&world).len(), 3);
    assert_eq!(world.ollama.remaining(), 0);
    assert_eq!(
        world
            .github
            .comments(REPO, PR)
            .iter()
            .filter(|c| c.body.contains("made a plan"))
            .count(),
        2
    );
}

#[tokio::test]
async fn revise_without_a_plan_says_there_is_none() {
    let world = ServeWorld::new(&[("src/lib.rs", LIB)], &config()).await;
    let server = world.serve(OTA, &[]);
    comment(&server, "Codertocat", "/ollama revise make it smaller").await;
    let reply = world
        .comment_containing(&server, "the reply", "no job with a plan to revise")
        .await;
    assert!(reply.body.starts_with("@Codertocat"), "{}", reply.body);
    comment(&server, "Codertocat", "/ollama revise").await;
    let reply = world
        .comment_containing(&server, "the usage reply", "needs text after it")
        .await;
    assert!(
        reply.body.contains("/ollama revise <notes>"),
        "{}",
        reply.body
    );
    assert!(job_ids(&world).is_empty());
}

/// An installation policy's `plan_first` makes a task plan first in a repository whose
/// config does not ask for it.
#[tokio::test]
async fn an_installation_policy_can_have_a_task_plan_first() {
    let plain = format!(
        "version: 1\nautomation:\n  defaults:\n    model: {TASK_MODEL}\n  tasks:\n    refactor:\n      command: \"true\"\n"
    );
    let world = ServeWorld::new(&[("src/lib.rs", LIB)], &plain).await;
    let (server, page) = world.serve_installed(OTA, &[]).await;
    let policies = "policies:\n  - name: careful\n    repo_pattern: \"Codertocat/*\"\n    plan_first: [refactor]\n";
    let (status, _, body) = server
        .post_as_operator(&format!("{page}/policies"), &[("policies", policies)])
        .await;
    assert_eq!(status, 303, "{body}");

    world.ollama.push(ChatReply::finish(PLAN));
    assert_eq!(server.post(&refactor_request("Codertocat")).await.0, 202);
    nth_job_succeeded(&world, &server, 0).await;
    let posted = world
        .comment_containing(&server, "the plan", "made a plan")
        .await;
    assert!(posted.body.contains(PLAN), "{}", posted.body);
    assert_eq!(
        world.ollama.calls()[0].tool_names(),
        ["list_files", "read_file", "search", "finish"]
    );
    assert!(world.github.opened_pulls(REPO).is_empty());

    // Someone who may not approve jobs may not approve a plan either.
    world.github.set_role(REPO, "triager", "triage");
    comment(&server, "triager", "/approve").await;
    let refusal = world
        .comment_containing(&server, "the refusal", "can approve it")
        .await;
    assert!(refusal.body.starts_with("@triager"), "{}", refusal.body);
    assert!(refusal.body.contains("write role"), "{}", refusal.body);
    assert_eq!(job_ids(&world).len(), 1, "nothing started");
}
