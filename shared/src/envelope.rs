//! The normalized event: the narrow, typed form of a GitHub delivery that the intake
//! queues and everything downstream consumes. It carries only what the project uses, so
//! that even a multi-megabyte push fits in one queue message.

use crate::ids::{AccountId, AppId, CommitSha, DeliveryId, InstallationId, RepoFullName, RepoId};
use serde::{Deserialize, Serialize};

/// The envelope's schema version, bumped when a consumer could misread an older one.
pub const ENVELOPE_VERSION: u32 = 1;

/// One GitHub delivery, normalized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub version: u32,
    pub delivery: DeliveryId,
    pub event: EventName,
    /// `None` for events without actions (`push`, `ping`).
    pub action: Option<String>,
    /// `None` only for deliveries from a plain repository webhook, never for an App's.
    pub installation: Option<InstallationId>,
    pub repository: Option<Repository>,
    pub sender: Actor,
    pub subject: Subject,
}

/// The webhook events the App subscribes to; anything else is answered 200 and dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventName {
    IssueComment,
    Issues,
    PullRequest,
    PullRequestReview,
    PullRequestReviewComment,
    CheckSuite,
    CheckRun,
    Push,
    Installation,
    InstallationRepositories,
    Ping,
}

impl EventName {
    pub const ALL: [EventName; 11] = [
        Self::IssueComment,
        Self::Issues,
        Self::PullRequest,
        Self::PullRequestReview,
        Self::PullRequestReviewComment,
        Self::CheckSuite,
        Self::CheckRun,
        Self::Push,
        Self::Installation,
        Self::InstallationRepositories,
        Self::Ping,
    ];

    /// The name GitHub sends in `X-GitHub-Event`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IssueComment => "issue_comment",
            Self::Issues => "issues",
            Self::PullRequest => "pull_request",
            Self::PullRequestReview => "pull_request_review",
            Self::PullRequestReviewComment => "pull_request_review_comment",
            Self::CheckSuite => "check_suite",
            Self::CheckRun => "check_run",
            Self::Push => "push",
            Self::Installation => "installation",
            Self::InstallationRepositories => "installation_repositories",
            Self::Ping => "ping",
        }
    }

    /// `None` for an event the App does not subscribe to.
    pub fn from_header(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|event| event.as_str() == value)
    }

    /// The actions of this event that lead to work; `None` means every delivery does
    /// (events without actions). Everything else is acknowledged and dropped.
    pub fn handled_actions(self) -> Option<&'static [&'static str]> {
        Some(match self {
            // Edits never re-run a command: only new comments count.
            Self::IssueComment | Self::PullRequestReviewComment => &["created"],
            Self::PullRequestReview => &["submitted"],
            Self::Issues => &["opened", "reopened", "closed", "labeled"],
            Self::PullRequest => &[
                "opened",
                "synchronize",
                "reopened",
                "closed",
                "ready_for_review",
                "labeled",
            ],
            Self::CheckSuite => &["rerequested", "completed"],
            Self::CheckRun => &["rerequested", "requested_action"],
            Self::Installation => &[
                "created",
                "deleted",
                "suspend",
                "unsuspend",
                "new_permissions_accepted",
            ],
            Self::InstallationRepositories => &["added", "removed"],
            Self::Push | Self::Ping => return None,
        })
    }
}

impl std::fmt::Display for EventName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    pub id: RepoId,
    pub full_name: RepoFullName,
    pub default_branch: Option<String>,
    pub private: bool,
}

/// Who caused the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub id: AccountId,
    pub login: String,
    pub kind: AccountKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccountKind {
    User,
    Bot,
    Organization,
    Mannequin,
    #[serde(other)]
    Unknown,
}

/// The commenter's relation to the repository as GitHub states it. A hint only:
/// permission decisions ask GitHub for the collaborator permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuthorAssociation {
    Owner,
    Member,
    Collaborator,
    Contributor,
    FirstTimeContributor,
    FirstTimer,
    Mannequin,
    None,
    #[serde(other)]
    Unknown,
}

