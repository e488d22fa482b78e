//! The narrow GitHub API the project uses, as a port. The implementation (App JWT,
//! per-repository installation tokens, retries) lives in the `ota-github` crate; tests
//! point it at a fake GitHub server.

use crate::ids::{CommitSha, InstallationId, RepoFullName, RepoId};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::time::Duration;

/// A user's role on a repository, from `GET /repos/{repo}/collaborators/{user}/permission`
/// (`role_name`). Ordered: a higher role includes the lower ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    None,
    Read,
    Triage,
    Write,
    Maintain,
    Admin,
}

impl Permission {
    /// Reads GitHub's `role_name` (or the coarser `permission`); custom roles count as
    /// what they are based on only when GitHub says so, otherwise as `read`.
    pub fn from_role(role: &str) -> Self {
        match role {
            "admin" => Self::Admin,
            "maintain" => Self::Maintain,
            "write" | "push" => Self::Write,
            "triage" => Self::Triage,
            "read" | "pull" => Self::Read,
            "none" | "" => Self::None,
            _ => Self::Read,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Read => "read",
            Self::Triage => "triage",
            Self::Write => "write",
            Self::Maintain => "maintain",
            Self::Admin => "admin",
        }
    }
}

/// A pull request's state as the policy stage needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequestInfo {
    pub number: u64,
    pub head_sha: CommitSha,
    pub head_ref: String,
    pub base_ref: String,
    /// The head lives in another repository than the base.
    pub from_fork: bool,
    /// `open` or `closed` (a merged pull request is `closed` and [`Self::merged`]).
    pub state: String,
    /// Who opened it (`user.login`); empty when GitHub names no one (a deleted user).
    pub author: String,
    pub merged: bool,
}

/// One review of a pull request as GitHub lists them (oldest first), for `output.merge`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullReview {
    /// The reviewer's login; empty when GitHub names no one (a deleted user).
    pub reviewer: String,
    /// `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED`, `PENDING`.
    pub state: String,
    /// The commit reviewed; `None` when GitHub no longer has it.
    pub commit: Option<CommitSha>,
}

/// How many of a pull request's reviews [`GitHub::reviews`] reads: five pages of GitHub's
/// largest, far more than any pull request the App opens gets.
pub const MAX_PULL_REVIEWS: usize = 500;

/// One check run on a commit (the latest of its name), for `output.merge`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadCheck {
    pub name: String,
    /// `queued`, `in_progress`, `completed`, ...
    pub status: String,
    /// Once `completed`: `success`, `failure`, `neutral`, `skipped`, ...
    pub conclusion: Option<String>,
    /// The slug of the App that made it (`github-actions`), when GitHub says.
    pub app_slug: Option<String>,
}

/// How many check runs of a commit [`GitHub::head_checks`] reads: more than that and the
/// merge waits (a commit with that many checks is not one the App decides on alone).
pub const MAX_HEAD_CHECKS: usize = 300;

/// What [`GitHub::merge_pull_request`] came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeOutcome {
    /// GitHub merged it (200); the merge commit.
    Merged { sha: CommitSha },
    /// GitHub refused for now (405: not mergeable, e.g. branch protection or a conflict),
    /// with its message.
    NotMergeable(String),
    /// The head is no longer the commit given (409), with GitHub's message.
    HeadMoved(String),
}

/// A check run of a failed suite, for the `ci_failed` trigger's task text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FailedCheck {
    pub name: String,
    /// `failure`, `timed_out`, ...
    pub conclusion: String,
    /// The run's output title, summary and text as the CI wrote them (any may be empty).
    pub title: String,
    pub summary: String,
    pub text: String,
    /// Annotations at `failure` or `warning` level, as `path:line: message`.
    pub annotations: Vec<String>,
}

/// How many failing runs of a suite are read, and how many annotations of each: enough
/// to say what broke without filling the prompt.
pub const MAX_FAILED_CHECKS: usize = 5;
pub const MAX_CHECK_ANNOTATIONS: usize = 20;

/// What an issue or pull request says, for the agent's prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadText {
    pub title: String,
    pub body: String,
    /// A pull request's changes, file by file as unified-diff hunks, cut to
    /// [`MAX_THREAD_DIFF_CHARS`]; `None` for an issue.
    pub diff: Option<String>,
}

/// How much of a pull request's diff goes into a prompt: enough for a review of an
/// ordinary change; the agent reads files for the rest.
pub const MAX_THREAD_DIFF_CHARS: usize = 100_000;

