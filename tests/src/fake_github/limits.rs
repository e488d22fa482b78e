//! What GitHub refuses about the text and the headers of a request, with GitHub's own
//! answer, each in one small function the routes call before they act:
//!
//! - a request without `User-Agent`: 403, plain text (REST docs, "User agent required";
//!   the text as GitHub sends it, quoted in gitlab-org/gitlab!43852);
//! - a check run's `output.summary` or `output.text` over 65,535 **bytes**: 422
//!   `summary exceeds a maximum bytesize of 65535` (github/docs#35252);
//! - a comment's, pull request's or review's body over 65,536 characters: 422 `Body is too
//!   long (maximum is 65536 characters)` (danger/danger#424, release-please#1034);
//! - a review whose inline comment's `line` is not in a hunk of its file's diff (or whose
//!   file has no diff): 422 `Pull request review thread line must be part of the diff`,
//!   and the whole review is refused (The-PR-Agent/pr-agent#592).

use super::server::Answer;
use axum::http::HeaderMap;
use serde_json::{Value, json};

/// The most bytes of a check run's `output.summary` or `output.text`.
pub(crate) const MAX_CHECK_TEXT_BYTES: usize = 65_535;

/// The most characters of a comment's, pull request's or review's body.
pub(crate) const MAX_BODY_CHARS: usize = 65_536;

/// GitHub's answer to a request without `User-Agent`.
const NO_USER_AGENT: &str = "Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). Check https://developer.github.com for other possible causes.";

/// A 422 "Validation Failed" as GitHub shapes it.
fn validation_failed(errors: Value, documentation: &str, why: String) -> Answer {
    Answer {
        refused: Some(why),
        ..Answer::json(
            422,
            json!({
                "message": "Validation Failed",
                "errors": errors,
                "documentation_url": documentation,
                "status": "422",
            }),
        )
    }
}

/// The request's `User-Agent`, or GitHub's 403 when it has none.
pub(crate) fn user_agent(headers: &HeaderMap) -> Result<String, Answer> {
    match headers
        .get("user-agent")
        .and_then(|value| value.to_str().ok())
    {
        Some(agent) if !agent.trim().is_empty() => {
            let all: Vec<&str> = headers
                .get_all("user-agent")
                .iter()
                .filter_map(|value| value.to_str().ok())
                .collect();
            Ok(all.join(", "))
        }
        _ => Err(Answer {
            refused: Some("no User-Agent".to_owned()),
            ..Answer::text(403, NO_USER_AGENT)
        }),
    }
}

/// GitHub's 422 when a check run's `output.summary` or `output.text` is over
/// [`MAX_CHECK_TEXT_BYTES`] bytes.
pub(crate) fn check_output(fields: &serde_json::Map<String, Value>) -> Option<Answer> {
    let output = fields.get("output")?;
    ["summary", "text"].into_iter().find_map(|field| {
        let text = output.get(field)?.as_str()?;
        (text.len() > MAX_CHECK_TEXT_BYTES).then(|| {
            validation_failed(
                json!([{
                    "resource": "CheckRun",
                    "code": "custom",
                    "field": field,
                    "message": format!("{field} exceeds a maximum bytesize of {MAX_CHECK_TEXT_BYTES}"),
                }]),
                "https://docs.github.com/rest/checks/runs#create-a-check-run",
                format!("check run {field} of {} bytes", text.len()),
            )
        })
    })
}

/// GitHub's 422 when `body` is over [`MAX_BODY_CHARS`] characters; `resource` is
/// `IssueComment`, `PullRequest` or `PullRequestReview`.
pub(crate) fn body(resource: &str, body: &str) -> Option<Answer> {
    let chars = body.chars().count();
    (chars > MAX_BODY_CHARS).then(|| {
        validation_failed(
            json!([{
                "resource": resource,
                "code": "custom",
                "field": "body",
                "message": format!("body is too long (maximum is {MAX_BODY_CHARS} characters)"),
            }]),
            "https://docs.github.com/rest/issues/comments#create-an-issue-comment",
            format!("{resource} body of {chars} characters"),
        )
    })
}

/// The lines of the new version of a file that a `patch` (unified-diff hunks, as "List
/// pull request files" gives it) shows: GitHub takes a `side: RIGHT` comment on any of
/// them, context or added.
fn right_lines(patch: &str) -> Vec<(u64, u64)> {
    patch
        .lines()
        .filter_map(|line| {
            let header = line.strip_prefix("@@ ")?;
            let new = header
                .split_whitespace()
                .find(|part| part.starts_with('+'))?;
            let new = new.trim_start_matches('+');
            let (start, count) = match new.split_once(',') {
                Some((start, count)) => (start.parse().ok()?, count.parse().ok()?),
                None => (new.parse().ok()?, 1),
            };
            Some((start, start + count))
        })
        .collect()
}

/// GitHub's 422 when one of a review's inline comments is not on a line of its file's
/// diff; `files` are the pull request's (file name, patch).
pub(crate) fn review_lines(
    files: &[(String, String)],
    fields: &serde_json::Map<String, Value>,
) -> Option<Answer> {
    let comments = fields.get("comments")?.as_array()?;
    let misplaced = comments.iter().find(|comment| {
        let path = comment["path"].as_str().unwrap_or("");
        let line = comment["line"].as_u64().unwrap_or(0);
        let side = comment["side"].as_str().unwrap_or("RIGHT");
        let hunks = files
            .iter()
            .find(|(name, _)| name == path)
            .map(|(_, patch)| right_lines(patch))
            .unwrap_or_default();
        side != "RIGHT"
            || !hunks
                .iter()
                .any(|(start, end)| (*start..*end).contains(&line))
    })?;
    Some(Answer {
        refused: Some(format!(
            "review comment on {}:{} outside the diff",
            misplaced["path"].as_str().unwrap_or("?"),
            misplaced["line"]
        )),
        ..Answer::json(
            422,
            json!({
                "message": "Unprocessable Entity",
                "errors": ["Pull request review thread line must be part of the diff and Pull request review thread diff hunk can't be blank"],
                "documentation_url": "https://docs.github.com/rest/pulls/reviews#create-a-review-for-a-pull-request",
                "status": "422",
            }),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hunks_give_the_new_versions_lines() {
        assert_eq!(
            right_lines("@@ -1,3 +1,5 @@\n a\n+b\n@@ -40 +42,2 @@ fn x()\n c"),
            [(1, 6), (42, 44)]
        );
    }
}
