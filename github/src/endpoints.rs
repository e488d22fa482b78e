//! Every GitHub endpoint the project calls, with the installation-token permission each one
//! needs, and which endpoints each component calls: the one table the token permission
//! sets ([`crate::TokenPermissions`]) are derived from, and the one the fake GitHub of the
//! tests checks every token against, so a new call cannot be forgotten in either.
//!
//! The permissions are GitHub's "Permissions required for GitHub Apps" (REST API docs,
//! "Fine-grained access tokens for …" of each endpoint, API version 2022-11-28); the path
//! templates are those of GitHub's OpenAPI description (`@octokit/openapi`,
//! `api.github.com.json`), with which the fake matches requests.

use crate::token::Access;
use shared::config::Deliverable;

/// What a call needs to be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// No credential (the App Manifest code is the credential).
    Nothing,
    /// The App's JWT, not an installation token.
    AppJwt,
    /// An installation token carrying any one of these permissions (GitHub's "at least
    /// one of"); the first is the one the project asks for.
    AnyOf(&'static [(&'static str, Access)]),
}

impl std::fmt::Display for Needs {
    /// `issues: read or pull_requests: read`, for errors.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Nothing => f.write_str("no credential"),
            Self::AppJwt => f.write_str("the App's JWT"),
            Self::AnyOf(any) => {
                let names: Vec<String> = any
                    .iter()
                    .map(|(name, access)| {
                        let level = match access {
                            Access::Read => "read",
                            Access::Write => "write",
                        };
                        format!("{name}: {level}")
                    })
                    .collect();
                f.write_str(&names.join(" or "))
            }
        }
    }
}

/// One endpoint the project calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    ManifestConversion,
    CreateInstallationToken,
    CollaboratorPermission,
    GetContents,
    GetBranch,
    GetPull,
    ListPullFiles,
    /// The files between two commits, for the `push` trigger's `paths`.
    Compare,
    GetIssue,
    /// A repository's description, for its default branch.
    GetRepository,
    /// The tracking issue of a repository's scheduled runs.
    CreateIssue,
    ListIssueComments,
    CreateIssueComment,
    IssueCommentReaction,
    ReviewCommentReaction,
    AddLabels,
    RemoveLabel,
    CreateCheckRun,
    UpdateCheckRun,
    ListCheckRunsForRef,
    /// A check suite's runs, for the `ci_failed` trigger.
    ListCheckRunsInSuite,
    ListCheckRunAnnotations,
    ListPulls,
    CreatePull,
    /// The policy stage merges the App's approved pull requests (`output.merge`).
    MergePull,
    ListReviews,
    CreateReview,
    /// The inline comments of a pull request's reviews (a review repeats none of them).
    ListReviewComments,
    /// Editing a comment: the review summary is kept up to date in one comment.
    UpdateIssueComment,
    /// `git fetch` over smart HTTP (a clone).
    GitFetch,
    /// `git push` over smart HTTP.
    GitPush,
    /// The App itself, with its JWT: proves a new private key before it replaces the old.
    GetApp,
    /// A signed-in user's own membership of an organization, with the user's token: the
    /// dashboard asks it whether they administer an installation's organization.
    UserOrgMembership,
}

const METADATA_READ: &[(&str, Access)] = &[("metadata", Access::Read)];
const CONTENTS_READ: &[(&str, Access)] = &[("contents", Access::Read)];
/// A file's contents: the App's `contents` permission, or the "single file" permission of
/// an App limited to named paths.
const FILE_READ: &[(&str, Access)] = &[("contents", Access::Read), ("single_file", Access::Read)];
const CONTENTS_WRITE: &[(&str, Access)] = &[("contents", Access::Write)];
const PULLS_READ: &[(&str, Access)] = &[("pull_requests", Access::Read)];
const PULLS_WRITE: &[(&str, Access)] = &[("pull_requests", Access::Write)];
const ISSUES_READ: &[(&str, Access)] = &[("issues", Access::Read)];
const ISSUES_WRITE: &[(&str, Access)] = &[("issues", Access::Write)];
const ISSUES_OR_PULLS_READ: &[(&str, Access)] =
    &[("issues", Access::Read), ("pull_requests", Access::Read)];
