//! Shared setup of the GitHub App client's tests: the fake GitHub with a ready client, and
//! the requests and fixtures those tests build.

use crate::fake_github::{FakeGitHub, FakePull, Fault, Route};
use ota_github::GitHubClient;
use shared::ids::{CommitSha, InstallationId, RepoFullName};
use shared::ports::{CheckOutput, CheckStatus, GitHub, NewCheckRun, RepoScope};

pub const INSTALLATION: u64 = 4242;
pub const REPO: &str = "octo-org/hello-world";
pub const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

pub fn scope(repo: &str) -> RepoScope {
    RepoScope {
        installation: InstallationId(INSTALLATION),
        repo: RepoFullName::new(repo),
    }
}

/// The fake GitHub and a client pointed at it.
pub async fn start() -> (FakeGitHub, GitHubClient) {
    let fake = FakeGitHub::start().await;
    let client = fake.client();
    (fake, client)
}

/// The fake GitHub, where `ada` may write to [`REPO`] but the first look-up of a
/// permission fails with `fault`, and a client pointed at it.
pub async fn start_with_permission_fault(fault: Fault) -> (FakeGitHub, GitHubClient) {
    let (fake, client) = start().await;
    fake.set_role(REPO, "ada", "write");
    fake.inject(Route::Permission, 1, fault);
    (fake, client)
}

/// The comment the client tests post on #7: "Working on it.", marked `job:1:accepted`.
/// Returns its id.
pub async fn post_accepted_comment(client: &GitHubClient) -> u64 {
    client
        .comment(&scope(REPO), 7, "job:1:accepted", "Working on it.")
        .await
        .expect("comment")
}

/// A queued check run on [`SHA`].
pub fn check(name: &str, external_id: &str) -> NewCheckRun {
    NewCheckRun {
        name: name.to_owned(),
        head_sha: CommitSha::new(SHA),
        external_id: external_id.to_owned(),
        status: CheckStatus::Queued,
        details_url: None,
        output: Some(CheckOutput {
            title: "Queued".to_owned(),
            summary: "Waiting for a runner.".to_owned(),
            text: None,
        }),
    }
}

/// An open pull request with head [`SHA`] on `feature/x`, into `main`.
pub fn pull(number: u64, head_repo: Option<&str>) -> FakePull {
    FakePull {
        number,
        state: "open".to_owned(),
        head_sha: SHA.to_owned(),
        head_ref: "feature/x".to_owned(),
        base_ref: "main".to_owned(),
        head_repo: head_repo.map(str::to_owned),
    }
}
