//! `ota run` end to end: the real binary on a temporary repository, with Ollama faked on
//! a socket. Checks what the user's repository holds afterwards (the new branch and its
//! commit, their own branch and working tree untouched, no worktree left), what Ollama
//! was asked, and what the user reads.

use std::net::TcpListener;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use e2e::fake_ollama::{ChatReply, FAKE_VERSION, FakeOllama, Reply};
use e2e::fake_ollama_models::FakeModel;
use e2e::git_server::git;
use serde_json::json;
use tempfile::TempDir;

mod support;
use support::Ran;

const AUTH_BEFORE: &str = "pub fn check(token: &str) -> bool {\n    token.len() > 0\n}\n";
const AUTH_AFTER: &str =
    "pub fn check(token: &str) -> bool {\n    !token.trim().is_empty() && token.len() <= 4096\n}\n";
const SUMMARY: &str = "Rejected blank and oversized tokens in `check`.";
const REQUEST: &str = "make the auth module safer";
const API_KEY: &str = "sk-local-test-key-do-not-print";

/// A checkout on `main` with one commit, and an empty directory for the run's
/// temporary files (so that a worktree left behind shows).
struct Checkout {
    repo: TempDir,
    tmp: TempDir,
}

impl Checkout {
    fn new() -> Self {
        Self::with_files(&[("src/auth.rs", AUTH_BEFORE)])
    }

    fn with_files(files: &[(&str, &str)]) -> Self {
        let repo = tempfile::tempdir().expect("repo dir");
        git(repo.path(), &["init", "--quiet", "--initial-branch=main"]);
        for (path, content) in files {
            let file = repo.path().join(path);
            std::fs::create_dir_all(file.parent().expect("a parent")).expect("mkdir");
            std::fs::write(file, content).expect("write");
        }
        git(repo.path(), &["add", "--all"]);
        git(repo.path(), &["commit", "--quiet", "-m", "first"]);
        Self {
            repo,
            tmp: tempfile::tempdir().expect("tmp dir"),
        }
    }

    fn path(&self) -> &Path {
        self.repo.path()
    }

    fn git(&self, args: &[&str]) -> String {
        git(self.path(), args).trim().to_owned()
    }

