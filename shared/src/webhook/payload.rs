//! Deserializes the few fields of a GitHub payload the project uses, in one pass, and
//! builds the [`Envelope`]. Everything else in the payload is skipped unread, and a
//! missing or mistyped field is reported by its path (`pull_request.head.sha`).

use super::push_commits::RawCommits;
use crate::envelope::*;
use crate::ids::{AccountId, AppId, CommitSha, DeliveryId, InstallationId, RepoFullName, RepoId};
use serde::Deserialize;
use serde::de::IgnoredAny;

/// Why a payload could not be normalized. The message names the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("`{event}` payload is invalid{}: {detail}", at(path))]
    Malformed {
        event: EventName,
        /// Where in the document, e.g. `pull_request.head.sha`; `None` at the top level.
        path: Option<String>,
        /// The parser's message; it can quote a value, so it goes to the sender only,
        /// never into logs.
        detail: String,
    },
    #[error("`{event}` payload is missing the field `{field}`")]
    MissingField {
        event: EventName,
        field: &'static str,
    },
}

/// Parses a JSON payload of `event` and normalizes it.
pub fn normalize(
    event: EventName,
    delivery: DeliveryId,
    json: &[u8],
) -> Result<Envelope, PayloadError> {
    // The fast path parses without tracking where it is; only a payload that fails is
    // parsed again, with the path, so that the error can name the field.
    let raw: RawPayload = match serde_json::from_slice(json) {
        Ok(raw) => raw,
        Err(_) => return Err(locate_error(event, json)),
    };
    raw.into_envelope(event, delivery)
}

fn locate_error(event: EventName, json: &[u8]) -> PayloadError {
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let result = serde_path_to_error::deserialize::<_, RawPayload>(&mut deserializer)
        .map_err(|err| {
            let path = err.path().to_string();
            let path = (path != "." && path != "?").then_some(path);
            (path, err.into_inner().to_string())
        })
        .and_then(|_| deserializer.end().map_err(|err| (None, err.to_string())));
    let (path, detail) = match result {
        Err(located) => located,
        // Unreachable in practice: the same bytes failed a moment ago.
        Ok(()) => (None, "the payload could not be parsed".to_owned()),
    };
    PayloadError::Malformed {
        event,
        path,
        detail,
    }
}

fn at(path: &Option<String>) -> String {
    path.as_ref()
        .map(|path| format!(" at `{path}`"))
        .unwrap_or_default()
}

/// The union of the top-level fields any supported event uses. One struct rather than
/// one per event keeps the deserializer a single pass with no buffering.
#[derive(Deserialize)]
struct RawPayload {
    action: Option<String>,
    installation: Option<RawInstallation>,
    repository: Option<RawRepository>,
    sender: Option<RawAccount>,
    issue: Option<RawIssue>,
    comment: Option<RawComment>,
    review: Option<RawReview>,
    pull_request: Option<RawPullRequest>,
    label: Option<RawLabel>,
    check_suite: Option<RawCheckSuite>,
    check_run: Option<RawCheckRun>,
    requested_action: Option<RawRequestedAction>,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    before: Option<String>,
    after: Option<String>,
    created: Option<bool>,
    deleted: Option<bool>,
    forced: Option<bool>,
    commits: Option<RawCommits>,
    repositories: Option<Vec<RawInstalledRepository>>,
    repositories_added: Option<Vec<RawInstalledRepository>>,
    repositories_removed: Option<Vec<RawInstalledRepository>>,
    repository_selection: Option<String>,
    hook_id: Option<u64>,
}

#[derive(Deserialize)]
struct RawInstallation {
    id: u64,
    account: Option<RawAccount>,
    repository_selection: Option<String>,
}

#[derive(Deserialize)]
struct RawRepository {
    id: u64,
    full_name: String,
    default_branch: Option<String>,
    #[serde(default)]
    private: bool,
}

