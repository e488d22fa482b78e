//! The user's repository, touched only through git: where it is, its HEAD, a file at
//! HEAD, and a temporary worktree on a new branch where the agent works. The user's
//! working tree, index and current branch are never changed; the only thing left behind
//! is the new branch.

use std::path::{Path, PathBuf};

use ota_runner::workspace::{GitIoError, git_output};

use super::errors::RunError;

/// Variables git sets for hooks and that would point our commands at another
/// repository: a run started from a hook or a script must still work on `--repo`.
const REPOSITORY_OVERRIDES: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_PREFIX",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
];

/// Who the agent's commits are by: the agent, so that `git log` says who wrote the
/// change, and a commit never depends on the user's own identity being configured.
const AGENT_NAME: &str = "Ollama Turbo Agent";
const AGENT_EMAIL: &str = "ollama-turbo-agent@localhost";

/// A git command that failed, or git that could not be started.
#[derive(Debug, thiserror::Error)]
#[error("`git {command}` failed: {reason}")]
pub struct GitFailure {
    pub command: String,
    pub reason: String,
}

/// One git invocation in a directory (`ota eval` prepares its tasks' repositories with it
/// too).
pub(crate) struct Git<'a> {
    dir: &'a Path,
    env: Vec<(&'static str, &'static str)>,
}

impl<'a> Git<'a> {
    pub(crate) fn in_dir(dir: &'a Path) -> Self {
        Self {
            dir,
            env: Vec::new(),
        }
    }

    /// Commits by the agent, never signed (a signing prompt would stall the run, and the
    /// commit is the agent's, not the user's).
    pub(crate) fn as_agent(dir: &'a Path) -> Self {
        Self {
            dir,
            env: vec![
                ("GIT_AUTHOR_NAME", AGENT_NAME),
                ("GIT_AUTHOR_EMAIL", AGENT_EMAIL),
                ("GIT_COMMITTER_NAME", AGENT_NAME),
                ("GIT_COMMITTER_EMAIL", AGENT_EMAIL),
            ],
        }
    }

    /// Runs `git args`, feeding `input` on stdin; the exit status and raw stdout.
    pub(crate) async fn output(
        &self,
        args: &[&str],
        input: Option<&str>,
    ) -> Result<(bool, Vec<u8>, String), GitFailure> {
        let failed = |reason: String| GitFailure {
            command: args.join(" "),
            reason,
        };
        let mut command = tokio::process::Command::new("git");
        command
            .args(args)
            .current_dir(self.dir)
            .env("GIT_TERMINAL_PROMPT", "0")
            .envs(self.env.iter().copied());
        for name in REPOSITORY_OVERRIDES {
            command.env_remove(name);
        }
        let output = git_output(&mut command, input)
            .await
            .map_err(|err| match err {
                GitIoError::Start(err) => failed(format!(
                    "could not start git ({err}); `ota` needs git installed and on PATH"
                )),
                other => failed(other.to_string()),
            })?;
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        Ok((output.status.success(), output.stdout, stderr))
    }

    /// Runs `git args` and returns its stdout; a failure carries git's error output.
    pub(crate) async fn run(&self, args: &[&str]) -> Result<Vec<u8>, GitFailure> {
        self.run_with_input(args, None).await
    }

    pub(crate) async fn run_with_input(
        &self,
        args: &[&str],
        input: Option<&str>,
    ) -> Result<Vec<u8>, GitFailure> {
        let (ok, stdout, stderr) = self.output(args, input).await?;
        if ok {
            Ok(stdout)
        } else {
            Err(GitFailure {
                command: args.join(" "),
                reason: if stderr.is_empty() {
                    "it exited with an error and printed nothing".to_owned()
                } else {
                    stderr
                },
            })
        }
    }

    /// [`Self::run`], as trimmed text.
    pub(crate) async fn text(&self, args: &[&str]) -> Result<String, GitFailure> {
        let stdout = self.run(args).await?;
        Ok(String::from_utf8_lossy(&stdout).trim().to_owned())
    }
}

