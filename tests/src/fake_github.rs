//! A fake GitHub REST API on a real socket, for the GitHub App client and everything built
//! on it. It mints installation tokens (after checking the App JWT against the test key),
//! checks that every other call carries one of its tokens scoped to the path's repository
//! with the permission the route needs, serves what a test set up, stores what the client
//! creates, records every request, and plays scripted faults. Anything it does not expect
//! answers 404 (or 401/403 for bad credentials) and shows up in [`FakeGitHub::unexpected`].

mod limits;
mod oauth;
mod openapi;
mod pulls;
mod routes;
mod server;

use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

/// The App id the fake accepts JWTs from.
pub const APP_ID: u64 = 31_337;

/// The private key of the test App. A TEST-ONLY key generated for this suite: it belongs
/// to no GitHub App (see `tests/fixtures/README.md`).
pub const PRIVATE_KEY_PEM: &str = include_str!("../fixtures/github-app-TEST-ONLY-private-key.pem");

/// The public half, with which the fake checks the App JWTs.
pub const PUBLIC_KEY_PEM: &str = include_str!("../fixtures/github-app-TEST-ONLY-public-key.pem");

/// A second TEST-ONLY key of the test App: the one a key rotation moves to.
pub const SECOND_PRIVATE_KEY_PEM: &str =
    include_str!("../fixtures/github-app-TEST-ONLY-second-private-key.pem");

/// Its public half.
pub const SECOND_PUBLIC_KEY_PEM: &str =
    include_str!("../fixtures/github-app-TEST-ONLY-second-public-key.pem");

/// The login of the App's bot user: comments the App creates are by it.
pub const BOT_LOGIN: &str = "ollama-turbo-agent[bot]";

/// What the App may be granted; a token request for more answers 422, as GitHub does.
const GRANTED: [(&str, &str); 5] = [
    ("metadata", "read"),
    ("contents", "write"),
    ("issues", "write"),
    ("pull_requests", "write"),
    ("checks", "write"),
];

/// The organization permissions the App is granted besides [`GRANTED`]'s repository
/// ones: what the dashboard asks with a user's token (an App may withhold them,
/// [`FakeGitHub::withhold_app_permission`]).
const ORGANIZATION_GRANTED: [(&str, &str); 1] = [("members", "read")];

// What the manifest conversion hands out besides [`APP_ID`] and [`PRIVATE_KEY_PEM`]:
// TEST-ONLY values, public so that tests can check they are stored and never leak.

/// The created App's slug (its bot is `<slug>[bot]`, [`BOT_LOGIN`]).
pub const MANIFEST_APP_SLUG: &str = "ollama-turbo-agent";
/// The created App's name.
pub const MANIFEST_APP_NAME: &str = "Ollama Turbo Agent";
/// The created App's webhook secret.
pub const MANIFEST_WEBHOOK_SECRET: &str = "whsec-TEST-ONLY-6f1e0c";
/// The created App's OAuth client id.
pub const MANIFEST_CLIENT_ID: &str = "Iv23liTESTONLY";
/// The created App's OAuth client secret.
pub const MANIFEST_CLIENT_SECRET: &str = "client-secret-TEST-ONLY-93b2";