/// Where a reaction goes: reviews themselves take none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReactionTarget {
    IssueComment(u64),
    ReviewComment(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaction {
    /// 👀: seen, working on it.
    Eyes,
    /// 👎: refused.
    ThumbsDown,
    /// 🚀: done.
    Rocket,
    Confused,
}

impl Reaction {
    /// The `content` GitHub's reactions API takes.
    pub fn content(self) -> &'static str {
        match self {
            Self::Eyes => "eyes",
            Self::ThumbsDown => "-1",
            Self::Rocket => "rocket",
            Self::Confused => "confused",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Queued,
    InProgress,
    Completed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckConclusion {
    Success,
    Failure,
    Neutral,
    Cancelled,
    TimedOut,
    ActionRequired,
    Skipped,
}

/// The text of a check run. GitHub caps `summary` and `text` at 65,535 characters each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckOutput {
    pub title: String,
    pub summary: String,
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCheckRun {
    pub name: String,
    pub head_sha: CommitSha,
    /// The job id, so a "Re-run" click finds its job.
    pub external_id: String,
    pub status: CheckStatus,
    pub details_url: Option<String>,
    pub output: Option<CheckOutput>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckRunUpdate {
    pub status: Option<CheckStatus>,
    pub conclusion: Option<CheckConclusion>,
    pub output: Option<CheckOutput>,
    pub details_url: Option<String>,
}

/// A pull request to open from a branch the runner pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPullRequest {
    /// The branch with the changes (in the same repository).
    pub head: String,
    /// The branch the changes are for.
    pub base: String,
    pub title: String,
    pub body: String,
}

/// A pull request as opened (or found open already).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedPullRequest {
    pub number: u64,
    /// Its page on GitHub (`html_url`).
    pub url: String,
}

/// One inline comment of a review, on a line of the pull request's head version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineComment {
    pub path: String,
    /// The line in the head version of the file, from 1.
    pub line: u64,
    pub body: String,
}

/// A pull-request review to post: a body and inline comments, as a `COMMENT` review (the
/// App neither approves nor requests changes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReview {
    /// The commit the comments' lines refer to.
    pub commit: CommitSha,
    pub body: String,
    pub comments: Vec<InlineComment>,
}

/// What reading one file of a repository found. GitHub answers 404 for a missing file, a
/// missing ref and an empty repository alike, and tells them apart only by its `message`;
/// the implementation sorts them out so that only a missing file means "not there".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoFile {
    /// The file's bytes as stored; whether they are text is the reader's business.
    Found(Vec<u8>),
    /// The ref exists and has no file at this path.
    Missing,
    /// The file exists but its content was not sent: the contents API sends none for files
    /// over [`MAX_CONTENTS_BYTES`].
    TooLarge { bytes: u64 },
    /// Something other than a file is at this path (`dir`, `symlink`, `submodule`).
    NotAFile { kind: String },
    /// The ref does not exist: a branch deleted or renamed, or, when `empty_repository`,
    /// a repository without any commit yet.
    NoSuchRef { empty_repository: bool },
}

/// The largest file GitHub's contents API sends the content of (in base64); larger ones
/// come with `encoding: "none"` and no content.
pub const MAX_CONTENTS_BYTES: u64 = 1024 * 1024;

/// Why a GitHub call failed, classified so callers know whether to try again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GitHubError {
    /// Primary or secondary rate limit; `retry_after` from `retry-after` or
    /// `x-ratelimit-reset`.
    #[error("GitHub rate limit reached{}", retry_hint(.retry_after))]
    RateLimited { retry_after: Option<Duration> },
    /// 5xx, a timeout or a connection failure.
    #[error("GitHub is unavailable: {0}")]
    Unavailable(String),
    /// The App's credentials were refused, or a token could not be minted.
    #[error("GitHub refused the App's credentials: {0}")]
    Unauthorized(String),
    #[error("not found on GitHub: {0}")]
    NotFound(String),
    /// The App lacks a permission, or the resource is locked.
    #[error("GitHub refused: {0}")]
    Forbidden(String),
    /// GitHub rejected the request itself (422 and other 4xx).
    #[error("GitHub rejected the request: {0}")]
    Rejected(String),
    /// GitHub answered 2xx with a body the App cannot read (a field missing or of another
    /// type): the call and the field are named. Asking again gets the same answer, so it
    /// is not transient; it needs a fix in the App (or GitHub changed its API).
    #[error("GitHub's answer is not what the App expects: {0}")]
    UnexpectedAnswer(String),
}

