//! The paths a change touches, for the triggers' `paths` filters: a pull request's files
//! (paged, 100 at a time, up to GitHub's 3,000) or the files of a comparison between two
//! commits (one page: GitHub lists a comparison's files only on its first page, at most
//! 300 of them).

use crate::api::PullFileJson;
use crate::client::{GitHubClient, repo_path};
use crate::endpoints::Endpoint;
use crate::transport::{Call, encode};
use serde::Deserialize;
use shared::ports::{
    ChangeSet, ChangedPaths, GitHubError, MAX_COMPARE_FILES, MAX_PULL_REQUEST_FILES, RepoScope,
};

/// The part of a comparison read: its files (absent when nothing changed).
#[derive(Deserialize)]
struct CompareJson {
    #[serde(default)]
    files: Vec<PullFileJson>,
}

/// A file under its name and, when renamed, its old name.
fn names(files: Vec<PullFileJson>) -> Vec<String> {
    let mut paths = Vec::with_capacity(files.len());
    for file in files {
        paths.push(file.filename);
        paths.extend(file.previous_filename);
    }
    paths
}

impl GitHubClient {
    pub(crate) async fn list_changed_paths(
        &self,
        scope: &RepoScope,
        change: &ChangeSet,
    ) -> Result<ChangedPaths, GitHubError> {
        match change {
            ChangeSet::PullRequest(number) => {
                let pages = MAX_PULL_REQUEST_FILES.div_ceil(100) as u32;
                let files = self
                    .pull_file_pages(scope, *number, pages, |_| false)
                    .await?;
                let complete = files.len() < MAX_PULL_REQUEST_FILES;
                Ok(ChangedPaths {
                    paths: names(files),
                    complete,
                })
            }
            ChangeSet::Compare { base, head } => {
                let basehead = format!("{}...{}", encode(base), encode(head.as_str()));
                let call = Call::new(
                    Endpoint::Compare,
                    repo_path(scope, &format!("compare/{basehead}")),
                );
                let reply = self
                    .retry
                    .run("compare", |_| self.send(scope, &call))
                    .await?;
                let compared = reply.json::<CompareJson>(&call)?;
                let complete = compared.files.len() < MAX_COMPARE_FILES;
                Ok(ChangedPaths {
                    paths: names(compared.files),
                    complete,
                })
            }
        }
    }
}
