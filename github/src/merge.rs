//! What `output.merge` asks of GitHub: a pull request's reviews, the check runs on its
//! head, and the merge itself, whose documented refusals (405 not mergeable, 409 head
//! moved) come back as outcomes, not errors.

use crate::classify::rejected_status;
use crate::client::{GitHubClient, repo_path};
use crate::endpoints::Endpoint;
use crate::token::TokenPermissions;
use crate::transport::{Call, encode};
use serde::Deserialize;
use serde_json::json;
use shared::ids::CommitSha;
use shared::ports::{
    GitHubError, HeadCheck, MAX_HEAD_CHECKS, MAX_PULL_REVIEWS, MergeOutcome, PullReview, RepoScope,
};

/// GitHub's largest page.
const PER_PAGE: usize = 100;

#[derive(Deserialize)]
struct ReviewJson {
    /// `null` for a deleted user.
    user: Option<UserJson>,
    state: String,
    commit_id: Option<String>,
}

#[derive(Deserialize)]
struct UserJson {
    login: String,
}

#[derive(Deserialize)]
struct RunsJson {
    total_count: usize,
    check_runs: Vec<RunJson>,
}

#[derive(Deserialize)]
struct RunJson {
    name: String,
    status: String,
    conclusion: Option<String>,
    app: Option<AppJson>,
}

#[derive(Deserialize)]
struct AppJson {
    slug: Option<String>,
}

#[derive(Deserialize)]
struct MergedJson {
    sha: String,
}

impl GitHubClient {
    /// See [`shared::ports::GitHub::reviews`].
    pub(crate) async fn list_reviews(
        &self,
        scope: &RepoScope,
        number: u64,
    ) -> Result<Vec<PullReview>, GitHubError> {
        let mut reviews = Vec::new();
        for page in 1..=MAX_PULL_REVIEWS.div_ceil(PER_PAGE) {
            let call = Call::new(
                Endpoint::ListReviews,
                repo_path(scope, &format!("pulls/{number}/reviews")),
            )
            .query("per_page", PER_PAGE.to_string())
            .query("page", page.to_string());
            let listed: Vec<ReviewJson> = self
                .retry
                .run("pull request reviews", |_| self.send(scope, &call))
                .await?
                .json(&call)?;
            let last = listed.len() < PER_PAGE;
            reviews.extend(listed.into_iter().map(|review| PullReview {
                reviewer: review.user.map(|user| user.login).unwrap_or_default(),
                state: review.state,
                commit: review.commit_id.map(CommitSha::new),
            }));
            if last {
                break;
            }
        }
        Ok(reviews)
    }

    /// See [`shared::ports::GitHub::head_checks`].
    pub(crate) async fn list_head_checks(
        &self,
        scope: &RepoScope,
        sha: &CommitSha,
    ) -> Result<Option<Vec<HeadCheck>>, GitHubError> {
        let mut checks = Vec::new();
        for page in 1..=MAX_HEAD_CHECKS.div_ceil(PER_PAGE) {
            let call = Call::new(
                Endpoint::ListCheckRunsForRef,
                repo_path(
                    scope,
                    &format!("commits/{}/check-runs", encode(sha.as_str())),
                ),
            )
            .query("filter", "latest")
            .query("per_page", PER_PAGE.to_string())
            .query("page", page.to_string());
            let runs: RunsJson = self
                .retry
                .run("head check runs", |_| self.send(scope, &call))
                .await?
                .json(&call)?;
            if runs.total_count > MAX_HEAD_CHECKS {
                return Ok(None);
            }
            let last = runs.check_runs.len() < PER_PAGE;
            checks.extend(runs.check_runs.into_iter().map(|run| HeadCheck {
                name: run.name,
                status: run.status,
                conclusion: run.conclusion,
                app_slug: run.app.and_then(|app| app.slug),
            }));
            if last || checks.len() >= runs.total_count {
                break;
            }
        }
        Ok(Some(checks))
    }

    /// See [`shared::ports::GitHub::merge_pull_request`]. Retrying is safe: the merge is
    /// pinned to `head`, and a pull request merged by an earlier attempt is refused (405).
    pub(crate) async fn merge_pull(
        &self,
        scope: &RepoScope,
        number: u64,
        head: &CommitSha,
        method: &str,
    ) -> Result<MergeOutcome, GitHubError> {
        let call = Call::new(
            Endpoint::MergePull,
            repo_path(scope, &format!("pulls/{number}/merge")),
        )
        .body(json!({ "sha": head.as_str(), "merge_method": method }));
        // A token minted for the merge: the stages' everyday one cannot write contents.
        let permissions = TokenPermissions::merge();
        match self
            .retry
            .run("merge pull request", |_| {
                self.send_with(scope, &call, &permissions)
            })
            .await
        {
            Ok(reply) => Ok(MergeOutcome::Merged {
                sha: CommitSha::new(reply.json::<MergedJson>(&call)?.sha),
            }),
            // GitHub's documented refusals of "Merge a pull request".
            Err(error) => match rejected_status(&error) {
                Some(405) => Ok(MergeOutcome::NotMergeable(error.to_string())),
                Some(409) => Ok(MergeOutcome::HeadMoved(error.to_string())),
                _ => Err(error),
            },
        }
    }
}
