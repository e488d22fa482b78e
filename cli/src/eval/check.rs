//! The hidden check, once the agent has finished: its files written over the repository
//! and its patch applied (the files the patch touches put back as they were at the
//! task's commit first, as SWE-bench does with its test patch), so the agent could
//! neither read nor edit the proof; then its command, in the same command sandbox as the
//! agent's `run_command`, with the task's time limit.
//!
//! A check that cannot run is kept apart from one that fails: a program it needs that is
//! not installed (the task's `requires`, or a shell's exit code 127), a command that
//! cannot start, or a patch that does not apply say nothing about the agent's work.

use std::path::{Path, PathBuf};

use ota_runner::agent::{CommandRun, CommandSandbox, run_command};

use super::checkout::write_files;
use super::suite::Check;
use crate::local_run::repo::Git;

/// The exit code of `sh` when the command it was asked to run is not found.
const COMMAND_NOT_FOUND: i32 = 127;

/// What the check says of the agent's work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The check's command exited with 0.
    Passed,
    /// It failed or timed out.
    Failed,
    /// It could not run, for this reason.
    CouldNotRun(String),
}

/// The verdict, and the command's run when it ran.
#[derive(Debug, Clone)]
pub struct Checked {
    pub verdict: Verdict,
    pub run: Option<CommandRun>,
}

impl Checked {
    fn could_not_run(reason: String) -> Self {
        Self {
            verdict: Verdict::CouldNotRun(reason),
            run: None,
        }
    }
}

/// Runs `check` on the repository in `dir`, in `sandbox`.
pub async fn run(check: &Check, dir: &Path, sandbox: &CommandSandbox) -> Checked {
    let path = sandbox
        .env
        .iter()
        .find(|(name, _)| name == "PATH")
        .map(|(_, value)| value.as_str());
    if let Some(missing) = check
        .requires
        .iter()
        .find(|program| !on_path(program, path))
    {
        return Checked::could_not_run(format!("`{missing}` is not installed (not found on PATH)"));
    }
    if let Err(err) = write_files(dir, &check.files).await {
        return Checked::could_not_run(format!("its files could not be written: {err}"));
    }
    if let Some(patch) = &check.patch
        && let Err(reason) = apply_patch(dir, patch).await
    {
        return Checked::could_not_run(format!("its patch does not apply: {reason}"));
    }
    let mut sandbox = sandbox.clone();
    sandbox.timeout = check.timeout;
    let run = match run_command(dir, &check.command, &sandbox, None).await {
        Ok(run) => run,
        Err(err) => return Checked::could_not_run(err.to_string()),
    };
    let verdict = if run.succeeded() {
        Verdict::Passed
    } else if run.exit_code == Some(COMMAND_NOT_FOUND) {
        Verdict::CouldNotRun(format!(
            "`{}` exited with code {COMMAND_NOT_FOUND}: a program it runs is not installed",
            check.command
        ))
    } else {
        Verdict::Failed
    };
    Checked {
        verdict,
        run: Some(run),
    }
}

/// Whether `program` is an executable file in one of the directories of `path`.
fn on_path(program: &str, path: Option<&str>) -> bool {
    let Some(path) = path else {
        return false;
    };
    std::env::split_paths(path).any(|dir| is_executable(&dir.join(program)))
}

