//! The GitHub App manifest: the App this product needs (its permissions and webhook events,
//! taken from the code that uses them so they cannot drift), and the GitHub page that
//! creates an App from it.

use ota_github::{Access, TokenPermissions};
use serde_json::{Value, json};
use shared::envelope::EventName;
use std::collections::BTreeMap;

/// The name suggested on GitHub's creation page; the user may change it there (App names
/// are unique across GitHub).
pub const DEFAULT_APP_NAME: &str = "Ollama Turbo Agent";

/// The permissions the App asks for: every permission some stage mints its installation
/// tokens with, and those the dashboard's calls with a user's token need, at the highest
/// level any of them asks for.
pub fn app_permissions() -> BTreeMap<String, Access> {
    let mut permissions = BTreeMap::new();
    for needed in [
        TokenPermissions::policy_and_report(),
        TokenPermissions::merge(),
        TokenPermissions::runner(),
        TokenPermissions::dashboard_user(),
    ] {
        for (name, access) in needed.iter() {
            let level = permissions.entry(name.to_owned()).or_insert(access);
            *level = (*level).max(access);
        }
    }
    permissions
}

/// The webhook events the App subscribes to: those the intake handles, by GitHub's names.
pub fn app_events() -> Vec<&'static str> {
    EventName::ALL
        .into_iter()
        .filter(|event| subscribed(*event))
        .map(EventName::as_str)
        .collect()
}

/// Whether the manifest lists `event`. Exhaustive, so that a new event is decided here.
fn subscribed(event: EventName) -> bool {
    match event {
        EventName::IssueComment
        | EventName::Issues
        | EventName::PullRequest
        | EventName::PullRequestReview
        | EventName::PullRequestReviewComment
        | EventName::CheckSuite
        | EventName::CheckRun
        | EventName::Push => true,
        // GitHub sends these to every App; a manifest may not list them.
        EventName::Installation | EventName::InstallationRepositories | EventName::Ping => false,
    }
}

/// The manifest for an App served at `public_url`: webhooks to `<public_url>/webhook`,
/// the browser back to `<public_url>/setup/callback`, the dashboard's sign-in back to
/// `<public_url>/signin/github/callback`.
pub fn manifest(public_url: &str, app_name: &str) -> Value {
    let public_url = public_url.trim_end_matches('/');
    manifest_with_webhook(public_url, &format!("{public_url}/webhook"), app_name)
}

/// The manifest when webhooks arrive another way than the browser does (a smee.io
/// channel relaying to a server the browser reaches locally).
pub fn manifest_with_webhook(public_url: &str, webhook_url: &str, app_name: &str) -> Value {
    let public_url = public_url.trim_end_matches('/');
    json!({
        "name": app_name,
        "url": public_url,
        "description": "Runs AI agent jobs on repositories with models served by Ollama.",
        "hook_attributes": { "url": webhook_url, "active": true },
        "redirect_url": format!("{public_url}/setup/callback"),
        // The dashboard's sign-in with GitHub comes back here (`ota-web`); GitHub accepts
        // a `redirect_uri` only among these.
        "callback_urls": [format!("{public_url}/signin/github/callback")],
        "public": false,
        "default_permissions": app_permissions(),
        "default_events": app_events(),
    })
}

/// Sends the browser back, after GitHub created the App, to `browser_origin` (the origin it
/// started the setup on) rather than to the public URL: the cookie that binds the setup
/// to the browser belongs to that origin (a tunnel's name and `127.0.0.1` are different
/// sites to a browser). GitHub only redirects the browser there; it never calls it.
pub fn return_to(manifest: &mut Value, browser_origin: &str) {
    manifest["redirect_url"] = Value::String(format!(
        "{}/setup/callback",
        browser_origin.trim_end_matches('/')
    ));
}

/// GitHub's page that creates an App from a posted manifest: for the user's account, or
/// for `organization`. `github_web_url` is the web host (`https://github.com`, or a
/// GitHub Enterprise Server's `https://HOST`).
pub fn new_app_url(github_web_url: &str, organization: Option<&str>, state: &str) -> String {
    let web = github_web_url.trim_end_matches('/');
    let owner = match organization {
        Some(org) => format!("/organizations/{}", encode_component(org)),
        None => String::new(),
    };
    format!(
        "{web}{owner}/settings/apps/new?state={}",
        encode_component(state)
    )
}