const ISSUES_OR_PULLS_WRITE: &[(&str, Access)] =
    &[("issues", Access::Write), ("pull_requests", Access::Write)];
const CHECKS_READ: &[(&str, Access)] = &[("checks", Access::Read)];
const CHECKS_WRITE: &[(&str, Access)] = &[("checks", Access::Write)];
/// An organization permission: GitHub lists "Members" under the organization's
/// permissions of an App ("Permissions required for GitHub Apps", `members`).
const MEMBERS_READ: &[(&str, Access)] = &[("members", Access::Read)];

impl Endpoint {
    pub const ALL: [Self; 33] = [
        Self::ManifestConversion,
        Self::CreateInstallationToken,
        Self::CollaboratorPermission,
        Self::GetContents,
        Self::GetBranch,
        Self::GetPull,
        Self::ListPullFiles,
        Self::Compare,
        Self::GetIssue,
        Self::GetRepository,
        Self::CreateIssue,
        Self::ListIssueComments,
        Self::CreateIssueComment,
        Self::IssueCommentReaction,
        Self::ReviewCommentReaction,
        Self::AddLabels,
        Self::RemoveLabel,
        Self::CreateCheckRun,
        Self::UpdateCheckRun,
        Self::ListCheckRunsForRef,
        Self::ListCheckRunsInSuite,
        Self::ListCheckRunAnnotations,
        Self::ListPulls,
        Self::CreatePull,
        Self::MergePull,
        Self::ListReviews,
        Self::CreateReview,
        Self::ListReviewComments,
        Self::UpdateIssueComment,
        Self::GitFetch,
        Self::GitPush,
        Self::GetApp,
        Self::UserOrgMembership,
    ];

    /// The HTTP method and the path template (GitHub's OpenAPI description's for the REST
    /// endpoints, relative to the API root; relative to the Git host for the Git ones).
    pub fn route(self) -> (&'static str, &'static str) {
        match self {
            Self::ManifestConversion => ("POST", "/app-manifests/{code}/conversions"),
            Self::CreateInstallationToken => {
                ("POST", "/app/installations/{installation_id}/access_tokens")
            }
            Self::CollaboratorPermission => (
                "GET",
                "/repos/{owner}/{repo}/collaborators/{username}/permission",
            ),
            Self::GetContents => ("GET", "/repos/{owner}/{repo}/contents/{path}"),
            Self::GetBranch => ("GET", "/repos/{owner}/{repo}/branches/{branch}"),
            Self::GetPull => ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}"),
            Self::ListPullFiles => ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/files"),
            Self::Compare => ("GET", "/repos/{owner}/{repo}/compare/{basehead}"),
            Self::GetIssue => ("GET", "/repos/{owner}/{repo}/issues/{issue_number}"),
            Self::GetRepository => ("GET", "/repos/{owner}/{repo}"),
            Self::CreateIssue => ("POST", "/repos/{owner}/{repo}/issues"),
            Self::ListIssueComments => (
                "GET",
                "/repos/{owner}/{repo}/issues/{issue_number}/comments",
            ),
            Self::CreateIssueComment => (
                "POST",
                "/repos/{owner}/{repo}/issues/{issue_number}/comments",
            ),
            Self::IssueCommentReaction => (
                "POST",
                "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
            ),
            Self::ReviewCommentReaction => (
                "POST",
                "/repos/{owner}/{repo}/pulls/comments/{comment_id}/reactions",
            ),
            Self::AddLabels => ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels"),
            Self::RemoveLabel => (
                "DELETE",
                "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}",
            ),
            Self::CreateCheckRun => ("POST", "/repos/{owner}/{repo}/check-runs"),
            Self::UpdateCheckRun => ("PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}"),
            Self::ListCheckRunsForRef => ("GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs"),
            Self::ListCheckRunsInSuite => (
                "GET",
                "/repos/{owner}/{repo}/check-suites/{check_suite_id}/check-runs",
            ),
            Self::ListCheckRunAnnotations => (
                "GET",
                "/repos/{owner}/{repo}/check-runs/{check_run_id}/annotations",
            ),
            Self::ListPulls => ("GET", "/repos/{owner}/{repo}/pulls"),
            Self::CreatePull => ("POST", "/repos/{owner}/{repo}/pulls"),
            Self::MergePull => ("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge"),
            Self::ListReviews => ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"),
            Self::CreateReview => ("POST", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"),
            Self::ListReviewComments => {
                ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/comments")
            }
            Self::UpdateIssueComment => (
                "PATCH",
                "/repos/{owner}/{repo}/issues/comments/{comment_id}",
            ),
            Self::GitFetch => ("POST", "/{owner}/{repo}.git/git-upload-pack"),
            Self::GitPush => ("POST", "/{owner}/{repo}.git/git-receive-pack"),
            Self::GetApp => ("GET", "/app"),
            Self::UserOrgMembership => ("GET", "/user/memberships/orgs/{org}"),
        }
    }

