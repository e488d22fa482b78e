//! [`Checkout`]: a fresh temporary clone at one commit, and what the runner does with it
//! afterwards (commit the agent's changes on the job's branch, push that branch).

use super::git::{Git, GitAuth, GitError, Remote};
use crate::tools::is_git_name;
use shared::ids::CommitSha;
use std::path::Path;
use tempfile::TempDir;

/// Who commits: the App's bot user, so that GitHub shows the commits as the App's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub email: String,
}

impl Identity {
    /// `<slug>[bot]` with GitHub's noreply address for the bot user. `bot_user_id` is the
    /// bot user's id when known; GitHub also links the address without it.
    pub fn bot(app_slug: &str, bot_user_id: Option<u64>) -> Self {
        let name = format!("{app_slug}[bot]");
        let email = match bot_user_id {
            Some(id) => format!("{id}+{name}@users.noreply.github.com"),
            None => format!("{name}@users.noreply.github.com"),
        };
        Self { name, email }
    }

    fn environment(&self) -> Vec<(String, String)> {
        vec![
            ("GIT_AUTHOR_NAME".to_owned(), self.name.clone()),
            ("GIT_AUTHOR_EMAIL".to_owned(), self.email.clone()),
            ("GIT_COMMITTER_NAME".to_owned(), self.name.clone()),
            ("GIT_COMMITTER_EMAIL".to_owned(), self.email.clone()),
        ]
    }
}

/// Why a branch could not be pushed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The branch exists on the remote with commits this job did not make; the runner
    /// never force-pushes over them.
    #[error(
        "branch {branch} already exists on the remote with other commits; it was left as it is"
    )]
    BranchTaken { branch: String },
    #[error(transparent)]
    Git(#[from] GitError),
}

/// A new directory for a clone in the system's temporary directory (`TMPDIR`: the task's
/// own on Fargate, the runner's directory under the data directory for `ota serve`),
/// readable by the runner's user alone: the repository's code and what the agent writes
/// are nobody else's business on a shared machine.
fn clone_dir() -> std::io::Result<TempDir> {
    let mut builder = tempfile::Builder::new();
    builder.prefix("ota-clone-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o700));
    }
    builder.tempdir()
}

/// A clone in a temporary directory, removed when dropped.
#[derive(Debug)]
pub struct Checkout {
    dir: TempDir,
    remote: Remote,
    commit: CommitSha,
}

impl Checkout {
    /// Fetches `commit` alone (depth 1, no blobs until needed) from `remote` into a new
    /// temporary directory and checks it out.
    pub async fn clone_at(
        remote: &Remote,
        commit: &CommitSha,
        auth: &GitAuth,
    ) -> Result<Self, GitError> {
        let dir = clone_dir().map_err(|err| GitError {
            command: "clone".to_owned(),
            reason: format!("could not create a temporary directory: {err}"),
            transient: false,
        })?;
        let checkout = Self {
            dir,
            remote: remote.clone(),
            commit: commit.clone(),
        };
        let git = checkout.git(Vec::new());
        git.run(&["init", "--quiet"], None, None).await?;
        git.run(&["remote", "add", "origin", &remote.url], None, None)
            .await?;
        // A promisor remote: the checkout fetches the blobs it needs from it.
        git.run(&["config", "remote.origin.promisor", "true"], None, None)
            .await?;
        git.run(
            &["config", "remote.origin.partialclonefilter", "blob:none"],
            None,
            None,
        )
        .await?;
        git.run(
            &[
                "fetch",
                "--quiet",
                "--no-tags",
                "--filter=blob:none",
                "--depth=1",
                "origin",
                commit.as_str(),
            ],
            Some(auth),
            None,
        )
        .await?;
        git.run(
            &["checkout", "--quiet", "--detach", commit.as_str()],
            Some(auth),
            None,
        )
        .await?;
        Ok(checkout)
    }

    /// The clone's root, where the agent works.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The commit the clone started from.
    pub fn base_commit(&self) -> &CommitSha {
        &self.commit
    }