/// GitHub's installation tokens live one hour.
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// The routes the fake serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `POST /app/installations/{id}/access_tokens`
    AccessToken,
    /// `GET /repos/{o}/{r}/collaborators/{user}/permission`
    Permission,
    /// `GET /repos/{o}/{r}/contents/{path}`
    Contents,
    /// `GET /repos/{o}/{r}/branches/{branch}`
    Branch,
    /// `GET /repos/{o}/{r}/pulls/{n}`
    PullRequest,
    /// `POST /repos/{o}/{r}/issues/comments/{id}/reactions`
    IssueCommentReaction,
    /// `POST /repos/{o}/{r}/pulls/comments/{id}/reactions`
    ReviewCommentReaction,
    /// `POST /repos/{o}/{r}/issues/{n}/comments`
    CreateComment,
    /// `GET /repos/{o}/{r}/issues/{n}/comments`
    ListComments,
    /// `POST /repos/{o}/{r}/check-runs`
    CreateCheckRun,
    /// `PATCH /repos/{o}/{r}/check-runs/{id}`
    UpdateCheckRun,
    /// `GET /repos/{o}/{r}/commits/{sha}/check-runs`
    ListCheckRuns,
    /// `GET /repos/{o}/{r}/pulls/{n}/comments`
    ListReviewComments,
    /// `PATCH /repos/{o}/{r}/issues/comments/{id}`
    UpdateComment,
    /// `GET /repos/{o}/{r}/check-suites/{id}/check-runs`
    SuiteCheckRuns,
    /// `GET /repos/{o}/{r}/check-runs/{id}/annotations`
    CheckRunAnnotations,
    /// `POST /repos/{o}/{r}/issues/{n}/labels`
    AddLabels,
    /// `DELETE /repos/{o}/{r}/issues/{n}/labels/{name}`
    RemoveLabel,
    /// `GET /repos/{o}/{r}/pulls`
    ListPulls,
    /// `POST /repos/{o}/{r}/pulls`
    CreatePull,
    /// `GET /repos/{o}/{r}/pulls/{n}/reviews`
    ListReviews,
    /// `PUT /repos/{o}/{r}/pulls/{n}/merge`
    MergePull,
    /// `POST /repos/{o}/{r}/pulls/{n}/reviews`
    CreateReview,
    /// `GET /repos/{o}/{r}/issues/{n}`
    Issue,
    /// `GET /repos/{o}/{r}/pulls/{n}/files`
    PullFiles,
    /// `GET /repos/{o}/{r}/compare/{base}...{head}`
    Compare,
    /// `GET /repos/{o}/{r}`
    Repository,
    /// `POST /repos/{o}/{r}/issues`
    CreateIssue,
    /// `POST /app-manifests/{code}/conversions`: the last step of the App Manifest flow.
    ManifestConversion,
    /// `GET /login/oauth/authorize` (the web host): the OAuth web flow's first step.
    OAuthAuthorize,
    /// `POST /login/oauth/access_token` (the web host): a code traded for a user token.
    OAuthAccessToken,
    /// `GET /user`
    User,
    /// `GET /user/installations`
    UserInstallations,
    /// `GET /user/installations/{id}/repositories`
    UserInstallationRepositories,
    /// `GET /user/memberships/orgs/{org}`
    UserOrgMembership,
    /// `GET /app`
    App,
}

/// A scripted misbehaviour, played on the next calls to one route (after the credential
/// was checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer this status without doing anything.
    Status(u16),
    /// A secondary rate limit: 403 with `retry-after`.
    RateLimited { retry_after_secs: u64 },
    /// The primary quota is spent: 403 with `x-ratelimit-remaining: 0` and a reset this
    /// far ahead.
    QuotaExhausted { reset_in_secs: u64 },
    /// Answer 200 with a body of another shape than the route's (`id` a string, the
    /// route's own fields missing), as a changed or broken API would.
    WrongShape,
    /// Do what was asked, then answer this status anyway (a timeout between GitHub's
    /// database and its front end, as the client sees it).
    AfterCommit(u16),
}

/// How a request authenticated, as far as the fake could tell. Never the raw credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthKind {
    None,
    /// A valid App JWT, with its claims.
    AppJwt {
        iss: String,
        iat: u64,
        exp: u64,
    },
    /// An App JWT the fake refused, and why.
    BadJwt(String),
    /// One of the fake's installation tokens.
    InstallationToken {
        installation: u64,
        repositories: Vec<String>,
    },
    /// A token the fake never minted, or one that expired.
    UnknownToken,
    /// A user's token from the OAuth web flow.
    UserToken {
        login: String,
    },
    /// An `Authorization` header of another kind.
    Other,
}

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Decoded, without the base path prefix.
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub body: Option<Value>,
    pub auth: AuthKind,
    /// The `User-Agent` header (all its values, joined by `, `); `None` when missing (the
    /// fake then answers 403, as GitHub does).
    pub user_agent: Option<String>,
    /// `None` for a request no route matches.
    pub route: Option<Route>,
    /// Why the fake refused the request itself (credential, scope, permission, input).
    pub refused: Option<String>,
    /// The scripted fault that was played, if any.
    pub fault: Option<Fault>,
    pub status: u16,
}

