//! Token budgets end to end through `ota serve`: the installation policy sets
//! `token_budget.per_day`, a first job's tokens (the fake Ollama's counts) are added to
//! the installation's counter of the day when it ends, and that spends the budget, so a
//! second `/ollama` command starts nothing and is answered with which budget, how much of
//! it was used and when it resets; the audit log and the dashboard's installation page say
//! so too.

use e2e::fake_ollama::ChatReply;
use e2e::ota_server::{
    JOB_TIMEOUT, PR, REPO, ServeWorld, eventually, first_job_id, refactor_request,
};
use e2e::redact::Redact;
use serde_json::json;
use shared::ports::{BudgetPeriod, BudgetWindow};

const OTA: &str = env!("CARGO_BIN_EXE_ota");

/// A day's budget the first job's 3,000 tokens spend.
const POLICIES: &str = "policies:\n  - name: capped\n    repo_pattern: \"Codertocat/*\"\n    token_budget:\n      per_day: 2000\n      per_month: 1000000\n";

/// The jobs `ota jobs` lists.
fn job_count(world: &ServeWorld) -> usize {
    world
        .job_list(OTA)
        .lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .count()
}

#[tokio::test]
async fn a_spent_day_budget_refuses_the_next_job_with_a_comment_saying_when_it_resets() {
    let world = ServeWorld::with_lib("true").await;
    // 1,500 + 1,500 tokens: past the day's 2,000.
    world
        .ollama
        .push(
            ChatReply::call(
                "write_file",
                json!({"path": "src/lib.rs", "content": e2e::runner_world::REFACTORED}),
            )
            .with_counts(1_200, 300),
        )
        .push(ChatReply::finish("Extracted the retry loop.").with_counts(1_400, 100));
    let (server, page) = world
        .serve_installed(OTA, &["--retry-interval-seconds", "1"])
        .await;
    let (status, _, body) = server
        .post_as_operator(&format!("{page}/policies"), &[("policies", POLICIES)])
        .await;
    assert_eq!(status, 303, "{body}");

    // The first job runs: nothing is used yet.
    assert_eq!(server.post(&refactor_request("Codertocat")).await.0, 202);
    let id = eventually(&server, "the first job", JOB_TIMEOUT, || {
        first_job_id(&world.job_list(OTA))
    })
    .await;
    world.opened_pull(&server).await;
    eventually(&server, "the first job to succeed", JOB_TIMEOUT, || {
        (world.job_status(OTA, &id) == "succeeded").then_some(())
    })
    .await;
    // The job's end is reported (its tokens counted first): its summary comment is there.
    world
        .comment_containing(&server, "the summary comment", "Extracted the retry loop")
        .await;
    let calls = world.ollama.calls().len();
    let check_runs = world.github.check_runs(REPO).len();

    // The second is refused: the day's budget is spent.
    assert_eq!(server.post(&refactor_request("Codertocat")).await.0, 202);
    let reply = world
        .comment_containing(&server, "the refusal", "can't start that job")
        .await;
    let now = shared::clock::now_ms();
    let today = BudgetWindow::containing(BudgetPeriod::Day, now);
    let tomorrow = BudgetWindow::containing(BudgetPeriod::Day, today.end_ms);
    assert!(
        reply
            .body
            .contains("have used 3,000 of the 2,000 tokens its daily budget allows"),
        "{}",
        reply.body
    );
    assert!(
        reply.body.contains(&format!(
            "The budget resets at {} 00:00 UTC",
            tomorrow.label
        )),
        "{}",
        reply.body
    );
    insta::assert_snapshot!(
        "day_budget_spent_reply",
        Redact::new()
            .ids()
            .value(today.label.as_str(), "[today]")
            .value(tomorrow.label.as_str(), "[tomorrow]")
            .apply(&reply.body)
    );

    // Nothing started: one job, no model call, no check run.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(job_count(&world), 1, "{}", world.job_list(OTA));
    assert_eq!(world.ollama.calls().len(), calls);
    assert_eq!(world.github.check_runs(REPO).len(), check_runs);
    assert_eq!(
        world
            .github
            .comments(REPO, PR)
            .iter()
            .filter(|comment| comment.body.contains("can't start that job"))
            .count(),
        1
    );

    // The audit log has the decision; the installation page the budget and its use.
    let (status, audit) = server.get("/audit").await;
    assert_eq!(status, 200, "{audit}");
    assert!(audit.contains("over_budget"), "{audit}");
    assert!(
        audit.contains("token_budget.per_day: 3000 of 2000 tokens used"),
        "{audit}"
    );
    let (status, installation) = server.get(&page).await;
    assert_eq!(status, 200, "{installation}");
    assert!(
        installation.contains("3000 of 2000 (spent)"),
        "{installation}"
    );
    assert!(installation.contains("3000 of 1000000"), "{installation}");
}
