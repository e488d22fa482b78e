//! Posting comments exactly once: each carries a hidden marker line, and before posting the
//! issue's recent comments are searched for it — in case a failed attempt had in fact
//! created the comment, or the same event is being processed again after a redelivery.

use crate::client::{GitHubClient, repo_path};
use crate::endpoints::Endpoint;
use crate::transport::Call;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::json;
use shared::github_text::BODY;
use shared::ports::{GitHubError, RepoScope, marker_line};
use std::time::{Duration, SystemTime};

/// How far back the search for an earlier attempt's comment reaches: an event is retried
/// by its queue for minutes and may be redriven from a dead-letter queue hours later.
const LOOKBACK: Duration = Duration::from_secs(24 * 60 * 60);

/// GitHub's largest page.
const PER_PAGE: usize = 100;

/// A day of comments fits in one page unless the thread is very busy; this bounds the
/// search in any case.
const MAX_PAGES: u32 = 5;

#[derive(Deserialize)]
struct CreatedJson {
    id: u64,
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

impl CommentJson {
    /// Carries `marker` and was written by a bot: a person quoting one of our comments
    /// does not count.
    fn is_ours(&self, marker: &str) -> bool {
        self.user.as_ref().is_some_and(|user| user.kind == "Bot")
            && self
                .body
                .as_deref()
                .is_some_and(|body| body.contains(marker))
    }
}

/// `body` followed by the marker line, `body` shortened if both would not fit in
/// GitHub's [`MAX_BODY_CHARS`](shared::github_text::MAX_BODY_CHARS).
pub(crate) fn with_marker(body: &str, marker_line: &str) -> String {
    BODY.fit_with_tail(body, &format!("\n\n{marker_line}"))
}

impl GitHubClient {
    pub(crate) async fn post_comment(
        &self,
        scope: &RepoScope,
        number: u64,
        marker: &str,
        body: &str,
    ) -> Result<u64, GitHubError> {
        let started = SystemTime::now();
        let marker = marker_line(marker);
        let call = Call::post(
            Endpoint::CreateIssueComment,
            repo_path(scope, &format!("issues/{number}/comments")),
            json!({ "body": with_marker(body, &marker) }),
        );
        let (call, marker) = (&call, &marker);
        self.retry
            .run("comment", |_attempt| async move {
                let since = Some(started - LOOKBACK);
                if let Some(id) = self.find_comment(scope, number, marker, since).await? {
                    tracing::info!(repo = %scope.repo, issue = number, comment = id, "the comment exists already");
                    return Ok(id);
                }
                let reply = self.send(scope, call).await?;
                Ok(reply.json::<CreatedJson>(call)?.id)
            })
            .await
    }

    /// Writes `body` into the App's comment on issue `number` that carries `marker`,
    /// posting it the first time: one comment kept up to date instead of a new one each
    /// time. Returns the comment's id. The search covers the whole thread (such a
    /// comment lives as long as its pull request), up to [`MAX_PAGES`] pages.
    pub async fn upsert_comment(
        &self,
        scope: &RepoScope,
        number: u64,
        marker: &str,
        body: &str,
    ) -> Result<u64, GitHubError> {
        let marker = marker_line(marker);
        let text = with_marker(body, &marker);
        if let Some(id) = self.find_comment(scope, number, &marker, None).await? {
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

    /// A comment on issue `number` carrying `marker`: among those updated since `since`
    /// when given, else among all.
    async fn find_comment(
        &self,
        scope: &RepoScope,
        number: u64,
        marker: &str,
        since: Option<SystemTime>,
    ) -> Result<Option<u64>, GitHubError> {
        let since = since
            .map(|since| DateTime::<Utc>::from(since).to_rfc3339_opts(SecondsFormat::Secs, true));
        for page in 1..=MAX_PAGES {
            let mut call = Call::new(
                Endpoint::ListIssueComments,
                repo_path(scope, &format!("issues/{number}/comments")),
            );
            if let Some(since) = &since {
                call = call.query("since", since.as_str());
            }
            let call = call
                .query("per_page", PER_PAGE.to_string())
                .query("page", page.to_string());
            let comments: Vec<CommentJson> = self.send(scope, &call).await?.json(&call)?;
            if let Some(comment) = comments.iter().find(|comment| comment.is_ours(marker)) {
                return Ok(Some(comment.id));
            }
            if comments.len() < PER_PAGE {
                break;
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::github_text::MAX_BODY_CHARS;

    #[test]
    fn the_marker_always_fits() {
        let marker = marker_line("job:1:accepted");
        let long = "é".repeat(MAX_BODY_CHARS + 10);
        let text = with_marker(&long, &marker);
        assert_eq!(text.chars().count(), MAX_BODY_CHARS);
        assert!(text.ends_with(&marker));
        assert!(text.contains("(cut to fit GitHub's limit)"));
        assert_eq!(with_marker("hi", &marker), format!("hi\n\n{marker}"));
    }
}
