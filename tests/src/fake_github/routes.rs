//! The fake's routes: what each matched, authorized request does to the fake's state and
//! what it answers, shaped like GitHub's JSON (only the fields the client reads, plus a
//! few for realism).

use super::server::Answer;
use super::{
    APP_ID, BOT_LOGIN, DEFAULT_TOKEN_LIFETIME, FakeCheckRun, FakeComment, FakeReaction, GRANTED,
    MANIFEST_APP_NAME, MANIFEST_APP_SLUG, MANIFEST_CLIENT_ID, MANIFEST_CLIENT_SECRET,
    MANIFEST_WEBHOOK_SECRET, MintedToken, PRIVATE_KEY_PEM, Paging, Route, State,
};
use axum::http::Method;
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use ota_github::Endpoint;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::SystemTime;

/// GitHub's contents API leaves out the content of files over 1 MB.
const MAX_CONTENT_BYTES: usize = 1024 * 1024;

/// The App id of GitHub Actions, whose check runs play CI.
const CI_APP_ID: u64 = 15368;

/// The reactions GitHub accepts.
const REACTIONS: [&str; 8] = [
    "+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes",
];

/// A matched request.
pub(crate) enum Call {
    AccessToken {
        installation: u64,
    },
    Repo {
        repo: String,
        op: RepoOp,
    },
    /// Needs no credential: the one-time code is the credential.
    ManifestConversion {
        code: String,
    },
    /// `GET /app`, with the App's JWT.
    App,
}

pub(crate) enum RepoOp {
    Permission { login: String },
    Contents { path: String },
    Branch { name: String },
    PullRequest { number: u64 },
    IssueCommentReaction { id: u64 },
    ReviewCommentReaction { id: u64 },
    CreateComment { issue: u64 },
    ListComments { issue: u64 },
    CreateCheckRun,
    UpdateCheckRun { id: u64 },
    ListCheckRuns { sha: String },
    SuiteCheckRuns { suite: u64 },
    ListReviewComments { number: u64 },
    UpdateComment { id: u64 },
    CheckRunAnnotations { id: u64 },
    AddLabels { issue: u64 },
    RemoveLabel { issue: u64, name: String },
    ListPulls,
    CreatePull,
    ListReviews { number: u64 },
    MergePull { number: u64 },
    CreateReview { number: u64 },
    Issue { number: u64 },
    PullFiles { number: u64 },
    Compare { basehead: String },
    Repository,
    CreateIssue,
}

impl Call {
    pub(crate) fn route(&self) -> Route {
        match self {
            Self::AccessToken { .. } => Route::AccessToken,
            Self::Repo { op, .. } => op.route(),
            Self::ManifestConversion { .. } => Route::ManifestConversion,
            Self::App => Route::App,
        }
    }
}

impl RepoOp {
    fn route(&self) -> Route {
        match self {
            Self::Permission { .. } => Route::Permission,
            Self::Contents { .. } => Route::Contents,
            Self::Branch { .. } => Route::Branch,
            Self::PullRequest { .. } => Route::PullRequest,
            Self::IssueCommentReaction { .. } => Route::IssueCommentReaction,
            Self::ReviewCommentReaction { .. } => Route::ReviewCommentReaction,
            Self::CreateComment { .. } => Route::CreateComment,
            Self::ListComments { .. } => Route::ListComments,
            Self::CreateCheckRun => Route::CreateCheckRun,
            Self::UpdateCheckRun { .. } => Route::UpdateCheckRun,
            Self::ListCheckRuns { .. } => Route::ListCheckRuns,
            Self::SuiteCheckRuns { .. } => Route::SuiteCheckRuns,
            Self::ListReviewComments { .. } => Route::ListReviewComments,
            Self::UpdateComment { .. } => Route::UpdateComment,
            Self::CheckRunAnnotations { .. } => Route::CheckRunAnnotations,
            Self::AddLabels { .. } => Route::AddLabels,
            Self::RemoveLabel { .. } => Route::RemoveLabel,
            Self::ListPulls => Route::ListPulls,
            Self::CreatePull => Route::CreatePull,
            Self::ListReviews { .. } => Route::ListReviews,
            Self::MergePull { .. } => Route::MergePull,
            Self::CreateReview { .. } => Route::CreateReview,
            Self::Issue { .. } => Route::Issue,
            Self::PullFiles { .. } => Route::PullFiles,
            Self::Compare { .. } => Route::Compare,
            Self::Repository => Route::Repository,
            Self::CreateIssue => Route::CreateIssue,
        }
    }

