//! One HTTP exchange with GitHub (through `reqwest`): the request with its credential, the
//! answer's status classified. No retries here (see [`crate::retry`]).

use crate::classify::{classify, redact};
use crate::credentials::SetupError;
use crate::endpoints::Endpoint;
use http::header::{ACCEPT, AUTHORIZATION};
use http::{HeaderValue, Method, StatusCode};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use shared::error_chain::one_line;
use shared::ports::GitHubError;
use std::time::{Duration, SystemTime};

/// What GitHub's REST API answers in; also selects its current JSON media type.
const MEDIA_TYPE: &str = "application/vnd.github+json";

/// Everything but RFC 3986's unreserved characters is escaped in a path segment or a
/// query value, so a login, a file name or a ref can never change the route.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Escapes one path segment or query value.
pub(crate) fn encode(component: &str) -> String {
    utf8_percent_encode(component, COMPONENT).to_string()
}

/// Escapes a `/`-separated path, keeping the separators.
pub(crate) fn encode_path(path: &str) -> String {
    path.split('/')
        .filter(|segment| !segment.is_empty())
        .map(encode)
        .collect::<Vec<_>>()
        .join("/")
}

/// How the credential is presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// The App JWT, for `/app/...` routes.
    Bearer,
    /// An installation token.
    Token,
}

/// One request, described without its credential.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    /// Which endpoint of [`crate::endpoints`] it calls: its method and the permission it
    /// needs come from there.
    pub(crate) endpoint: Endpoint,
    method: Method,
    /// Already escaped, starting with `/`.
    path: String,
    query: Vec<(&'static str, String)>,
    body: Option<serde_json::Value>,
}

impl Call {
    pub(crate) fn new(endpoint: Endpoint, path: String) -> Self {
        let method = Method::from_bytes(endpoint.route().0.as_bytes()).unwrap_or(Method::GET);
        Self {
            endpoint,
            method,
            path,
            query: Vec::new(),
            body: None,
        }
    }

    pub(crate) fn post(endpoint: Endpoint, path: String, body: serde_json::Value) -> Self {
        Self::new(endpoint, path).body(body)
    }

    pub(crate) fn body(mut self, body: serde_json::Value) -> Self {
        self.body = Some(body);
        self
    }

    pub(crate) fn query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }

    /// `METHOD /path`, for messages and logs.
    pub(crate) fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    fn uri(&self) -> String {
        let mut uri = self.path.clone();
        for (index, (name, value)) in self.query.iter().enumerate() {
            uri.push(if index == 0 { '?' } else { '&' });
            uri.push_str(name);
            uri.push('=');
            uri.push_str(&encode(value));
        }
        uri
    }
}

/// A 2xx answer.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) body: String,
}

impl Reply {
    /// The body as `T`. A body of another shape is a [`GitHubError::UnexpectedAnswer`]
    /// naming the call (method and path template) and the field at fault, without quoting
    /// any value from the body.
    pub(crate) fn json<T: DeserializeOwned>(&self, call: &Call) -> Result<T, GitHubError> {
        let mut reader = serde_json::Deserializer::from_str(&self.body);
        serde_path_to_error::deserialize(&mut reader).map_err(|err| {
            let field = err.path().to_string();
            let field = if field == "." {
                String::new()
            } else {
                format!("field `{field}`: ")
            };
            GitHubError::UnexpectedAnswer(format!(
                "{} {} answered {} with a body the App cannot read: {field}{}",
                call.method,
                path_template(&call.path),
                self.status.as_u16(),
                without_quoted_values(&err.inner().to_string())
            ))
        })
    }
}