#[cfg(unix)]
fn is_executable(file: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    file.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(file: &Path) -> bool {
    file.is_file()
}

/// Puts the files `patch` touches back as they were at the task's commit (a file the
/// commit does not have is removed), then applies it.
async fn apply_patch(dir: &Path, patch: &str) -> Result<(), String> {
    let git = Git::in_dir(dir);
    for file in patched_files(patch) {
        let at_start = format!("HEAD:{file}");
        let (known, _, _) = git
            .output(&["cat-file", "-e", &at_start], None)
            .await
            .map_err(|err| err.to_string())?;
        if known {
            git.run(&["checkout", "HEAD", "--", &file])
                .await
                .map_err(|err| err.to_string())?;
        } else {
            let path: PathBuf = dir.join(&file);
            if path.is_file() {
                tokio::fs::remove_file(&path)
                    .await
                    .map_err(|err| format!("removing {file}: {err}"))?;
            }
        }
    }
    git.run_with_input(&["apply", "--whitespace=nowarn", "-"], Some(patch))
        .await
        .map_err(|err| err.reason)?;
    Ok(())
}

/// The paths a unified diff touches, from the `---` and `+++` lines of its file headers
/// (not a removed line that starts with `--`), each once.
fn patched_files(patch: &str) -> Vec<String> {
    let mut files: Vec<String> = Vec::new();
    let mut in_header = true;
    for line in patch.lines() {
        if line.starts_with("diff ") {
            in_header = true;
        } else if line.starts_with("@@") {
            in_header = false;
        }
        if !in_header {
            continue;
        }
        let Some(path) = line
            .strip_prefix("--- ")
            .or_else(|| line.strip_prefix("+++ "))
        else {
            continue;
        };
        // Some diffs add a tab and a timestamp after the path.
        let path = path.split('\t').next().unwrap_or(path).trim_end();
        let path = path
            .strip_prefix("a/")
            .or_else(|| path.strip_prefix("b/"))
            .unwrap_or(path);
        if path != "/dev/null" && !path.is_empty() && !files.iter().any(|f| f == path) {
            files.push(path.to_owned());
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_names_its_files() {
        let patch = "diff --git a/tests/test_a.py b/tests/test_a.py\n\
                     --- a/tests/test_a.py\n+++ b/tests/test_a.py\n@@ -1 +1 @@\n-x\n--- not a header\n+y\n\
                     diff --git a/tests/new.py b/tests/new.py\nnew file mode 100644\n\
                     --- /dev/null\n+++ b/tests/new.py\t2024-01-01\n@@ -0,0 +1 @@\n+z\n";
        assert_eq!(patched_files(patch), ["tests/test_a.py", "tests/new.py"]);
    }

    #[tokio::test]
    async fn a_patch_applies_over_what_the_agent_did_to_its_files() {
        let root = tempfile::tempdir().expect("tmp");
        let dir = root.path();
        let git = Git::as_agent(dir);
        std::fs::write(dir.join("test_a.py"), "one\n").expect("write");
        git.run(&["init", "--quiet"]).await.expect("init");
        git.run(&["add", "--all"]).await.expect("add");
        git.run(&[
            "-c",
            "commit.gpgsign=false",
            "commit",
            "--quiet",
            "-m",
            "start",
        ])
        .await
        .expect("commit");
        // The agent edited the test the patch changes, and wrote the one it adds.
        std::fs::write(dir.join("test_a.py"), "one, edited\n").expect("write");
        std::fs::write(dir.join("test_b.py"), "the agent's\n").expect("write");
        let patch = "diff --git a/test_a.py b/test_a.py\n--- a/test_a.py\n+++ b/test_a.py\n\
                     @@ -1 +1,2 @@\n one\n+two\n\
                     diff --git a/test_b.py b/test_b.py\nnew file mode 100644\n\
                     --- /dev/null\n+++ b/test_b.py\n@@ -0,0 +1 @@\n+hidden\n";

        apply_patch(dir, patch).await.expect("the patch applies");

        let read = |name: &str| std::fs::read_to_string(dir.join(name)).expect("read");
        assert_eq!(read("test_a.py"), "one\ntwo\n");
        assert_eq!(read("test_b.py"), "hidden\n");
        let error = apply_patch(dir, "--- a/nope.py\n+++ b/nope.py\n@@ -1 +1 @@\n-x\n+y\n")
            .await
            .expect_err("a patch for a file that is not there");
        assert!(error.contains("nope.py"), "{error}");
    }

    #[test]
    fn programs_are_looked_up_on_the_path() {
        assert!(on_path("sh", Some("/nonexistent:/bin:/usr/bin")));
        assert!(!on_path("surely-no-such-program", Some("/bin:/usr/bin")));
        assert!(!on_path("sh", None));
    }
}
