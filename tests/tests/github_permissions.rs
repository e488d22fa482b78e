//! The endpoint → permission table (`ota_github::endpoints`) against GitHub's published
//! "Permissions required for GitHub Apps", as `@octokit/app-permissions` (pinned in
//! `package.json`) scrapes it into machine-readable form: every endpoint the project calls
//! with an installation token needs, by our table, a permission GitHub lists for it. The
//! scrape keeps one permission per endpoint where GitHub accepts any of several, so the
//! check is that GitHub's is one of ours.

use ota_github::Access;
use ota_github::endpoints::{Endpoint, Needs};
use serde_json::Value;

const PERMISSIONS_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../node_modules/@octokit/app-permissions/generated/api.github.com.json"
);

/// Endpoints GitHub's permission page leaves out, with the permission their own reference
/// page names. Each stays checked: once the page lists one, this test asks for it to
/// leave this list.
const NOT_ON_THE_PAGE: &[(Endpoint, &str)] = &[
    // "Get repository permissions for a user": "Metadata" repository permissions (read).
    (Endpoint::CollaboratorPermission, "metadata"),
    // "List check runs for a Git reference": "Checks" repository permissions (read).
    (Endpoint::ListCheckRunsForRef, "checks"),
];

/// Endpoints GitHub's permission page writes with another path template than its REST
/// description (which `Endpoint::route` follows).
const PAGE_TEMPLATES: &[(Endpoint, &str)] = &[
    // The description's `{basehead}` is `{base}...{head}` on the page.
    (
        Endpoint::Compare,
        "/repos/{owner}/{repo}/compare/{base}...{head}",
    ),
];

fn published() -> Value {
    let text = std::fs::read_to_string(PERMISSIONS_PATH)
        .unwrap_or_else(|err| panic!("{PERMISSIONS_PATH}: {err} (run `npm ci`)"));
    serde_json::from_str(&text).expect("the permissions file is JSON")
}

fn level(access: Access) -> &'static str {
    match access {
        Access::Read => "read",
        Access::Write => "write",
    }
}

#[test]
fn every_installation_call_needs_a_permission_github_lists_for_it() {
    let published = published();
    let paths = &published["paths"];
    let mut mismatches = Vec::new();
    for endpoint in Endpoint::ALL.into_iter().filter(|e| e.is_rest()) {
        let (method, template) = endpoint.route();
        let template = PAGE_TEMPLATES
            .iter()
            .find(|(e, _)| *e == endpoint)
            .map_or(template, |(_, page)| page);
        let listed = &paths[template][method];
        let Needs::AnyOf(ours) = endpoint.needs() else {
            // The App's own endpoints (JWT or no credential) are not installation calls.
            assert!(listed.is_null(), "{endpoint:?} is listed: {listed}");
            continue;
        };
        if let Some((_, name)) = NOT_ON_THE_PAGE.iter().find(|(e, _)| *e == endpoint) {
            assert!(
                listed.is_null(),
                "{endpoint:?} is on the page now ({listed}): check it and leave NOT_ON_THE_PAGE"
            );
            assert!(
                ours.iter().any(|(ours, _)| ours == name),
                "{endpoint:?}: its reference page names {name}"
            );
            continue;
        }
        let (Some(permission), Some(access)) =
            (listed["permission"].as_str(), listed["access"].as_str())
        else {
            mismatches.push(format!("{method} {template}: not on GitHub's page"));
            continue;
        };
        if !ours
            .iter()
            .any(|(name, ours)| *name == permission && level(*ours) == access)
        {
            mismatches.push(format!(
                "{method} {template}: GitHub lists {permission}: {access}, ours is {}",
                endpoint.needs()
            ));
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

#[test]
fn the_git_endpoints_follow_the_contents_permission() {
    // Git over HTTPS is not a REST endpoint; GitHub documents fetching as `contents: read`
    // and pushing as `contents: write` for installation tokens.
    for (endpoint, access) in [
        (Endpoint::GitFetch, Access::Read),
        (Endpoint::GitPush, Access::Write),
    ] {
        let Needs::AnyOf(needs) = endpoint.needs() else {
            panic!("{endpoint:?} needs a token");
        };
        assert_eq!(needs, [("contents", access)], "{endpoint:?}");
    }
}
