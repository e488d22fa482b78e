//! Pull requests the runner opens and reviews it posts, each at most once: before opening
//! a pull request the open ones from the same branch are looked up, and before posting a
//! review the pull request's reviews are searched for its marker, so a retry after a
//! failure GitHub had in fact carried out does not duplicate it.

use crate::client::{GitHubClient, repo_path};
use crate::comments::with_marker;
use crate::endpoints::Endpoint;
use crate::review_lines::{Placed, body_with_outside_comments, place};
use crate::transport::Call;
use serde::Deserialize;
use serde_json::json;
use shared::github_text::BODY;
use shared::ports::{
    GitHubError, NewPullRequest, NewReview, OpenedPullRequest, RepoScope, marker_line,
};

/// GitHub's largest page.
const PER_PAGE: usize = 100;

/// A pull request has a few reviews; this bounds the search for ours in any case.
const MAX_REVIEW_PAGES: u32 = 5;

#[derive(Deserialize)]
struct PullJson {
    number: u64,
    html_url: String,
}

#[derive(Deserialize)]
struct ReviewJson {
    id: u64,
    body: Option<String>,
}

impl From<PullJson> for OpenedPullRequest {
    fn from(pull: PullJson) -> Self {
        Self {
            number: pull.number,
            url: pull.html_url,
        }
    }
}

impl GitHubClient {
    pub(crate) async fn open_pull(
        &self,
        scope: &RepoScope,
        pull: &NewPullRequest,
    ) -> Result<OpenedPullRequest, GitHubError> {
        let create = Call::post(
            Endpoint::CreatePull,
            repo_path(scope, "pulls"),
            json!({
                "title": pull.title,
                "head": pull.head,
                "base": pull.base,
                "body": BODY.fit(&pull.body),
                "maintainer_can_modify": true,
            }),
        );
        let create = &create;
        self.retry
            .run("open pull request", |_attempt| async move {
                if let Some(open) = self.open_pull_from(scope, &pull.head).await? {
                    tracing::info!(repo = %scope.repo, pull = open.number, branch = %pull.head, "a pull request from the branch is open already");
                    return Ok(open);
                }
                let reply = self.send(scope, create).await?;
                Ok(reply.json::<PullJson>(create)?.into())
            })
            .await
    }

    /// The open pull request whose head is `branch` of this repository, if any.
    async fn open_pull_from(
        &self,
        scope: &RepoScope,
        branch: &str,
    ) -> Result<Option<OpenedPullRequest>, GitHubError> {
        let call = Call::new(Endpoint::ListPulls, repo_path(scope, "pulls"))
            .query("head", format!("{}:{branch}", scope.repo.owner()))
            .query("state", "open");
        let pulls: Vec<PullJson> = self.send(scope, &call).await?.json(&call)?;
        Ok(pulls.into_iter().next().map(Into::into))
    }

    pub(crate) async fn post_review(
        &self,
        scope: &RepoScope,
        number: u64,
        marker: &str,
        review: &NewReview,
    ) -> Result<u64, GitHubError> {
        let marker = marker_line(marker);
        let placed = self.place_comments(scope, number, review).await?;
        let comments: Vec<serde_json::Value> = placed
            .inline
            .iter()
            .map(|comment| {
                json!({
                    "path": comment.path,
                    "line": comment.line,
                    "side": "RIGHT",
                    "body": BODY.fit(&comment.body),
                })
            })
            .collect();
        let call = Call::post(
            Endpoint::CreateReview,
            repo_path(scope, &format!("pulls/{number}/reviews")),
            json!({
                "commit_id": review.commit.as_str(),
                "event": "COMMENT",
                "body": with_marker(
                    &body_with_outside_comments(&review.body, &placed.outside),
                    &marker
                ),
                "comments": comments,
            }),
        );
        let (call, marker) = (&call, &marker);
        self.retry
            .run("review", |_attempt| async move {
                if let Some(id) = self.find_review(scope, number, marker).await? {
                    tracing::info!(repo = %scope.repo, pull = number, review = id, "the review exists already");
                    return Ok(id);
                }
                let reply = self.send(scope, call).await?;
                Ok(reply.json::<ReviewJson>(call)?.id)
            })
            .await
    }

    /// `review`'s comments sorted by whether GitHub takes them inline: on a line of
    /// their file's diff, read from "List pull request files".
    async fn place_comments(
        &self,
        scope: &RepoScope,
        number: u64,
        review: &NewReview,
    ) -> Result<Placed, GitHubError> {
        if review.comments.is_empty() {
            return Ok(Placed::default());
        }
        let files = self.pull_files(scope, number, |_| false).await?;
        let patches = files
            .into_iter()
            .map(|file| (file.filename, file.patch))
            .collect();
        let placed = place(&patches, &review.comments);
        if !placed.outside.is_empty() {
            tracing::info!(
                repo = %scope.repo,
                pull = number,
                outside = placed.outside.len(),
                "review comments outside the diff go into the review's body"
            );
        }
        Ok(placed)
    }

    async fn find_review(
        &self,
        scope: &RepoScope,
        number: u64,
        marker: &str,
    ) -> Result<Option<u64>, GitHubError> {
        for page in 1..=MAX_REVIEW_PAGES {
            let call = Call::new(
                Endpoint::ListReviews,
                repo_path(scope, &format!("pulls/{number}/reviews")),
            )
            .query("per_page", PER_PAGE.to_string())
            .query("page", page.to_string());
            let reviews: Vec<ReviewJson> = self.send(scope, &call).await?.json(&call)?;
            if let Some(review) = reviews
                .iter()
                .find(|review| review.body.as_deref().is_some_and(|b| b.contains(marker)))
            {
                return Ok(Some(review.id));
            }
            if reviews.len() < PER_PAGE {
                break;
            }
        }
        Ok(None)
    }
}
