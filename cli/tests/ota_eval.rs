//! `ota eval` end to end: the real binary on the built-in suite (and on suites of a
//! test's own), with Ollama faked on a socket and the model's turns scripted: real
//! solutions for some tasks, wrong or no changes for others. Checks what each task came
//! to in the JSON, the table and summary the user reads, that the agent never saw a
//! hidden check, and that nothing is left in the temporary directory.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use e2e::fake_ollama::{ChatReply, FakeOllama, Reply};
use e2e::fake_ollama_models::FakeModel;
use e2e::git_server::git;
use serde_json::{Value, json};
use tempfile::TempDir;

mod support;
use support::Ran;

const MODEL: &str = "qwen3-coder:30b";
const SMALL_MODEL: &str = "small-coder:7b";
/// Sent to Ollama, and never to be printed, written to the results, or handed to a task's
/// commands.
const API_KEY: &str = "sk-eval-test-key-do-not-print";

/// `chunks` keeping the last chunk, but still looping forever on a size of 0.
const CHUNKS_HALF_FIXED: &str = "\"\"\"Splitting work into batches of a fixed size.\"\"\"\n\n\n\
def chunks(items, size):\n    \
    result = []\n    start = 0\n    \
    while start < len(items):\n        \
    result.append(list(items[start:start + size]))\n        start += size\n    \
    return result\n";

/// A file of a built-in task as its reference solution leaves it: what a model that
/// solves the task writes.
fn solved(task: &str, path: &str) -> String {
    let suite = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("eval-suite")
        .join(task);
    let dir = tempfile::tempdir().expect("tmp dir");
    let file = dir.path().join(path);
    std::fs::create_dir_all(file.parent().expect("a parent")).expect("mkdir");
    std::fs::copy(suite.join("repo").join(path), &file).expect("the task's file");
    let solution = suite.join("solution.patch");
    git(
        dir.path(),
        &[
            "apply",
            &format!("--include={path}"),
            solution.to_str().expect("UTF-8"),
        ],
    );
    std::fs::read_to_string(file).expect("the solved file")
}

/// A temporary directory for the run's files (so that anything left shows) and one for
/// the test's own.
struct Eval {
    tmp: TempDir,
    work: TempDir,
}

impl Eval {
    fn new() -> Self {
        Self {
            tmp: tempfile::tempdir().expect("tmp dir"),
            work: tempfile::tempdir().expect("work dir"),
        }
    }

    fn json_path(&self) -> PathBuf {
        self.work.path().join("results.json")
    }