    /// The endpoint of production's table ([`ota_github::endpoints`]) it is: what a
    /// token needs for it comes from there.
    fn endpoint(&self) -> Endpoint {
        match self {
            Self::Permission { .. } => Endpoint::CollaboratorPermission,
            Self::Contents { .. } => Endpoint::GetContents,
            Self::Branch { .. } => Endpoint::GetBranch,
            Self::PullRequest { .. } => Endpoint::GetPull,
            Self::IssueCommentReaction { .. } => Endpoint::IssueCommentReaction,
            Self::ReviewCommentReaction { .. } => Endpoint::ReviewCommentReaction,
            Self::CreateComment { .. } => Endpoint::CreateIssueComment,
            Self::ListComments { .. } => Endpoint::ListIssueComments,
            Self::CreateCheckRun => Endpoint::CreateCheckRun,
            Self::UpdateCheckRun { .. } => Endpoint::UpdateCheckRun,
            Self::ListCheckRuns { .. } => Endpoint::ListCheckRunsForRef,
            Self::SuiteCheckRuns { .. } => Endpoint::ListCheckRunsInSuite,
            Self::ListReviewComments { .. } => Endpoint::ListReviewComments,
            Self::UpdateComment { .. } => Endpoint::UpdateIssueComment,
            Self::CheckRunAnnotations { .. } => Endpoint::ListCheckRunAnnotations,
            Self::AddLabels { .. } => Endpoint::AddLabels,
            Self::RemoveLabel { .. } => Endpoint::RemoveLabel,
            Self::ListPulls => Endpoint::ListPulls,
            Self::CreatePull => Endpoint::CreatePull,
            Self::ListReviews { .. } => Endpoint::ListReviews,
            Self::MergePull { .. } => Endpoint::MergePull,
            Self::CreateReview { .. } => Endpoint::CreateReview,
            Self::Issue { .. } => Endpoint::GetIssue,
            Self::PullFiles { .. } => Endpoint::ListPullFiles,
            Self::Compare { .. } => Endpoint::Compare,
            Self::Repository => Endpoint::GetRepository,
            Self::CreateIssue => Endpoint::CreateIssue,
        }
    }
}

impl Call {
    pub(crate) fn endpoint(&self) -> Endpoint {
        match self {
            Self::AccessToken { .. } => Endpoint::CreateInstallationToken,
            Self::Repo { op, .. } => op.endpoint(),
            Self::ManifestConversion { .. } => Endpoint::ManifestConversion,
            Self::App => Endpoint::GetApp,
        }
    }
}