#[derive(Deserialize)]
struct RawAccount {
    id: u64,
    login: String,
    #[serde(rename = "type")]
    kind: Option<AccountKind>,
}

#[derive(Deserialize)]
struct RawIssue {
    number: u64,
    author_association: Option<AuthorAssociation>,
    /// Present (as an object of URLs) when the issue is a pull request.
    pull_request: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct RawComment {
    id: u64,
    body: Option<String>,
    author_association: Option<AuthorAssociation>,
}

#[derive(Deserialize)]
struct RawReview {
    id: u64,
    body: Option<String>,
    author_association: Option<AuthorAssociation>,
    state: Option<String>,
    commit_id: Option<String>,
    user: Option<RawAccount>,
}

#[derive(Deserialize)]
struct RawPullRequest {
    number: u64,
    head: RawBranch,
    base: RawBranch,
    user: Option<RawAccount>,
    author_association: Option<AuthorAssociation>,
    draft: Option<bool>,
    merged: Option<bool>,
}

#[derive(Deserialize)]
struct RawBranch {
    sha: String,
    #[serde(rename = "ref")]
    git_ref: String,
    /// `null` when the repository was deleted.
    repo: Option<RawBranchRepo>,
}

#[derive(Deserialize)]
struct RawBranchRepo {
    id: u64,
    full_name: String,
}

#[derive(Deserialize)]
struct RawLabel {
    name: String,
}

#[derive(Deserialize)]
struct RawCheckSuite {
    id: u64,
    head_sha: String,
    head_branch: Option<String>,
    #[serde(default)]
    conclusion: Option<String>,
    #[serde(default)]
    head_commit: Option<RawHeadCommit>,
    app: Option<RawApp>,
    #[serde(default)]
    pull_requests: Vec<RawPullRequestNumber>,
}

#[derive(Deserialize)]
struct RawCheckRun {
    id: u64,
    name: String,
    head_sha: String,
    external_id: Option<String>,
    app: Option<RawApp>,
    #[serde(default)]
    pull_requests: Vec<RawPullRequestNumber>,
}

#[derive(Deserialize)]
struct RawApp {
    id: u64,
    #[serde(default)]
    slug: Option<String>,
}

#[derive(Deserialize)]
struct RawHeadCommit {
    author: Option<RawCommitPerson>,
}

#[derive(Deserialize)]
struct RawCommitPerson {
    name: Option<String>,
}

#[derive(Deserialize)]
struct RawPullRequestNumber {
    number: u64,
}

#[derive(Deserialize)]
struct RawRequestedAction {
    identifier: String,
}

#[derive(Deserialize)]
struct RawInstalledRepository {
    id: u64,
    full_name: String,
}

impl RawPayload {
    fn into_envelope(
        self,
        event: EventName,
        delivery: DeliveryId,
    ) -> Result<Envelope, PayloadError> {
        let missing = |field| PayloadError::MissingField { event, field };
        let sender = self.sender.ok_or(missing("sender"))?.into_actor();
        let subject = match event {
            EventName::IssueComment => {
                let issue = self.issue.ok_or(missing("issue"))?;
                let comment = self.comment.ok_or(missing("comment"))?;
                let (body, body_truncated) = cap_body(comment.body.unwrap_or_default());
                Subject::Comment(Comment {
                    source: CommentSource::IssueComment,
                    id: comment.id,
                    number: issue.number,
                    on_pull_request: issue.pull_request.is_some(),
                    author_association: association(comment.author_association),
                    body,
                    body_truncated,
                    pull_request: None,
                    review: None,
                })
            }
            EventName::PullRequestReviewComment => {
                let pr = self.pull_request.ok_or(missing("pull_request"))?;
                let comment = self.comment.ok_or(missing("comment"))?;
                let (body, body_truncated) = cap_body(comment.body.unwrap_or_default());
                Subject::Comment(Comment {
                    source: CommentSource::ReviewComment,
                    id: comment.id,
                    number: pr.number,
                    on_pull_request: true,
                    author_association: association(comment.author_association),
                    body,
                    body_truncated,
                    pull_request: Some(pr.refs()),
                    review: None,
                })
            }
            EventName::PullRequestReview => {
                let pr = self.pull_request.ok_or(missing("pull_request"))?;
                let review = self.review.ok_or(missing("review"))?;
                let (body, body_truncated) = cap_body(review.body.unwrap_or_default());
                let verdict = ReviewVerdict {
                    state: review.state.unwrap_or_default().to_ascii_lowercase(),
                    commit: review.commit_id.map(CommitSha::new),
                    reviewer: review
                        .user
                        .map_or_else(|| sender.login.clone(), |user| user.login),
                    pull_request_author: pr
                        .user
                        .as_ref()
                        .map(|user| user.login.clone())
                        .unwrap_or_default(),
                };
                Subject::Comment(Comment {
                    source: CommentSource::Review,
                    id: review.id,
                    number: pr.number,
                    on_pull_request: true,
                    author_association: association(review.author_association),
                    body,
                    body_truncated,
                    pull_request: Some(pr.refs()),
                    review: Some(Box::new(verdict)),
                })
            }
            EventName::Issues => {
                let issue = self.issue.ok_or(missing("issue"))?;
                Subject::Issue(Issue {
                    number: issue.number,
                    author_association: association(issue.author_association),
                    label: self.label.map(|label| label.name),
                })
            }
            EventName::PullRequest => {
                let pr = self.pull_request.ok_or(missing("pull_request"))?;
                Subject::PullRequest(PullRequest {
                    number: pr.number,
                    refs: pr.refs(),
                    author: pr
                        .user
                        .as_ref()
                        .map(|user| user.login.clone())
                        .unwrap_or_default(),
                    author_association: association(pr.author_association),
                    draft: pr.draft.unwrap_or(false),
                    merged: pr.merged.unwrap_or(false),
                    label: self.label.map(|label| label.name),
                })
            }
            EventName::Push => Subject::Push(Push {
                git_ref: self.git_ref.ok_or(missing("ref"))?,
                before: CommitSha::new(self.before.ok_or(missing("before"))?),
                after: CommitSha::new(self.after.ok_or(missing("after"))?),
                created: self.created.unwrap_or(false),
                deleted: self.deleted.unwrap_or(false),
                forced: self.forced.unwrap_or(false),
                commit_count: self.commits.as_ref().map_or(0, |commits| commits.count),
                changed_paths: self.commits.and_then(|commits| {
                    let listed_all = commits.count <= MAX_PUSH_COMMITS_LISTED
                        && !self.created.unwrap_or(false)
                        && !self.forced.unwrap_or(false);
                    commits
                        .paths
                        .filter(|_| listed_all)
                        .map(|paths| paths.into_iter().collect())
                }),
            }),
            EventName::CheckSuite => {
                let suite = self.check_suite.ok_or(missing("check_suite"))?;
                let head_author = suite
                    .head_commit
                    .and_then(|commit| commit.author)
                    .and_then(|author| author.name);
                let app_slug = suite.app.as_ref().and_then(|app| app.slug.clone());
                Subject::CheckSuite(CheckSuite {
                    id: suite.id,
                    head_sha: CommitSha::new(suite.head_sha),
                    head_branch: suite.head_branch,
                    conclusion: suite.conclusion,
                    head_author,
                    app_slug,
                    app_id: suite.app.map(|app| AppId(app.id)),
                    pull_requests: numbers(suite.pull_requests),
                })
            }
            EventName::CheckRun => {
                let run = self.check_run.ok_or(missing("check_run"))?;
                Subject::CheckRun(CheckRun {
                    id: run.id,
                    name: run.name,
                    head_sha: CommitSha::new(run.head_sha),
                    external_id: run.external_id,
                    app_id: run.app.map(|app| AppId(app.id)),
                    pull_requests: numbers(run.pull_requests),
                    requested_action: self.requested_action.map(|action| action.identifier),
                })
            }
            EventName::Installation | EventName::InstallationRepositories => {
                let installation = self.installation.as_ref().ok_or(missing("installation"))?;
                // `installation.created` lists the repositories under `repositories`.
                let added = self
                    .repositories_added
                    .or(self.repositories)
                    .unwrap_or_default();
                let removed = self.repositories_removed.unwrap_or_default();
                let repositories_truncated = added.len() > MAX_INSTALLATION_REPOSITORIES
                    || removed.len() > MAX_INSTALLATION_REPOSITORIES;
                Subject::Installation(Installation {
                    account: installation.account.as_ref().map(RawAccount::to_actor),
                    repository_selection: self
                        .repository_selection
                        .or_else(|| installation.repository_selection.clone()),
                    repositories_added: installed(added),
                    repositories_removed: installed(removed),
                    repositories_truncated,
                })
            }
            EventName::Ping => Subject::Ping {
                hook_id: self.hook_id,
            },
        };
        Ok(Envelope {
            version: ENVELOPE_VERSION,
            delivery,
            event,
            action: self.action,
            installation: self
                .installation
                .map(|installation| InstallationId(installation.id)),
            repository: self.repository.map(|repo| Repository {
                id: RepoId(repo.id),
                full_name: RepoFullName::new(repo.full_name),
                default_branch: repo.default_branch,
                private: repo.private,
            }),
            sender,
            subject,
        })
    }
}

impl RawAccount {
    fn to_actor(&self) -> Actor {
        Actor {
            id: AccountId(self.id),
            login: self.login.clone(),
            kind: self.kind.unwrap_or(AccountKind::Unknown),
        }
    }

