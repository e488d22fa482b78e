//! A candidate's work kept aside as a git tree, so that several candidates can start from
//! the same commit and the one kept can be put back ([`crate::agent::candidates`]).
//!
//! A snapshot is the tree `git write-tree` makes of the working tree's changes over `HEAD`:
//! stored in the clone's own object database, nothing copied out, binary files included.
//! The index is put back to `HEAD` after each step, so the working tree looks to the rest
//! of the runner (and to `commit_all`) as if the agent had just left it. Ignored files
//! (build outputs such as `target/`) are neither kept nor removed: a candidate's build
//! cache speeds up the next one's tests, and nothing ignored is ever committed.

use super::checkout::status_paths;
use super::git::{Git, GitError, Remote};
use crate::tools::is_git_name;
use std::path::{Path, PathBuf};

/// One candidate's changes over `HEAD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The tree object holding the working tree as the candidate left it.
    pub tree: String,
    /// Lines added plus lines removed, over every text file; a binary file counts one.
    pub lines: u64,
    /// The paths that differ from `HEAD`, sorted.
    pub files: Vec<String>,
}

/// Takes and restores snapshots of the working tree at `dir`.
#[derive(Debug)]
pub struct Snapshots {
    dir: PathBuf,
    /// No remote is reached: every step is local.
    remote: Remote,
}

impl Snapshots {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            remote: Remote {
                url: String::new(),
                scope: String::new(),
            },
        }
    }

    fn git(&self) -> Git<'_> {
        Git {
            dir: &self.dir,
            remote: &self.remote,
            extra_env: Vec::new(),
        }
    }

    async fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<String, GitError> {
        self.git().run(args, None, stdin).await
    }

    /// The working tree's changes over `HEAD`, kept; `None` when nothing changed. Paths
    /// git refuses in a tree (`.git` under another spelling) are left out, as a commit
    /// leaves them out.
    pub async fn take(&self) -> Result<Option<Snapshot>, GitError> {
        let status = self
            .run(
                &["status", "--porcelain=v1", "-z", "--untracked-files=all"],
                None,
            )
            .await?;
        let mut paths = status_paths(&status);
        paths.retain(|path| !path.split('/').any(is_git_name));
        if paths.is_empty() {
            return Ok(None);
        }
        let mut list = paths.join("\0");
        list.push('\0');
        self.run(
            &[
                "--literal-pathspecs",
                "add",
                "--all",
                "--pathspec-from-file=-",
                "--pathspec-file-nul",
            ],
            Some(&list),
        )
        .await?;
        let tree = self.run(&["write-tree"], None).await;
        // The index goes back to HEAD whatever came of writing the tree.
        self.run(&["reset", "--quiet"], None).await?;
        let tree = tree?.trim().to_owned();
        let numstat = self
            .run(&["diff", "--numstat", "--no-renames", "HEAD", &tree], None)
            .await?;
        Ok(Some(Snapshot {
            tree,
            lines: count_lines(&numstat),
            files: paths,
        }))
    }

    /// Puts the working tree back to `HEAD`: changed files restored, new files removed
    /// (ignored ones stay).
    pub async fn reset(&self) -> Result<(), GitError> {
        self.run(&["reset", "--quiet", "--hard", "HEAD"], None)
            .await?;
        self.run(&["clean", "--quiet", "--force", "-d"], None)
            .await?;
        Ok(())
    }

    /// Puts `snapshot` in the working tree, over `HEAD`, with the index at `HEAD`.
    pub async fn restore(&self, snapshot: &Snapshot) -> Result<(), GitError> {
        self.reset().await?;
        self.run(&["read-tree", "-u", "--reset", &snapshot.tree], None)
            .await?;
        self.run(&["reset", "--quiet"], None).await?;
        Ok(())
    }

    /// The unified diff of `snapshot` over `HEAD`, as text (binary files named only).
    pub async fn diff(&self, snapshot: &Snapshot) -> Result<String, GitError> {
        self.run(
            &[
                "diff",
                "--no-color",
                "--no-ext-diff",
                "HEAD",
                &snapshot.tree,
            ],
            None,
        )
        .await
    }
}

/// The lines `git diff --numstat` counts: added plus removed, a binary file (shown as `-`)
/// as one.
fn count_lines(numstat: &str) -> u64 {
    numstat
        .lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let added = fields.next()?;
            let removed = fields.next()?;
            Some(match (added.parse::<u64>(), removed.parse::<u64>()) {
                (Ok(added), Ok(removed)) => added + removed,
                _ => 1,
            })
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) {
        let status = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }

    fn repo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        git(dir.path(), &["init", "--quiet"]);
        std::fs::write(dir.path().join("a.txt"), "one\ntwo\n").unwrap();
        std::fs::write(dir.path().join("gone.txt"), "bye\n").unwrap();
        std::fs::write(dir.path().join(".gitignore"), "cache/\n").unwrap();
        git(dir.path(), &["add", "--all"]);
        git(dir.path(), &["commit", "--quiet", "-m", "start"]);
        dir
    }

    fn read(dir: &Path, path: &str) -> Option<String> {
        std::fs::read_to_string(dir.join(path)).ok()
    }

    #[tokio::test]
    async fn candidates_start_from_head_and_the_chosen_one_comes_back() {
        let dir = repo();
        let root = dir.path();
        let snapshots = Snapshots::new(root);
        assert_eq!(snapshots.take().await.unwrap(), None);

        // The first candidate edits, adds, deletes, and leaves a build cache.
        std::fs::write(root.join("a.txt"), "one\n2\nthree\n").unwrap();
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(root.join("src/new.rs"), "fn main() {}\n").unwrap();
        std::fs::remove_file(root.join("gone.txt")).unwrap();
        std::fs::create_dir_all(root.join("cache")).unwrap();
        std::fs::write(root.join("cache/build.o"), [0u8, 1, 2]).unwrap();
        let first = snapshots.take().await.unwrap().unwrap();
        assert_eq!(first.files, ["a.txt", "gone.txt", "src/new.rs"]);
        // a.txt: -two +2 +three; gone.txt: -bye; src/new.rs: +1.
        assert_eq!(first.lines, 5);

        snapshots.reset().await.unwrap();
        assert_eq!(read(root, "a.txt").as_deref(), Some("one\ntwo\n"));
        assert_eq!(read(root, "gone.txt").as_deref(), Some("bye\n"));
        assert_eq!(read(root, "src/new.rs"), None);
        assert!(root.join("cache/build.o").exists(), "ignored files stay");

        // The second candidate changes one line.
        std::fs::write(root.join("a.txt"), "one\nTWO\n").unwrap();
        let second = snapshots.take().await.unwrap().unwrap();
        assert_eq!(
            (second.lines, second.files.clone()),
            (2, vec!["a.txt".to_owned()])
        );

        snapshots.restore(&first).await.unwrap();
        assert_eq!(read(root, "a.txt").as_deref(), Some("one\n2\nthree\n"));
        assert_eq!(read(root, "gone.txt"), None);
        assert_eq!(read(root, "src/new.rs").as_deref(), Some("fn main() {}\n"));
        // Taken again, the restored work is the same snapshot: nothing staged, nothing lost.
        assert_eq!(snapshots.take().await.unwrap(), Some(first.clone()));
        let diff = snapshots.diff(&second).await.unwrap();
        assert!(diff.contains("-two\n+TWO\n"), "{diff}");
    }

    #[test]
    fn binary_files_count_one_line() {
        assert_eq!(count_lines("3\t1\ta.rs\n-\t-\timage.png\n"), 5);
        assert_eq!(count_lines(""), 0);
    }
}