/// The call `method` on the decoded path `segments` makes, if the fake knows it.
pub(crate) fn parse(method: &Method, segments: &[String]) -> Option<Call> {
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let number = |text: &str| text.parse::<u64>().ok();
    match (method.as_str(), segments.as_slice()) {
        ("POST", ["app", "installations", id, "access_tokens"]) => Some(Call::AccessToken {
            installation: number(id)?,
        }),
        ("GET", ["app"]) => Some(Call::App),
        ("POST", ["app-manifests", code, "conversions"]) => Some(Call::ManifestConversion {
            code: (*code).to_owned(),
        }),
        (method, ["repos", owner, name, rest @ ..]) => {
            let op = match (method, rest) {
                ("GET", ["collaborators", login, "permission"]) => RepoOp::Permission {
                    login: (*login).to_owned(),
                },
                ("GET", ["contents", path @ ..]) if !path.is_empty() => RepoOp::Contents {
                    path: path.join("/"),
                },
                ("GET", ["branches", branch @ ..]) if !branch.is_empty() => RepoOp::Branch {
                    name: branch.join("/"),
                },
                ("GET", ["pulls", n]) => RepoOp::PullRequest { number: number(n)? },
                ("GET", ["pulls", n, "files"]) => RepoOp::PullFiles { number: number(n)? },
                ("GET", ["compare", basehead]) => RepoOp::Compare {
                    basehead: (*basehead).to_owned(),
                },
                ("GET", ["issues", n]) => RepoOp::Issue { number: number(n)? },
                ("GET", []) => RepoOp::Repository,
                ("POST", ["issues"]) => RepoOp::CreateIssue,
                ("GET", ["pulls"]) => RepoOp::ListPulls,
                ("POST", ["pulls"]) => RepoOp::CreatePull,
                ("GET", ["pulls", n, "reviews"]) => RepoOp::ListReviews { number: number(n)? },
                ("PUT", ["pulls", n, "merge"]) => RepoOp::MergePull { number: number(n)? },
                ("POST", ["pulls", n, "reviews"]) => RepoOp::CreateReview { number: number(n)? },
                ("POST", ["issues", "comments", id, "reactions"]) => {
                    RepoOp::IssueCommentReaction { id: number(id)? }
                }
                ("POST", ["pulls", "comments", id, "reactions"]) => {
                    RepoOp::ReviewCommentReaction { id: number(id)? }
                }
                ("POST", ["issues", n, "comments"]) => RepoOp::CreateComment { issue: number(n)? },
                ("GET", ["issues", n, "comments"]) => RepoOp::ListComments { issue: number(n)? },
                ("PATCH", ["issues", "comments", id]) => RepoOp::UpdateComment { id: number(id)? },
                ("GET", ["pulls", n, "comments"]) => {
                    RepoOp::ListReviewComments { number: number(n)? }
                }
                ("POST", ["issues", n, "labels"]) => RepoOp::AddLabels { issue: number(n)? },
                ("DELETE", ["issues", n, "labels", name]) => RepoOp::RemoveLabel {
                    issue: number(n)?,
                    name: (*name).to_owned(),
                },
                ("POST", ["check-runs"]) => RepoOp::CreateCheckRun,
                ("PATCH", ["check-runs", id]) => RepoOp::UpdateCheckRun { id: number(id)? },
                ("GET", ["commits", sha, "check-runs"]) => RepoOp::ListCheckRuns {
                    sha: (*sha).to_owned(),
                },
                ("GET", ["check-suites", id, "check-runs"]) => {
                    RepoOp::SuiteCheckRuns { suite: number(id)? }
                }
                ("GET", ["check-runs", id, "annotations"]) => {
                    RepoOp::CheckRunAnnotations { id: number(id)? }
                }
                _ => return None,
            };
            Some(Call::Repo {
                repo: format!("{owner}/{name}"),
                op,
            })
        }
        _ => None,
    }
}

