//! A repository's description and the issues the App opens (the tracking issue of a
//! repository's scheduled read-only runs).

use crate::client::{GitHubClient, repo_path};
use crate::endpoints::Endpoint;
use crate::transport::Call;
use serde::Deserialize;
use serde_json::json;
use shared::github_text::BODY;
use shared::ids::RepoId;
use shared::ports::{GitHubError, NewIssue, RepoScope, RepositoryInfo};

#[derive(Deserialize)]
struct RepositoryJson {
    id: u64,
    default_branch: String,
    private: bool,
}

#[derive(Deserialize)]
struct IssueJson {
    number: u64,
}

impl GitHubClient {
    pub(crate) async fn repository_info(
        &self,
        scope: &RepoScope,
    ) -> Result<RepositoryInfo, GitHubError> {
        let path = repo_path(scope, "").trim_end_matches('/').to_owned();
        let call = Call::new(Endpoint::GetRepository, path);
        let reply = self
            .retry
            .run("repository", |_| self.send(scope, &call))
            .await?;
        let repository: RepositoryJson = reply.json(&call)?;
        Ok(RepositoryInfo {
            id: RepoId(repository.id),
            default_branch: repository.default_branch,
            private: repository.private,
        })
    }

    /// Sent once: a retry after a failure GitHub had in fact carried out would open a
    /// second issue.
    pub(crate) async fn create_issue(
        &self,
        scope: &RepoScope,
        issue: &NewIssue,
    ) -> Result<u64, GitHubError> {
        let call = Call::post(
            Endpoint::CreateIssue,
            repo_path(scope, "issues"),
            json!({
                "title": issue.title,
                "body": BODY.fit(&issue.body),
                "labels": issue.labels,
            }),
        );
        let reply = self.send(scope, &call).await?;
        Ok(reply.json::<IssueJson>(&call)?.number)
    }
}
