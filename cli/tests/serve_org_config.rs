//! Organisation-wide defaults end to end through `ota serve`: the `.ollama-turbo.yml` of
//! the account's `.github` repository is the base the repository's file extends, so a
//! task defined only there runs with its settings (the runner, whose token reaches the
//! job's repository only, gets them from the job); a repository key the installation
//! policy's `allowed_overrides` forbids is answered with the file, line and key; and
//! without the App on the `.github` repository (GitHub refuses the token, 422), the
//! repository's own file applies alone. A redelivered event starts no second job.

use e2e::delivery::Delivery;
use e2e::fake_github::Route;
use e2e::ota_server::{INSTALLATION, PR, REPO, SECRET, ServeWorld, pr_comment};
use e2e::redact::Redact;
use e2e::runner_world::{LIB, REFACTORED, TASK_MODEL};

const OTA: &str = env!("CARGO_BIN_EXE_ota");

/// Long enough for a redelivered event to have started a job if it were going to.
const SETTLE: std::time::Duration = std::time::Duration::from_secs(3);

/// The account's `.github` repository ([`REPO`]'s owner is `Codertocat`).
const ORG_REPO: &str = "Codertocat/.github";

/// The organisation's defaults: a task of its own, with a prompt the model is shown and
/// sampling settings Ollama is sent.
fn org_defaults() -> String {
    format!(
        "version: 1
automation:
  defaults:
    model: {TASK_MODEL}
    seed: 11
  tasks:
    tidy:
      description: Tidy the retry loop
      prompt: Extract the retry loop the organisation's way.
      timeout: 10m
      max_tokens: 3000
      temperature: 0.25
  approval:
    required: false
"
    )
}

/// The jobs `ota jobs` lists.
fn job_count(world: &ServeWorld) -> usize {
    world
        .job_list(OTA)
        .lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .count()
}

/// `/ollama <text>` on pull request #2 by `Codertocat`, who may write.
fn command(text: &str) -> Delivery {
    Delivery::json(
        "issue_comment",
        &pr_comment("Codertocat", &format!("/ollama {text}")),
        SECRET,
    )
}

#[tokio::test]
async fn a_task_defined_only_in_the_organisation_s_defaults_runs_with_its_settings() {
    // The repository's own file sets one default of its own, over the organisation's.
    let repo_config = "version: 1\nautomation:\n  defaults:\n    seed: 7\n";
    let world = ServeWorld::new(&[("src/lib.rs", LIB)], repo_config).await;
    world
        .github
        .set_file(ORG_REPO, "", ".ollama-turbo.yml", org_defaults());
    world.script_quick_refactor();
    let server = world.serve(OTA, &["--retry-interval-seconds", "1"]);

    let delivery = command("tidy");
    let (status, body) = server.post(&delivery).await;
    assert_eq!(status, 202, "{body}");
    let pull = world.opened_pull(&server).await;
    assert_eq!(world.git.show(REPO, &pull.head, "src/lib.rs"), REFACTORED);

    // The runner ran the base's task: its prompt and settings reached Ollama.
    let calls = world.ollama.calls();
    let first = calls.first().expect("a chat call");
    assert_eq!(first.model, TASK_MODEL);
    let prompt = serde_json::to_string(&first.messages).expect("messages");
    assert!(
        prompt.contains("Extract the retry loop the organisation's way."),
        "{prompt}"
    );
    // The base's task settings, and the repository's own default over the base's.
    assert_eq!(first.options["num_predict"], 3000, "{}", first.options);
    assert_eq!(first.options["temperature"], 0.25, "{}", first.options);
    assert_eq!(first.options["seed"], 7, "{}", first.options);
    // The `.github` file was read with a token for that repository alone, by the policy
    // stage only: the runner's tokens are for the job's repository.
    let reads: Vec<String> = world
        .github
        .requests_to(Route::Contents)
        .into_iter()
        .map(|request| request.path)
        .filter(|path| path.contains("/.github/"))
        .collect();
    assert_eq!(reads.len(), 1, "{reads:?}");
    let for_defaults: Vec<Vec<String>> = world
        .github
        .minted_tokens()
        .into_iter()
        .map(|token| token.repositories)
        .filter(|repos| repos.iter().any(|repo| repo == ".github"))
        .collect();
    assert_eq!(
        for_defaults,
        [[".github"]],
        "one token, for `.github` alone"
    );
    assert_eq!(job_count(&world), 1, "{}", world.job_list(OTA));

    // GitHub redelivers the event: the job is found by its id, nothing starts again.
    let (status, body) = server.post(&delivery).await;
    assert_eq!(status, 202, "{body}");
    tokio::time::sleep(SETTLE).await;
    assert_eq!(job_count(&world), 1, "{}", world.job_list(OTA));
    assert_eq!(world.github.opened_pulls(REPO).len(), 1);
    assert_eq!(world.ollama.calls().len(), calls.len(), "no second run");
    world.github.assert_nothing_unexpected();
}

