//! Turns GitHub's error answers into [`GitHubError`]s, so callers know whether trying again
//! can help and how long to wait. Messages carry the route and GitHub's `message`, never a
//! credential.

use http::{HeaderMap, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use shared::ports::GitHubError;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// GitHub's `message` is usually one sentence; a proxy's HTML error page is not worth
/// quoting in full.
const MAX_MESSAGE_CHARS: usize = 300;

/// GitHub's documented wait after a secondary rate limit that came without `retry-after`.
const SECONDARY_LIMIT_WAIT: Duration = Duration::from_secs(60);

#[derive(Deserialize)]
struct ErrorBody {
    message: Option<String>,
    /// A 422's details: objects with a `message` (`summary exceeds a maximum bytesize of
    /// 65535`) or plain strings (`Pull request review thread line must be part of the
    /// diff`).
    #[serde(default)]
    errors: Vec<serde_json::Value>,
}

impl ErrorBody {
    /// `message`, followed by the details GitHub gave in `errors`.
    fn text(self) -> Option<String> {
        let details: Vec<String> = self
            .errors
            .iter()
            .filter_map(|error| match error {
                serde_json::Value::String(text) => Some(text.clone()),
                serde_json::Value::Object(fields) => fields
                    .get("message")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
                    .or_else(|| {
                        let field = fields.get("field")?.as_str()?;
                        let code = fields.get("code")?.as_str()?;
                        Some(format!("{field}: {code}"))
                    }),
                _ => None,
            })
            .collect();
        match (self.message, details.is_empty()) {
            (Some(message), true) => Some(message),
            (Some(message), false) => Some(format!("{message} ({})", details.join("; "))),
            (None, false) => Some(details.join("; ")),
            (None, true) => None,
        }
    }
}

/// The error for a non-2xx answer to `label` (e.g. `POST /repos/o/r/issues/1/comments`).
/// `credential` is what the request was sent with: it is cut out of anything quoted.
pub(crate) fn classify(
    label: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
    credential: &SecretString,
    now: SystemTime,
) -> GitHubError {
    let message = github_message(status, body, credential);
    let detail = format!("{label} answered {}: {message}", status.as_u16());
    let secondary = message
        .to_ascii_lowercase()
        .contains("secondary rate limit");
    let exhausted = header(headers, "x-ratelimit-remaining") == Some("0");
    let retry_after = retry_after(headers, now).or(secondary.then_some(SECONDARY_LIMIT_WAIT));
    match status {
        StatusCode::TOO_MANY_REQUESTS => GitHubError::RateLimited { retry_after },
        StatusCode::FORBIDDEN if retry_after.is_some() || exhausted || secondary => {
            GitHubError::RateLimited { retry_after }
        }
        StatusCode::UNAUTHORIZED => GitHubError::Unauthorized(detail),
        StatusCode::FORBIDDEN => GitHubError::Forbidden(detail),
        StatusCode::NOT_FOUND => GitHubError::NotFound(detail),
        StatusCode::REQUEST_TIMEOUT => GitHubError::Unavailable(detail),
        status if status.is_server_error() => GitHubError::Unavailable(detail),
        _ => GitHubError::Rejected(detail),
    }
}

/// The HTTP status of a [`GitHubError::Rejected`] made by [`classify`] (whose detail
/// reads `<label> answered <status>: …`): for the few calls whose 4xx answers are
/// outcomes rather than errors, such as a merge GitHub refuses for now.
pub(crate) fn rejected_status(error: &GitHubError) -> Option<u16> {
    let GitHubError::Rejected(detail) = error else {
        return None;
    };
    let (_, rest) = detail.split_once(" answered ")?;
    rest.split_once(':')?.0.parse().ok()
}

/// How long GitHub asked to wait: `retry-after` (seconds), or, when the quota is spent,
/// until `x-ratelimit-reset` (epoch seconds).
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if let Some(seconds) = header(headers, "retry-after").and_then(|v| v.parse::<u64>().ok()) {
        return Some(Duration::from_secs(seconds));
    }
    if header(headers, "x-ratelimit-remaining") != Some("0") {
        return None;
    }
    let reset = header(headers, "x-ratelimit-reset")?.parse::<u64>().ok()?;
    let reset = UNIX_EPOCH + Duration::from_secs(reset);
    // The reset moment itself may still be refused: wait one more second.
    Some(reset.duration_since(now).unwrap_or_default() + Duration::from_secs(1))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok().map(str::trim)
}

