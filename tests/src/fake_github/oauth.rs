//! The fake's user side: GitHub's OAuth web flow for the App (`GET /login/oauth/authorize`
//! on the web host, `POST /login/oauth/access_token`) and the REST routes a user's token
//! opens to the dashboard (`GET /user`, `GET /user/installations`,
//! `GET /user/installations/{id}/repositories`, `GET /user/memberships/orgs/{org}`). As strict as GitHub, from its docs
//! ("Generating a user access token for a GitHub App", "Troubleshooting OAuth app access
//! token request errors"): the client id must be the App's; a code works once, for ten
//! minutes, and only with the `redirect_uri` it was issued for; a bad code or client is
//! answered with HTTP 200 and an `error` field; a user's token sees only the installations
//! and repositories the user reaches, with the user's permissions on them; and a user's
//! token holds no more than the App was granted ("user-to-server" tokens, GitHub's docs
//! "About authentication with a GitHub App": the App's and the user's permissions
//! both), so a call whose permission the App lacks answers 403 "Resource not accessible
//! by integration", with the permission taken from production's table
//! ([`ota_github::Endpoint`]).

use super::server::Answer;
use super::{
    AuthKind, GRANTED, MANIFEST_CLIENT_ID, MANIFEST_CLIENT_SECRET, ORGANIZATION_GRANTED, Route,
};
use axum::http::{HeaderMap, Method};
use ota_github::{Access, Endpoint};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

/// GitHub's codes expire after ten minutes.
const CODE_LIFETIME: Duration = Duration::from_secs(600);

/// A user's access token lives eight hours by default.
const USER_TOKEN_LIFETIME_SECS: u64 = 28_800;

/// A repository a user reaches through an installation, with the user's permissions.
#[derive(Debug, Clone)]
pub(crate) struct Reached {
    pub(crate) installation: u64,
    pub(crate) repo: String,
    pub(crate) push: bool,
    pub(crate) admin: bool,
}

/// The account an installation is on, as `GET /user/installations` reports it.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub(crate) login: String,
    pub(crate) id: u64,
    /// `User` or `Organization`.
    pub(crate) kind: &'static str,
}

/// A user's id, as `GET /user` reports it: the same login always has the same id.
pub(crate) fn user_id(login: &str) -> u64 {
    5_000 + login.bytes().map(u64::from).sum::<u64>()
}

/// What the fake knows of users.
#[derive(Debug, Default)]
pub(crate) struct OAuthState {
    /// The user at the browser, who approves the App on the authorize page.
    pub(crate) approving: Option<String>,
    pub(crate) reach: BTreeMap<String, Vec<Reached>>,
    /// The account of each installation; one not set is its first repository's owner, a
    /// user.
    pub(crate) accounts: BTreeMap<u64, Account>,
    /// Organization memberships by (organization in lower case, login): role and state.
    pub(crate) memberships: BTreeMap<(String, String), (String, String)>,
    /// Permissions the App was not granted (an App created before it asked for them, or
    /// whose new permissions the account has not accepted yet).
    pub(crate) withheld: BTreeSet<String>,
    /// Codes not yet traded: the user, the `redirect_uri` and when it was issued.
    codes: BTreeMap<String, (String, String, SystemTime)>,
    /// The user tokens handed out, by token.
    pub(crate) tokens: BTreeMap<String, String>,
    next: u64,
}

impl OAuthState {
    fn mint(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}_TESTONLY{:024x}", self.next * 0x9e37_79b9)
    }
}

/// The user routes' calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UserCall {
    Authorize,
    AccessToken,
    User,
    Installations,
    Repositories(u64),
    OrgMembership(String),
}

impl UserCall {
    pub(crate) fn route(&self) -> Route {
        match self {
            Self::Authorize => Route::OAuthAuthorize,
            Self::AccessToken => Route::OAuthAccessToken,
            Self::User => Route::User,
            Self::Installations => Route::UserInstallations,
            Self::Repositories(_) => Route::UserInstallationRepositories,
            Self::OrgMembership(_) => Route::UserOrgMembership,
        }
    }

    /// Whether it is a REST route (GitHub's description checks it), not the web host's.
    pub(crate) fn is_api(&self) -> bool {
        !matches!(self, Self::Authorize | Self::AccessToken)
    }
}