/// A token the fake minted, with what it was asked for. The token itself is here only
/// so that tests can check it never leaks.
#[derive(Debug, Clone)]
pub struct MintedToken {
    pub token: String,
    pub installation: u64,
    pub repositories: Vec<String>,
    pub permissions: BTreeMap<String, String>,
    pub expires_at: SystemTime,
}

/// A comment on an issue or pull request.
#[derive(Debug, Clone)]
pub struct FakeComment {
    pub id: u64,
    pub repo: String,
    pub issue: u64,
    pub body: String,
    pub login: String,
    /// `Bot` or `User`.
    pub user_type: String,
    pub created_at: SystemTime,
}

/// A reaction on a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeReaction {
    pub repo: String,
    /// `issue` or `review`.
    pub target: &'static str,
    pub comment_id: u64,
    pub content: String,
}

/// A check run: its fields as last set by the client.
#[derive(Debug, Clone)]
pub struct FakeCheckRun {
    pub id: u64,
    pub repo: String,
    pub fields: serde_json::Map<String, Value>,
}

impl FakeCheckRun {
    /// What a person sees of the check run on GitHub: its state, then its output's title,
    /// summary and text, for a snapshot.
    pub fn shown(&self) -> String {
        let field = |name: &str| self.fields.get(name).and_then(Value::as_str).unwrap_or("-");
        let output = |name: &str| {
            self.fields
                .get("output")
                .and_then(|output| output.get(name))
                .and_then(Value::as_str)
                .unwrap_or("-")
                .to_owned()
        };
        format!(
            "{} · status: {} · conclusion: {}\n\n# {}\n\n{}\n\n---\n{}\n",
            field("name"),
            field("status"),
            field("conclusion"),
            output("title"),
            output("summary"),
            output("text"),
        )
    }
}

/// A check run of another App (CI) in a check suite, as a test sets it up.
#[derive(Debug, Clone, Default)]
pub struct FakeCiRun {
    pub name: String,
    /// `success`, `failure`, `timed_out`, ...
    pub conclusion: String,
    pub title: String,
    pub summary: String,
    pub text: String,
    /// `(path, line, level, message)`, level one of `notice`, `warning`, `failure`.
    pub annotations: Vec<(String, u64, String, String)>,
}

/// A pull request the fake serves.
#[derive(Debug, Clone)]
pub struct FakePull {
    pub number: u64,
    pub state: String,
    pub head_sha: String,
    pub head_ref: String,
    pub base_ref: String,
    /// `owner/name` of the head's repository; `None` for a deleted fork.
    pub head_repo: Option<String>,
}

pub use pulls::{FakeMerge, FakeOpenedPull, FakeReview, FakeUserReview};

/// The author of a pull request a test set up, unless it says otherwise
/// ([`FakeGitHub::set_pull_author`]).
pub const DEFAULT_PULL_AUTHOR: &str = "Codertocat";

/// A check run of another App (CI) on a commit, as a test sets it up.
#[derive(Debug, Clone)]
pub struct FakeHeadRun {
    pub name: String,
    /// `queued`, `in_progress` or `completed`.
    pub status: String,
    /// Once completed: `success`, `failure`, `neutral`, `skipped`, ...
    pub conclusion: Option<String>,
}

impl FakeHeadRun {
    pub fn completed(name: &str, conclusion: &str) -> Self {
        Self {
            name: name.to_owned(),
            status: "completed".to_owned(),
            conclusion: Some(conclusion.to_owned()),
        }
    }

    pub fn in_progress(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            status: "in_progress".to_owned(),
            conclusion: None,
        }
    }
}

/// A file of a comparison: its name and, when a test gave one, its patch.
pub(crate) type ComparedFile = (String, Option<String>);

