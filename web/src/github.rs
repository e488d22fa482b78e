//! GitHub as the dashboard asks it, with the App's OAuth client and a user's token: the
//! web flow's two steps (`{web}/login/oauth/authorize`, `{web}/login/oauth/access_token`),
//! who the user is (`GET /user`), the repositories they reach through the App's
//! installations with their permissions (`GET /user/installations`,
//! `GET /user/installations/{id}/repositories`), the account an installation is on (the
//! same listing), and the user's membership of an organization
//! (`GET /user/memberships/orgs/{org}`, which needs the App's organization permission
//! `members: read`).

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
    /// GitHub refused the call for a permission the App lacks (HTTP 403): the sentence
    /// says which.
    #[error("{0}")]
    NotPermitted(String),
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

/// Who a token's user is.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GitHubUser {
    pub login: String,
    pub id: u64,
}

/// The account an installation is on.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Account {
    pub login: String,
    pub id: u64,
    /// `User`, `Organization` (or `Enterprise`).
    #[serde(rename = "type")]
    pub kind: String,
}

/// A user's membership of an organization, as GitHub reports it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Membership {
    /// `admin`, `member` or `billing_manager`.
    pub role: String,
    /// `active`, or `pending` until the user accepts the invitation.
    pub state: String,
}

#[derive(Deserialize)]
struct Installations {
    installations: Vec<Installation>,
}

#[derive(Deserialize)]
struct Installation {
    id: u64,
    #[serde(default)]
    account: Option<Account>,
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
        self.get_unless_missing(token, path).await?.ok_or_else(|| {
            GitHubError::Unavailable(format!("GET {} answered HTTP 404 Not Found", label(path)))
        })
    }

    /// `GET path`; `None` when GitHub answers 404, [`GitHubError::NotPermitted`] when it
    /// answers 403.
    async fn get_unless_missing<T: serde::de::DeserializeOwned>(
        &self,
        token: &SecretString,
        path: &str,
    ) -> Result<Option<T>, GitHubError> {
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
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if status == reqwest::StatusCode::FORBIDDEN {
            return Err(GitHubError::NotPermitted(format!(
                "GET {} answered HTTP 403 (the App lacks a permission it needs, or the account blocks the App)",
                label(path)
            )));
        }
        if !status.is_success() {
            return Err(GitHubError::Unavailable(format!(
                "GET {} answered HTTP {status}",
                label(path)
            )));
        }
        response.json().await.map(Some).map_err(|_| {
            GitHubError::Unavailable(format!("GET {} answered something unreadable", label(path)))
        })
    }

    /// Who the token's user is.
    pub async fn user(&self, token: &SecretString) -> Result<GitHubUser, GitHubError> {
        self.get::<GitHubUser>(token, "/user").await
    }

    /// The account of the App's installation `installation`, if the user's token sees
    /// that installation.
    pub async fn installation_account(
        &self,
        token: &SecretString,
        installation: u64,
    ) -> Result<Option<Account>, GitHubError> {
        for page in 1..=MAX_PAGES {
            let listed: Installations = self
                .get(
                    token,
                    &format!("/user/installations?per_page={PER_PAGE}&page={page}"),
                )
                .await?;
            let count = listed.installations.len();
            if let Some(found) = listed
                .installations
                .into_iter()
                .find(|found| found.id == installation)
            {
                return Ok(found.account);
            }
            if count < PER_PAGE {
                break;
            }
        }
        Ok(None)
    }

    /// The user's membership of `org`; `None` when they are not in it (GitHub's 404).
    pub async fn org_membership(
        &self,
        token: &SecretString,
        org: &str,
    ) -> Result<Option<Membership>, GitHubError> {
        let org: String = form_urlencoded::byte_serialize(org.as_bytes()).collect();
        self.get_unless_missing(token, &format!("/user/memberships/orgs/{org}"))
            .await
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

/// A path without its query, for errors.
fn label(path: &str) -> &str {
    path.split('?').next().unwrap_or(path)
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