/// The call `method` on the web host's `path`, or on the API's `segments`.
pub(crate) fn parse(method: &Method, path: &str, segments: &[String]) -> Option<UserCall> {
    match (method.as_str(), path) {
        ("GET", "/login/oauth/authorize") => return Some(UserCall::Authorize),
        ("POST", "/login/oauth/access_token") => return Some(UserCall::AccessToken),
        _ => {}
    }
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["user"]) => Some(UserCall::User),
        ("GET", ["user", "installations"]) => Some(UserCall::Installations),
        ("GET", ["user", "installations", id, "repositories"]) => {
            id.parse().ok().map(UserCall::Repositories)
        }
        ("GET", ["user", "memberships", "orgs", org]) => {
            Some(UserCall::OrgMembership((*org).to_owned()))
        }
        _ => None,
    }
}

/// The tests' side of the user routes.
impl super::FakeGitHub {
    /// `login` is the user at the browser: the OAuth authorize page sends the browser
    /// back with a code for them, as GitHub does once the user approves the App.
    pub fn sign_in_as(&self, login: &str) {
        self.state().oauth.approving = Some(login.to_owned());
    }

    /// Nobody is signed in to GitHub in the browser: the authorize page shows GitHub's
    /// sign-in form and sends nobody back.
    pub fn sign_out_of_github(&self) {
        self.state().oauth.approving = None;
    }

    /// `login` reaches `repo` through `installation` with `permission` (`read`, `write`
    /// or `admin`), as `GET /user/installations/{id}/repositories` reports it.
    pub fn let_user_reach(&self, login: &str, installation: u64, repo: &str, permission: &str) {
        self.state()
            .oauth
            .reach
            .entry(login.to_owned())
            .or_default()
            .push(Reached {
                installation,
                repo: repo.to_owned(),
                push: permission == "write",
                admin: permission == "admin",
            });
    }

    /// The installation `installation` is on `account`'s account, a `User` or an
    /// `Organization` (`kind`); `id` as GitHub numbers it (a user's is what `GET /user`
    /// says for that login, unless the test gives another: an account renamed and its
    /// login taken by someone else).
    pub fn set_installation_account(
        &self,
        installation: u64,
        account: &str,
        kind: &'static str,
        id: Option<u64>,
    ) {
        self.state().oauth.accounts.insert(
            installation,
            Account {
                login: account.to_owned(),
                id: id.unwrap_or_else(|| user_id(account)),
                kind,
            },
        );
    }

    /// `login` is a member of `org` with `role` (`admin`, `member`, `billing_manager`)
    /// and `state` (`active`, or `pending` before they accept the invitation).
    pub fn set_org_membership(&self, org: &str, login: &str, role: &str, state: &str) {
        self.state().oauth.memberships.insert(
            (org.to_ascii_lowercase(), login.to_owned()),
            (role.to_owned(), state.to_owned()),
        );
    }

    /// The App lacks `permission` (e.g. `members`): its users' tokens do too.
    pub fn withhold_app_permission(&self, permission: &str) {
        self.state().oauth.withheld.insert(permission.to_owned());
    }

    /// Takes away every repository `login` reached.
    pub fn forget_user_reach(&self, login: &str) {
        self.state().oauth.reach.remove(login);
    }

    /// Revokes every user token (the users took their authorization back, or the tokens
    /// expired): GitHub answers 401 to them from now on.
    pub fn revoke_user_tokens(&self) {
        self.state().oauth.tokens.clear();
    }

    /// The user tokens the OAuth flow handed out, so that tests can check they never
    /// leak.
    pub fn user_tokens(&self) -> Vec<String> {
        self.state().oauth.tokens.keys().cloned().collect()
    }
}

/// GitHub's JSON error of the token exchange, with HTTP 200.
fn exchange_error(error: &str, description: &str, why: Option<String>) -> Answer {
    let mut answer = Answer::json(
        200,
        json!({
            "error": error,
            "error_description": description,
            "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors",
        }),
    );
    answer.refused = why;
    answer
}