fn timestamp(time: SystemTime) -> String {
    DateTime::<Utc>::from(time).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Does what `call` asks, its credential already checked.
pub(crate) fn answer(
    state: &mut State,
    call: &Call,
    query: &BTreeMap<String, String>,
    body: Option<&Value>,
) -> Answer {
    match call {
        Call::AccessToken { installation } => mint(state, *installation, body),
        Call::Repo { repo, op } => repo_call(state, repo, op, query, body),
        Call::ManifestConversion { code } => manifest_conversion(state, code),
        Call::App => the_app(),
    }
}

/// `GET /app`: the App the JWT is signed for, as GitHub describes it (no secrets).
fn the_app() -> Answer {
    let now = timestamp(SystemTime::now());
    let permissions: BTreeMap<&str, &str> = GRANTED
        .into_iter()
        .chain(super::ORGANIZATION_GRANTED)
        .collect();
    Answer::json(
        200,
        json!({
            "id": APP_ID,
            "slug": MANIFEST_APP_SLUG,
            "node_id": "A_kwTESTONLY",
            "client_id": MANIFEST_CLIENT_ID,
            "name": MANIFEST_APP_NAME,
            "description": "Runs AI agent jobs on repositories with models served by Ollama.",
            "external_url": "https://ota.example.test",
            "html_url": format!("https://github.com/apps/{MANIFEST_APP_SLUG}"),
            "owner": { "login": "octocat", "id": 1, "type": "User" },
            "created_at": now,
            "updated_at": now,
            "permissions": permissions,
            "events": [],
        }),
    )
}

/// The App GitHub created from a manifest, for a code the test handed out; the code is
/// spent, as GitHub's are. Shaped like GitHub's answer (201 with the App and its secrets).
fn manifest_conversion(state: &mut State, code: &str) -> Answer {
    if !state.manifest_codes.remove(code) {
        return Answer::error(404, "Not Found");
    }
    let now = timestamp(SystemTime::now());
    let permissions: BTreeMap<&str, &str> = GRANTED
        .into_iter()
        .chain(super::ORGANIZATION_GRANTED)
        .collect();
    Answer::json(
        201,
        json!({
            "id": APP_ID,
            "slug": MANIFEST_APP_SLUG,
            "node_id": "A_kwTESTONLY",
            "name": MANIFEST_APP_NAME,
            "description": "Runs AI agent jobs on repositories with models served by Ollama.",
            "external_url": "https://ota.example.test",
            "html_url": format!("https://github.com/apps/{MANIFEST_APP_SLUG}"),
            "owner": { "login": "octocat", "id": 1, "type": "User" },
            "created_at": now,
            "updated_at": now,
            "permissions": permissions,
            "events": [
                "check_run", "check_suite", "issue_comment", "issues", "pull_request",
                "pull_request_review", "pull_request_review_comment", "push",
            ],
            "client_id": MANIFEST_CLIENT_ID,
            "client_secret": MANIFEST_CLIENT_SECRET,
            "webhook_secret": MANIFEST_WEBHOOK_SECRET,
            "pem": PRIVATE_KEY_PEM,
        }),
    )
}

fn mint(state: &mut State, installation: u64, body: Option<&Value>) -> Answer {
    let empty = json!({});
    let body = body.unwrap_or(&empty);
    let repositories: Option<Vec<String>> = body["repositories"].as_array().map(|names| {
        names
            .iter()
            .filter_map(|name| name.as_str().map(str::to_owned))
            .collect()
    });
    let Some(repositories) = repositories else {
        return Answer::refuse(
            422,
            "repositories must be given",
            "token not scoped to repositories",
        );
    };
    // "Create an installation access token for an app" answers 422 when a repository
    // named is not one the installation can reach (GitHub's message, quoted e.g. in
    // tibdex/github-app-token#105).
    if let Some(selected) = state.selected_repositories.get(&installation)
        && let Some(outside) = repositories.iter().find(|name| !selected.contains(*name))
    {
        return Answer::refuse(
            422,
            "There is at least one repository that does not exist or is not accessible to the parent installation.",
            format!("a token for {outside}, which installation {installation} does not reach"),
        );
    }
    let mut permissions = BTreeMap::new();
    match body.get("permissions") {
        None => {
            for (name, level) in GRANTED {
                permissions.insert(name.to_owned(), level.to_owned());
            }
        }
        Some(Value::Object(asked)) => {
            for (name, level) in asked {
                let granted = GRANTED.iter().find(|(granted, _)| granted == name);
                let ok = matches!(
                    (granted, level.as_str()),
                    (Some((_, "write")), Some("read" | "write"))
                        | (Some((_, "read")), Some("read"))
                );
                if !ok {
                    return Answer::refuse(
                        422,
                        "The permissions requested are not granted to this installation.",
                        format!("permission {name}: {level} not granted"),
                    );
                }
                permissions.insert(name.clone(), level.as_str().unwrap_or("").to_owned());
            }
        }
        Some(_) => return Answer::refuse(422, "Invalid request", "permissions is not a map"),
    }
    let id = state.next_id();
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.subsec_nanos());
    let token = format!("ghs_fAkE{id:08}x{nanos:09}x{installation:010}");
    let expires_at = SystemTime::now() + state.token_lifetime.unwrap_or(DEFAULT_TOKEN_LIFETIME);
    state.tokens.push(MintedToken {
        token: token.clone(),
        installation,
        repositories,
        permissions: permissions.clone(),
        expires_at,
    });
    Answer::json(
        201,
        json!({
            "token": token,
            "expires_at": timestamp(expires_at),
            "permissions": permissions,
            "repository_selection": "selected",
        }),
    )
}