/// A commit, by its full and short id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub sha: String,
}

impl Commit {
    /// The first 7 hex digits, as `git log --oneline` shows them.
    pub fn short(&self) -> &str {
        self.sha.get(..7).unwrap_or(&self.sha)
    }
}

/// The checkout `ota run` was pointed at.
#[derive(Debug, Clone)]
pub struct LocalRepo {
    root: PathBuf,
    head: Commit,
    /// The current branch, `None` on a detached HEAD.
    branch: Option<String>,
}

impl LocalRepo {
    /// The work tree containing `path` and its HEAD commit. Refuses a path that is not in
    /// a git work tree, and a repository without commits (there is nothing to branch from).
    pub async fn open(path: &Path) -> Result<Self, RunError> {
        if !path.is_dir() {
            return Err(RunError::NoSuchDirectory {
                path: path.to_owned(),
            });
        }
        let root = Git::in_dir(path)
            .text(&["rev-parse", "--show-toplevel"])
            .await
            .map_err(|failure| RunError::NotARepository {
                path: path.to_owned(),
                detail: failure.reason,
            })?;
        let root = PathBuf::from(root);
        let git = Git::in_dir(&root);
        let head = git
            .text(&["rev-parse", "--verify", "--quiet", "HEAD^{commit}"])
            .await
            .ok()
            .filter(|sha| !sha.is_empty())
            .ok_or_else(|| RunError::NoCommits { root: root.clone() })?;
        let branch = git
            .text(&["symbolic-ref", "--quiet", "--short", "HEAD"])
            .await
            .ok()
            .filter(|name| !name.is_empty());
        Ok(Self {
            root,
            head: Commit { sha: head },
            branch,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn head(&self) -> &Commit {
        &self.head
    }

    pub fn branch(&self) -> Option<&str> {
        self.branch.as_deref()
    }

    /// The bytes of `path` (from the repository's root) in the HEAD commit; `None` when
    /// the commit has no such file. Read from the commit, not the working tree, so that
    /// the run uses what is committed, as the App does.
    pub async fn file_at_head(&self, path: &str) -> Result<Option<Vec<u8>>, GitFailure> {
        let object = format!("{}:{path}", self.head.sha);
        let git = Git::in_dir(&self.root);
        let (exists, kind, _) = git.output(&["cat-file", "-t", &object], None).await?;
        if !exists || String::from_utf8_lossy(&kind).trim() != "blob" {
            return Ok(None);
        }
        git.run(&["cat-file", "blob", &object]).await.map(Some)
    }

    /// Whether a local branch of that name exists.
    pub async fn has_branch(&self, branch: &str) -> Result<bool, GitFailure> {
        let reference = format!("refs/heads/{branch}");
        let (exists, _, _) = Git::in_dir(&self.root)
            .output(&["show-ref", "--verify", "--quiet", &reference], None)
            .await?;
        Ok(exists)
    }
}

/// One file of a commit, as `git diff --numstat` counts it; `None` counts for a binary
/// file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub path: String,
    pub added: Option<u64>,
    pub removed: Option<u64>,
}

/// A temporary worktree of the user's repository on a new branch, at the HEAD commit.
/// Removed with [`Worktree::remove`]; only the branch stays, and only when asked.
#[derive(Debug)]
pub struct Worktree {
    repo_root: PathBuf,
    dir: PathBuf,
    branch: String,
    base: Commit,
}

impl Worktree {
    /// Creates branch `branch` at the repository's HEAD, checked out in the new
    /// directory `dir` (which must not exist yet).
    pub async fn add(repo: &LocalRepo, branch: &str, dir: PathBuf) -> Result<Self, GitFailure> {
        let shown = dir.display().to_string();
        Git::in_dir(&repo.root)
            .run(&[
                "worktree",
                "add",
                "--quiet",
                "-b",
                branch,
                &shown,
                &repo.head.sha,
            ])
            .await?;
        Ok(Self {
            repo_root: repo.root.clone(),
            dir,
            branch: branch.to_owned(),
            base: repo.head.clone(),
        })
    }

    /// Where the agent works.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn branch(&self) -> &str {
        &self.branch
    }

    /// Commits every change in the worktree (new, changed and deleted files; ignored ones
    /// stay out) on its branch, as the agent. `None` when nothing changed.
    pub async fn commit_all(&self, message: &str) -> Result<Option<Commit>, GitFailure> {
        let git = Git::as_agent(&self.dir);
        git.run(&["add", "--all"]).await?;
        let staged = git.run(&["diff", "--cached", "--name-only", "-z"]).await?;
        if staged.is_empty() {
            return Ok(None);
        }
        // No hooks: the user's pre-commit checks must not throw the agent's work away.
        git.run_with_input(
            &[
                "-c",
                "commit.gpgsign=false",
                "commit",
                "--quiet",
                "--no-verify",
                "--file=-",
            ],
            Some(message),
        )
        .await?;
        let sha = git.text(&["rev-parse", "HEAD"]).await?;
        Ok(Some(Commit { sha }))
    }

    /// The files `commit` changed since the worktree's starting point, in path order.
    pub async fn changes(&self, commit: &Commit) -> Result<Vec<FileChange>, GitFailure> {
        let numstat = Git::in_dir(&self.dir)
            .run(&[
                "diff",
                "--numstat",
                "--no-renames",
                "-z",
                &self.base.sha,
                &commit.sha,
            ])
            .await?;
        Ok(parse_numstat(&String::from_utf8_lossy(&numstat)))
    }

    /// Removes the worktree's directory and git's record of it. The branch stays when
    /// `keep_branch` (it holds the agent's commit), and is deleted otherwise.
    pub async fn remove(self, keep_branch: bool) -> Result<(), GitFailure> {
        let git = Git::in_dir(&self.repo_root);
        let shown = self.dir.display().to_string();
        if let Err(failure) = git.run(&["worktree", "remove", "--force", &shown]).await {
            // Still gone from git's list once the directory is gone and pruned.
            tokio::fs::remove_dir_all(&self.dir)
                .await
                .map_err(|err| GitFailure {
                    command: failure.command.clone(),
                    reason: format!("{}; removing {shown} failed too: {err}", failure.reason),
                })?;
            git.run(&["worktree", "prune"]).await?;
        }
        if !keep_branch {
            git.run(&["branch", "--quiet", "-D", &self.branch]).await?;
        }
        Ok(())
    }
}

/// `git diff --numstat -z` without renames: `added<TAB>removed<TAB>path<NUL>` per file,
/// `-` counts for a binary file.
fn parse_numstat(text: &str) -> Vec<FileChange> {
    let mut changes: Vec<FileChange> = text
        .split('\0')
        .filter_map(|entry| {
            let mut fields = entry.splitn(3, '\t');
            let added = fields.next()?;
            let removed = fields.next()?;
            let path = fields.next()?.trim_start_matches('\n');
            (!path.is_empty()).then(|| FileChange {
                path: path.to_owned(),
                added: added.trim().parse().ok(),
                removed: removed.trim().parse().ok(),
            })
        })
        .collect();
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numstat_reads_text_and_binary_files() {
        let text = "3\t1\tsrc/lib.rs\0-\t-\tlogo.png\0\n0\t12\tsrc/old file.rs\0";
        assert_eq!(
            parse_numstat(text),
            [
                FileChange {
                    path: "logo.png".into(),
                    added: None,
                    removed: None
                },
                FileChange {
                    path: "src/lib.rs".into(),
                    added: Some(3),
                    removed: Some(1)
                },
                FileChange {
                    path: "src/old file.rs".into(),
                    added: Some(0),
                    removed: Some(12)
                },
            ]
        );
        assert!(parse_numstat("").is_empty());
    }

    #[test]
    fn short_ids_are_seven_digits() {
        let commit = Commit {
            sha: "0123456789abcdef".into(),
        };
        assert_eq!(commit.short(), "0123456");
        assert_eq!(Commit { sha: "abc".into() }.short(), "abc");
    }
}
