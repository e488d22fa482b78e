//! What an incremental review needs: the App's last review of a pull request (the head it
//! reviewed and the inline comments it made) and the diff since that head.

use crate::api::{PullFileJson, diff_text};
use crate::client::{GitHubClient, repo_path};
use crate::endpoints::Endpoint;
use crate::transport::{Call, encode};
use serde::Deserialize;
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
}