fn repo_call(
    state: &mut State,
    repo: &str,
    op: &RepoOp,
    query: &BTreeMap<String, String>,
    body: Option<&Value>,
) -> Answer {
    let repo_key = repo.to_owned();
    match op {
        RepoOp::Permission { login } => match state.roles.get(&(repo_key, login.clone())) {
            Some((permission, role_name)) => {
                let mut answer = json!({ "permission": permission, "user": { "login": login } });
                if let Some(role_name) = role_name {
                    answer["role_name"] = json!(role_name);
                }
                Answer::json(200, answer)
            }
            None => Answer::error(404, &format!("{login} is not a user")),
        },
        RepoOp::Contents { path } => {
            let git_ref = query.get("ref").cloned().unwrap_or_default();
            contents(state, repo, &git_ref, path)
        }
        RepoOp::Branch { name } => match state.branches.get(&(repo_key, name.clone())) {
            Some(sha) => Answer::json(200, json!({ "name": name, "commit": { "sha": sha } })),
            None => Answer::error(404, "Branch not found"),
        },
        RepoOp::PullRequest { number } => match state.pulls.get(&(repo_key.clone(), *number)) {
            Some(pull) => Answer::json(
                200,
                json!({
                    "number": pull.number,
                    "state": pull.state,
                    "user": {
                        "login": state
                            .pull_authors
                            .get(&(repo_key, *number))
                            .map_or(super::DEFAULT_PULL_AUTHOR, String::as_str),
                    },
                    "merged": state
                        .merges
                        .iter()
                        .any(|merge| merge.repo == repo && merge.number == *number),
                    "head": {
                        "sha": pull.head_sha,
                        "ref": pull.head_ref,
                        "repo": pull.head_repo.as_ref().map(|name| json!({ "full_name": name })),
                    },
                    "base": { "ref": pull.base_ref, "sha": "0".repeat(40), "repo": { "full_name": repo } },
                }),
            ),
            None => Answer::error(404, "Not Found"),
        },
        RepoOp::Issue { number } => match state.issues.get(&(repo_key.clone(), *number)) {
            Some((title, text)) => Answer::json(
                200,
                json!({ "number": number, "title": title, "body": text }),
            ),
            None => Answer::error(404, "Not Found"),
        },
        RepoOp::PullFiles { number } => {
            let files = state
                .pull_files
                .get(&(repo_key.clone(), *number))
                .cloned()
                .unwrap_or_default();
            let page: usize = query
                .get("page")
                .and_then(|page| page.parse().ok())
                .unwrap_or(1);
            // GitHub lists at most 3,000 files of a pull request.
            let files: Vec<_> = files
                .iter()
                .take(shared::ports::MAX_PULL_REQUEST_FILES)
                .skip((page.saturating_sub(1)) * 100)
                .take(100)
                .map(|(name, patch)| json!({ "filename": name, "status": "modified", "patch": patch }))
                .collect();
            Answer::json(200, json!(files))
        }
        RepoOp::IssueCommentReaction { id } => react(state, repo, "issue", *id, body),
        RepoOp::ReviewCommentReaction { id } => react(state, repo, "review", *id, body),
        RepoOp::CreateComment { issue } => {
            let Some(text) = body.and_then(|body| body["body"].as_str()) else {
                return Answer::refuse(422, "body is missing", "comment without a body");
            };
            if let Some(refused) = super::limits::body("IssueComment", text) {
                return refused;
            }
            let comment = FakeComment {
                id: state.next_id(),
                repo: repo.to_owned(),
                issue: *issue,
                body: text.to_owned(),
                login: BOT_LOGIN.to_owned(),
                user_type: "Bot".to_owned(),
                created_at: SystemTime::now(),
            };
            let answer = comment_json(&comment);
            state.comments.push(comment);
            Answer::json(201, answer)
        }
        RepoOp::ListComments { issue } => list_comments(state, repo, *issue, query),
        RepoOp::UpdateComment { id } => {
            let Some(text) = body.and_then(|body| body["body"].as_str()) else {
                return Answer::refuse(422, "body is missing", "comment update without a body");
            };
            if let Some(refused) = super::limits::body("IssueComment", text) {
                return refused;
            }
            let Some(comment) = state
                .comments
                .iter_mut()
                .find(|comment| comment.id == *id && comment.repo == repo)
            else {
                return Answer::error(404, "Not Found");
            };
            // Stricter than a maintainer's token: an App's installation token edits the
            // App's own comments here, never a person's.
            if comment.login != BOT_LOGIN {
                return Answer::error(403, "Resource not accessible by integration");
            }
            text.clone_into(&mut comment.body);
            let answer = comment_json(comment);
            Answer::json(200, answer)
        }
        RepoOp::ListReviewComments { number } => {
            super::pulls::review_comments(state, repo, *number, query)
        }
        RepoOp::AddLabels { issue } => add_labels(state, repo, *issue, body),
        RepoOp::RemoveLabel { issue, name } => {
            let labels = state.labels.entry((repo_key, *issue)).or_default();
            if labels.remove(name) {
                Answer::json(200, labels_json(labels))
            } else {
                Answer::error(404, "Label does not exist")
            }
        }
        RepoOp::Compare { basehead } => {
            match state.compares.get(&(repo_key.clone(), basehead.clone())) {
                // GitHub lists a comparison's files only on its first page, at most 300.
                Some(files) => Answer::json(
                    200,
                    json!({
                        "status": "ahead",
                        "files": files
                            .iter()
                            .take(shared::ports::MAX_COMPARE_FILES)
                            .map(|(name, patch)| match patch {
                                Some(patch) => json!({ "filename": name, "status": "modified", "patch": patch }),
                                None => json!({ "filename": name, "status": "modified" }),
                            })
                            .collect::<Vec<_>>(),
                    }),
                ),
                None => Answer::error(404, "Not Found"),
            }
        }
        RepoOp::CreateCheckRun => create_check_run(state, repo, body),
        RepoOp::Repository => match state.repositories.get(repo) {
            Some((id, default_branch, private)) => Answer::json(
                200,
                json!({
                    "id": id,
                    "name": repo.rsplit('/').next().unwrap_or(repo),
                    "full_name": repo,
                    "default_branch": default_branch,
                    "private": private,
                }),
            ),
            None => Answer::error(404, "Not Found"),
        },
        RepoOp::CreateIssue => create_issue(state, repo, body),
        RepoOp::ListPulls => super::pulls::list(state, repo, query),
        RepoOp::CreatePull => super::pulls::create(state, repo, body),
        RepoOp::ListReviews { number } => super::pulls::reviews(state, repo, *number, query),
        RepoOp::MergePull { number } => super::pulls::merge(state, repo, *number, body),
        RepoOp::CreateReview { number } => super::pulls::review(state, repo, *number, body),
        RepoOp::UpdateCheckRun { id } => {
            let Some(Value::Object(fields)) = body else {
                return Answer::refuse(422, "Invalid request", "update without a JSON object");
            };
            if let Some(refused) = super::limits::check_output(fields) {
                return refused;
            }
            let Some(run) = state
                .check_runs
                .iter_mut()
                .find(|run| run.id == *id && run.repo == repo)
            else {
                return Answer::error(404, "Not Found");
            };
            for (name, value) in fields {
                run.fields.insert(name.clone(), value.clone());
            }
            if run.fields.contains_key("conclusion") {
                run.fields.insert("status".to_owned(), json!("completed"));
            }
            Answer::json(200, check_run_json(run))
        }
        RepoOp::SuiteCheckRuns { suite } => {
            let Some(runs) = state.ci_suites.get(&(repo.to_owned(), *suite)) else {
                return Answer::error(404, "Not Found");
            };
            // Every run the fake holds is completed and the latest of its name, so
            // `filter=latest` and `status=completed` keep them all; another status none.
            let wanted = query
                .get("status")
                .is_none_or(|status| status == "completed");
            let runs: Vec<Value> = runs
                .iter()
                .filter(|_| wanted)
                .map(|(id, run)| {
                    json!({
                        "id": id,
                        "name": run.name,
                        "status": "completed",
                        "conclusion": run.conclusion,
                        "check_suite": { "id": suite },
                        "app": { "id": CI_APP_ID, "slug": "github-actions" },
                        "output": {
                            "title": run.title,
                            "summary": run.summary,
                            "text": run.text,
                            "annotations_count": run.annotations.len(),
                        },
                    })
                })
                .collect();
            Answer::json(
                200,
                json!({ "total_count": runs.len(), "check_runs": runs }),
            )
        }
        RepoOp::CheckRunAnnotations { id } => {
            let Some(run) = state
                .ci_suites
                .iter()
                .filter(|((suite_repo, _), _)| suite_repo == repo)
                .flat_map(|(_, runs)| runs)
                .find(|(run_id, _)| run_id == id)
            else {
                return Answer::error(404, "Not Found");
            };
            let per_page = query
                .get("per_page")
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(30)
                .min(100);
            let notes: Vec<Value> = run
                .1
                .annotations
                .iter()
                .take(per_page)
                .map(|(path, line, level, message)| {
                    json!({
                        "path": path,
                        "start_line": line,
                        "end_line": line,
                        "annotation_level": level,
                        "message": message,
                    })
                })
                .collect();
            Answer::json(200, Value::Array(notes))
        }
        RepoOp::ListCheckRuns { sha } => {
            let wanted_app = query.get("app_id").map(String::as_str);
            let ours = wanted_app.is_none_or(|app| app == APP_ID.to_string());
            let ci = wanted_app.is_none_or(|app| app == CI_APP_ID.to_string());
            let named = |name: &Value| {
                query
                    .get("check_name")
                    .is_none_or(|wanted| *name == json!(wanted))
            };
            let own_runs = state
                .check_runs
                .iter()
                .filter(|_| ours)
                .filter(|run| run.repo == repo && run.fields["head_sha"] == json!(sha))
                .filter(|run| named(&run.fields["name"]))
                .map(check_run_json);
            let ci_runs = state
                .head_runs
                .get(&(repo_key, sha.clone()))
                .into_iter()
                .flatten()
                .filter(|_| ci)
                .filter(|(_, run)| named(&json!(run.name)))
                .map(|(id, run)| {
                    json!({
                        "id": id,
                        "name": run.name,
                        "head_sha": sha,
                        "status": run.status,
                        "conclusion": run.conclusion,
                        "app": { "id": CI_APP_ID, "slug": "github-actions" },
                    })
                });
            let all: Vec<Value> = own_runs.chain(ci_runs).collect();
            // Paged as GitHub pages them: `per_page` at most 100, `page` from 1.
            let Paging { per_page, page } = Paging::from_query(query);
            let runs: Vec<&Value> = all
                .iter()
                .skip((page - 1) * per_page)
                .take(per_page)
                .collect();
            Answer::json(200, json!({ "total_count": all.len(), "check_runs": runs }))
        }
    }
}