#[derive(Default)]
pub(crate) struct State {
    pub(crate) prefix: String,
    /// The public halves of the App's private keys GitHub has: a JWT signed by any of
    /// them is the App's. GitHub's docs ("Managing private keys for GitHub Apps"): an App
    /// may have several keys at once, which is how one rotates them; a deleted key's JWTs
    /// are refused.
    pub(crate) app_keys: Vec<String>,
    pub(crate) token_lifetime: Option<Duration>,
    pub(crate) tokens: Vec<MintedToken>,
    pub(crate) roles: BTreeMap<(String, String), (String, Option<String>)>,
    pub(crate) files: BTreeMap<(String, String, String), Vec<u8>>,
    pub(crate) branches: BTreeMap<(String, String), String>,
    /// Refs that do not exist (deleted or renamed branches), by repository.
    pub(crate) missing_refs: std::collections::BTreeSet<(String, String)>,
    /// Repositories without any commit.
    pub(crate) empty_repositories: std::collections::BTreeSet<String>,
    /// The repositories (names, without the owner) an installation may reach, for one
    /// installed on selected repositories only; an installation not here reaches all.
    pub(crate) selected_repositories: BTreeMap<u64, std::collections::BTreeSet<String>>,
    pub(crate) pulls: BTreeMap<(String, u64), FakePull>,
    /// Title and body of issues and pull requests, by number.
    pub(crate) issues: BTreeMap<(String, u64), (String, String)>,
    /// The issues the App opened, in order: (repository, number, title).
    pub(crate) opened_issues: Vec<(String, u64, String)>,
    /// What `GET /repos/{o}/{r}` tells: id, default branch, private.
    pub(crate) repositories: BTreeMap<String, (u64, String, bool)>,
    /// A pull request's changed files: (file name, patch).
    pub(crate) pull_files: BTreeMap<(String, u64), Vec<(String, String)>>,
    /// The files changed between two commits, by repository and `base...head`, each
    /// with its patch when a test gave one.
    pub(crate) compares: BTreeMap<(String, String), Vec<ComparedFile>>,
    pub(crate) comments: Vec<FakeComment>,
    pub(crate) reactions: Vec<FakeReaction>,
    pub(crate) check_runs: Vec<FakeCheckRun>,
    /// Other Apps' check runs, by repository and check suite id, each with its id.
    pub(crate) ci_suites: BTreeMap<(String, u64), Vec<(u64, FakeCiRun)>>,
    /// The labels of each issue or pull request, by repository and number.
    pub(crate) labels: BTreeMap<(String, u64), std::collections::BTreeSet<String>>,
    pub(crate) opened_pulls: Vec<FakeOpenedPull>,
    pub(crate) reviews: Vec<FakeReview>,
    /// Reviews people submitted, in order.
    pub(crate) user_reviews: Vec<FakeUserReview>,
    /// Who opened each pull request of [`Self::pulls`], when not [`DEFAULT_PULL_AUTHOR`].
    pub(crate) pull_authors: BTreeMap<(String, u64), String>,
    /// Pull requests GitHub would not merge now (branch protection, a conflict).
    pub(crate) unmergeable: std::collections::BTreeSet<(String, u64)>,
    /// The merges made, in order.
    pub(crate) merges: Vec<FakeMerge>,
    /// The merge methods each repository allows, when a test narrowed them (GitHub
    /// allows all three unless a repository turned some off).
    pub(crate) merge_methods: BTreeMap<String, Vec<String>>,
    /// Other Apps' check runs on a commit, by repository and sha, each with its id.
    pub(crate) head_runs: BTreeMap<(String, String), Vec<(u64, FakeHeadRun)>>,
    /// Codes of the App Manifest flow not yet exchanged: each works once.
    pub(crate) manifest_codes: std::collections::BTreeSet<String>,
    pub(crate) faults: Vec<(Route, u32, Fault)>,
    /// The user side: the OAuth web flow's codes and tokens, what each user reaches.
    pub(crate) oauth: oauth::OAuthState,
    pub(crate) requests: Vec<Recorded>,
    /// How many of `requests` a test has looked at for unexpected ones.
    pub(crate) acknowledged: usize,
    pub(crate) next_id: u64,
}

impl State {
    pub(crate) fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        1000 + self.next_id
    }
}

/// A list's page as GitHub reads it from the query: `per_page` from 1 to 100 (30 when
/// not given or not a number), `page` from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Paging {
    pub per_page: usize,
    pub page: usize,
}