fn retry_hint(retry_after: &Option<Duration>) -> String {
    retry_after
        .map(|after| format!(" (retry in {}s)", after.as_secs()))
        .unwrap_or_default()
}

impl GitHubError {
    /// Worth trying again later: the same request may well succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Unavailable(_))
    }
}

/// One installation's view of one repository: every call is made with an installation
/// token scoped to that repository.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoScope {
    pub installation: InstallationId,
    pub repo: RepoFullName,
}

/// What the policy and report stages ask of GitHub.
pub trait GitHub: Send + Sync {
    /// The user's role on the repository; [`Permission::None`] for a non-collaborator.
    fn permission(
        &self,
        scope: &RepoScope,
        login: &str,
    ) -> impl Future<Output = Result<Permission, GitHubError>> + Send;

    /// The file at `path` on `git_ref` (the default branch when empty), or why there is
    /// none to read: each case a caller tells its user about differently.
    fn file(
        &self,
        scope: &RepoScope,
        path: &str,
        git_ref: &str,
    ) -> impl Future<Output = Result<RepoFile, GitHubError>> + Send;

    /// The commit a branch points at now (`GET /repos/{repo}/branches/{branch}`).
    fn branch_head(
        &self,
        scope: &RepoScope,
        branch: &str,
    ) -> impl Future<Output = Result<CommitSha, GitHubError>> + Send;

    fn pull_request(
        &self,
        scope: &RepoScope,
        number: u64,
    ) -> impl Future<Output = Result<PullRequestInfo, GitHubError>> + Send;

    /// The title and description of issue or pull request `number`, and for a pull
    /// request its diff (`GET /repos/{repo}/issues/{n}`, `GET .../pulls/{n}/files`).
    fn thread_text(
        &self,
        scope: &RepoScope,
        number: u64,
        pull_request: bool,
    ) -> impl Future<Output = Result<ThreadText, GitHubError>> + Send;

    fn react(
        &self,
        scope: &RepoScope,
        target: ReactionTarget,
        reaction: Reaction,
    ) -> impl Future<Output = Result<(), GitHubError>> + Send;

    /// Posts a comment on an issue or pull request and returns its id. `marker` is a
    /// unique key for this comment (e.g. `job:<id>:accepted`): if a retry follows a
    /// failure that happened after GitHub created the comment, the implementation finds
    /// the comment by its marker instead of posting it twice.
    fn comment(
        &self,
        scope: &RepoScope,
        number: u64,
        marker: &str,
        body: &str,
    ) -> impl Future<Output = Result<u64, GitHubError>> + Send;

    /// Writes `body` into the App's comment on issue `number` that carries `marker`,
    /// posting it the first time: one comment kept up to date instead of a new one each
    /// time. Returns its id.
    fn upsert_comment(
        &self,
        scope: &RepoScope,
        number: u64,
        marker: &str,
        body: &str,
    ) -> impl Future<Output = Result<u64, GitHubError>> + Send;

    fn create_check_run(
        &self,
        scope: &RepoScope,
        check: &NewCheckRun,
    ) -> impl Future<Output = Result<u64, GitHubError>> + Send;

    fn update_check_run(
        &self,
        scope: &RepoScope,
        check_run_id: u64,
        update: &CheckRunUpdate,
    ) -> impl Future<Output = Result<(), GitHubError>> + Send;

    /// Adds labels to an issue or pull request; GitHub creates a label the repository
    /// does not have yet. Adding a label it already carries is harmless.
    fn add_labels(
        &self,
        scope: &RepoScope,
        number: u64,
        labels: &[&str],
    ) -> impl Future<Output = Result<(), GitHubError>> + Send;

    /// Opens a pull request from `pull.head` into `pull.base`, unless one from that branch
    /// is open already, which is then returned as it is: a retried job opens no second one.
    fn open_pull_request(
        &self,
        scope: &RepoScope,
        pull: &NewPullRequest,
    ) -> impl Future<Output = Result<OpenedPullRequest, GitHubError>> + Send;

    /// Posts a review with inline comments on pull request `number` and returns its id.
    /// `marker` works as for [`GitHub::comment`]: a review carrying it is not posted twice.
    fn review(
        &self,
        scope: &RepoScope,
        number: u64,
        marker: &str,
        review: &NewReview,
    ) -> impl Future<Output = Result<u64, GitHubError>> + Send;

    /// The paths `change` touches, for the triggers' `paths` filters.
    fn changed_paths(
        &self,
        scope: &RepoScope,
        change: &ChangeSet,
    ) -> impl Future<Output = Result<ChangedPaths, GitHubError>> + Send;

