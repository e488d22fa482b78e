//! [`GitHub`] for [`GitHubClient`]: the reads (roles, files, branches, pull requests) and
//! reactions, with GitHub's JSON narrowed to the port's types. Comments and check runs,
//! which need care against duplicates, are in `comments` and `checks`.

use crate::client::{GitHubClient, repo_path};
use crate::endpoints::Endpoint;
use crate::transport::{Call, encode, encode_path};
use base64::Engine;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::json;
use shared::ids::CommitSha;
use shared::ports::{
    ChangeSet, ChangedPaths, CheckRunUpdate, FailedCheck, GitHub, GitHubError, HeadCheck,
    MAX_CONTENTS_BYTES, MAX_THREAD_DIFF_CHARS, MergeOutcome, NewCheckRun, NewIssue, NewPullRequest,
    NewReview, OpenedPullRequest, Permission, PullRequestInfo, PullReview, Reaction,
    ReactionTarget, RepoFile, RepoScope, RepositoryInfo, ThreadText,
};

/// The roles GitHub names in `role_name`; anything else is a custom role.
const BUILT_IN_ROLES: [&str; 5] = ["admin", "maintain", "write", "triage", "read"];

#[derive(Deserialize)]
struct PermissionJson {
    permission: String,
    role_name: Option<String>,
}