    fn agent_branches(&self) -> Vec<String> {
        self.git(&["branch", "--list", "--format=%(refname:short)", "ollama/*"])
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The user's side is as it was: on `main` at the first commit, nothing modified,
    /// one worktree, and no temporary files left.
    fn assert_untouched(&self, head: &str) {
        assert_eq!(self.git(&["rev-parse", "--abbrev-ref", "HEAD"]), "main");
        assert_eq!(self.git(&["rev-parse", "HEAD"]), head);
        assert_eq!(
            self.git(&["status", "--porcelain", "--untracked-files=all"]),
            ""
        );
        let worktrees = self.git(&["worktree", "list", "--porcelain"]);
        assert_eq!(
            worktrees.matches("worktree ").count(),
            1,
            "a worktree was left: {worktrees}"
        );
        let left: Vec<_> = std::fs::read_dir(self.tmp.path())
            .expect("tmp dir")
            .map(|entry| entry.map(|e| e.file_name()))
            .collect();
        assert!(left.is_empty(), "temporary files left: {left:?}");
    }

    /// Runs `ota run --repo <repo> <args>` against Ollama at `host`.
    async fn ota_run(&self, host: &str, args: &[&str]) -> Ran {
        self.ota_run_in(self.path(), host, args).await
    }

    async fn ota_run_in(&self, repo: &Path, host: &str, args: &[&str]) -> Ran {
        let output = self
            .command(repo, host, args)
            .output()
            .await
            .expect("run ota");
        Ran::from(output).never_showing(API_KEY)
    }

    /// `ota run --repo <repo> <args>`, with output captured.
    fn command(&self, repo: &Path, host: &str, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_ota"));
        command
            .arg("run")
            .arg("--repo")
            .arg(repo)
            .args(args)
            .env("OLLAMA_HOST", host)
            .env("OLLAMA_API_KEY", API_KEY)
            .env("TMPDIR", self.tmp.path())
            // Neither the machine's git configuration nor a surrounding repository.
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CEILING_DIRECTORIES", repo.parent().unwrap_or(repo))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }
}

#[tokio::test]
async fn a_refactor_leaves_its_change_on_a_new_branch() {
    let checkout = Checkout::new();
    let head = checkout.git(&["rev-parse", "HEAD"]);
    let ollama = FakeOllama::start().await;
    ollama.add_model(FakeModel::qwen3_coder());
    ollama
        .push(ChatReply::call(
            "write_file",
            json!({"path": "src/auth.rs", "content": AUTH_AFTER}),
        ))
        .push(ChatReply::finish(SUMMARY));

    let run = checkout
        .ota_run(&ollama.host(), &["--task", "refactor", REQUEST])
        .await;

    run.assert_code(0);
    let branches = checkout.agent_branches();
    let [branch] = branches.as_slice() else {
        panic!("one agent branch expected, found {branches:?}");
    };
    assert!(branch.starts_with("ollama/refactor-j"), "{branch}");
    assert_eq!(
        checkout.git(&["show", &format!("{branch}:src/auth.rs")]),
        AUTH_AFTER.trim_end()
    );
    assert_eq!(checkout.git(&["rev-parse", &format!("{branch}~1")]), head);
    let message = checkout.git(&["log", "-1", "--format=%B", branch]);
    assert!(
        message.starts_with(&format!("ollama refactor: {REQUEST}\n\n{SUMMARY}")),
        "{message}"
    );
    assert!(message.contains("Ollama-Turbo-Job: j"), "{message}");
    assert_eq!(
        checkout.git(&["log", "-1", "--format=%an <%ae>", branch]),
        "Ollama Turbo Agent <ollama-turbo-agent@localhost>"
    );
    checkout.assert_untouched(&head);
    assert_eq!(
        std::fs::read_to_string(checkout.path().join("src/auth.rs")).expect("read"),
        AUTH_BEFORE
    );

    assert!(
        run.stdout.starts_with("Done: `refactor` finished"),
        "{}",
        run.stdout
    );
    for expected in [
        SUMMARY,
        &format!("Branch {branch}, commit "),
        "src/auth.rs  +1 -1",
        &format!("git diff HEAD...{branch}"),
        &format!("git merge {branch}"),
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected} missing:\n{}",
            run.stdout
        );
    }
    assert!(
        run.stderr.contains("ota: turn 1 · write_file done"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!(
            "model qwen3-coder:30b via {} (Ollama {FAKE_VERSION})",
            ollama.host()
        )),
        "{}",
        run.stderr
    );
    // The prompt tokens are what the fake Ollama kept of each prompt.
    let prompt: u64 = ollama
        .calls()
        .iter()
        .filter_map(|c| c.fitted.map(|f| f.prompt_tokens))
        .sum();
    let prompt = format!("{},{:03}", prompt / 1000, prompt % 1000);
    assert!(
        run.stderr.contains(&format!("tokens {prompt} in / 40 out")),
        "{}",
        run.stderr
    );

    let calls = ollama.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].model, "qwen3-coder:30b");
    assert!(calls[0].messages.iter().any(|m| {
        m["content"]
            .as_str()
            .is_some_and(|text| text.contains(REQUEST))
    }));
    assert_eq!(
        calls[0].authorization.as_deref(),
        Some(format!("Bearer {API_KEY}").as_str())
    );
    assert!(ollama.unexpected().is_empty(), "{:?}", ollama.unexpected());
}

#[tokio::test]
async fn a_run_without_changes_leaves_no_branch() {
    let checkout = Checkout::new();
    let head = checkout.git(&["rev-parse", "HEAD"]);
    let ollama = FakeOllama::start().await;
    ollama.add_model(FakeModel::qwen3_coder());
    ollama.push(ChatReply::finish(
        "The module already rejects empty tokens; nothing to change.",
    ));

    // OLLAMA_HOST without a scheme, as Ollama's CLI accepts it.
    let run = checkout
        .ota_run(
            &ollama.addr().to_string(),
            &["--task", "fix", "empty tokens pass"],
        )
        .await;

    run.assert_code(0);
    assert!(checkout.agent_branches().is_empty());
    checkout.assert_untouched(&head);
    assert!(
        run.stdout.starts_with(
            "No changes: `fix` finished without changing any file, so no branch was left"
        ),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("nothing to change"));
}