fn github_message(status: StatusCode, body: &str, credential: &SecretString) -> String {
    let message = serde_json::from_str::<ErrorBody>(body)
        .ok()
        .and_then(ErrorBody::text)
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("no message").to_owned());
    let message = redact(&message, credential);
    let mut short: String = message.chars().take(MAX_MESSAGE_CHARS).collect();
    if short.len() < message.len() {
        short.push('…');
    }
    short
}

/// `text` with every occurrence of the credential replaced.
pub(crate) fn redact(text: &str, credential: &SecretString) -> String {
    let secret = credential.expose_secret();
    if secret.is_empty() {
        text.to_owned()
    } else {
        text.replace(secret, "[REDACTED]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn run(status: u16, pairs: &[(&'static str, &str)], body: &str) -> GitHubError {
        classify(
            "GET /x",
            StatusCode::from_u16(status).unwrap(),
            &headers(pairs),
            body,
            &SecretString::from("ghs_secret"),
            UNIX_EPOCH + Duration::from_secs(1_000),
        )
    }

    #[test]
    fn a_refusals_status_is_read_back_from_its_detail() {
        let not_mergeable = run(405, &[], r#"{"message":"Pull Request is not mergeable"}"#);
        assert_eq!(rejected_status(&not_mergeable), Some(405));
        let moved = run(
            409,
            &[],
            r#"{"message":"Head branch was modified. Review and try the merge again."}"#,
        );
        assert_eq!(rejected_status(&moved), Some(409));
        assert_eq!(rejected_status(&run(404, &[], "{}")), None);
        assert_eq!(rejected_status(&run(502, &[], "{}")), None);
    }

    #[test]
    fn rate_limits_are_told_apart_from_refusals() {
        assert_eq!(
            run(403, &[("retry-after", "30")], "{}"),
            GitHubError::RateLimited {
                retry_after: Some(Duration::from_secs(30))
            }
        );
        assert_eq!(
            run(
                403,
                &[
                    ("x-ratelimit-remaining", "0"),
                    ("x-ratelimit-reset", "1100")
                ],
                "{}"
            ),
            GitHubError::RateLimited {
                retry_after: Some(Duration::from_secs(101))
            }
        );
        assert_eq!(
            run(
                403,
                &[],
                r#"{"message":"You have exceeded a secondary rate limit."}"#
            ),
            GitHubError::RateLimited {
                retry_after: Some(SECONDARY_LIMIT_WAIT)
            }
        );
        assert_eq!(
            run(429, &[], ""),
            GitHubError::RateLimited { retry_after: None }
        );
        assert!(matches!(
            run(
                403,
                &[("x-ratelimit-remaining", "12")],
                r#"{"message":"Resource not accessible by integration"}"#
            ),
            GitHubError::Forbidden(message) if message.contains("Resource not accessible")
        ));
    }

    #[test]
    fn statuses_map_to_kinds() {
        assert!(matches!(run(401, &[], ""), GitHubError::Unauthorized(_)));
        assert!(matches!(run(404, &[], ""), GitHubError::NotFound(_)));
        assert!(matches!(run(422, &[], ""), GitHubError::Rejected(_)));
        assert!(matches!(run(409, &[], ""), GitHubError::Rejected(_)));
        assert!(matches!(
            run(502, &[], "<html>"),
            GitHubError::Unavailable(_)
        ));
        assert!(matches!(run(408, &[], ""), GitHubError::Unavailable(_)));
    }

    #[test]
    fn validation_details_are_quoted() {
        let error = run(
            422,
            &[],
            r#"{"message":"Validation Failed","errors":[{"resource":"CheckRun","code":"custom","field":"summary","message":"summary exceeds a maximum bytesize of 65535"}],"status":"422"}"#,
        );
        assert_eq!(
            error.to_string(),
            "GitHub rejected the request: GET /x answered 422: Validation Failed (summary exceeds a maximum bytesize of 65535)"
        );
        let error = run(
            422,
            &[],
            r#"{"message":"Unprocessable Entity","errors":["Pull request review thread line must be part of the diff"]}"#,
        );
        assert!(
            error.to_string().ends_with(
                "Unprocessable Entity (Pull request review thread line must be part of the diff)"
            ),
            "{error}"
        );
    }

    #[test]
    fn a_credential_echoed_by_the_server_is_cut_out() {
        let error = run(422, &[], r#"{"message":"bad token ghs_secret"}"#);
        assert!(!error.to_string().contains("ghs_secret"), "{error}");
        assert!(error.to_string().contains("[REDACTED]"), "{error}");
    }
}