/// `POST /repos/{o}/{r}/issues`: a title is required; the number is the repository's next
/// (issues and pull requests share one sequence), and unknown labels are created.
fn create_issue(state: &mut State, repo: &str, body: Option<&Value>) -> Answer {
    let Some(title) = body.and_then(|body| body["title"].as_str()) else {
        return Answer::refuse(422, "Invalid request", "an issue without a title");
    };
    let text = body
        .and_then(|body| body["body"].as_str())
        .unwrap_or_default();
    if let Some(refused) = super::limits::body("Issue", text) {
        return refused;
    }
    let taken = state
        .issues
        .keys()
        .chain(state.pulls.keys())
        .chain(state.labels.keys())
        .filter(|(r, _)| r == repo)
        .map(|(_, number)| *number)
        .chain(
            state
                .comments
                .iter()
                .filter(|c| c.repo == repo)
                .map(|c| c.issue),
        );
    let number = taken.max().unwrap_or(0) + 1;
    state.issues.insert(
        (repo.to_owned(), number),
        (title.to_owned(), text.to_owned()),
    );
    state
        .opened_issues
        .push((repo.to_owned(), number, title.to_owned()));
    if let Some(Value::Array(labels)) = body.map(|body| &body["labels"]) {
        let names = labels.iter().filter_map(|l| l.as_str().map(str::to_owned));
        state
            .labels
            .entry((repo.to_owned(), number))
            .or_default()
            .extend(names);
    }
    Answer::json(
        201,
        json!({ "number": number, "title": title, "body": text, "state": "open" }),
    )
}