    /// The failing check runs (the latest run of each name) of check suite `suite_id`,
    /// at most [`MAX_FAILED_CHECKS`], each with its first [`MAX_CHECK_ANNOTATIONS`]
    /// annotations (`GET .../check-suites/{id}/check-runs`, `GET
    /// .../check-runs/{id}/annotations`).
    fn failed_checks(
        &self,
        scope: &RepoScope,
        suite_id: u64,
    ) -> impl Future<Output = Result<Vec<FailedCheck>, GitHubError>> + Send;

    /// Removes a label from an issue or pull request. Removing one it does not carry is
    /// not an error, so the call is harmless to repeat.
    fn remove_label(
        &self,
        scope: &RepoScope,
        number: u64,
        label: &str,
    ) -> impl Future<Output = Result<(), GitHubError>> + Send;

    /// The repository as GitHub describes it (`GET /repos/{owner}/{repo}`): what an
    /// installation event leaves out, such as its default branch.
    fn repository(
        &self,
        scope: &RepoScope,
    ) -> impl Future<Output = Result<RepositoryInfo, GitHubError>> + Send;

    /// Opens an issue with `labels` and returns its number (`POST
    /// /repos/{owner}/{repo}/issues`). GitHub has no way to open an issue once only, so
    /// it is sent once, never retried: the caller keeps the number and asks again only
    /// when it has none.
    fn open_issue(
        &self,
        scope: &RepoScope,
        issue: &NewIssue,
    ) -> impl Future<Output = Result<u64, GitHubError>> + Send;

    /// The reviews of pull request `number`, oldest first, at most [`MAX_PULL_REVIEWS`]
    /// (`GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews`).
    fn reviews(
        &self,
        scope: &RepoScope,
        number: u64,
    ) -> impl Future<Output = Result<Vec<PullReview>, GitHubError>> + Send;

    /// The latest check run of each name on commit `sha`, at most [`MAX_HEAD_CHECKS`];
    /// `None` when it has more (`GET /repos/{owner}/{repo}/commits/{ref}/check-runs`).
    fn head_checks(
        &self,
        scope: &RepoScope,
        sha: &CommitSha,
    ) -> impl Future<Output = Result<Option<Vec<HeadCheck>>, GitHubError>> + Send;

    /// Merges pull request `number` with GitHub's `method` (`merge`, `squash` or
    /// `rebase`), only while its head is `head`
    /// (`PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge`). A refusal GitHub documents
    /// (405 not mergeable, 409 head moved) is an outcome, not an error. Safe to repeat:
    /// a merged pull request is not merged again (GitHub refuses with 405).
    fn merge_pull_request(
        &self,
        scope: &RepoScope,
        number: u64,
        head: &CommitSha,
        method: &str,
    ) -> impl Future<Output = Result<MergeOutcome, GitHubError>> + Send;
}

/// What [`GitHub::repository`] tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryInfo {
    pub id: RepoId,
    pub default_branch: String,
    pub private: bool,
}

/// An issue to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIssue {
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
}

/// Whose changed files [`GitHub::changed_paths`] lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeSet {
    /// A pull request's files (`GET /repos/{owner}/{repo}/pulls/{number}/files`).
    PullRequest(u64),
    /// The files changed from `base` to `head`
    /// (`GET /repos/{owner}/{repo}/compare/{base}...{head}`).
    Compare { base: String, head: CommitSha },
}

/// The repository paths a change touches (a renamed file under both its names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedPaths {
    pub paths: Vec<String>,
    /// False when GitHub stopped listing before the end: it lists at most
    /// [`MAX_PULL_REQUEST_FILES`] files of a pull request and [`MAX_COMPARE_FILES`] of a
    /// comparison.
    pub complete: bool,
}

/// GitHub lists at most 3,000 files of a pull request ("Responses include a maximum of
/// 3000 files", `GET /repos/{owner}/{repo}/pulls/{pull_number}/files`).
pub const MAX_PULL_REQUEST_FILES: usize = 3000;

/// GitHub lists at most 300 changed files of a comparison ("it includes up to 300 changed
/// files for the entire comparison", `GET /repos/{owner}/{repo}/compare/{basehead}`).
pub const MAX_COMPARE_FILES: usize = 300;

/// The hidden line that carries a comment's marker in its body.
pub fn marker_line(marker: &str) -> String {
    format!("<!-- ollama-turbo-agent:{marker} -->")
}
