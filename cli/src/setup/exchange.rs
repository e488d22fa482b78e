//! The last step of the manifest flow: trading the one-time code GitHub sent the browser
//! back with for the new App's id, private key and webhook secret.

use super::SetupError;
use super::app_file::{AppFile, Fields};
use serde_json::Value;
use std::time::Duration;

/// GitHub answers the conversion at once; a minute covers a slow GitHub Enterprise Server.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(60);

/// Long enough for a useful error message from GitHub, short enough for a page.
const MAX_MESSAGE_CHARS: usize = 300;

/// GitHub's REST API version this client was written against.
const API_VERSION: &str = "2022-11-28";

/// `POST {api_url}/app-manifests/{code}/conversions`: the App GitHub created from the
/// manifest. The code works once and for an hour; errors never carry it or the secrets.
pub async fn exchange_code(api_url: &str, code: &str) -> Result<AppFile, SetupError> {
    // The code goes into the path: anything but GitHub's alphabet is not a code of theirs.
    let plausible = !code.is_empty()
        && code.len() <= 200
        && code
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    if !plausible {
        return Err(SetupError::CodeRejected);
    }
    let api_url = api_url.trim_end_matches('/');
    let unreachable = |err: reqwest::Error| SetupError::Unreachable {
        api_url: api_url.to_owned(),
        reason: describe(&err.without_url()),
    };
    let client = reqwest::Client::builder()
        .user_agent(concat!(
            "ollama-turbo-agent-ota/",
            env!("CARGO_PKG_VERSION")
        ))
        .timeout(EXCHANGE_TIMEOUT)
        .build()
        .map_err(unreachable)?;
    let response = client
        .post(format!("{api_url}/app-manifests/{code}/conversions"))
        .header("accept", "application/vnd.github+json")
        .header("x-github-api-version", API_VERSION)
        .send()
        .await
        .map_err(unreachable)?;
    let status = response.status();
    let body = response.bytes().await.map_err(unreachable)?;
    if !status.is_success() {
        return Err(match status.as_u16() {
            404 | 422 => SetupError::CodeRejected,
            other => SetupError::GitHub {
                status: other,
                message: github_message(&body)
                    .or_else(|| status.canonical_reason().map(str::to_owned))
                    .unwrap_or_default(),
            },
        });
    }
    let value: Value = serde_json::from_slice(&body)
        .map_err(|_| SetupError::InvalidAnswer(format!("not JSON (HTTP {status})")))?;
    app_from_conversion(&value).map_err(SetupError::InvalidAnswer)
}

/// The App in GitHub's answer: `id`, `slug`, `name`, `html_url`, `pem`, `webhook_secret`,
/// `client_id`, `client_secret`.
fn app_from_conversion(value: &Value) -> Result<AppFile, String> {
    let fields = Fields(value);
    let app = AppFile {
        app_id: fields.id("id")?,
        slug: fields.string("slug")?,
        name: fields.string("name")?,
        html_url: fields.string("html_url")?,
        private_key: fields.string("pem")?.into(),
        webhook_secret: fields
            .optional_string("webhook_secret")?
            .filter(|secret| !secret.is_empty())
            .ok_or("`webhook_secret` is missing: the App has no webhook secret")?
            .into(),
        previous_webhook_secret: None,
        client_id: fields.string("client_id")?,
        client_secret: fields.optional_string("client_secret")?.map(Into::into),
    };
    app.check()?;
    Ok(app)
}

/// GitHub's `message`, shortened for a page.
fn github_message(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let message = value.get("message")?.as_str()?;
    Some(message.chars().take(MAX_MESSAGE_CHARS).collect())
}

/// The error and its causes on one line: reqwest's own message is often just "error
/// sending request".
fn describe(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use serde_json::json;

    fn conversion() -> Value {
        json!({
            "id": 7,
            "slug": "my-agent",
            "name": "My agent",
            "html_url": "https://github.com/apps/my-agent",
            "pem": "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n",
            "webhook_secret": "whsec-value",
            "client_id": "Iv1.abc",
            "client_secret": "client-secret-value",
            "owner": { "login": "octocat" },
        })
    }

    #[test]
    fn the_app_is_read_from_githubs_answer() {
        let app = app_from_conversion(&conversion()).unwrap();
        assert_eq!(app.app_id, 7);
        assert_eq!(app.slug, "my-agent");
        assert_eq!(app.webhook_secret.expose_secret(), "whsec-value");
        assert!(app.private_key.expose_secret().contains("BEGIN RSA"));
    }

    #[test]
    fn an_answer_without_a_key_or_secret_is_refused_by_name() {
        let mut answer = conversion();
        answer["webhook_secret"] = Value::Null;
        let err = app_from_conversion(&answer).err().unwrap();
        assert!(err.contains("`webhook_secret` is missing"), "{err}");

        let mut answer = conversion();
        answer.as_object_mut().unwrap().remove("pem");
        assert_eq!(
            app_from_conversion(&answer).err().unwrap(),
            "`pem` is missing"
        );
    }

    #[tokio::test]
    async fn a_code_that_is_not_githubs_is_refused_before_any_request() {
        // Nothing listens there: reaching the network would be a different error.
        for code in ["", "../../user", "abc?x=1", "a b"] {
            assert_eq!(
                exchange_code("http://127.0.0.1:9", code).await.err(),
                Some(SetupError::CodeRejected),
                "{code:?}"
            );
        }
    }

    #[tokio::test]
    async fn an_unreachable_github_is_named_without_the_code() {
        let err = exchange_code("http://127.0.0.1:9", "secretcode123")
            .await
            .err()
            .unwrap();
        let text = err.to_string();
        assert!(matches!(err, SetupError::Unreachable { .. }), "{text}");
        assert!(text.contains("http://127.0.0.1:9"), "{text}");
        assert!(!text.contains("secretcode123"), "{text}");
    }
}