/// Adds to the issue's labels, as `POST .../labels` does (GitHub creates unknown labels).
fn add_labels(state: &mut State, repo: &str, issue: u64, body: Option<&Value>) -> Answer {
    let Some(names) = body.and_then(|body| body["labels"].as_array()) else {
        return Answer::refuse(422, "Invalid request", "labels without a `labels` list");
    };
    let names: Option<Vec<String>> = names
        .iter()
        .map(|name| name.as_str().map(str::to_owned))
        .collect();
    let Some(names) = names else {
        return Answer::refuse(422, "Invalid request", "a label that is not a string");
    };
    let labels = state.labels.entry((repo.to_owned(), issue)).or_default();
    labels.extend(names);
    Answer::json(200, labels_json(labels))
}

fn labels_json(labels: &std::collections::BTreeSet<String>) -> Value {
    Value::Array(
        labels
            .iter()
            .map(|name| json!({ "name": name, "color": "ededed" }))
            .collect(),
    )
}

/// `GET /repos/{o}/{r}/contents/{path}`: GitHub tells a missing file, a missing ref and an
/// empty repository apart only by the 404's `message`; over 1 MB it sends
/// `encoding: "none"` and no content ("Get repository content", REST API docs: files of
/// 1–100 MB come without content unless the raw media type is asked for).
fn contents(state: &State, repo: &str, git_ref: &str, path: &str) -> Answer {
    if state.empty_repositories.contains(repo) {
        return Answer::error(404, "This repository is empty.");
    }
    if state
        .missing_refs
        .contains(&(repo.to_owned(), git_ref.to_owned()))
    {
        return Answer::error(404, &format!("No commit found for the ref {git_ref}"));
    }
    let key = (repo.to_owned(), git_ref.to_owned(), path.to_owned());
    if let Some(content) = state.files.get(&key) {
        let (encoding, encoded) = if content.len() > MAX_CONTENT_BYTES {
            ("none", String::new())
        } else {
            let encoded = base64::engine::general_purpose::STANDARD.encode(content);
            // GitHub wraps the base64 at 60 characters.
            let lines: Vec<String> = encoded
                .as_bytes()
                .chunks(60)
                .map(|line| String::from_utf8_lossy(line).into_owned())
                .collect();
            ("base64", lines.join("\n") + "\n")
        };
        return Answer::json(
            200,
            json!({
                "type": "file",
                "name": path.rsplit('/').next().unwrap_or(path),
                "path": path,
                "size": content.len(),
                "encoding": encoding,
                "content": encoded,
            }),
        );
    }
    let prefix = format!("{path}/");
    let listing: Vec<Value> = state
        .files
        .keys()
        .filter(|(r, g, p)| r == repo && g == git_ref && p.starts_with(&prefix))
        .map(|(_, _, p)| json!({ "type": "file", "path": p }))
        .collect();
    if listing.is_empty() {
        Answer::error(404, "Not Found")
    } else {
        Answer::json(200, Value::Array(listing))
    }
}