impl Paging {
    pub(crate) fn from_query(query: &BTreeMap<String, String>) -> Self {
        let number = |key: &str| query.get(key).and_then(|n| n.parse::<usize>().ok());
        Self {
            per_page: number("per_page").unwrap_or(30).clamp(1, 100),
            page: number("page").unwrap_or(1).max(1),
        }
    }
}

/// The running fake. Dropping it stops the server.
pub struct FakeGitHub {
    addr: SocketAddr,
    prefix: String,
    state: Arc<Mutex<State>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        self.server.abort();
        // Every test fails on a request GitHub would have refused, or that the fake does
        // not serve, unless it said it expected one ([`Self::take_unexpected`]).
        let unexpected = self.unacknowledged();
        if !unexpected.is_empty() && !std::thread::panicking() {
            panic!("unexpected requests to the fake GitHub: {unexpected:#?}");
        }
    }
}

impl FakeGitHub {
    /// A fake github.com: the API at the root.
    pub async fn start() -> Self {
        Self::start_at("").await
    }

    /// A fake GitHub Enterprise Server: the API under `prefix` (e.g. `/api/v3`).
    pub async fn start_at(prefix: &str) -> Self {
        let state = Arc::new(Mutex::new(State {
            prefix: prefix.trim_end_matches('/').to_owned(),
            app_keys: vec![PUBLIC_KEY_PEM.to_owned()],
            ..State::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake GitHub");
        let addr = listener.local_addr().expect("fake GitHub address");
        let server = tokio::spawn(server::serve(listener, state.clone()));
        Self {
            addr,
            prefix: prefix.trim_end_matches('/').to_owned(),
            state,
            server,
        }
    }

    /// The API root to configure the client with.
    pub fn base_url(&self) -> String {
        format!("http://{}{}", self.addr, self.prefix)
    }

    /// The test App's credentials.
    pub fn app_credentials() -> ota_github::AppCredentials {
        ota_github::AppCredentials {
            app_id: shared::ids::AppId(APP_ID),
            private_key: PRIVATE_KEY_PEM.into(),
        }
    }

    /// The test App on this fake, as a deployment's settings describe it.
    pub fn app(&self) -> ota_github::GitHubApp {
        ota_github::GitHubApp {
            credentials: Self::app_credentials(),
            api_url: self.base_url(),
            slug: Some(MANIFEST_APP_SLUG.to_owned()),
        }
    }

    /// A client for the test App pointed at this fake, as the policy and report stages
    /// build theirs.
    pub fn client(&self) -> ota_github::GitHubClient {
        self.app()
            .client(ota_github::TokenPermissions::policy_and_report())
            .expect("a client for the fake GitHub")
    }

    /// Fails the test if any request matched no route or was refused by the fake (since
    /// the last [`Self::take_unexpected`]). Dropping the fake checks the same.
    pub fn assert_nothing_unexpected(&self) {
        let unexpected = self.take_unexpected();
        assert!(
            unexpected.is_empty(),
            "unexpected requests: {unexpected:#?}"
        );
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    // ---- set-up ----

    /// Tokens minted from now on expire this long after minting.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.state().token_lifetime = Some(lifetime);
    }

    /// `login`'s role on `repo`, with the coarse `permission` GitHub derives from it.
    pub fn set_role(&self, repo: &str, login: &str, role_name: &str) {
        let permission = match role_name {
            "admin" => "admin",
            "maintain" | "write" => "write",
            "triage" | "read" => "read",
            _ => "none",
        };
        self.set_custom_role(repo, login, Some(role_name), permission);
    }

    /// A role as GitHub reports it: `role_name` (absent on old servers) and `permission`.
    pub fn set_custom_role(
        &self,
        repo: &str,
        login: &str,
        role_name: Option<&str>,
        permission: &str,
    ) {
        self.state().roles.insert(
            (repo.to_owned(), login.to_owned()),
            (permission.to_owned(), role_name.map(str::to_owned)),
        );
    }

    /// A file at `git_ref` (`""` is the default branch).
    pub fn set_file(&self, repo: &str, git_ref: &str, path: &str, content: impl Into<Vec<u8>>) {
        self.state().files.insert(
            (repo.to_owned(), git_ref.to_owned(), path.to_owned()),
            content.into(),
        );
    }

    pub fn set_branch(&self, repo: &str, branch: &str, sha: &str) {
        self.state()
            .branches
            .insert((repo.to_owned(), branch.to_owned()), sha.to_owned());
    }

    /// Deletes `branch`: reading it answers 404, as GitHub does for a ref that is gone
    /// ("No commit found for the ref …" from the contents API).
    pub fn remove_branch(&self, repo: &str, branch: &str) {
        let mut state = self.state();
        state.branches.remove(&(repo.to_owned(), branch.to_owned()));
        state
            .missing_refs
            .insert((repo.to_owned(), branch.to_owned()));
    }

    /// `repo` has no commit yet: GitHub answers 404 "This repository is empty." to every
    /// contents read.
    pub fn set_empty_repository(&self, repo: &str) {
        self.state().empty_repositories.insert(repo.to_owned());
    }

    /// `installation` is installed on these repositories only (GitHub's "Only select
    /// repositories"): a token asked for any other answers 422, as GitHub does.
    pub fn select_repositories(&self, installation: u64, repos: &[&str]) {
        let names = repos
            .iter()
            .map(|repo| repo.rsplit('/').next().unwrap_or(repo).to_owned())
            .collect();
        self.state()
            .selected_repositories
            .insert(installation, names);
    }

    /// The title and body of issue (or pull request) `number`.
    /// What `GET /repos/{o}/{r}` answers for `repo`: its id and default branch.
    pub fn set_repository(&self, repo: &str, id: u64, default_branch: &str, private: bool) {
        self.state()
            .repositories
            .insert(repo.to_owned(), (id, default_branch.to_owned(), private));
    }

    /// The issues the App opened on `repo`, in order: (number, title).
    pub fn opened_issues(&self, repo: &str) -> Vec<(u64, String)> {
        self.state()
            .opened_issues
            .iter()
            .filter(|(r, _, _)| r == repo)
            .map(|(_, number, title)| (*number, title.clone()))
            .collect()
    }

    pub fn set_issue(&self, repo: &str, number: u64, title: &str, body: &str) {
        self.state().issues.insert(
            (repo.to_owned(), number),
            (title.to_owned(), body.to_owned()),
        );
    }

    /// The files pull request `number` changes, each with its patch (unified-diff hunks).
    pub fn set_pull_files(&self, repo: &str, number: u64, files: &[(&str, &str)]) {
        let files = files
            .iter()
            .map(|(name, patch)| ((*name).to_owned(), (*patch).to_owned()))
            .collect();
        self.state()
            .pull_files
            .insert((repo.to_owned(), number), files);
    }

    /// The files changed from `base` to `head`, as `GET .../compare/{base}...{head}`
    /// answers (a comparison the test did not set is 404, as for unknown commits).
    pub fn set_compare(&self, repo: &str, base: &str, head: &str, files: &[&str]) {
        self.state().compares.insert(
            (repo.to_owned(), format!("{base}...{head}")),
            files
                .iter()
                .map(|file| ((*file).to_owned(), None))
                .collect(),
        );
    }

    /// As [`Self::set_compare`], with each file's patch: `(file name, patch)`.
    pub fn set_compare_patches(&self, repo: &str, base: &str, head: &str, files: &[(&str, &str)]) {
        self.state().compares.insert(
            (repo.to_owned(), format!("{base}...{head}")),
            files
                .iter()
                .map(|(name, patch)| ((*name).to_owned(), Some((*patch).to_owned())))
                .collect(),
        );
    }

    pub fn set_pull_request(&self, repo: &str, pull: FakePull) {
        self.state()
            .pulls
            .insert((repo.to_owned(), pull.number), pull);
    }

    /// Pull request `number` was opened by `login` (by [`DEFAULT_PULL_AUTHOR`] unless
    /// this says otherwise).
    pub fn set_pull_author(&self, repo: &str, number: u64, login: &str) {
        self.state()
            .pull_authors
            .insert((repo.to_owned(), number), login.to_owned());
    }

    /// `login` submitted a review of pull request `number` at commit `commit`, with
    /// `state` as the REST API lists it (`APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`).
    /// Returns its id.
    pub fn add_user_review(
        &self,
        repo: &str,
        number: u64,
        login: &str,
        state: &str,
        commit: &str,
    ) -> u64 {
        let mut guard = self.state();
        let id = guard.next_id();
        guard.user_reviews.push(FakeUserReview {
            id,
            repo: repo.to_owned(),
            number,
            login: login.to_owned(),
            state: state.to_owned(),
            commit_id: commit.to_owned(),
        });
        id
    }

    /// Whether GitHub would merge pull request `number` now: `false` plays branch
    /// protection or a conflict (405 "Pull Request is not mergeable").
    pub fn set_mergeable(&self, repo: &str, number: u64, mergeable: bool) {
        let key = (repo.to_owned(), number);
        let mut state = self.state();
        if mergeable {
            state.unmergeable.remove(&key);
        } else {
            state.unmergeable.insert(key);
        }
    }

    /// The merge methods `repo` allows (`merge`, `squash`, `rebase`): the repository's
    /// "Allow merge commits", "Allow squash merging" and "Allow rebase merging".
    pub fn set_merge_methods(&self, repo: &str, allowed: &[&str]) {
        self.state().merge_methods.insert(
            repo.to_owned(),
            allowed.iter().map(|method| (*method).to_owned()).collect(),
        );
    }

    /// The check runs of other Apps (CI) on commit `sha`, replacing any set before.
    pub fn set_head_runs(&self, repo: &str, sha: &str, runs: &[FakeHeadRun]) {
        let mut state = self.state();
        let runs = runs
            .iter()
            .map(|run| (state.next_id(), run.clone()))
            .collect();
        state
            .head_runs
            .insert((repo.to_owned(), sha.to_owned()), runs);
    }

    /// The merges made on `repo`, in order.
    pub fn merges(&self, repo: &str) -> Vec<FakeMerge> {
        self.state()
            .merges
            .iter()
            .filter(|merge| merge.repo == repo)
            .cloned()
            .collect()
    }

    /// A comment someone else wrote; returns its id.
    pub fn add_comment(
        &self,
        repo: &str,
        issue: u64,
        login: &str,
        user_type: &str,
        body: &str,
    ) -> u64 {
        let mut state = self.state();
        let id = state.next_id();
        state.comments.push(FakeComment {
            id,
            repo: repo.to_owned(),
            issue,
            body: body.to_owned(),
            login: login.to_owned(),
            user_type: user_type.to_owned(),
            created_at: SystemTime::now(),
        });
        id
    }

    /// A code GitHub would send the browser back with after creating an App from a
    /// manifest; exchanging it once answers the test App, any other code answers 404.
    pub fn add_manifest_code(&self, code: &str) {
        self.state().manifest_codes.insert(code.to_owned());
    }

    /// Adds a private key to the App (its public half), as "Generate a private key" on
    /// the App's settings page does.
    pub fn add_app_key(&self, public_pem: &str) {
        self.state().app_keys.push(public_pem.to_owned());
    }

    /// Deletes one of the App's keys (by its public half): JWTs it signs are refused from
    /// now on.
    pub fn delete_app_key(&self, public_pem: &str) {
        self.state().app_keys.retain(|key| key != public_pem);
    }

    /// Revokes every token minted so far, as GitHub does when an installation's
    /// permissions change.
    pub fn revoke_tokens(&self) {
        self.state().tokens.clear();
    }

    /// Plays `fault` on the next `times` calls to `route`.
    pub fn inject(&self, route: Route, times: u32, fault: Fault) {
        self.state().faults.push((route, times, fault));
    }

    /// Forgets the faults not played yet: GitHub is healthy again.
    pub fn clear_faults(&self) {
        self.state().faults.clear();
    }

    // ---- inspection ----

    pub fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }

    pub fn requests_to(&self, route: Route) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|request| request.route == Some(route))
            .collect()
    }