    /// Runs `ota eval <args>` against Ollama at `host`.
    async fn run(&self, host: &str, args: &[&str]) -> Ran {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_ota"))
            .arg("eval")
            .args(args)
            .env("OLLAMA_HOST", host)
            .env("OLLAMA_API_KEY", API_KEY)
            .env("TMPDIR", self.tmp.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .output()
            .await
            .expect("run ota");
        Ran::from(output).never_showing(API_KEY)
    }

    /// Runs `ota eval <args> --json <file>`, which must succeed, and returns its results.
    async fn run_ok(&self, host: &str, args: &[&str]) -> (Ran, Value) {
        let json = self.json_path();
        let mut args = args.to_vec();
        args.extend(["--json", json.to_str().expect("a UTF-8 path")]);
        let ran = self.run(host, &args).await;
        ran.assert_code(0);
        let text = std::fs::read_to_string(json).expect("the JSON results");
        assert!(!text.contains(API_KEY));
        (ran, serde_json::from_str(&text).expect("valid JSON"))
    }

    /// Nothing of the run is left in the temporary directory.
    fn assert_clean(&self) {
        let left: Vec<_> = std::fs::read_dir(self.tmp.path())
            .expect("tmp dir")
            .map(|entry| entry.map(|e| e.file_name()))
            .collect();
        assert!(left.is_empty(), "temporary files left: {left:?}");
    }
}

/// Each result's status by `model/task`.
fn statuses(results: &Value) -> Vec<(String, String)> {
    results["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|result| {
            (
                format!(
                    "{}/{}",
                    result["model"].as_str().unwrap_or_default(),
                    result["task"].as_str().unwrap_or_default()
                ),
                result["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Whether `program` is on this machine's PATH, as the check looks it up.
fn installed(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// The status a task whose check needs `program` comes to when the agent did nothing.
fn untouched_needing(program: &str) -> &'static str {
    if installed(program) {
        "unsolved"
    } else {
        "check_not_run"
    }
}

/// The table with the times, which vary, redacted.
fn redact_times(table: &str) -> String {
    table
        .split('\n')
        .map(|line| {
            line.split(' ')
                .map(|word| {
                    let is_time = word.split_once(':').is_some_and(|(minutes, seconds)| {
                        !minutes.is_empty()
                            && minutes.chars().all(|c| c.is_ascii_digit())
                            && seconds.len() == 2
                            && seconds.chars().all(|c| c.is_ascii_digit())
                    });
                    if is_time { "[time]" } else { word }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_built_in_suite_runs_end_to_end() {
    let eval = Eval::new();
    let ollama = FakeOllama::start().await;
    ollama.add_model(FakeModel::qwen3_coder());
    // The tasks run in the order of their ids.
    ollama
        // go-stack-tests, go-truncate-runes: nothing done.
        .push(ChatReply::finish("Nothing to do."))
        .push(ChatReply::finish("Nothing to do."))
        // py-chunks-edge-cases: solved; the visible tests run before it may finish.
        .push(ChatReply::read_file("batching.py"))
        .push(ChatReply::call(
            "write_file",
            json!({"path": "batching.py", "content": solved("py-chunks-edge-cases", "batching.py")}),
        ))
        .push(ChatReply::finish("Kept the last chunk; sizes below 1 raise."))
        // py-slugify-tests: gives up without writing a test.
        .push(ChatReply::text("I am not sure what to test."))
        .push(ChatReply::text("Stopping here."))
        // py-wordcount-docs: a README that misses most options.
        .push(ChatReply::call(
            "write_file",
            json!({"path": "README.md", "content": "# wordcount\n\n## Options\n\n`--lines` counts lines.\n"}),
        ))
        .push(ChatReply::finish("Documented the options."))
        // rust-duration-tests: nothing done.
        .push(ChatReply::finish("The function looks fine."))
        // rust-page-ranges: solved.
        .push(ChatReply::call(
            "edit_file",
            json!({"path": "src/lib.rs", "old_text": "pages.extend(first..last);", "new_text": "pages.extend(first..=last);"}),
        ))
        .push(ChatReply::finish("Ranges now include their last page."))
        // rust-settings-refactor, rust-tally-docs, ts-median-fix, ts-retry-refactor:
        // nothing done.
        .push(ChatReply::finish("Nothing to do."))
        .push(ChatReply::finish("Nothing to do."))
        .push(ChatReply::finish("Nothing to do."))
        .push(ChatReply::finish("Nothing to do."))
        // ts-units-docs: solved.
        .push(ChatReply::call(
            "write_file",
            json!({"path": "src/units.ts", "content": solved("ts-units-docs", "src/units.ts")}),
        ))
        .push(ChatReply::finish("Documented every exported function."));

    let (ran, results) = eval.run_ok(&ollama.host(), &[]).await;

    let expected: Vec<(String, String)> = [
        ("go-stack-tests", untouched_needing("go")),
        ("go-truncate-runes", untouched_needing("go")),
        ("py-chunks-edge-cases", "solved"),
        ("py-slugify-tests", "unsolved"),
        ("py-wordcount-docs", "unsolved"),
        ("rust-duration-tests", "unsolved"),
        ("rust-page-ranges", "solved"),
        ("rust-settings-refactor", "unsolved"),
        ("rust-tally-docs", "unsolved"),
        ("ts-median-fix", untouched_needing("tsc")),
        ("ts-retry-refactor", untouched_needing("tsc")),
        ("ts-units-docs", "solved"),
    ]
    .into_iter()
    .map(|(task, status)| (format!("{MODEL}/{task}"), status.to_owned()))
    .collect();
    assert_eq!(statuses(&results), expected);
    let counted = expected
        .iter()
        .filter(|(_, status)| status == "solved" || status == "unsolved")
        .count();
    assert_eq!(results["suite"], "built-in");
    assert_eq!(results["candidates"], 1);
    assert_eq!(results["models"][0]["solved"], 3);
    assert_eq!(results["models"][0]["tasks"], 12);
    let percent = (300 + counted / 2) / counted;
    assert!(
        ran.stdout
            .ends_with(&format!("{MODEL}: solved 3 of {counted} ({percent} %)\n")),
        "{}",
        ran.stdout
    );

    let by_task = |task: &str| {
        results["results"]
            .as_array()
            .and_then(|all| all.iter().find(|r| r["task"] == task))
            .cloned()
            .unwrap_or_else(|| panic!("no result for {task}"))
    };
    let solved = by_task("rust-page-ranges");
    assert_eq!(solved["agent"], "finished");
    assert_eq!(solved["turns"], 2);
    assert_eq!(solved["tokens"]["completion"], 40);
    assert_eq!(solved["check"]["command"], "cargo test --offline --quiet");
    assert_eq!(solved["check"]["exit_code"], 0);
    let gave_up = by_task("py-slugify-tests");
    assert_eq!(gave_up["agent"], "stopped");
    assert!(
        ran.stdout.contains(
            "py-slugify-tests: the agent stopped: the agent stopped calling tools without finishing"
        ),
        "{}",
        ran.stdout
    );
    if !installed("go") {
        assert_eq!(
            by_task("go-stack-tests")["detail"],
            "`go` is not installed (not found on PATH)"
        );
        assert!(ran.stdout.contains(
            "go-stack-tests: check could not run: `go` is not installed (not found on PATH)"
        ));
    }
    for line in [
        format!("ota: [7/12] rust-page-ranges with {MODEL}: solved ("),
        format!("ota: [6/12] rust-duration-tests with {MODEL}: not solved ("),
        "ota: [7/12 rust-page-ranges] turn 1 · edit_file done".to_owned(),
    ] {
        assert!(
            ran.stderr.contains(&line),
            "{line} missing:\n{}",
            ran.stderr
        );
    }

    // The agent never saw a hidden check nor a reference solution.
    for call in ollama.calls() {
        let conversation = serde_json::to_string(&call.messages).expect("JSON");
        for hidden in [".eval-check", "eval_check", "solution.patch"] {
            assert!(!conversation.contains(hidden), "the model saw {hidden}");
        }
    }
    assert_eq!(ollama.remaining(), 0, "every scripted turn was used");
    assert!(ollama.unexpected().is_empty(), "{:?}", ollama.unexpected());
    eval.assert_clean();
}

#[tokio::test(flavor = "multi_thread")]
async fn two_models_get_a_table_each() {
    let eval = Eval::new();
    let ollama = FakeOllama::start().await;
    ollama
        .add_model(FakeModel::qwen3_coder())
        .add_model(FakeModel::with_tools(SMALL_MODEL, 32_768));
    ollama
        // qwen3-coder:30b solves both.
        .push(ChatReply::call(
            "write_file",
            json!({"path": "batching.py", "content": solved("py-chunks-edge-cases", "batching.py")}),
        ))
        .push(ChatReply::finish("Fixed both bugs."))
        .push(ChatReply::call(
            "write_file",
            json!({"path": "src/units.ts", "content": solved("ts-units-docs", "src/units.ts")}),
        ))
        .push(ChatReply::finish("Documented."))
        // small-coder:7b fixes half of one (the visible tests still pass) and gives up on
        // the other.
        .push(ChatReply::call(
            "write_file",
            json!({"path": "batching.py", "content": CHUNKS_HALF_FIXED}),
        ))
        .push(ChatReply::finish("Kept the last chunk."))
        .push(ChatReply::text("Which functions?"))
        .push(ChatReply::text("I'll stop."));

    let (ran, results) = eval
        .run_ok(
            &ollama.host(),
            &[
                "--model",
                &format!("{MODEL},{SMALL_MODEL}"),
                "--task",
                "py-chunks-edge-cases,ts-units-docs",
            ],
        )
        .await;

    assert_eq!(
        statuses(&results),
        [
            (format!("{MODEL}/py-chunks-edge-cases"), "solved".to_owned()),
            (format!("{MODEL}/ts-units-docs"), "solved".to_owned()),
            (
                format!("{SMALL_MODEL}/py-chunks-edge-cases"),
                "unsolved".to_owned()
            ),
            (
                format!("{SMALL_MODEL}/ts-units-docs"),
                "unsolved".to_owned()
            ),
        ]
    );
    let calls = ollama.calls();
    assert_eq!(calls.first().map(|c| c.model.as_str()), Some(MODEL));
    assert_eq!(calls.last().map(|c| c.model.as_str()), Some(SMALL_MODEL));
    insta::assert_snapshot!("two_models", redact_times(&ran.stdout));
    eval.assert_clean();
}

/// A repository of the test's own, as an external task names it: `calc.py` adds wrongly.
fn calc_repo(dir: &std::path::Path) -> (String, String) {
    std::fs::create_dir_all(dir.join("tests")).expect("mkdir");
    git(dir, &["init", "--quiet", "--initial-branch=main"]);
    std::fs::write(dir.join("calc.py"), "def add(a, b):\n    return a - b\n").expect("write");
    std::fs::write(dir.join("tests/__init__.py"), "").expect("write");
    let test = "import unittest\n\nfrom calc import add\n\n\nclass CalcTest(unittest.TestCase):\n    \
                def test_zero(self):\n        self.assertEqual(add(0, 0), 0)\n";
    std::fs::write(dir.join("tests/test_calc.py"), test).expect("write");
    git(dir, &["add", "--all"]);
    git(
        dir,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "--quiet",
            "-m",
            "calc",
        ],
    );
    let commit = git(dir, &["rev-parse", "HEAD"]).trim().to_owned();
    // The hidden test, as SWE-bench's test_patch: a change to the visible test file.
    let hidden =
        format!("{test}\n    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n");
    std::fs::write(dir.join("tests/test_calc.py"), hidden).expect("write");
    let patch = git(dir, &["diff"]);
    git(dir, &["checkout", "--quiet", "--", "."]);
    (commit, patch)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_jsonl_suite_clones_its_repositories_and_applies_the_hidden_test_patch() {
    let eval = Eval::new();
    let repo = eval.work.path().join("calc");
    let (commit, patch) = calc_repo(&repo);
    let task = |id: &str| {
        json!({
            "id": id,
            "language": "python",
            "kind": "fix",
            "request": "add(2, 3) is -1; make add add.",
            "repo": "calc",
            "commit": commit,
            "setup": "printf done > .setup-done",
            // The setup ran, the key is not in the check's environment, the tests pass.
            "check": "test -f .setup-done && ! env | grep -q OLLAMA_API_KEY && python3 -m unittest discover -s tests -t .",
            "check_patch": patch,
            "requires": ["python3"]
        })
    };
    let suite = eval.work.path().join("suite.jsonl");
    std::fs::write(
        &suite,
        format!("{}\n{}\n", task("calc-add"), task("calc-refused")),
    )
    .expect("write the suite");
    let ollama = FakeOllama::start().await;
    ollama.add_model(FakeModel::qwen3_coder());
    ollama
        // calc-add: the fix, and a weakened visible test the hidden patch replaces.
        .push(ChatReply::call(
            "edit_file",
            json!({"path": "calc.py", "old_text": "a - b", "new_text": "a + b"}),
        ))
        .push(ChatReply::call(
            "write_file",
            json!({"path": "tests/test_calc.py", "content": "import unittest\n"}),
        ))
        .push(ChatReply::finish("add adds."))
        // calc-refused: Ollama refuses the key.
        .push(Reply::error(401, "unauthorized"));

    let (ran, results) = eval
        .run_ok(&ollama.host(), &[suite.to_str().expect("UTF-8")])
        .await;

    assert_eq!(
        statuses(&results),
        [
            (format!("{MODEL}/calc-add"), "solved".to_owned()),
            (format!("{MODEL}/calc-refused"), "error".to_owned()),
        ]
    );
    assert_eq!(results["suite"], suite.display().to_string());
    let solved = &results["results"][0];
    assert!(
        solved["check"]["output"]
            .as_str()
            .is_some_and(|output| output.contains("Ran 2 tests")),
        "the hidden test ran: {solved}"
    );
    let refused = &results["results"][1];
    assert!(
        refused["detail"].as_str().is_some_and(
            |detail| detail.starts_with("the agent's run failed: Ollama refused the work")
        ),
        "{refused}"
    );
    assert_eq!(refused["check"], Value::Null);
    assert!(
        ran.stdout
            .contains("calc-refused: error: the agent's run failed"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.ends_with(&format!(
            "not counted: 1 error\n{MODEL}: solved 1 of 1 (100 %)\n"
        )),
        "{}",
        ran.stdout
    );
    // The task's repository is as it was.
    assert_eq!(git(&repo, &["status", "--porcelain"]).trim(), "");
    eval.assert_clean();
}

#[tokio::test]
async fn a_suite_or_an_ollama_that_cannot_be_used_stops_before_any_work() {
    let eval = Eval::new();
    // Nothing listens here: a suite that is refused never reaches Ollama.
    let nowhere = "http://127.0.0.1:9";

    let suite = eval.work.path().join("bad.jsonl");
    let good = json!({"id": "a", "language": "python", "kind": "fix", "request": "Fix.",
                      "repo": "https://example.org/a.git", "commit": "abc", "check": "true"});
    let mut bad = good.clone();
    bad["id"] = json!("b");
    bad["kind"] = json!("fixx");
    std::fs::write(&suite, format!("{good}\n{bad}\n")).expect("write");
    let ran = eval.run(nowhere, &[suite.to_str().expect("UTF-8")]).await;
    ran.assert_code(1);
    assert!(
        ran.stderr.contains(&format!(
            "ota: {}, line 2, field `kind`: unknown variant `fixx`, expected one of `fix`, `test`, `refactor`, `docs`",
            suite.display()
        )),
        "{}",
        ran.stderr
    );

    let ran = eval.run(nowhere, &["--task", "rust-page-range"]).await;
    ran.assert_code(1);
    assert!(
        ran.stderr
            .contains("no task of suite built-in matches `--task rust-page-range`"),
        "{}",
        ran.stderr
    );

    let ran = eval.run(nowhere, &["--task", "rust-page-ranges"]).await;
    ran.assert_code(1);
    assert!(
        ran.stderr
            .contains("cannot reach Ollama at http://127.0.0.1:9 (from OLLAMA_HOST)"),
        "{}",
        ran.stderr
    );

    let ollama = FakeOllama::start().await;
    ollama.add_model(FakeModel::qwen3_coder());
    let ran = eval.run(&ollama.host(), &["--model", "tiny:1b"]).await;
    ran.assert_code(1);
    assert!(ran.stderr.contains("tiny:1b"), "{}", ran.stderr);
    assert!(ollama.calls().is_empty());

    let ran = eval.run(nowhere, &["--list", "--task", "rust-*"]).await;
    ran.assert_code(0);
    assert!(
        ran.stdout
            .starts_with("TASK                    LANGUAGE    KIND      CHECK NEEDS\nrust-duration-tests     rust        test      cargo\n"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.ends_with("\n4 tasks in suite built-in\n"),
        "{}",
        ran.stdout
    );
    eval.assert_clean();
}

/// With `--candidates 2`, each task is made twice from the same start and one kept, as a
/// task with `candidates: 2` is: the kept one is judged (best-of-N), and the first alone
/// too (pass@1), in the table's summary and the JSON.
#[tokio::test(flavor = "multi_thread")]
async fn best_of_n_is_reported_beside_the_first_candidate_alone() {
    let eval = Eval::new();
    let ollama = FakeOllama::start().await;
    ollama.add_model(FakeModel::qwen3_coder());
    ollama
        // The first candidate breaks the module; the visible tests fail, and it gives up.
        .push(ChatReply::call(
            "write_file",
            json!({"path": "batching.py", "content": "def chunks(:\n"}),
        ))
        .push(ChatReply::finish("Fixed."))
        .push(ChatReply::text("I can't get it to work."))
        .push(ChatReply::text("Stopping."))
        // The second solves it.
        .push(ChatReply::call(
            "write_file",
            json!({"path": "batching.py", "content": solved("py-chunks-edge-cases", "batching.py")}),
        ))
        .push(ChatReply::finish("Fixed both bugs."));

    let (ran, results) = eval
        .run_ok(
            &ollama.host(),
            &["--task", "py-chunks-edge-cases", "--candidates", "2"],
        )
        .await;

    assert_eq!(results["candidates"], 2);
    let trial = &results["results"][0];
    assert_eq!(trial["status"], "solved", "{trial}");
    assert_eq!(trial["first_candidate"], "unsolved", "{trial}");
    assert_eq!(trial["candidates"], 2);
    assert_eq!(results["models"][0]["pass_at_1"], 0.0);
    assert_eq!(results["models"][0]["best_of_n"], 1.0);
    assert!(
        ran.stdout.contains(
            "solved 1 of 1 (100 %) with the best of 2 candidates; the first alone solved 0 (0 %)"
        ),
        "{}",
        ran.stdout
    );
    // The second candidate started from the task's commit, not from the first's breakage.
    let calls = ollama.calls();
    assert_eq!(calls.len(), 6);
    assert!(calls[4].tool_results().is_empty(), "a fresh conversation");
    assert_eq!(ollama.remaining(), 0);
    eval.assert_clean();
}