    fn git(&self, extra_env: Vec<(String, String)>) -> Git<'_> {
        Git {
            dir: self.dir.path(),
            remote: &self.remote,
            extra_env,
        }
    }

    /// The paths that differ from the starting commit (new, changed, deleted), sorted.
    pub async fn changed_paths(&self) -> Result<Vec<String>, GitError> {
        let status = self
            .git(Vec::new())
            .run(
                &["status", "--porcelain=v1", "-z", "--untracked-files=all"],
                None,
                None,
            )
            .await?;
        Ok(status_paths(&status))
    }

    /// Commits every change on a new branch `branch` with `message`, as `identity`.
    /// `None` when nothing changed: no branch and no commit are made.
    pub async fn commit_all(
        &self,
        branch: &str,
        message: &str,
        identity: &Identity,
    ) -> Result<Option<CommitSha>, GitError> {
        let (paths, refused): (Vec<String>, Vec<String>) = self
            .changed_paths()
            .await?
            .into_iter()
            .partition(|path| !path.split('/').any(is_git_name));
        if !refused.is_empty() {
            // Git refuses these in a tree (a command run in the clone may write them); the
            // rest of the work is still committed.
            tracing::warn!(
                count = refused.len(),
                first = %refused[0],
                "left out of the commit: paths that would be .git on some file system"
            );
        }
        if paths.is_empty() {
            return Ok(None);
        }
        let git = self.git(identity.environment());
        // The branch starts at the current commit and HEAD moves onto it without touching
        // the index or the files: unlike `checkout -b`, this also works in the middle of a
        // merge (the `resolve` task), whose commit then records both parents. The empty
        // old value refuses a branch that exists already.
        let branch_ref = format!("refs/heads/{branch}");
        git.run(&["update-ref", &branch_ref, "HEAD", ""], None, None)
            .await?;
        git.run(&["symbolic-ref", "HEAD", &branch_ref], None, None)
            .await?;
        // Exactly the committable paths, read literally (no pathspec magic in a name).
        let mut list = paths.join("\0");
        list.push('\0');
        git.run(
            &[
                "--literal-pathspecs",
                "add",
                "--all",
                "--pathspec-from-file=-",
                "--pathspec-file-nul",
            ],
            None,
            Some(&list),
        )
        .await?;
        git.run(
            &["commit", "--quiet", "--no-verify", "--file=-"],
            None,
            Some(message),
        )
        .await?;
        let sha = git.run(&["rev-parse", "HEAD"], None, None).await?;
        Ok(Some(CommitSha::new(sha.trim())))
    }

    /// Pushes `branch` to the remote, never by force. A branch the remote has at this
    /// very commit already (a retried push) counts as pushed; one with other commits is
    /// [`PushError::BranchTaken`].
    pub async fn push(
        &self,
        branch: &str,
        head: &CommitSha,
        auth: &GitAuth,
    ) -> Result<(), PushError> {
        let git = self.git(Vec::new());
        let remote_ref = format!("refs/heads/{branch}");
        let existing = git
            .run(&["ls-remote", "origin", &remote_ref], Some(auth), None)
            .await?;
        if let Some(sha) = existing.split_whitespace().next() {
            if sha == head.as_str() {
                return Ok(());
            }
            return Err(PushError::BranchTaken {
                branch: branch.to_owned(),
            });
        }
        self.push_head(branch, head, auth).await
    }

    /// Merges `branch` of the remote into the checkout without committing (the `resolve`
    /// task), after fetching the history both need (the clone is shallow; blobs still
    /// come on demand). Returns the files left with conflicts, sorted; empty when the
    /// merge went through on its own or there was nothing to merge.
    pub async fn merge_branch(
        &self,
        branch: &str,
        auth: &GitAuth,
        identity: &Identity,
    ) -> Result<Vec<String>, GitError> {
        let git = self.git(identity.environment());
        git.run(
            &[
                "fetch",
                "--quiet",
                "--no-tags",
                "--filter=blob:none",
                "--unshallow",
                "origin",
                self.commit.as_str(),
            ],
            Some(auth),
            None,
        )
        .await?;
        let remote_ref = format!("refs/heads/{branch}");
        git.run(
            &[
                "fetch",
                "--quiet",
                "--no-tags",
                "--filter=blob:none",
                "origin",
                &remote_ref,
            ],
            Some(auth),
            None,
        )
        .await?;
        // `git merge` fails when files conflict: that is what the task is for, so the
        // conflicted files decide, and a failure without any is a real one.
        let merged = git
            .run(
                &["merge", "--no-ff", "--no-commit", "--quiet", "FETCH_HEAD"],
                Some(auth),
                None,
            )
            .await;
        let listed = git
            .run(
                &["diff", "--name-only", "--diff-filter=U", "-z"],
                None,
                None,
            )
            .await?;
        let mut conflicted: Vec<String> = listed
            .split('\0')
            .filter(|path| !path.is_empty())
            .map(str::to_owned)
            .collect();
        conflicted.sort();
        match merged {
            Err(err) if conflicted.is_empty() => Err(err),
            _ => Ok(conflicted),
        }
    }

    /// Pushes `head` onto the existing `branch` as a fast-forward, never forced: when the
    /// branch has moved past the commit the job started from, the push is refused
    /// ([`PushError::BranchTaken`]) and nothing on the branch changes.
    pub async fn push_onto(
        &self,
        branch: &str,
        head: &CommitSha,
        auth: &GitAuth,
    ) -> Result<(), PushError> {
        self.push_head(branch, head, auth).await
    }

    /// `git push` of `head` to `branch`, never forced: a refusal because the branch is
    /// not an ancestor of `head` (it exists, or moved) is [`PushError::BranchTaken`].
    async fn push_head(
        &self,
        branch: &str,
        head: &CommitSha,
        auth: &GitAuth,
    ) -> Result<(), PushError> {
        let refspec = format!("{}:refs/heads/{branch}", head.as_str());
        match self
            .git(Vec::new())
            .run(
                &["push", "--quiet", "--porcelain", "origin", &refspec],
                Some(auth),
                None,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if err.reason.contains("rejected") || err.reason.contains("fetch first") => {
                Err(PushError::BranchTaken {
                    branch: branch.to_owned(),
                })
            }
            Err(err) => Err(err.into()),
        }
    }
}

/// The paths `git status --porcelain=v1 -z` lists (new, changed, deleted), sorted.
pub(super) fn status_paths(status: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut entries = status.split('\0').filter(|entry| !entry.is_empty());
    while let Some(entry) = entries.next() {
        let (code, path) = entry.split_at(entry.len().min(3));
        paths.push(path.to_owned());
        // A rename is followed by its original path.
        if code.starts_with('R') || code.starts_with('C') {
            entries.next();
        }
    }
    paths.sort();
    paths.dedup();
    paths
}

#[cfg(test)]
mod tests {
    #[cfg(unix)]
    #[test]
    fn clone_directories_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = super::clone_dir().unwrap();
        let mode = std::fs::metadata(dir.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "{mode:o}");
    }
}