/// `path` with its variable segments named as GitHub's REST docs name them
/// (`/repos/{owner}/{repo}/check-runs/{id}`), so messages about a route read the same
/// whichever repository the call was for.
pub(crate) fn path_template(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut out = Vec::with_capacity(segments.len());
    let mut index = 0;
    while index < segments.len() {
        let segment = segments[index];
        let previous = index.checked_sub(1).map(|i| segments[i]);
        let named = match (previous, segment) {
            (Some("repos"), _) if index == 1 => "{owner}",
            (_, _) if index == 2 && segments[0] == "repos" => "{repo}",
            (Some("contents"), _) => {
                out.push("{path}");
                break;
            }
            (Some("branches"), _) => {
                out.push("{branch}");
                break;
            }
            (Some("collaborators"), _) => "{username}",
            (Some("commits"), _) => "{ref}",
            (Some("labels"), _) => "{name}",
            (_, s) if s.bytes().all(|b| b.is_ascii_digit()) => match previous {
                Some("issues" | "pulls") => "{number}",
                Some("installations") => "{installation_id}",
                _ => "{id}",
            },
            (_, s) => s,
        };
        out.push(named);
        index += 1;
    }
    format!("/{}", out.join("/"))
}

/// A serde message with the values it quotes left out: `invalid type: string "…",
/// expected u64`. A body's strings are GitHub's users' text, not the App's to log.
fn without_quoted_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quoted = false;
    for c in message.chars() {
        if c == '"' {
            if quoted {
                out.push_str("…\"");
            } else {
                out.push('"');
            }
            quoted = !quoted;
        } else if !quoted {
            out.push(c);
        }
    }
    out
}

/// Timeouts of one exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeouts {
    /// Connecting to GitHub (TCP and TLS).
    pub connect: Duration,
    /// Waiting for any read of the answer.
    pub read: Duration,
}

impl Default for Timeouts {
    /// GitHub answers the calls made here in well under a second; ten seconds of silence
    /// means it is not going to, and the call is better retried.
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            read: Duration::from_secs(10),
        }
    }
}

pub(crate) struct Transport {
    http: reqwest::Client,
    base_url: String,
}