/// What the event is about, by kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    Comment(Comment),
    Issue(Issue),
    PullRequest(PullRequest),
    Push(Push),
    CheckSuite(CheckSuite),
    CheckRun(CheckRun),
    Installation(Installation),
    Ping { hook_id: Option<u64> },
}

/// Where a comment was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommentSource {
    /// A comment in an issue's or a PR's conversation (`issue_comment`).
    IssueComment,
    /// An inline comment on a PR's diff (`pull_request_review_comment`).
    ReviewComment,
    /// The body of a submitted review (`pull_request_review`).
    Review,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    pub source: CommentSource,
    /// The comment's id, or the review's id for [`CommentSource::Review`].
    pub id: u64,
    /// The issue or pull request number.
    pub number: u64,
    pub on_pull_request: bool,
    pub author_association: AuthorAssociation,
    pub body: String,
    /// The body was longer than [`MAX_COMMENT_BODY_BYTES`] and was cut; a consumer that
    /// needs all of it fetches the comment by id.
    pub body_truncated: bool,
    /// The PR's head and base, when the payload carries them (review events do; an
    /// `issue_comment` on a PR does not, and the consumer looks the PR up).
    pub pull_request: Option<PullRequestRefs>,
    /// What a submitted review decided ([`CommentSource::Review`] only); boxed, as most
    /// comments have none.
    #[serde(default)]
    pub review: Option<Box<ReviewVerdict>>,
}

/// What a submitted review decided, for `output.merge`: the approval, of which commit,
/// on whose pull request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewVerdict {
    /// `approved`, `changes_requested` or `commented`, lowercase as the webhook sends it.
    pub state: String,
    /// The commit reviewed (`review.commit_id`); `None` when GitHub no longer has it.
    pub commit: Option<CommitSha>,
    /// Who wrote the review (`review.user.login`).
    pub reviewer: String,
    /// Who opened the pull request (`pull_request.user.login`).
    pub pull_request_author: String,
}

impl ReviewVerdict {
    pub fn is_approval(&self) -> bool {
        self.state.eq_ignore_ascii_case("approved")
    }
}

/// How much of a comment body travels in the envelope. GitHub allows 65,536 characters,
/// which is up to 256 KiB of UTF-8: more than an SQS message holds with everything else.
pub const MAX_COMMENT_BODY_BYTES: usize = 128 * 1024;

/// A PR's head and base as of the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequestRefs {
    pub head_sha: CommitSha,
    pub head_ref: String,
    /// `None` when the head repository was deleted.
    pub head_repository: Option<RepoFullName>,
    pub base_ref: String,
    /// The head lives in another repository than the base: its code is untrusted.
    pub from_fork: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    pub number: u64,
    pub author_association: AuthorAssociation,
    /// Present for `labeled`.
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    pub number: u64,
    pub refs: PullRequestRefs,
    pub author: String,
    pub author_association: AuthorAssociation,
    pub draft: bool,
    pub merged: bool,
    /// Present for `labeled`.
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Push {
    /// The full ref, e.g. `refs/heads/main`.
    pub git_ref: String,
    pub before: CommitSha,
    pub after: CommitSha,
    pub created: bool,
    pub deleted: bool,
    pub forced: bool,
    /// How many commits the payload listed (GitHub lists at most 2,048).
    pub commit_count: usize,
    /// The paths the listed commits add, modify or remove, sorted — when the payload is
    /// sure to list them all (see [`MAX_PUSH_COMMITS_LISTED`]) and they fit in
    /// [`MAX_PUSH_PATHS_BYTES`]; `None` otherwise, and the consumer asks GitHub.
    #[serde(default)]
    pub changed_paths: Option<Vec<String>>,
}

