//! Labels on issues and pull requests (`automation:pending`, ...): adding one twice and
//! removing one that is not there are both harmless, so every attempt just sends the call.

use crate::client::{GitHubClient, repo_path};
use crate::endpoints::Endpoint;
use crate::transport::{Call, encode};
use serde_json::json;
use shared::ports::{GitHubError, RepoScope};

impl GitHubClient {
    /// `POST /repos/{owner}/{repo}/issues/{number}/labels`: adds to the issue's labels
    /// (unlike `PUT`, which would replace them).
    pub(crate) async fn add_issue_labels(
        &self,
        scope: &RepoScope,
        number: u64,
        labels: &[&str],
    ) -> Result<(), GitHubError> {
        if labels.is_empty() {
            // GitHub reads an empty list as "remove every label".
            return Ok(());
        }
        let call = Call::post(
            Endpoint::AddLabels,
            repo_path(scope, &format!("issues/{number}/labels")),
            json!({ "labels": labels }),
        );
        self.retry
            .run("add labels", |_| self.send(scope, &call))
            .await
            .map(|_| ())
    }

    /// `DELETE /repos/{owner}/{repo}/issues/{number}/labels/{name}`; GitHub answers 404
    /// when the issue does not carry the label, which counts as done.
    pub(crate) async fn remove_issue_label(
        &self,
        scope: &RepoScope,
        number: u64,
        label: &str,
    ) -> Result<(), GitHubError> {
        let call = Call::new(
            Endpoint::RemoveLabel,
            repo_path(scope, &format!("issues/{number}/labels/{}", encode(label))),
        );
        match self
            .retry
            .run("remove label", |_| self.send(scope, &call))
            .await
        {
            Ok(_) | Err(GitHubError::NotFound(_)) => Ok(()),
            Err(error) => Err(error),
        }
    }
}