    /// Requests that matched no route or that the fake refused: a test expects none.
    pub fn unexpected(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|request| request.route.is_none() || request.refused.is_some())
            .collect()
    }

    /// The unexpected requests made since the last [`Self::take_unexpected`] or
    /// [`Self::assert_nothing_unexpected`].
    fn unacknowledged(&self) -> Vec<Recorded> {
        let state = self.state();
        state.requests[state.acknowledged.min(state.requests.len())..]
            .iter()
            .filter(|request| request.route.is_none() || request.refused.is_some())
            .cloned()
            .collect()
    }

    /// The unexpected requests made since the last call (or
    /// [`Self::assert_nothing_unexpected`]), which the test thereby says it provoked on
    /// purpose: dropping the fake no longer fails the test for them.
    pub fn take_unexpected(&self) -> Vec<Recorded> {
        let unexpected = self.unacknowledged();
        let mut state = self.state();
        state.acknowledged = state.requests.len();
        unexpected
    }

    pub fn minted_tokens(&self) -> Vec<MintedToken> {
        self.state().tokens.clone()
    }

    pub fn comments(&self, repo: &str, issue: u64) -> Vec<FakeComment> {
        self.state()
            .comments
            .iter()
            .filter(|comment| comment.repo == repo && comment.issue == issue)
            .cloned()
            .collect()
    }

    /// The bodies of the comments on `repo`'s issue or pull request `issue`, oldest first.
    pub fn comment_bodies(&self, repo: &str, issue: u64) -> Vec<String> {
        self.comments(repo, issue)
            .into_iter()
            .map(|comment| comment.body)
            .collect()
    }

    pub fn reactions(&self) -> Vec<FakeReaction> {
        self.state().reactions.clone()
    }

    /// Puts `labels` on issue or pull request `issue`, as a person adding them would.
    pub fn add_labels(&self, repo: &str, issue: u64, labels: &[&str]) {
        self.state()
            .labels
            .entry((repo.to_owned(), issue))
            .or_default()
            .extend(labels.iter().map(|label| (*label).to_owned()));
    }

    /// Check suite `suite` of another App (CI) on `repo`, with its completed runs.
    pub fn set_ci_suite(&self, repo: &str, suite: u64, runs: &[FakeCiRun]) {
        let mut state = self.state();
        let runs = runs
            .iter()
            .map(|run| (state.next_id(), run.clone()))
            .collect();
        state.ci_suites.insert((repo.to_owned(), suite), runs);
    }

    /// The labels issue or pull request `issue` carries now, sorted.
    pub fn labels(&self, repo: &str, issue: u64) -> Vec<String> {
        self.state()
            .labels
            .get(&(repo.to_owned(), issue))
            .map(|labels| labels.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Pull requests the client opened on `repo`.
    pub fn opened_pulls(&self, repo: &str) -> Vec<FakeOpenedPull> {
        self.state()
            .opened_pulls
            .iter()
            .filter(|pull| pull.repo == repo)
            .cloned()
            .collect()
    }

    /// Reviews the client posted on `repo`.
    pub fn reviews(&self, repo: &str) -> Vec<FakeReview> {
        self.state()
            .reviews
            .iter()
            .filter(|review| review.repo == repo)
            .cloned()
            .collect()
    }

    /// Whether `token` is one this fake minted, unexpired, scoped to `repo`, with the
    /// permission production's table gives the Git `endpoint` (`contents: read` to fetch,
    /// `write` to push): what a git server in front of the fake's repositories checks.
    pub fn token_checker(
        &self,
    ) -> impl Fn(&str, &str, ota_github::Endpoint) -> bool + Send + Sync + 'static {
        let state = self.state.clone();
        move |repo: &str, token: &str, endpoint: ota_github::Endpoint| {
            let state = state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let name = repo.split_once('/').map_or(repo, |(_, name)| name);
            state.tokens.iter().any(|minted| {
                minted.token == token
                    && minted.expires_at > SystemTime::now()
                    && minted.repositories.iter().any(|scoped| scoped == name)
                    && endpoint.allowed(|permission| {
                        match minted.permissions.get(permission)?.as_str() {
                            "read" => Some(ota_github::Access::Read),
                            "write" => Some(ota_github::Access::Write),
                            _ => None,
                        }
                    })
            })
        }
    }

    pub fn check_runs(&self, repo: &str) -> Vec<FakeCheckRun> {
        self.state()
            .check_runs
            .iter()
            .filter(|run| run.repo == repo)
            .cloned()
            .collect()
    }
}