    fn into_actor(self) -> Actor {
        Actor {
            id: AccountId(self.id),
            login: self.login,
            kind: self.kind.unwrap_or(AccountKind::Unknown),
        }
    }
}

impl RawPullRequest {
    fn refs(&self) -> PullRequestRefs {
        let head_repo = self.head.repo.as_ref();
        let base_repo = self.base.repo.as_ref();
        PullRequestRefs {
            head_sha: CommitSha::new(self.head.sha.clone()),
            head_ref: self.head.git_ref.clone(),
            head_repository: head_repo.map(|repo| RepoFullName::new(repo.full_name.clone())),
            base_ref: self.base.git_ref.clone(),
            // A deleted head repository can only have been a fork.
            from_fork: match (head_repo, base_repo) {
                (Some(head), Some(base)) => head.id != base.id,
                _ => true,
            },
        }
    }
}

fn association(value: Option<AuthorAssociation>) -> AuthorAssociation {
    value.unwrap_or(AuthorAssociation::None)
}

fn numbers(prs: Vec<RawPullRequestNumber>) -> Vec<u64> {
    prs.into_iter().map(|pr| pr.number).collect()
}

fn installed(repos: Vec<RawInstalledRepository>) -> Vec<InstalledRepository> {
    repos
        .into_iter()
        .take(MAX_INSTALLATION_REPOSITORIES)
        .map(|repo| InstalledRepository {
            id: RepoId(repo.id),
            full_name: RepoFullName::new(repo.full_name),
        })
        .collect()
}

/// Cuts a body to [`MAX_COMMENT_BODY_BYTES`] on a character boundary.
fn cap_body(mut body: String) -> (String, bool) {
    if body.len() <= MAX_COMMENT_BODY_BYTES {
        return (body, false);
    }
    let mut end = MAX_COMMENT_BODY_BYTES;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    body.truncate(end);
    (body, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery() -> DeliveryId {
        DeliveryId::parse("d-1").expect("valid id")
    }

    #[test]
    fn a_mistyped_field_is_named_by_its_path() {
        let json = br#"{"action":"opened","sender":{"id":1,"login":"a","type":"User"},
            "pull_request":{"number":1,"head":{"sha":null,"ref":"x","repo":null},
            "base":{"sha":"b","ref":"main","repo":null}}}"#;
        let err = normalize(EventName::PullRequest, delivery(), json).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("pull_request.head.sha"), "{message}");
    }

