//! What an incremental review needs: the App's last review of a pull request (the head it
//! reviewed and the inline comments it made), the diff since that head, and the summary
//! comment kept up to date in place.

use crate::api::{PullFileJson, diff_text};
use crate::client::{GitHubClient, repo_path};
use crate::comments::with_marker;
use crate::endpoints::Endpoint;
use crate::transport::{Call, encode};
use serde::Deserialize;
use serde_json::json;
use shared::ids::CommitSha;
use shared::ports::{GitHubError, RepoScope, marker_line};

/// GitHub's largest page.
const PER_PAGE: usize = 100;

/// How many pages of reviews, review comments or issue comments are read.
const MAX_PAGES: u32 = 5;

/// What the App said in its earlier reviews of a pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousReview {
    /// The head the newest of them reviewed.
    pub commit: CommitSha,
    /// Every inline comment of the App's reviews, as `(path, body)`.
    pub comments: Vec<(String, String)>,
}

#[derive(Deserialize)]
struct ReviewJson {
    id: u64,
    body: Option<String>,
    commit_id: Option<String>,
}

#[derive(Deserialize)]
struct ReviewCommentJson {
    pull_request_review_id: Option<u64>,
    path: String,
    body: String,
}

#[derive(Deserialize)]
struct CompareJson {
    status: String,
    #[serde(default)]
    files: Vec<PullFileJson>,
}

#[derive(Deserialize)]
struct CommentJson {
    id: u64,
    body: Option<String>,
    user: Option<UserJson>,
}

#[derive(Deserialize)]
struct UserJson {
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct CreatedJson {
    id: u64,
}

/// Whether a review's body carries a job's review marker (`job:<id>:review`).
fn is_ours(body: &str) -> bool {
    let start = marker_line("job:");
    let start = start.trim_end_matches(" -->");
    body.lines()
        .any(|line| line.starts_with(start) && line.ends_with(":review -->"))
}

impl GitHubClient {
    /// The App's earlier reviews of pull request `number`, or `None` when it made none.
    pub async fn previous_review(
        &self,
        scope: &RepoScope,
        number: u64,
    ) -> Result<Option<PreviousReview>, GitHubError> {
        let mut ours = Vec::new();
        for page in 1..=MAX_PAGES {
            let call = Call::new(
                Endpoint::ListReviews,
                repo_path(scope, &format!("pulls/{number}/reviews")),
            )
            .query("per_page", PER_PAGE.to_string())
            .query("page", page.to_string());
            let reviews: Vec<ReviewJson> = self.send(scope, &call).await?.json(&call)?;
            let last = reviews.len() < PER_PAGE;
            ours.extend(
                reviews
                    .into_iter()
                    .filter(|review| review.body.as_deref().is_some_and(is_ours)),
            );
            if last {
                break;
            }
        }
        // GitHub lists reviews oldest first.
        let Some(commit) = ours.last().and_then(|review| review.commit_id.clone()) else {
            return Ok(None);
        };
        let ids: Vec<u64> = ours.iter().map(|review| review.id).collect();
        let mut comments = Vec::new();
        for page in 1..=MAX_PAGES {
            let call = Call::new(
                Endpoint::ListReviewComments,
                repo_path(scope, &format!("pulls/{number}/comments")),
            )
            .query("per_page", PER_PAGE.to_string())
            .query("page", page.to_string());
            let listed: Vec<ReviewCommentJson> = self.send(scope, &call).await?.json(&call)?;
            let last = listed.len() < PER_PAGE;
            comments.extend(
                listed
                    .into_iter()
                    .filter(|comment| {
                        comment
                            .pull_request_review_id
                            .is_some_and(|id| ids.contains(&id))
                    })
                    .map(|comment| (comment.path, comment.body)),
            );
            if last {
                break;
            }
        }
        Ok(Some(PreviousReview {
            commit: CommitSha::new(commit),
            comments,
        }))
    }

    /// The changes from `base` to `head` as unified-diff sections, when `head` follows
    /// `base` (GitHub's comparison is `ahead`); `None` when the branch was rewritten
    /// since (`diverged`, `behind`), so only a whole review makes sense.
    pub async fn compare_diff(
        &self,
        scope: &RepoScope,
        base: &CommitSha,
        head: &CommitSha,
    ) -> Result<Option<String>, GitHubError> {
        let basehead = format!("{}...{}", encode(base.as_str()), encode(head.as_str()));
        let call = Call::new(
            Endpoint::Compare,
            repo_path(scope, &format!("compare/{basehead}")),
        );
        let reply = self
            .retry
            .run("compare", |_| self.send(scope, &call))
            .await?;
        let compared = reply.json::<CompareJson>(&call)?;
        Ok((compared.status == "ahead").then(|| diff_text(&compared.files)))
    }

    /// Writes `body` into the App's comment on issue `number` that carries `marker`,
    /// posting it the first time: one comment kept up to date instead of a new one each
    /// time. Returns the comment's id.
    pub async fn upsert_comment(
        &self,
        scope: &RepoScope,
        number: u64,
        marker: &str,
        body: &str,
    ) -> Result<u64, GitHubError> {
        let marker = marker_line(marker);
        let text = with_marker(body, &marker);
        if let Some(id) = self.find_own_comment(scope, number, &marker).await? {
            let call = Call::post(
                Endpoint::UpdateIssueComment,
                repo_path(scope, &format!("issues/comments/{id}")),
                json!({ "body": text }),
            );
            // Writing the same body twice is harmless.
            self.retry
                .run("update comment", |_| self.send(scope, &call))
                .await?;
            return Ok(id);
        }
        let call = Call::post(
            Endpoint::CreateIssueComment,
            repo_path(scope, &format!("issues/{number}/comments")),
            json!({ "body": text }),
        );
        let reply = self.send(scope, &call).await?;
        Ok(reply.json::<CreatedJson>(&call)?.id)
    }

    /// The bot's comment on issue `number` carrying `marker`, over the whole thread (a
    /// summary lives as long as its pull request).
    async fn find_own_comment(
        &self,
        scope: &RepoScope,
        number: u64,
        marker: &str,
    ) -> Result<Option<u64>, GitHubError> {
        for page in 1..=MAX_PAGES {
            let call = Call::new(
                Endpoint::ListIssueComments,
                repo_path(scope, &format!("issues/{number}/comments")),
            )
            .query("per_page", PER_PAGE.to_string())
            .query("page", page.to_string());
            let comments: Vec<CommentJson> = self.send(scope, &call).await?.json(&call)?;
            let found = comments.iter().find(|comment| {
                comment.user.as_ref().is_some_and(|user| user.kind == "Bot")
                    && comment
                        .body
                        .as_deref()
                        .is_some_and(|body| body.contains(marker))
            });
            if let Some(comment) = found {
                return Ok(Some(comment.id));
            }
            if comments.len() < PER_PAGE {
                break;
            }
        }
        Ok(None)
    }
}