/// The most commits a push payload may list for its file lists to be taken as the whole
/// change. GitHub documents a cap of 20 commits for timeline events (2,048 for webhook
/// deliveries) and no cap on a commit's `added`/`modified`/`removed`; past 20 commits,
/// or for a push that created or rewrote a branch, the files come from GitHub's compare.
pub const MAX_PUSH_COMMITS_LISTED: usize = 20;

/// How many bytes of changed paths travel in the envelope; a push touching more is
/// compared through the API instead, so the envelope stays far below a queue message's
/// size.
pub const MAX_PUSH_PATHS_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckSuite {
    pub id: u64,
    pub head_sha: CommitSha,
    pub head_branch: Option<String>,
    /// `success`, `failure`, `timed_out`, ... once the suite has `completed`.
    #[serde(default)]
    pub conclusion: Option<String>,
    /// The name on the head commit's author line: `<slug>[bot]` for the App's own commits.
    #[serde(default)]
    pub head_author: Option<String>,
    /// The slug of the App that owns the suite (GitHub Actions is `github-actions`).
    #[serde(default)]
    pub app_slug: Option<String>,
    /// The App that owns the suite: only our own suites are ours to re-run.
    pub app_id: Option<AppId>,
    pub pull_requests: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRun {
    pub id: u64,
    pub name: String,
    pub head_sha: CommitSha,
    /// Set by the App when it created the run; carries the job id.
    pub external_id: Option<String>,
    pub app_id: Option<AppId>,
    pub pull_requests: Vec<u64>,
    /// The button pressed, for `requested_action`.
    pub requested_action: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installation {
    pub account: Option<Actor>,
    /// `all` or `selected`.
    pub repository_selection: Option<String>,
    pub repositories_added: Vec<InstalledRepository>,
    pub repositories_removed: Vec<InstalledRepository>,
    /// More repositories changed than travel in one envelope; the consumer lists the
    /// installation's repositories through the API instead.
    pub repositories_truncated: bool,
}

/// How many repositories an installation event carries in the envelope (each is
/// about 100 bytes, so this stays far below the queue's message limit).
pub const MAX_INSTALLATION_REPOSITORIES: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledRepository {
    pub id: RepoId,
    pub full_name: RepoFullName,
}

impl Envelope {
    /// The span its processing is logged in, with the fields a reader searches by.
    pub fn span(&self) -> tracing::Span {
        tracing::info_span!(
            "event",
            delivery = %self.delivery,
            event = %self.event,
            action = self.action.as_deref(),
            installation = self.installation.map(|id| id.0),
            repo = self.repository.as_ref().map(|repo| repo.full_name.as_str()),
        )
    }

    /// An envelope as a queue carries it (JSON of this version); the error says what is
    /// wrong with it, for the log line of a message that is set aside.
    pub fn from_queue_message(body: &str) -> Result<Self, String> {
        let envelope: Self =
            serde_json::from_str(body).map_err(|err| format!("not an envelope: {err}"))?;
        if envelope.version != ENVELOPE_VERSION {
            return Err(format!(
                "envelope version {} is not {ENVELOPE_VERSION}",
                envelope.version
            ));
        }
        Ok(envelope)
    }

    /// The issue or pull request the event is about, if any.
    pub fn number(&self) -> Option<u64> {
        match &self.subject {
            Subject::Comment(comment) => Some(comment.number),
            Subject::Issue(issue) => Some(issue.number),
            Subject::PullRequest(pr) => Some(pr.number),
            _ => None,
        }
    }

    /// Events of one repository are processed in order; installation-wide events are
    /// ordered per installation. Numeric ids keep this within SQS's 128 characters.
    pub fn ordering_key(&self) -> String {
        match (&self.repository, self.installation) {
            (Some(repo), _) => format!("repo-{}", repo.id),
            (None, Some(installation)) => format!("installation-{installation}"),
            (None, None) => "unscoped".to_owned(),
        }
    }
}
