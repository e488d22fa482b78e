//! The webhook deliveries of the triggers other than comments, for the tests of
//! `ota serve` against [`crate::ota_server::ServeWorld`]: a label added or removed, a
//! push. Each is GitHub's own example from `@octokit/webhooks-examples`, as the App
//! receives it, with only what the test needs changed.

use crate::delivery::Delivery;
use crate::fixtures;
use crate::git_server::DEFAULT_BRANCH;
use crate::ota_server::{INSTALLATION, PR_BRANCH, REPO, SECRET};
use serde_json::{Value, json};

/// `label` added to pull request `number` (whose head is `head`), or to issue `number`
/// when `on_pull_request` is false: GitHub's `pull_request` or `issues` `labeled` example,
/// as the App receives it from `Codertocat`.
pub fn label_added(label: &str, on_pull_request: bool, number: u64, head: &str) -> Delivery {
    label_event("labeled", label, on_pull_request, number, head)
}

/// As [`label_added`], for `action` (`labeled` or `unlabeled`).
pub fn label_event(
    action: &str,
    label: &str,
    on_pull_request: bool,
    number: u64,
    head: &str,
) -> Delivery {
    let event = if on_pull_request {
        "pull_request"
    } else {
        "issues"
    };
    let mut payload =
        fixtures::as_app_delivery(fixtures::example(event, Some(action)), INSTALLATION);
    payload["installation"]["id"] = json!(INSTALLATION);
    payload["label"]["name"] = json!(label);
    payload["sender"]["login"] = json!("Codertocat");
    payload["repository"]["default_branch"] = json!(DEFAULT_BRANCH);
    if on_pull_request {
        payload["number"] = json!(number);
        payload["pull_request"]["number"] = json!(number);
        payload["pull_request"]["head"]["sha"] = json!(head);
        payload["pull_request"]["head"]["ref"] = json!(PR_BRANCH);
        payload["pull_request"]["base"]["ref"] = json!(DEFAULT_BRANCH);
    } else {
        payload["issue"]["number"] = json!(number);
    }
    Delivery::json(event, &payload, SECRET)
}

/// A push of one commit to the default branch, from `before` to `after`, whose commit
/// the payload says changes `files` (GitHub's `push` example, as the App receives it);
/// `forced` marks a rewritten branch.
pub fn pushed(before: &str, after: &str, files: &[&str], forced: bool) -> Delivery {
    Delivery::json("push", &push_payload(before, after, files, forced), SECRET)
}

/// The payload of [`pushed`], to sign with another secret.
pub fn push_payload(before: &str, after: &str, files: &[&str], forced: bool) -> Value {
    let mut payload = fixtures::as_app_delivery(fixtures::example("push", None), INSTALLATION);
    payload["installation"]["id"] = json!(INSTALLATION);
    payload["ref"] = json!(format!("refs/heads/{DEFAULT_BRANCH}"));
    payload["before"] = json!(before);
    payload["after"] = json!(after);
    payload["created"] = json!(false);
    payload["deleted"] = json!(false);
    payload["forced"] = json!(forced);
    payload["base_ref"] = Value::Null;
    payload["repository"]["default_branch"] = json!(DEFAULT_BRANCH);
    payload["repository"]["master_branch"] = json!(DEFAULT_BRANCH);
    let commit = json!({
        "id": after,
        "tree_id": after,
        "distinct": true,
        "message": "Change files",
        "timestamp": "2026-12-02T12:00:00Z",
        "url": format!("https://github.com/{REPO}/commit/{after}"),
        "author": {"name": "Codertocat", "email": "21031067+Codertocat@users.noreply.github.com", "username": "Codertocat"},
        "committer": {"name": "Codertocat", "email": "21031067+Codertocat@users.noreply.github.com", "username": "Codertocat"},
        "added": [],
        "removed": [],
        "modified": files,
    });
    payload["commits"] = json!([commit.clone()]);
    payload["head_commit"] = commit;
    payload
}