impl PermissionJson {
    /// `role_name` when it is a built-in role (it tells `maintain` and `triage` apart);
    /// for a custom role, `permission`, which is the built-in role it is based on.
    fn permission(&self) -> Permission {
        match self.role_name.as_deref() {
            Some(role) if BUILT_IN_ROLES.contains(&role) => Permission::from_role(role),
            _ => Permission::from_role(&self.permission),
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ContentsJson {
    Entry(EntryJson),
    /// A directory's listing.
    Listing(Vec<IgnoredAny>),
}

#[derive(Deserialize)]
struct EntryJson {
    #[serde(rename = "type")]
    kind: String,
    size: u64,
    encoding: Option<String>,
    content: Option<String>,
}

#[derive(Deserialize)]
struct BranchHeadJson {
    commit: CommitJson,
}

#[derive(Deserialize)]
struct CommitJson {
    sha: String,
}

#[derive(Deserialize)]
struct PullJson {
    number: u64,
    state: String,
    head: BranchJson,
    base: BranchJson,
    /// `null` for a deleted user.
    user: Option<UserJson>,
    #[serde(default)]
    merged: bool,
}

#[derive(Deserialize)]
struct UserJson {
    login: String,
}

#[derive(Deserialize)]
struct BranchJson {
    sha: String,
    #[serde(rename = "ref")]
    git_ref: String,
    /// `null` when the head's fork was deleted.
    repo: Option<RepoJson>,
}

#[derive(Deserialize)]
struct RepoJson {
    full_name: String,
}

impl PullJson {
    fn into_info(self) -> PullRequestInfo {
        let from_fork = match (&self.head.repo, &self.base.repo) {
            (Some(head), Some(base)) => !head.full_name.eq_ignore_ascii_case(&base.full_name),
            // A head whose repository is gone came from a deleted fork.
            _ => true,
        };
        PullRequestInfo {
            number: self.number,
            head_sha: CommitSha::new(self.head.sha),
            head_ref: self.head.git_ref,
            base_ref: self.base.git_ref,
            from_fork,
            state: self.state,
            author: self.user.map(|user| user.login).unwrap_or_default(),
            merged: self.merged,
        }
    }
}

/// What a contents API entry holds: the file's bytes, or why they cannot be had.
fn file_content(call: &Call, entry: ContentsJson) -> Result<RepoFile, GitHubError> {
    let entry = match entry {
        ContentsJson::Entry(entry) => entry,
        ContentsJson::Listing(entries) => {
            tracing::debug!(entries = entries.len(), "a directory, not a file");
            return Ok(RepoFile::NotAFile {
                kind: "directory".to_owned(),
            });
        }
    };
    match entry.kind.as_str() {
        "file" => {}
        "dir" => {
            return Ok(RepoFile::NotAFile {
                kind: "directory".to_owned(),
            });
        }
        _ => return Ok(RepoFile::NotAFile { kind: entry.kind }),
    }
    // Over 1 MB GitHub sends `encoding: "none"` and an empty `content`.
    if entry.size > MAX_CONTENTS_BYTES || entry.encoding.as_deref() != Some("base64") {
        return Ok(RepoFile::TooLarge { bytes: entry.size });
    }
    let encoded: String = entry
        .content
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map(RepoFile::Found)
        .map_err(|err| {
            GitHubError::UnexpectedAnswer(format!("{}: content is not base64: {err}", call.label()))
        })
}

/// What a 404 from the contents API means. GitHub's `message` tells a missing ref ("No
/// commit found for the ref …") and an empty repository ("This repository is empty.")
/// from a missing file ("Not Found"); the client quotes it in the error.
fn not_found(message: &str) -> RepoFile {
    let message = message.to_ascii_lowercase();
    if message.contains("repository is empty") {
        RepoFile::NoSuchRef {
            empty_repository: true,
        }
    } else if message.contains("no commit found for the ref") {
        RepoFile::NoSuchRef {
            empty_repository: false,
        }
    } else {
        RepoFile::Missing
    }
}

impl GitHub for GitHubClient {
    async fn permission(&self, scope: &RepoScope, login: &str) -> Result<Permission, GitHubError> {
        let call = Call::new(
            Endpoint::CollaboratorPermission,
            repo_path(
                scope,
                &format!("collaborators/{}/permission", encode(login)),
            ),
        );
        match self
            .retry
            .run("collaborator permission", |_| self.send(scope, &call))
            .await
        {
            Ok(reply) => Ok(reply.json::<PermissionJson>(&call)?.permission()),
            // Not a user, or not one GitHub will tell about: no role.
            Err(GitHubError::NotFound(_)) => Ok(Permission::None),
            Err(error) => Err(error),
        }
    }

    async fn file(
        &self,
        scope: &RepoScope,
        path: &str,
        git_ref: &str,
    ) -> Result<RepoFile, GitHubError> {
        let mut call = Call::new(
            Endpoint::GetContents,
            repo_path(scope, &format!("contents/{}", encode_path(path))),
        );
        if !git_ref.is_empty() {
            call = call.query("ref", git_ref);
        }
        let reply = match self
            .retry
            .run("file contents", |_| self.send(scope, &call))
            .await
        {
            Ok(reply) => reply,
            Err(GitHubError::NotFound(message)) => return Ok(not_found(&message)),
            // Some GitHub endpoints answer 409 "Git Repository is empty." instead.
            Err(GitHubError::Rejected(message))
                if message.to_ascii_lowercase().contains("repository is empty") =>
            {
                return Ok(not_found(&message));
            }
            Err(error) => return Err(error),
        };
        file_content(&call, reply.json(&call)?)
    }

    async fn branch_head(&self, scope: &RepoScope, branch: &str) -> Result<CommitSha, GitHubError> {
        // GitHub takes a branch name with slashes as it is.
        let call = Call::new(
            Endpoint::GetBranch,
            repo_path(scope, &format!("branches/{}", encode_path(branch))),
        );
        let reply = self
            .retry
            .run("branch head", |_| self.send(scope, &call))
            .await?;
        Ok(CommitSha::new(
            reply.json::<BranchHeadJson>(&call)?.commit.sha,
        ))
    }

    async fn pull_request(
        &self,
        scope: &RepoScope,
        number: u64,
    ) -> Result<PullRequestInfo, GitHubError> {
        let call = Call::new(
            Endpoint::GetPull,
            repo_path(scope, &format!("pulls/{number}")),
        );
        let reply = self
            .retry
            .run("pull request", |_| self.send(scope, &call))
            .await?;
        Ok(reply.json::<PullJson>(&call)?.into_info())
    }

    async fn thread_text(
        &self,
        scope: &RepoScope,
        number: u64,
        pull_request: bool,
    ) -> Result<ThreadText, GitHubError> {
        let call = Call::new(
            Endpoint::GetIssue,
            repo_path(scope, &format!("issues/{number}")),
        );
        let reply = self.retry.run("issue", |_| self.send(scope, &call)).await?;
        let issue = reply.json::<IssueJson>(&call)?;
        let diff = if pull_request {
            Some(self.pull_request_diff(scope, number).await?)
        } else {
            None
        };
        Ok(ThreadText {
            title: issue.title,
            body: issue.body.unwrap_or_default(),
            diff,
        })
    }

    /// GitHub answers 200 instead of 201 for a reaction that already exists, so retrying
    /// is harmless.
    async fn react(
        &self,
        scope: &RepoScope,
        target: ReactionTarget,
        reaction: Reaction,
    ) -> Result<(), GitHubError> {
        let (endpoint, rest) = match target {
            ReactionTarget::IssueComment(id) => (
                Endpoint::IssueCommentReaction,
                format!("issues/comments/{id}/reactions"),
            ),
            ReactionTarget::ReviewComment(id) => (
                Endpoint::ReviewCommentReaction,
                format!("pulls/comments/{id}/reactions"),
            ),
        };
        let call = Call::post(
            endpoint,
            repo_path(scope, &rest),
            json!({ "content": reaction.content() }),
        );
        let reply = self
            .retry
            .run("reaction", |_| self.send(scope, &call))
            .await?;
        tracing::debug!(
            repo = %scope.repo,
            reaction = reaction.content(),
            new = reply.status == http::StatusCode::CREATED,
            "reacted"
        );
        Ok(())
    }

    async fn comment(
        &self,
        scope: &RepoScope,
        number: u64,
        marker: &str,
        body: &str,
    ) -> Result<u64, GitHubError> {
        self.post_comment(scope, number, marker, body).await
    }

    async fn create_check_run(
        &self,
        scope: &RepoScope,
        check: &NewCheckRun,
    ) -> Result<u64, GitHubError> {
        self.create_check(scope, check).await
    }

    async fn update_check_run(
        &self,
        scope: &RepoScope,
        check_run_id: u64,
        update: &CheckRunUpdate,
    ) -> Result<(), GitHubError> {
        self.update_check(scope, check_run_id, update).await
    }

    async fn add_labels(
        &self,
        scope: &RepoScope,
        number: u64,
        labels: &[&str],
    ) -> Result<(), GitHubError> {
        self.add_issue_labels(scope, number, labels).await
    }

    async fn changed_paths(
        &self,
        scope: &RepoScope,
        change: &ChangeSet,
    ) -> Result<ChangedPaths, GitHubError> {
        self.list_changed_paths(scope, change).await
    }

    async fn remove_label(
        &self,
        scope: &RepoScope,
        number: u64,
        label: &str,
    ) -> Result<(), GitHubError> {
        self.remove_issue_label(scope, number, label).await
    }

    async fn upsert_comment(
        &self,
        scope: &RepoScope,
        number: u64,
        marker: &str,
        body: &str,
    ) -> Result<u64, GitHubError> {
        GitHubClient::upsert_comment(self, scope, number, marker, body).await
    }

    async fn failed_checks(
        &self,
        scope: &RepoScope,
        suite_id: u64,
    ) -> Result<Vec<FailedCheck>, GitHubError> {
        self.list_failed_checks(scope, suite_id).await
    }

    async fn repository(&self, scope: &RepoScope) -> Result<RepositoryInfo, GitHubError> {
        self.repository_info(scope).await
    }

    async fn open_issue(&self, scope: &RepoScope, issue: &NewIssue) -> Result<u64, GitHubError> {
        self.create_issue(scope, issue).await
    }

    async fn open_pull_request(
        &self,
        scope: &RepoScope,
        pull: &NewPullRequest,
    ) -> Result<OpenedPullRequest, GitHubError> {
        self.open_pull(scope, pull).await
    }

    async fn review(
        &self,
        scope: &RepoScope,
        number: u64,
        marker: &str,
        review: &NewReview,
    ) -> Result<u64, GitHubError> {
        self.post_review(scope, number, marker, review).await
    }

    async fn reviews(
        &self,
        scope: &RepoScope,
        number: u64,
    ) -> Result<Vec<PullReview>, GitHubError> {
        self.list_reviews(scope, number).await
    }

    async fn head_checks(
        &self,
        scope: &RepoScope,
        sha: &CommitSha,
    ) -> Result<Option<Vec<HeadCheck>>, GitHubError> {
        self.list_head_checks(scope, sha).await
    }

    async fn merge_pull_request(
        &self,
        scope: &RepoScope,
        number: u64,
        head: &CommitSha,
        method: &str,
    ) -> Result<MergeOutcome, GitHubError> {
        self.merge_pull(scope, number, head, method).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(permission: &str, role_name: Option<&str>) -> Permission {
        PermissionJson {
            permission: permission.to_owned(),
            role_name: role_name.map(str::to_owned),
        }
        .permission()
    }

    #[test]
    fn a_404_is_a_missing_file_unless_github_names_the_ref_or_an_empty_repository() {
        let answered = |message: &str| format!("GET /repos/o/r/contents/x answered 404: {message}");
        assert_eq!(not_found(&answered("Not Found")), RepoFile::Missing);
        assert_eq!(
            not_found(&answered("No commit found for the ref main")),
            RepoFile::NoSuchRef {
                empty_repository: false
            }
        );
        assert_eq!(
            not_found(&answered("This repository is empty.")),
            RepoFile::NoSuchRef {
                empty_repository: true
            }
        );
    }

    #[test]
    fn role_name_wins_unless_it_is_a_custom_role() {
        assert_eq!(role("write", Some("maintain")), Permission::Maintain);
        assert_eq!(role("read", Some("triage")), Permission::Triage);
        assert_eq!(role("write", Some("security-lead")), Permission::Write);
        assert_eq!(role("admin", None), Permission::Admin);
        assert_eq!(role("none", None), Permission::None);
    }
}

#[derive(Deserialize)]
struct IssueJson {
    title: String,
    body: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct PullFileJson {
    pub(crate) filename: String,
    /// The old name of a renamed file.
    #[serde(default)]
    pub(crate) previous_filename: Option<String>,
    /// Absent for binary files and for very large diffs.
    pub(crate) patch: Option<String>,
}

/// How many pages of a pull request's files are read (100 each): past that, the diff
/// is over [`MAX_THREAD_DIFF_CHARS`] anyway.
const MAX_FILE_PAGES: u32 = 3;

impl GitHubClient {
    /// The pull request's changed files with their patches, up to [`MAX_FILE_PAGES`]
    /// pages; `enough` stops the reading early.
    pub(crate) async fn pull_files(
        &self,
        scope: &RepoScope,
        number: u64,
        enough: impl Fn(&[PullFileJson]) -> bool,
    ) -> Result<Vec<PullFileJson>, GitHubError> {
        self.pull_file_pages(scope, number, MAX_FILE_PAGES, enough)
            .await
    }

    /// As [`Self::pull_files`], up to `pages` pages of 100.
    pub(crate) async fn pull_file_pages(
        &self,
        scope: &RepoScope,
        number: u64,
        pages: u32,
        enough: impl Fn(&[PullFileJson]) -> bool,
    ) -> Result<Vec<PullFileJson>, GitHubError> {
        let mut all = Vec::new();
        for page in 1..=pages {
            let call = Call::new(
                Endpoint::ListPullFiles,
                repo_path(scope, &format!("pulls/{number}/files")),
            )
            .query("per_page", "100")
            .query("page", page.to_string());
            let reply = self
                .retry
                .run("pull request files", |_| self.send(scope, &call))
                .await?;
            let files = reply.json::<Vec<PullFileJson>>(&call)?;
            let last = files.len() < 100;
            all.extend(files);
            if last || enough(&all) {
                break;
            }
        }
        Ok(all)
    }

    /// The pull request's changes as `--- a/… +++ b/…` sections of unified-diff hunks.
    async fn pull_request_diff(
        &self,
        scope: &RepoScope,
        number: u64,
    ) -> Result<String, GitHubError> {
        let files = self
            .pull_files(scope, number, |files| {
                files
                    .iter()
                    .map(|file| file.patch.as_deref().map_or(0, str::len))
                    .sum::<usize>()
                    > MAX_THREAD_DIFF_CHARS
            })
            .await?;
        Ok(diff_text(&files))
    }
}

/// Files as `--- a/… +++ b/…` sections of unified-diff hunks, cut to
/// [`MAX_THREAD_DIFF_CHARS`].
pub(crate) fn diff_text(files: &[PullFileJson]) -> String {
    let mut diff = String::new();
    for file in files {
        let patch = file
            .patch
            .as_deref()
            .unwrap_or("(binary or too large to show)");
        diff.push_str(&format!(
            "--- a/{name}\n+++ b/{name}\n{patch}\n",
            name = file.filename
        ));
    }
    if diff.chars().count() > MAX_THREAD_DIFF_CHARS {
        diff = diff.chars().take(MAX_THREAD_DIFF_CHARS).collect();
        diff.push_str("\n… (diff cut; read the files for the rest)\n");
    }
    diff
}