fn page(numbers: &BTreeMap<String, String>, total: usize) -> (usize, usize) {
    let per_page = numbers
        .get("per_page")
        .and_then(|value| value.parse().ok())
        .unwrap_or(30usize)
        .clamp(1, 100);
    let page = numbers
        .get("page")
        .and_then(|value| value.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    let start = (page - 1).saturating_mul(per_page).min(total);
    (start, (start + per_page).min(total))
}

/// Answers a user-side call.
pub(crate) fn answer(
    state: &mut OAuthState,
    call: &UserCall,
    query: &BTreeMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
    auth: &mut AuthKind,
) -> Answer {
    match call {
        UserCall::Authorize => {
            if query.get("client_id").map(String::as_str) != Some(MANIFEST_CLIENT_ID) {
                return Answer::refuse(
                    404,
                    "Not Found",
                    "authorize with a client id that is not the App's",
                );
            }
            let Some(redirect) = query.get("redirect_uri").cloned() else {
                // Without one GitHub uses the App's first callback URL, which this fake
                // does not know: the dashboard always sends it.
                return Answer::refuse(400, "Bad Request", "authorize without a redirect_uri");
            };
            let Some(login) = state.approving.clone() else {
                // GitHub's sign-in page, for a browser nobody is signed in on.
                return Answer::text(200, "Sign in to GitHub to continue to the App.");
            };
            let code = state.mint("code");
            state
                .codes
                .insert(code.clone(), (login, redirect.clone(), SystemTime::now()));
            let mut back = form_urlencoded::Serializer::new(String::new());
            back.append_pair("code", &code);
            if let Some(sent) = query.get("state") {
                back.append_pair("state", sent);
            }
            let separator = if redirect.contains('?') { '&' } else { '?' };
            let mut answer = Answer::text(302, "");
            answer.headers.push((
                "location",
                format!("{redirect}{separator}{}", back.finish()),
            ));
            answer
        }
        UserCall::AccessToken => {
            let accepts_json = headers
                .get("accept")
                .and_then(|value| value.to_str().ok())
                .is_some_and(|accept| accept.contains("application/json"));
            let form: BTreeMap<String, String> =
                form_urlencoded::parse(body).into_owned().collect();
            let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
            if !accepts_json {
                // GitHub then answers form-encoded; the dashboard asks for JSON.
                return Answer::refuse(
                    406,
                    "Not Acceptable",
                    "token exchange without Accept: application/json",
                );
            }
            if field("client_id") != MANIFEST_CLIENT_ID
                || field("client_secret") != MANIFEST_CLIENT_SECRET
            {
                return exchange_error(
                    "incorrect_client_credentials",
                    "The client_id and/or client_secret passed are incorrect.",
                    Some("the token exchange with wrong client credentials".to_owned()),
                );
            }
            // A code is spent by its first exchange, whatever comes of it.
            let Some((login, redirect, issued)) = state.codes.remove(field("code")) else {
                return exchange_error(
                    "bad_verification_code",
                    "The code passed is incorrect or expired.",
                    None,
                );
            };
            let expired = issued.elapsed().map_or(true, |age| age > CODE_LIFETIME);
            if expired {
                return exchange_error(
                    "bad_verification_code",
                    "The code passed is incorrect or expired.",
                    None,
                );
            }
            if field("redirect_uri") != redirect {
                return exchange_error(
                    "redirect_uri_mismatch",
                    "The redirect_uri MUST match the registered callback URL for this application.",
                    Some(
                        "the token exchange with another redirect_uri than the authorize"
                            .to_owned(),
                    ),
                );
            }
            let token = state.mint("ghu");
            state.tokens.insert(token.clone(), login);
            Answer::json(
                200,
                json!({
                    "access_token": token,
                    "expires_in": USER_TOKEN_LIFETIME_SECS,
                    "refresh_token": state.mint("ghr"),
                    "refresh_token_expires_in": 15_724_800,
                    "scope": "",
                    "token_type": "bearer",
                }),
            )
        }
        UserCall::User
        | UserCall::Installations
        | UserCall::Repositories(_)
        | UserCall::OrgMembership(_) => {
            let token = headers
                .get("authorization")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.split_once(' '))
                .map(|(_, token)| token.trim().to_owned());
            let Some(token) = token else {
                return Answer::refuse(401, "Requires authentication", "no credential");
            };
            let Some(login) = state.tokens.get(&token).cloned() else {
                *auth = AuthKind::UnknownToken;
                return Answer::refuse(401, "Bad credentials", "a user token the fake never gave");
            };
            *auth = AuthKind::UserToken {
                login: login.clone(),
            };
            if let UserCall::OrgMembership(org) = call {
                return membership(state, org, &login);
            }
            let reached = state.reach.get(&login).cloned().unwrap_or_default();
            user_answer(state, call, &login, &reached, query)
        }
    }
}