/// The App installed on (`action` `added`) or removed from (`removed`) repository `repo`
/// of id `id`: GitHub's `installation_repositories` example, as the App receives it.
pub fn repositories_changed(action: &str, repo: &str, id: u64) -> Delivery {
    let mut payload = fixtures::as_app_delivery(
        fixtures::example("installation_repositories", Some(action)),
        INSTALLATION,
    );
    payload["installation"]["id"] = json!(INSTALLATION);
    let name = repo.rsplit('/').next().unwrap_or(repo);
    let listed = json!([{
        "id": id,
        "node_id": "MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=",
        "name": name,
        "full_name": repo,
        "private": false,
    }]);
    let (this, other) = if action == "added" {
        ("repositories_added", "repositories_removed")
    } else {
        ("repositories_removed", "repositories_added")
    };
    payload[this] = listed;
    payload[other] = json!([]);
    Delivery::json("installation_repositories", &payload, SECRET)
}

/// The App uninstalled: GitHub's `installation` `deleted` example, for [`INSTALLATION`].
pub fn installation_deleted() -> Delivery {
    let mut payload = fixtures::as_app_delivery(
        fixtures::example("installation", Some("deleted")),
        INSTALLATION,
    );
    payload["installation"]["id"] = json!(INSTALLATION);
    Delivery::json("installation", &payload, SECRET)
}

/// Check suite `suite` of GitHub Actions completed with `conclusion` on pull request #2's
/// head `head`, whose commit `author` wrote (GitHub's `check_suite` `completed` example,
/// as the App receives it, sent by whoever pushed).
pub fn check_suite_completed(suite: u64, conclusion: &str, head: &str, author: &str) -> Delivery {
    let mut payload = fixtures::as_app_delivery(
        fixtures::example("check_suite", Some("completed")),
        INSTALLATION,
    );
    payload["installation"]["id"] = json!(INSTALLATION);
    payload["repository"]["default_branch"] = json!(DEFAULT_BRANCH);
    let suite_json = &mut payload["check_suite"];
    suite_json["id"] = json!(suite);
    suite_json["conclusion"] = json!(conclusion);
    suite_json["head_sha"] = json!(head);
    suite_json["after"] = json!(head);
    suite_json["head_branch"] = json!(PR_BRANCH);
    suite_json["app"]["id"] = json!(15368);
    suite_json["app"]["slug"] = json!("github-actions");
    suite_json["head_commit"]["id"] = json!(head);
    suite_json["head_commit"]["author"]["name"] = json!(author);
    suite_json["pull_requests"] = json!([{
        "url": format!("https://api.github.com/repos/{REPO}/pulls/{}", crate::ota_server::PR),
        "id": 1,
        "number": crate::ota_server::PR,
        "head": {"ref": PR_BRANCH, "sha": head, "repo": {"id": 1, "url": "https://api.github.com/repos/x", "name": "x"}},
        "base": {"ref": DEFAULT_BRANCH, "sha": head, "repo": {"id": 1, "url": "https://api.github.com/repos/x", "name": "x"}},
    }]);
    if author.ends_with("[bot]") {
        payload["sender"]["login"] = json!(author);
        payload["sender"]["type"] = json!("Bot");
    }
    Delivery::json("check_suite", &payload, SECRET)
}

/// `reviewer` submitted a review of pull request #2 at commit `commit` with `state`
/// (`approved`, `commented`, `changes_requested`, lowercase as webhooks send it), the pull
/// request's head being `head` and its author `author` (GitHub's `pull_request_review`
/// `submitted` example, as the App receives it).
pub fn review_submitted(
    state: &str,
    reviewer: &str,
    commit: &str,
    head: &str,
    author: &str,
) -> Delivery {
    let mut payload = fixtures::as_app_delivery(
        fixtures::example("pull_request_review", Some("submitted")),
        INSTALLATION,
    );
    payload["installation"]["id"] = json!(INSTALLATION);
    payload["repository"]["default_branch"] = json!(DEFAULT_BRANCH);
    payload["sender"]["login"] = json!(reviewer);
    let review = &mut payload["review"];
    review["state"] = json!(state);
    review["commit_id"] = json!(commit);
    review["body"] = Value::Null;
    review["user"]["login"] = json!(reviewer);
    let pull = &mut payload["pull_request"];
    pull["number"] = json!(crate::ota_server::PR);
    pull["head"]["sha"] = json!(head);
    pull["head"]["ref"] = json!(PR_BRANCH);
    pull["base"]["ref"] = json!(DEFAULT_BRANCH);
    pull["user"]["login"] = json!(author);
    if author.ends_with("[bot]") {
        pull["user"]["type"] = json!("Bot");
    }
    Delivery::json("pull_request_review", &payload, SECRET)
}