#[tokio::test]
async fn an_unreachable_ollama_is_named_with_how_to_start_one() {
    let checkout = Checkout::new();
    let head = checkout.git(&["rev-parse", "HEAD"]);
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let host = format!("http://127.0.0.1:{port}");

    let run = checkout
        .ota_run(&host, &["--task", "refactor", REQUEST])
        .await;

    run.assert_code(1);
    assert!(
        run.stderr
            .contains(&format!("cannot reach Ollama at {host} (from OLLAMA_HOST)")),
        "{}",
        run.stderr
    );
    for way_out in [
        "`ollama serve`",
        "point OLLAMA_HOST",
        "OLLAMA_HOST=https://ollama.com",
    ] {
        assert!(run.stderr.contains(way_out), "{way_out}:\n{}", run.stderr);
    }
    assert!(run.stdout.is_empty());
    assert!(checkout.agent_branches().is_empty());
    checkout.assert_untouched(&head);
}

#[tokio::test]
async fn a_directory_outside_git_is_refused() {
    let checkout = Checkout::new();
    let plain = tempfile::tempdir().expect("dir");

    let run = checkout
        .ota_run_in(
            plain.path(),
            "http://127.0.0.1:9",
            &["--task", "refactor", REQUEST],
        )
        .await;

    run.assert_code(1);
    assert!(
        run.stderr.contains(&format!(
            "{} is not in a git checkout",
            plain.path().display()
        )),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn a_repository_without_commits_is_refused() {
    let checkout = Checkout::new();
    let empty = tempfile::tempdir().expect("dir");
    git(empty.path(), &["init", "--quiet"]);

    let run = checkout
        .ota_run_in(
            empty.path(),
            "http://127.0.0.1:9",
            &["--task", "refactor", REQUEST],
        )
        .await;

    run.assert_code(1);
    assert!(run.stderr.contains("has no commits yet"), "{}", run.stderr);
}

#[tokio::test]
async fn unknown_tasks_and_invalid_config_are_explained_before_any_work() {
    let checkout = Checkout::with_files(&[
        ("src/auth.rs", AUTH_BEFORE),
        (
            ".ollama-turbo.yml",
            "version: 1\nautomation:\n  tasks:\n    lint:\n      prompt: Fix lints.\n",
        ),
    ]);
    // Ollama is never asked: these are refused first.
    let run = checkout
        .ota_run("http://127.0.0.1:9", &["--task", "refactr", REQUEST])
        .await;
    run.assert_code(1);
    assert!(
        run.stderr.contains(
            "no task `refactr`; the tasks it knows are `deps`, `docs`, `fix`, `lint`, `refactor`"
        ),
        "{}",
        run.stderr
    );

    std::fs::write(
        checkout.path().join(".ollama-turbo.yml"),
        "version: 1\nautomation:\n  tasks:\n    refactor:\n      timout: 5m\n",
    )
    .expect("write");
    git(checkout.path(), &["commit", "--quiet", "-am", "typo"]);
    let run = checkout
        .ota_run("http://127.0.0.1:9", &["--task", "refactor", REQUEST])
        .await;
    run.assert_code(1);
    assert!(
        run.stderr.contains(".ollama-turbo.yml at HEAD (")
            && run.stderr.contains("line 5")
            && run.stderr.contains("`timout`"),
        "{}",
        run.stderr
    );
    assert!(checkout.agent_branches().is_empty());
}

#[tokio::test]
async fn a_missing_model_says_how_to_pull_it() {
    let checkout = Checkout::new();
    let head = checkout.git(&["rev-parse", "HEAD"]);
    let ollama = FakeOllama::start().await;
    ollama.add_model(FakeModel::qwen3_coder());

    let run = checkout
        .ota_run(
            &ollama.host(),
            &[
                "--task",
                "docs",
                "--model",
                "tiny-coder:1b",
                "document check",
            ],
        )
        .await;

    run.assert_code(1);
    // Asked before anything was started; no chat call, no worktree, no branch.
    assert_eq!(ollama.shows(), ["tiny-coder:1b"]);
    assert!(ollama.calls().is_empty());
    insta::assert_snapshot!("missing_model", run.stderr.trim());
    assert!(checkout.agent_branches().is_empty());
    checkout.assert_untouched(&head);
}

#[tokio::test]
async fn a_model_without_tools_is_refused_before_anything_starts() {
    let checkout = Checkout::new();
    let head = checkout.git(&["rev-parse", "HEAD"]);
    let ollama = FakeOllama::start().await;
    ollama.add_model(FakeModel::without_tools("gemma3:4b", 131_072));

    let run = checkout
        .ota_run(
            &ollama.host(),
            &["--task", "docs", "--model", "gemma3:4b", "document check"],
        )
        .await;

    run.assert_code(1);
    assert!(ollama.calls().is_empty());
    insta::assert_snapshot!("model_without_tools", run.stderr.trim());
    assert!(checkout.agent_branches().is_empty());
    checkout.assert_untouched(&head);
}

#[tokio::test]
async fn a_run_that_stops_early_keeps_its_partial_work() {
    let checkout = Checkout::new();
    let head = checkout.git(&["rev-parse", "HEAD"]);
    let ollama = FakeOllama::start().await;
    ollama.add_model(FakeModel::qwen3_coder());
    ollama
        .push(ChatReply::call(
            "write_file",
            json!({"path": "src/auth.rs", "content": AUTH_AFTER}),
        ))
        .push(ChatReply::text("I changed the check."))
        .push(ChatReply::text("The callers still need updating."));

    let run = checkout
        .ota_run(&ollama.host(), &["--task", "refactor", REQUEST])
        .await;

    run.assert_code(1);
    let branches = checkout.agent_branches();
    let [branch] = branches.as_slice() else {
        panic!("one agent branch expected, found {branches:?}");
    };
    assert_eq!(
        checkout.git(&["show", &format!("{branch}:src/auth.rs")]),
        AUTH_AFTER.trim_end()
    );
    let message = checkout.git(&["log", "-1", "--format=%B", branch]);
    assert!(
        message.contains("Partial work: the run stopped"),
        "{message}"
    );
    assert!(
        run.stdout
            .starts_with("Stopped: the agent stopped calling tools without finishing"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("The callers still need updating."));
    assert!(
        run.stdout
            .contains(&format!("The partial work is on branch {branch}")),
        "{}",
        run.stdout
    );
    checkout.assert_untouched(&head);
}

#[cfg(unix)]
#[tokio::test]
async fn ctrl_c_stops_the_run_and_keeps_the_work_so_far() {
    let checkout = Checkout::new();
    let head = checkout.git(&["rev-parse", "HEAD"]);
    let ollama = FakeOllama::start().await;
    ollama.add_model(FakeModel::qwen3_coder());
    ollama
        .push(ChatReply::call(
            "write_file",
            json!({"path": "src/auth.rs", "content": AUTH_AFTER}),
        ))
        // The model is still thinking when the user presses Ctrl-C.
        .push(Reply::from(ChatReply::finish(SUMMARY)).after(Duration::from_secs(60)));
    let child = checkout
        .command(
            checkout.path(),
            &ollama.host(),
            &["--task", "refactor", REQUEST],
        )
        .spawn()
        .expect("start ota");
    let waited = tokio::time::Instant::now();
    while ollama.calls().len() < 2 {
        assert!(
            waited.elapsed() < Duration::from_secs(30),
            "the second model call never came"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = child
        .id()
        .and_then(|id| rustix::process::Pid::from_raw(i32::try_from(id).ok()?))
        .expect("a running child");
    rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("send SIGINT");

    let run = Ran::from(child.wait_with_output().await.expect("ota ends")).never_showing(API_KEY);

    run.assert_code(130);
    assert!(
        run.stdout.starts_with("Stopped: interrupted with Ctrl-C"),
        "{}",
        run.stdout
    );
    let branches = checkout.agent_branches();
    let [branch] = branches.as_slice() else {
        panic!("one agent branch expected, found {branches:?}");
    };
    assert_eq!(
        checkout.git(&["show", &format!("{branch}:src/auth.rs")]),
        AUTH_AFTER.trim_end()
    );
    checkout.assert_untouched(&head);
}
