//! GitHub as the dashboard asks it, with the App's OAuth client and a user's token: the
//! web flow's two steps (`{web}/login/oauth/authorize`, `{web}/login/oauth/access_token`),
//! who the user is (`GET /user`), and the repositories they reach through the App's
//! installations with their permissions (`GET /user/installations`,
//! `GET /user/installations/{id}/repositories`).

use crate::session::bearer;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::collections::HashMap;
use std::time::Duration;

/// GitHub's page size limit for the listings.
const PER_PAGE: usize = 100;

/// The most pages read of one listing (10 000 repositories): enough for any one person.
const MAX_PAGES: usize = 100;

/// How long one call to GitHub may take.
const TIMEOUT: Duration = Duration::from_secs(15);

/// The App's OAuth client, as the manifest flow returned it (or the settings name it).
#[derive(Clone)]
pub struct OAuthApp {
    pub client_id: String,
    pub client_secret: SecretString,
}

impl std::fmt::Debug for OAuthApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthApp")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Why a call to GitHub did not give an answer to use.
#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    /// GitHub refused the code (bad, used, expired) or the client's credentials:
    /// its own `error` and `error_description`.
    #[error("GitHub refused the sign-in: {description} ({code})")]
    Refused { code: String, description: String },
    /// The user's token is no longer good (expired, revoked).
    #[error("GitHub no longer accepts your sign-in (HTTP 401)")]
    TokenRejected,
    /// GitHub could not be asked, or answered something unreadable.
    #[error("{0}")]
    Unavailable(String),
}

/// A user's permissions on one repository, as GitHub reports them for the user's token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct Permissions {
    #[serde(default)]
    pub pull: bool,
    #[serde(default)]
    pub push: bool,
    #[serde(default)]
    pub admin: bool,
}

/// The repositories a user reaches through the App, by lower-cased full name.
pub type Reach = HashMap<String, (String, Permissions)>;

/// GitHub at `web_url` (sign-in pages) and `api_url` (REST).
#[derive(Clone)]
pub struct GitHubUsers {
    pub web_url: String,
    pub api_url: String,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct User {
    login: String,
}

#[derive(Deserialize)]
struct Installations {
    installations: Vec<Installation>,
}

#[derive(Deserialize)]
struct Installation {
    id: u64,
}

#[derive(Deserialize)]
struct Repositories {
    total_count: usize,
    repositories: Vec<Repository>,
}

#[derive(Deserialize)]
struct Repository {
    full_name: String,
    #[serde(default)]
    permissions: Permissions,
}

impl GitHubUsers {
    pub fn new(web_url: &str, api_url: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!(
                "ollama-turbo-agent-dashboard/",
                env!("CARGO_PKG_VERSION")
            ))
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            web_url: web_url.trim_end_matches('/').to_owned(),
            api_url: api_url.trim_end_matches('/').to_owned(),
            http,
        })
    }

    /// Where to send the browser to sign in.
    pub fn authorize_url(&self, app: &OAuthApp, redirect_uri: &str, state: &str) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &app.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", state)
            .append_pair("allow_signup", "false")
            .finish();
        format!("{}/login/oauth/authorize?{query}", self.web_url)
    }

    /// Trades the callback's `code` for the user's token. GitHub answers a bad code with
    /// HTTP 200 and an `error` field.
    pub async fn exchange(
        &self,
        app: &OAuthApp,
        code: &str,
        redirect_uri: &str,
    ) -> Result<SecretString, GitHubError> {
        let form = [
            ("client_id", app.client_id.as_str()),
            ("client_secret", app.client_secret.expose_secret()),
            ("code", code),
            ("redirect_uri", redirect_uri),
        ];
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let response = self
            .http
            .post(format!("{}/login/oauth/access_token", self.web_url))
            .header("accept", "application/json")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|err| GitHubError::Unavailable(without_url(&err)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(GitHubError::Unavailable(format!(
                "the token exchange answered HTTP {status}"
            )));
        }
        let answer: TokenAnswer = response.json().await.map_err(|_| {
            GitHubError::Unavailable("the token exchange's answer is not the expected JSON".into())
        })?;
        match (answer.access_token, answer.error) {
            (Some(token), None) if !token.is_empty() => Ok(SecretString::from(token)),
            (_, Some(code)) => Err(GitHubError::Refused {
                description: answer
                    .error_description
                    .unwrap_or_else(|| "no description".to_owned()),
                code,
            }),
            _ => Err(GitHubError::Unavailable(
                "the token exchange gave neither a token nor an error".into(),
            )),
        }
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        token: &SecretString,
        path: &str,
    ) -> Result<T, GitHubError> {
        let response = self
            .http
            .get(format!("{}{path}", self.api_url))
            .header("authorization", bearer(token))
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .send()
            .await
            .map_err(|err| GitHubError::Unavailable(without_url(&err)))?;
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(GitHubError::TokenRejected);
        }
        if !status.is_success() {
            return Err(GitHubError::Unavailable(format!(
                "GET {} answered HTTP {status}",
                path.split('?').next().unwrap_or(path)
            )));
        }
        response.json().await.map_err(|_| {
            GitHubError::Unavailable(format!(
                "GET {} answered something unreadable",
                path.split('?').next().unwrap_or(path)
            ))
        })
    }

    /// The login of the token's user.
    pub async fn login(&self, token: &SecretString) -> Result<String, GitHubError> {
        Ok(self.get::<User>(token, "/user").await?.login)
    }

    /// Every repository the user reaches through the App's installations, with the
    /// user's permissions on it.
    pub async fn reach(&self, token: &SecretString) -> Result<Reach, GitHubError> {
        let mut reach = Reach::new();
        let mut installations = Vec::new();
        for page in 1..=MAX_PAGES {
            let listed: Installations = self
                .get(
                    token,
                    &format!("/user/installations?per_page={PER_PAGE}&page={page}"),
                )
                .await?;
            let count = listed.installations.len();
            installations.extend(listed.installations.into_iter().map(|found| found.id));
            if count < PER_PAGE {
                break;
            }
        }
        for installation in installations {
            let mut seen = 0;
            for page in 1..=MAX_PAGES {
                let listed: Repositories = self
                    .get(
                        token,
                        &format!(
                            "/user/installations/{installation}/repositories?per_page={PER_PAGE}&page={page}"
                        ),
                    )
                    .await?;
                let count = listed.repositories.len();
                seen += count;
                for repository in listed.repositories {
                    reach.insert(
                        repository.full_name.to_ascii_lowercase(),
                        (repository.full_name, repository.permissions),
                    );
                }
                if count < PER_PAGE || seen >= listed.total_count {
                    break;
                }
            }
        }
        Ok(reach)
    }
}

/// A transport error without its URL (whose query could carry a code).
fn without_url(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    format!("the request to GitHub {kind}")
}