    #[test]
    fn a_missing_object_is_named() {
        let json = br#"{"action":"created","sender":{"id":1,"login":"a","type":"User"}}"#;
        let err = normalize(EventName::IssueComment, delivery(), json).unwrap_err();
        assert_eq!(
            err,
            PayloadError::MissingField {
                event: EventName::IssueComment,
                field: "issue"
            }
        );
    }

    #[test]
    fn trailing_garbage_is_malformed() {
        let json = br#"{"sender":{"id":1,"login":"a"},"zen":"x"} {"#;
        assert!(matches!(
            normalize(EventName::Ping, delivery(), json),
            Err(PayloadError::Malformed { .. })
        ));
    }

    #[test]
    fn push_counts_commits_without_keeping_them() {
        let json = br#"{"ref":"refs/heads/main","before":"a","after":"b",
            "commits":[{"id":"1","message":"x"},{"id":"2"},{"id":"3"}],
            "sender":{"id":1,"login":"a","type":"User"}}"#;
        let envelope = normalize(EventName::Push, delivery(), json).expect("valid push");
        match envelope.subject {
            Subject::Push(push) => {
                assert_eq!(push.commit_count, 3);
                assert_eq!(push.changed_paths, Some(vec![]));
            }
            other => panic!("unexpected subject {other:?}"),
        }
    }

    #[test]
    fn a_submitted_review_carries_its_verdict_commit_and_the_pull_requests_author() {
        // The fields GitHub's `pull_request_review` `submitted` example carries.
        let json = br#"{"action":"submitted","sender":{"id":2,"login":"octocat","type":"User"},
            "review":{"id":7,"body":null,"state":"approved","author_association":"MEMBER",
              "commit_id":"ec26c3e57ca3a959ca5aad62de7213c562f8c821",
              "user":{"id":2,"login":"octocat","type":"User"}},
            "pull_request":{"number":2,"user":{"id":3,"login":"ota[bot]","type":"Bot"},
              "head":{"sha":"ec26c3e57ca3a959ca5aad62de7213c562f8c821","ref":"x","repo":null},
              "base":{"sha":"b","ref":"main","repo":null}}}"#;
        let envelope =
            normalize(EventName::PullRequestReview, delivery(), json).expect("valid review");
        let Subject::Comment(comment) = envelope.subject else {
            panic!("a review is a comment source");
        };
        let verdict = *comment.review.expect("a verdict");
        assert!(verdict.is_approval());
        assert_eq!(verdict.reviewer, "octocat");
        assert_eq!(verdict.pull_request_author, "ota[bot]");
        assert_eq!(
            verdict.commit.as_ref().map(CommitSha::as_str),
            Some("ec26c3e57ca3a959ca5aad62de7213c562f8c821")
        );
        // The REST API's uppercase states read the same.
        let upper = ReviewVerdict {
            state: "APPROVED".to_owned(),
            ..verdict
        };
        assert!(upper.is_approval());
    }

    #[test]
    fn long_bodies_are_cut_on_a_character_boundary() {
        let body = "é".repeat(MAX_COMMENT_BODY_BYTES);
        let (cut, truncated) = cap_body(body);
        assert!(truncated);
        assert!(cut.len() <= MAX_COMMENT_BODY_BYTES);
        assert!(cut.len() > MAX_COMMENT_BODY_BYTES - 4);
        let (short, truncated) = cap_body("/ollama help".to_owned());
        assert_eq!((short.as_str(), truncated), ("/ollama help", false));
    }
}