impl Transport {
    pub(crate) fn new(
        base_url: &str,
        timeouts: &Timeouts,
        user_agent: &str,
    ) -> Result<Self, SetupError> {
        let invalid = |reason: String| SetupError::InvalidBaseUrl {
            url: base_url.to_owned(),
            reason,
        };
        let uri: http::Uri = base_url
            .parse()
            .map_err(|err: http::uri::InvalidUri| invalid(err.to_string()))?;
        let loopback = matches!(uri.host(), Some("127.0.0.1" | "localhost" | "[::1]"));
        match uri.scheme_str() {
            Some("https") if uri.host().is_some() => {}
            // Tokens travel in the clear over plain HTTP: only to this machine.
            Some("http") if loopback => {}
            Some("http") => {
                return Err(invalid(
                    "plain http is only allowed to this machine (127.0.0.1, localhost)".to_owned(),
                ));
            }
            _ => return Err(invalid("expected https://host[:port][/path]".to_owned())),
        }
        if uri.query().is_some() {
            return Err(invalid("a base URL takes no query".to_owned()));
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(SetupError::HttpClient(
                "the client must be built inside a Tokio runtime".to_owned(),
            ));
        }
        let user_agent = HeaderValue::from_str(user_agent)
            .map_err(|_| SetupError::HttpClient(format!("invalid User-Agent {user_agent:?}")))?;
        let http = reqwest::Client::builder()
            .user_agent(user_agent)
            .connect_timeout(timeouts.connect)
            .read_timeout(timeouts.read)
            // GitHub answers the REST calls made here directly; a redirect is not
            // followed with the credential.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|err| SetupError::HttpClient(one_line(&err)))?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
        })
    }

    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Sends `call` once with `credential`; a non-2xx answer comes back classified.
    pub(crate) async fn send(
        &self,
        call: &Call,
        scheme: Scheme,
        credential: &SecretString,
    ) -> Result<Reply, GitHubError> {
        let label = call.label();
        let prefix = match scheme {
            Scheme::Bearer => "Bearer",
            Scheme::Token => "token",
        };
        let mut authorization =
            HeaderValue::from_str(&format!("{prefix} {}", credential.expose_secret())).map_err(
                |_| GitHubError::Unauthorized(format!("{label}: the credential is not ASCII")),
            )?;
        authorization.set_sensitive(true);
        let mut request = self
            .http
            .request(
                call.method.clone(),
                format!("{}{}", self.base_url, call.uri()),
            )
            .header(ACCEPT, MEDIA_TYPE)
            .header(AUTHORIZATION, authorization);
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        tracing::debug!(call = %label, "calling GitHub");
        let response = request.send().await.map_err(|err| {
            GitHubError::Unavailable(redact(&format!("{label}: {}", one_line(&err)), credential))
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.map_err(|err| {
            GitHubError::Unavailable(redact(
                &format!("{label}: reading the answer: {}", one_line(&err)),
                credential,
            ))
        })?;
        if status.is_success() {
            Ok(Reply { status, body })
        } else {
            Err(classify(
                &label,
                status,
                &headers,
                &body,
                credential,
                SystemTime::now(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_cannot_change_the_route() {
        assert_eq!(encode("a/b?c=d#e f"), "a%2Fb%3Fc%3Dd%23e%20f");
        assert_eq!(encode_path("docs/my file.md"), "docs/my%20file.md");
        assert_eq!(encode_path("/.ollama-turbo.yml"), ".ollama-turbo.yml");
        let call = Call::new(Endpoint::GetContents, "/x".into())
            .query("ref", "refs/heads/main")
            .query("per_page", "100");
        assert_eq!(call.uri(), "/x?ref=refs%2Fheads%2Fmain&per_page=100");
    }

    #[test]
    fn routes_are_named_by_their_template() {
        for (path, template) in [
            (
                "/repos/o/r/check-runs/12",
                "/repos/{owner}/{repo}/check-runs/{id}",
            ),
            (
                "/repos/o/r/pulls/8/reviews",
                "/repos/{owner}/{repo}/pulls/{number}/reviews",
            ),
            (
                "/repos/o/r/contents/docs/a%20b.md",
                "/repos/{owner}/{repo}/contents/{path}",
            ),
            (
                "/repos/o/r/branches/feat/x",
                "/repos/{owner}/{repo}/branches/{branch}",
            ),
            (
                "/repos/o/r/collaborators/octocat/permission",
                "/repos/{owner}/{repo}/collaborators/{username}/permission",
            ),
            (
                "/app/installations/7/access_tokens",
                "/app/installations/{installation_id}/access_tokens",
            ),
        ] {
            assert_eq!(path_template(path), template);
        }
    }

    #[test]
    fn quoted_values_are_left_out() {
        assert_eq!(
            without_quoted_values(
                r#"invalid type: string "ghs_secret", expected u64 at line 1 column 9"#
            ),
            r#"invalid type: string "…", expected u64 at line 1 column 9"#
        );
        assert_eq!(
            without_quoted_values("missing field `id`"),
            "missing field `id`"
        );
    }

    #[tokio::test]
    async fn tokens_travel_in_the_clear_only_to_this_machine() {
        let timeouts = Timeouts::default();
        for good in [
            "https://api.github.com",
            "https://ghe.example.com/api/v3",
            "http://127.0.0.1:8080",
            "http://localhost:1234/api/v3",
        ] {
            assert!(Transport::new(good, &timeouts, "t/1").is_ok(), "{good}");
        }
        for bad in [
            "http://ghe.example.com/api/v3",
            "ftp://api.github.com",
            "api.github.com",
            "https://api.github.com/?x=1",
        ] {
            assert!(
                matches!(
                    Transport::new(bad, &timeouts, "t/1"),
                    Err(SetupError::InvalidBaseUrl { .. })
                ),
                "{bad}"
            );
        }
    }
}