/// `GET /user/memberships/orgs/{org}`: the user's membership, 404 when they are not in
/// the organization (GitHub: "If the authenticated user is not affiliated with the
/// organization, a 404 is returned"), 403 when the App lacks `members: read`.
fn membership(state: &OAuthState, org: &str, login: &str) -> Answer {
    let granted = |name: &str| {
        if state.withheld.contains(name) {
            return None;
        }
        GRANTED
            .iter()
            .chain(ORGANIZATION_GRANTED.iter())
            .find(|(granted, _)| *granted == name)
            .map(|(_, level)| {
                if *level == "write" {
                    Access::Write
                } else {
                    Access::Read
                }
            })
    };
    if !Endpoint::UserOrgMembership.allowed(granted) {
        return Answer::error(403, "Resource not accessible by integration");
    }
    let Some((role, member_state)) = state
        .memberships
        .get(&(org.to_ascii_lowercase(), login.to_owned()))
    else {
        return Answer::error(404, "Not Found");
    };
    Answer::json(
        200,
        json!({
            "url": format!("https://api.github.com/orgs/{org}/memberships/{login}"),
            "state": member_state,
            "role": role,
            "organization_url": format!("https://api.github.com/orgs/{org}"),
            "organization": { "login": org, "id": user_id(org) },
            "user": { "login": login, "id": user_id(login), "type": "User" },
        }),
    )
}

fn user_answer(
    state: &OAuthState,
    call: &UserCall,
    login: &str,
    reached: &[Reached],
    query: &BTreeMap<String, String>,
) -> Answer {
    match call {
        UserCall::User => Answer::json(
            200,
            json!({ "login": login, "id": user_id(login), "type": "User" }),
        ),
        UserCall::Installations => {
            let mut ids: Vec<u64> = reached.iter().map(|reach| reach.installation).collect();
            ids.sort_unstable();
            ids.dedup();
            let (start, end) = page(query, ids.len());
            let installations: Vec<Value> = ids[start..end]
                .iter()
                .map(|id| {
                    let account = state.accounts.get(id).cloned().unwrap_or_else(|| {
                        let owner = reached
                            .iter()
                            .find(|reach| reach.installation == *id)
                            .and_then(|reach| reach.repo.split_once('/'))
                            .map_or("", |(owner, _)| owner);
                        Account {
                            login: owner.to_owned(),
                            id: user_id(owner),
                            kind: "User",
                        }
                    });
                    json!({
                        "id": id,
                        "app_id": super::APP_ID,
                        "app_slug": super::MANIFEST_APP_SLUG,
                        "account": { "login": account.login, "id": account.id, "type": account.kind },
                        "target_id": account.id,
                        "target_type": account.kind,
                    })
                })
                .collect();
            Answer::json(
                200,
                json!({ "total_count": ids.len(), "installations": installations }),
            )
        }
        UserCall::Repositories(installation) => {
            let repos: Vec<&Reached> = reached
                .iter()
                .filter(|reach| reach.installation == *installation)
                .collect();
            if repos.is_empty() {
                // The user reaches nothing through it: as GitHub, "Not Found".
                return Answer::error(404, "Not Found");
            }
            let (start, end) = page(query, repos.len());
            let repositories: Vec<Value> = repos[start..end]
                .iter()
                .map(|reach| {
                    let (owner, name) = reach.repo.split_once('/').unwrap_or(("", &reach.repo));
                    json!({
                        "full_name": reach.repo,
                        "name": name,
                        "owner": { "login": owner },
                        "permissions": {
                            "admin": reach.admin,
                            "maintain": reach.admin,
                            "push": reach.push || reach.admin,
                            "triage": true,
                            "pull": true,
                        },
                    })
                })
                .collect();
            Answer::json(
                200,
                json!({ "total_count": repos.len(), "repository_selection": "selected", "repositories": repositories }),
            )
        }
        UserCall::Authorize | UserCall::AccessToken | UserCall::OrgMembership(_) => {
            Answer::error(404, "Not Found")
        }
    }
}
