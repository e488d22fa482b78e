//! A real Git server over HTTP for the runner's tests: bare repositories on disk served by
//! `git http-backend` (CGI) behind a small HTTP server on a loopback port. Every request
//! must carry HTTP Basic `x-access-token:<token>` with a token the check accepts (the fake
//! GitHub's [`crate::fake_github::FakeGitHub::token_checker`]); requests are recorded,
//! without their credentials. Helpers create repositories with files and commits and read
//! what was pushed.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State as Shared;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use base64::Engine;
use ota_github::Endpoint;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use tempfile::TempDir;
use tokio::io::AsyncWriteExt;

/// The branch new repositories start on.
pub const DEFAULT_BRANCH: &str = "main";

/// Who makes the repositories' commits.
const AUTHOR: (&str, &str) = ("Test Author", "author@example.com");

type TokenCheck = dyn Fn(&str, &str, Endpoint) -> bool + Send + Sync;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct GitRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    /// The request carried an accepted credential.
    pub authorized: bool,
    pub status: u16,
}

struct Inner {
    root: PathBuf,
    check: Box<TokenCheck>,
    requests: Mutex<Vec<GitRequest>>,
}

/// The running server. Dropping it stops the server and deletes the repositories.
pub struct GitServer {
    addr: SocketAddr,
    inner: Arc<Inner>,
    _root: TempDir,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for GitServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Runs git synchronously for set-up and inspection; panics with git's output on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", AUTHOR.0)
        .env("GIT_AUTHOR_EMAIL", AUTHOR.1)
        .env("GIT_COMMITTER_NAME", AUTHOR.0)
        .env("GIT_COMMITTER_EMAIL", AUTHOR.1)
        .stdin(Stdio::null())
        .output()
        .expect("run git");
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

impl GitServer {
    /// Serves the repositories under a new temporary directory; `check(repo, token,
    /// endpoint)` decides which tokens may fetch ([`Endpoint::GitFetch`]) and push
    /// ([`Endpoint::GitPush`]) `repo` (`owner/name`).
    pub async fn start(
        check: impl Fn(&str, &str, Endpoint) -> bool + Send + Sync + 'static,
    ) -> Self {
        let root = tempfile::tempdir().expect("git server root");
        let inner = Arc::new(Inner {
            root: root.path().to_owned(),
            check: Box::new(check),
            requests: Mutex::new(Vec::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the git server");
        let addr = listener.local_addr().expect("git server address");
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            inner,
            _root: root,
            server,
        }
    }

    /// The Git host root: repositories are at `{base_url}/{owner}/{name}.git`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bare repository of `repo` (`owner/name`) on disk.
    pub fn bare_path(&self, repo: &str) -> PathBuf {
        self.inner.root.join(format!("{repo}.git"))
    }

    /// Creates `repo` with one commit of `files` on [`DEFAULT_BRANCH`]; returns its sha.
    pub fn create_repo(&self, repo: &str, files: &[(&str, &str)]) -> String {
        let bare = self.bare_path(repo);
        std::fs::create_dir_all(&bare).expect("bare repository directory");
        git(&bare, &["init", "--quiet", "--bare", "-b", DEFAULT_BRANCH]);
        git(&bare, &["config", "http.receivepack", "true"]);
        git(&bare, &["config", "uploadpack.allowFilter", "true"]);
        git(&bare, &["config", "uploadpack.allowAnySHA1InWant", "true"]);
        self.commit(repo, DEFAULT_BRANCH, files, "Initial commit")
    }

    /// Adds a commit of `files` on `branch` (created from the default branch if new);
    /// returns its sha.
    pub fn commit(
        &self,
        repo: &str,
        branch: &str,
        files: &[(&str, &str)],
        message: &str,
    ) -> String {
        let bare = self.bare_path(repo);
        let work = tempfile::tempdir().expect("work tree");
        let dir = work.path();
        git(dir, &["init", "--quiet", "-b", branch]);
        let has = |name: &str| !git(&bare, &["branch", "--list", name]).trim().is_empty();
        let start = if has(branch) {
            Some(branch)
        } else if has(DEFAULT_BRANCH) {
            Some(DEFAULT_BRANCH)
        } else {
            None
        };
        if let Some(start) = start {
            let bare_url = bare.to_string_lossy().into_owned();
            git(dir, &["fetch", "--quiet", &bare_url, start]);
            git(dir, &["reset", "--quiet", "--hard", "FETCH_HEAD"]);
        }
        for (path, content) in files {
            crate::agent_harness::write(dir, path, content);
        }
        git(dir, &["add", "--all"]);
        git(dir, &["commit", "--quiet", "--allow-empty", "-m", message]);
        let bare_url = bare.to_string_lossy().into_owned();
        git(
            dir,
            &[
                "push",
                "--quiet",
                &bare_url,
                &format!("HEAD:refs/heads/{branch}"),
            ],
        );
        git(dir, &["rev-parse", "HEAD"]).trim().to_owned()
    }

    /// The commit `branch` points at, if the branch exists.
    pub fn branch_head(&self, repo: &str, branch: &str) -> Option<String> {
        let out = Command::new("git")
            .args([
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("refs/heads/{branch}"),
            ])
            .current_dir(self.bare_path(repo))
            .output()
            .expect("run git");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// A file at `rev` (`branch:path` style revision and path).
    pub fn show(&self, repo: &str, rev: &str, path: &str) -> String {
        git(&self.bare_path(repo), &["show", &format!("{rev}:{path}")])
    }

    /// Runs git in `repo`'s bare repository.
    pub fn git(&self, repo: &str, args: &[&str]) -> String {
        git(&self.bare_path(repo), args)
    }

    pub fn requests(&self) -> Vec<GitRequest> {
        self.inner
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// `owner/name` from `/owner/name.git/...`.
fn repo_of(path: &str) -> Option<String> {
    let mut parts = path.trim_start_matches('/').splitn(3, '/');
    let owner = parts.next()?;
    let name = parts.next()?.strip_suffix(".git")?;
    Some(format!("{owner}/{name}"))
}

/// The token of an `Authorization: Basic x-access-token:<token>` header.
fn token_of(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    text.strip_prefix("x-access-token:").map(str::to_owned)
}

async fn handle(
    Shared(inner): Shared<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or("").to_owned();
    // A push asks for `git-receive-pack` (in the path, or as the service of its refs).
    let endpoint = if path.ends_with("git-receive-pack") || query.contains("git-receive-pack") {
        Endpoint::GitPush
    } else {
        Endpoint::GitFetch
    };
    let authorized = match (repo_of(&path), token_of(&headers)) {
        (Some(repo), Some(token)) => (inner.check)(&repo, &token, endpoint),
        _ => false,
    };
    let response = if authorized {
        cgi(&inner.root, &method, &path, &query, &headers, body).await
    } else {
        Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header("www-authenticate", "Basic realm=\"git\"")
            .body(Body::from("authentication required\n"))
            .unwrap_or_default()
    };
    inner
        .requests
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(GitRequest {
            method: method.to_string(),
            path,
            query,
            authorized,
            status: response.status().as_u16(),
        });
    response
}

/// Runs `git http-backend` for one request and turns its CGI answer into a response.
async fn cgi(
    root: &Path,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let mut cmd = tokio::process::Command::new("git");
    cmd.arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("REQUEST_METHOD", method.as_str())
        .env("CONTENT_TYPE", header("content-type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", header("content-encoding"))
        .env("GIT_PROTOCOL", header("git-protocol"))
        .env("REMOTE_USER", "x-access-token")
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let failed = |why: String| {
        Response::builder()
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .body(Body::from(why))
            .unwrap_or_default()
    };
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(err) => return failed(format!("git http-backend: {err}")),
    };
    if let Some(mut stdin) = child.stdin.take() {
        // Written on its own task: the backend may answer before it read everything.
        tokio::spawn(async move {
            let _ = stdin.write_all(&body).await;
        });
    }
    let output = match child.wait_with_output().await {
        Ok(output) => output,
        Err(err) => return failed(format!("git http-backend: {err}")),
    };
    let raw = output.stdout;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| (at, 4))
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|at| (at, 2)));
    let Some((at, gap)) = split else {
        return failed(format!(
            "git http-backend gave no headers: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    };
    let head = String::from_utf8_lossy(&raw[..at]).into_owned();
    let mut response = Response::builder().status(StatusCode::OK);
    for line in head.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value
                .split_whitespace()
                .next()
                .and_then(|code| code.parse::<u16>().ok())
                .unwrap_or(500);
            response = response.status(code);
        } else {
            response = response.header(name.trim(), value);
        }
    }
    response
        .body(Body::from(raw[at + gap..].to_vec()))
        .unwrap_or_default()
}