/// Percent-encodes all but RFC 3986's unreserved characters.
fn encode_component(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_app_asks_for_what_the_stages_mint_tokens_with() {
        let permissions: Vec<(String, &str)> = app_permissions()
            .into_iter()
            .map(|(name, access)| {
                let level = match access {
                    Access::Read => "read",
                    Access::Write => "write",
                };
                (name, level)
            })
            .collect();
        let expected = [
            ("checks", "write"),
            ("contents", "write"),
            ("issues", "write"),
            ("members", "read"),
            ("metadata", "read"),
            ("pull_requests", "write"),
        ];
        assert_eq!(
            permissions,
            expected.map(|(name, level)| (name.to_owned(), level))
        );
    }

    #[test]
    fn the_app_subscribes_to_the_events_the_intake_handles() {
        assert_eq!(
            app_events(),
            [
                "issue_comment",
                "issues",
                "pull_request",
                "pull_request_review",
                "pull_request_review_comment",
                "check_suite",
                "check_run",
                "push",
            ]
        );
        // Every event the intake takes is either subscribed or sent to all Apps.
        for event in EventName::ALL {
            let always_sent = matches!(
                event,
                EventName::Installation | EventName::InstallationRepositories | EventName::Ping
            );
            assert_eq!(app_events().contains(&event.as_str()), !always_sent);
        }
    }

    #[test]
    fn the_manifest_points_github_at_this_server() {
        let manifest = manifest("https://ota.example.com/", "My agent");
        assert_eq!(manifest["name"], "My agent");
        assert_eq!(manifest["url"], "https://ota.example.com");
        assert_eq!(
            manifest["hook_attributes"],
            json!({ "url": "https://ota.example.com/webhook", "active": true })
        );
        assert_eq!(
            manifest["redirect_url"],
            "https://ota.example.com/setup/callback"
        );
        assert_eq!(manifest["public"], false);
        assert_eq!(manifest["default_permissions"]["contents"], "write");
        assert_eq!(manifest["default_permissions"]["metadata"], "read");
        assert_eq!(manifest["default_events"][0], "issue_comment");
    }

    #[test]
    fn webhooks_may_go_elsewhere_than_the_browser() {
        let manifest = manifest_with_webhook(
            "http://127.0.0.1:3000",
            "https://smee.io/abc123",
            "My agent",
        );
        assert_eq!(manifest["hook_attributes"]["url"], "https://smee.io/abc123");
        assert_eq!(
            manifest["redirect_url"],
            "http://127.0.0.1:3000/setup/callback"
        );
    }

    #[test]
    fn the_browser_returns_where_it_started() {
        let mut manifest = manifest("https://ota.example.com", "My agent");
        return_to(&mut manifest, "http://127.0.0.1:3000/");
        assert_eq!(
            manifest["redirect_url"],
            "http://127.0.0.1:3000/setup/callback"
        );
        assert_eq!(
            manifest["hook_attributes"]["url"],
            "https://ota.example.com/webhook"
        );
    }

    #[test]
    fn new_apps_are_created_for_the_user_or_an_organization() {
        assert_eq!(
            new_app_url("https://github.com", None, "abc"),
            "https://github.com/settings/apps/new?state=abc"
        );
        assert_eq!(
            new_app_url("https://github.com/", Some("acme-corp"), "abc"),
            "https://github.com/organizations/acme-corp/settings/apps/new?state=abc"
        );
        let enterprise = ota_runner::job::git_base_url("https://ghe.example.com/api/v3");
        assert_eq!(
            new_app_url(&enterprise, None, "abc"),
            "https://ghe.example.com/settings/apps/new?state=abc"
        );
        assert_eq!(
            new_app_url("https://github.com", Some("a/b?c"), "x y"),
            "https://github.com/organizations/a%2Fb%3Fc/settings/apps/new?state=x%20y"
        );
    }
}