fn react(
    state: &mut State,
    repo: &str,
    target: &'static str,
    id: u64,
    body: Option<&Value>,
) -> Answer {
    let content = body.and_then(|body| body["content"].as_str()).unwrap_or("");
    if !REACTIONS.contains(&content) {
        return Answer::refuse(422, "Invalid reaction", format!("reaction {content:?}"));
    }
    let reaction = FakeReaction {
        repo: repo.to_owned(),
        target,
        comment_id: id,
        content: content.to_owned(),
    };
    let status = if state.reactions.contains(&reaction) {
        200
    } else {
        state.reactions.push(reaction);
        201
    };
    Answer::json(status, json!({ "id": state.next_id(), "content": content }))
}

fn comment_json(comment: &FakeComment) -> Value {
    json!({
        "id": comment.id,
        "body": comment.body,
        "user": { "login": comment.login, "type": comment.user_type },
        "created_at": timestamp(comment.created_at),
        "updated_at": timestamp(comment.created_at),
    })
}

fn list_comments(
    state: &State,
    repo: &str,
    issue: u64,
    query: &BTreeMap<String, String>,
) -> Answer {
    let since = match query
        .get("since")
        .map(|since| DateTime::parse_from_rfc3339(since))
    {
        None => None,
        Some(Ok(since)) => Some(SystemTime::from(since)),
        Some(Err(_)) => return Answer::refuse(422, "Invalid since", "since is not a timestamp"),
    };
    let Paging { per_page, page } = Paging::from_query(query);
    let comments: Vec<Value> = state
        .comments
        .iter()
        .filter(|comment| comment.repo == repo && comment.issue == issue)
        // GitHub compares at second precision.
        .filter(|comment| {
            since.is_none_or(|since| timestamp(comment.created_at) >= timestamp(since))
        })
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(comment_json)
        .collect();
    Answer::json(200, Value::Array(comments))
}

fn create_check_run(state: &mut State, repo: &str, body: Option<&Value>) -> Answer {
    let Some(Value::Object(fields)) = body else {
        return Answer::refuse(422, "Invalid request", "check run without a JSON object");
    };
    if !fields.get("name").is_some_and(Value::is_string)
        || !fields.get("head_sha").is_some_and(Value::is_string)
    {
        return Answer::refuse(422, "Invalid request", "check run without name or head_sha");
    }
    if let Some(refused) = super::limits::check_output(fields) {
        return refused;
    }
    let run = FakeCheckRun {
        id: state.next_id(),
        repo: repo.to_owned(),
        fields: fields.clone(),
    };
    let answer = check_run_json(&run);
    state.check_runs.push(run);
    Answer::json(201, answer)
}

fn check_run_json(run: &FakeCheckRun) -> Value {
    let mut value = Value::Object(run.fields.clone());
    value["id"] = json!(run.id);
    value["app"] = json!({ "id": APP_ID, "slug": MANIFEST_APP_SLUG });
    value
}