    /// Whether GitHub's REST API serves it (and its OpenAPI description describes it).
    pub fn is_rest(self) -> bool {
        !matches!(self, Self::GitFetch | Self::GitPush)
    }

    /// What GitHub requires of the credential.
    pub fn needs(self) -> Needs {
        match self {
            Self::ManifestConversion => Needs::Nothing,
            Self::CreateInstallationToken | Self::GetApp => Needs::AppJwt,
            Self::UserOrgMembership => Needs::AnyOf(MEMBERS_READ),
            Self::CollaboratorPermission | Self::GetRepository => Needs::AnyOf(METADATA_READ),
            Self::GetContents => Needs::AnyOf(FILE_READ),
            Self::GetBranch | Self::Compare | Self::GitFetch => Needs::AnyOf(CONTENTS_READ),
            // "Merge a pull request": "Contents" repository permissions (write).
            Self::GitPush | Self::MergePull => Needs::AnyOf(CONTENTS_WRITE),
            Self::GetPull
            | Self::ListPullFiles
            | Self::ListPulls
            | Self::ListReviews
            | Self::ListReviewComments => Needs::AnyOf(PULLS_READ),
            Self::CreatePull | Self::CreateReview | Self::ReviewCommentReaction => {
                Needs::AnyOf(PULLS_WRITE)
            }
            Self::GetIssue => Needs::AnyOf(ISSUES_READ),
            Self::CreateIssue => Needs::AnyOf(ISSUES_WRITE),
            Self::ListIssueComments => Needs::AnyOf(ISSUES_OR_PULLS_READ),
            Self::CreateIssueComment
            | Self::IssueCommentReaction
            | Self::AddLabels
            | Self::RemoveLabel
            | Self::UpdateIssueComment => Needs::AnyOf(ISSUES_OR_PULLS_WRITE),
            Self::CreateCheckRun | Self::UpdateCheckRun => Needs::AnyOf(CHECKS_WRITE),
            Self::ListCheckRunsForRef => Needs::AnyOf(CHECKS_READ),
            // GitHub's permissions page lists these reads under `contents: read`, not
            // `checks` (older reference pages said `checks: read`).
            Self::ListCheckRunsInSuite | Self::ListCheckRunAnnotations => {
                Needs::AnyOf(CONTENTS_READ)
            }
        }
    }

    /// The REST endpoint `method` on `template` (a path template of GitHub's description).
    pub fn find(method: &str, template: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|endpoint| {
            let (m, t) = endpoint.route();
            endpoint.is_rest() && m.eq_ignore_ascii_case(method) && t == template
        })
    }

    /// Whether a token with `granted` permissions may call it.
    pub fn allowed(self, granted: impl Fn(&str) -> Option<Access>) -> bool {
        match self.needs() {
            Needs::Nothing | Needs::AppJwt => true,
            Needs::AnyOf(any) => any
                .iter()
                .any(|(name, access)| granted(name).is_some_and(|has| has >= *access)),
        }
    }
}