#[tokio::test]
async fn a_key_the_policy_does_not_let_the_repository_set_is_answered_with_its_line() {
    // Line 4 sets `automation.defaults.timeout`; the policy allows only tasks.
    let repo_config = "version: 1\nautomation:\n  defaults:\n    timeout: 5m\n";
    let world = ServeWorld::new(&[("src/lib.rs", LIB)], repo_config).await;
    world
        .github
        .set_file(ORG_REPO, "", ".ollama-turbo.yml", org_defaults());
    let (server, page) = world.serve_installed(OTA, &[]).await;

    // A path that is no key of the file is refused when the policy is written.
    let wrong = "policies:\n  - name: tasks-only\n    repo_pattern: \"Codertocat/*\"\n    allowed_overrides: [automation.taks]\n";
    let (status, _, body) = server
        .post_as_operator(&format!("{page}/policies"), &[("policies", wrong)])
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("unknown section `taks`"), "{body}");
    let policies = "policies:\n  - name: tasks-only\n    repo_pattern: \"Codertocat/*\"\n    allowed_overrides: [automation.tasks]\n";
    let (status, _, body) = server
        .post_as_operator(&format!("{page}/policies"), &[("policies", policies)])
        .await;
    assert_eq!(status, 303, "{body}");

    let (status, body) = server.post(&command("tidy")).await;
    assert_eq!(status, 202, "{body}");
    let reply = world
        .comment_containing(&server, "the configuration's problem", "allowed_overrides")
        .await;
    assert!(
        reply.body.contains(
            "line 4, column 14, field `automation.defaults.timeout`: the installation policy \
             `tasks-only` does not let a repository set `automation.defaults.timeout`"
        ),
        "{}",
        reply.body
    );
    assert!(reply.body.contains("`.ollama-turbo.yml`"), "{}", reply.body);
    insta::assert_snapshot!(
        "forbidden_override_comment",
        Redact::new().ids().apply(&reply.body)
    );
    assert_eq!(
        world.github.comments(REPO, PR).len(),
        1,
        "one reply, nothing else"
    );
    assert!(world.github.check_runs(REPO).is_empty(), "nothing started");
    assert_eq!(job_count(&world), 0, "{}", world.job_list(OTA));
    assert_eq!(world.ollama.calls().len(), 0);
    world.github.assert_nothing_unexpected();
}

#[tokio::test]
async fn without_the_app_on_the_github_repository_the_repository_s_file_applies_alone() {
    let world = ServeWorld::new(&[("src/lib.rs", LIB)], "version: 1\n").await;
    world
        .github
        .set_file(ORG_REPO, "", ".ollama-turbo.yml", org_defaults());
    // Installed on the repository only: a token for `.github` is refused.
    world.github.select_repositories(INSTALLATION, &[REPO]);
    let server = world.serve(OTA, &["--retry-interval-seconds", "1"]);

    let (status, body) = server.post(&command("tidy")).await;
    assert_eq!(status, 202, "{body}");
    let reply = world
        .comment_containing(&server, "the unknown task's reply", "has no task")
        .await;
    assert!(reply.body.contains("`tidy`"), "{}", reply.body);
    assert!(!reply.body.contains("allowed_overrides"), "{}", reply.body);
    let refused: Vec<_> = world
        .github
        .take_unexpected()
        .into_iter()
        .map(|request| (request.route, request.status))
        .collect();
    assert!(
        !refused.is_empty()
            && refused
                .iter()
                .all(|r| *r == (Some(Route::AccessToken), 422)),
        "only the token for `.github` was refused: {refused:?}"
    );
    assert!(
        world
            .github
            .requests_to(Route::Contents)
            .iter()
            .all(|request| !request.path.contains("/.github/")),
        "nothing read from `.github`"
    );
    let log = server.log();
    assert!(
        log.contains("no organisation defaults"),
        "the log says why: {log}"
    );
    assert!(world.github.check_runs(REPO).is_empty(), "nothing started");
    assert_eq!(job_count(&world), 0, "{}", world.job_list(OTA));
}