/// What the policy and report stages call: roles, the config file, branch heads, pull
/// requests and the files a change touches, reactions, comments (and the search for one
/// posted before), check runs, labels, a repository's default branch and the tracking
/// issue of its scheduled runs; and, for `output.merge`, a pull request's reviews and its
/// head's check runs (the merge itself is [`MERGE_CALLS`]).
pub const POLICY_AND_REPORT_CALLS: &[Endpoint] = &[
    Endpoint::ListReviews,
    Endpoint::CollaboratorPermission,
    Endpoint::GetRepository,
    Endpoint::CreateIssue,
    Endpoint::GetContents,
    Endpoint::GetBranch,
    Endpoint::GetPull,
    Endpoint::ListPullFiles,
    Endpoint::Compare,
    Endpoint::IssueCommentReaction,
    Endpoint::ReviewCommentReaction,
    Endpoint::ListIssueComments,
    Endpoint::CreateIssueComment,
    Endpoint::UpdateIssueComment,
    Endpoint::CreateCheckRun,
    Endpoint::UpdateCheckRun,
    Endpoint::ListCheckRunsForRef,
    Endpoint::ListCheckRunsInSuite,
    Endpoint::ListCheckRunAnnotations,
    Endpoint::AddLabels,
    Endpoint::RemoveLabel,
];

/// What the policy stage calls with a token of its own, minted for the call: the merge of
/// `output.merge`, which takes `contents: write`, more than the stages' everyday token
/// ([`POLICY_AND_REPORT_CALLS`]) has.
pub const MERGE_CALLS: &[Endpoint] = &[Endpoint::MergePull];

/// What the dashboard calls with a signed-in user's token (a user-to-server token holds
/// no more than the App was granted, so the App must ask for these too): whether the
/// user administers an installation's organization.
pub const DASHBOARD_USER_CALLS: &[Endpoint] = &[Endpoint::UserOrgMembership];

/// What every runner calls: its config file, the issue or pull request's text and diff,
/// its check run, and a clone.
const EVERY_RUNNER_CALLS: &[Endpoint] = &[
    Endpoint::GetContents,
    Endpoint::GetIssue,
    Endpoint::ListPullFiles,
    Endpoint::UpdateCheckRun,
    Endpoint::GitFetch,
];

/// What a runner calls to produce `deliverable`, besides [`EVERY_RUNNER_CALLS`].
fn deliverable_calls(deliverable: Deliverable) -> &'static [Endpoint] {
    match deliverable {
        // `resolve` reads its pull request's base branch.
        Deliverable::PullRequest => &[
            Endpoint::GitPush,
            Endpoint::ListPulls,
            Endpoint::CreatePull,
            Endpoint::GetPull,
        ],
        // An incremental review compares with the last reviewed head and skips the
        // inline comments it made before.
        Deliverable::Review => &[
            Endpoint::ListReviews,
            Endpoint::CreateReview,
            Endpoint::Compare,
            Endpoint::ListReviewComments,
        ],
    }
}

/// Every call a runner makes to produce `deliverable`.
pub fn runner_calls(deliverable: Deliverable) -> Vec<Endpoint> {
    EVERY_RUNNER_CALLS
        .iter()
        .chain(deliverable_calls(deliverable))
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_unique() {
        for a in Endpoint::ALL {
            for b in Endpoint::ALL {
                assert!(a == b || a.route() != b.route(), "{a:?} and {b:?}");
            }
            if a.is_rest() {
                let (method, template) = a.route();
                assert_eq!(Endpoint::find(method, template), Some(a));
            }
        }
    }

    #[test]
    fn reading_the_issue_takes_issues_read_and_a_comment_either_write() {
        let only =
            |name: &'static str, access| move |asked: &str| (asked == name).then_some(access);
        assert!(Endpoint::GetIssue.allowed(only("issues", Access::Read)));
        assert!(!Endpoint::GetIssue.allowed(only("pull_requests", Access::Write)));
        assert!(Endpoint::CreateIssueComment.allowed(only("pull_requests", Access::Write)));
        assert!(!Endpoint::CreateIssueComment.allowed(only("issues", Access::Read)));
        assert!(Endpoint::ListIssueComments.allowed(only("issues", Access::Write)));
    }
}
