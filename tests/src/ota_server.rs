//! `ota serve` as a user runs it: the real binary in a child process, with its data
//! directory in a temporary folder, pointed at a [`FakeGitHub`], a real Git server and a
//! [`FakeOllama`]. Deliveries are signed and posted over HTTP; the process can be killed
//! with SIGKILL and started again on the same data directory.

use crate::delivery::Delivery;
use crate::fake_github::{APP_ID, FakeGitHub, PRIVATE_KEY_PEM};
use crate::fake_github::{FakeCheckRun, FakeComment, FakeOpenedPull};
use crate::fake_ollama::{ChatReply, FakeOllama};
use crate::fake_ollama_models::FakeModel;
use crate::git_server::{DEFAULT_BRANCH, GitServer};
use crate::policy::pull;
use crate::{fixtures, unique};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The repository of the deliveries.
pub const REPO: &str = "Codertocat/Hello-World";
/// The installation of the deliveries.
pub const INSTALLATION: u64 = 4242;
/// The pull request the commands are posted on.
pub const PR: u64 = 2;
/// The pull request's branch.
pub const PR_BRANCH: &str = "changes";
/// The webhook secret the server is started with.
pub const SECRET: &str = "test webhook secret for ota serve";
/// The App's slug.
pub const APP_SLUG: &str = "ollama-turbo-agent";

/// Long enough for a clone, an agent run and a push on a loaded 2-core machine.
pub const JOB_TIMEOUT: Duration = Duration::from_secs(90);

/// `/ollama refactor …` on pull request #2 by `login`, signed.
pub fn refactor_request(login: &str) -> Delivery {
    Delivery::json(
        "issue_comment",
        &pr_comment(login, "/ollama refactor extract the retry loop"),
        SECRET,
    )
}

/// The fakes and the repository a server works against.
pub struct ServeWorld {
    pub github: FakeGitHub,
    pub git: GitServer,
    pub ollama: FakeOllama,
    /// The pull request's head: the commit jobs start from.
    pub head: String,
    pub data_dir: tempfile::TempDir,
}

impl ServeWorld {
    /// [`REPO`] with `files` and `.ollama-turbo.yml` = `config` on its default branch and
    /// on pull request #2's branch; `Codertocat` may write to it.
    pub async fn new(files: &[(&str, &str)], config: &str) -> Self {
        let github = FakeGitHub::start().await;
        let git = GitServer::start(github.token_checker()).await;
        let ollama = FakeOllama::start().await;
        // The model the tests' configurations name, as Ollama's library has it.
        ollama.add_model(FakeModel::qwen3_coder());
        let mut all = files.to_vec();
        all.push((".ollama-turbo.yml", config));
        let base = git.create_repo(REPO, &all);
        let head = git.commit(
            REPO,
            PR_BRANCH,
            &[("NOTES.md", "work in progress\n")],
            "Start the change",
        );
        github.set_branch(REPO, DEFAULT_BRANCH, &base);
        github.set_pull_request(
            REPO,
            crate::fake_github::FakePull {
                base_ref: DEFAULT_BRANCH.to_owned(),
                ..pull(&head, Some(REPO))
            },
        );
        for git_ref in ["", DEFAULT_BRANCH, PR_BRANCH, head.as_str()] {
            github.set_file(REPO, git_ref, ".ollama-turbo.yml", config);
        }
        github.set_role(REPO, "Codertocat", "write");
        Self {
            github,
            git,
            ollama,
            head,
            data_dir: tempfile::tempdir().expect("data directory"),
        }
    }

    /// The usual repository: `src/lib.rs` is [`crate::runner_world::LIB`], and the
    /// refactor runs `command`.
    pub async fn with_lib(command: &str) -> Self {
        Self::new(
            &[("src/lib.rs", crate::runner_world::LIB)],
            &crate::runner_world::config_with_command(command),
        )
        .await
    }

    /// The model's part of a short refactor: `src/lib.rs` rewritten as
    /// [`crate::runner_world::REFACTORED`], then done.
    pub fn script_quick_refactor(&self) {
        self.ollama
            .push(ChatReply::call(
                "write_file",
                json!({"path": "src/lib.rs", "content": crate::runner_world::REFACTORED}),
            ))
            .push(ChatReply::finish("Extracted the retry loop."));
    }

    /// The model's part of a checked refactor: reads `src/lib.rs`, rewrites it as
    /// [`crate::runner_world::REFACTORED`], runs the task's command, then is done.
    pub fn script_checked_refactor(&self) {
        self.ollama
            .push(ChatReply::read_file("src/lib.rs"))
            .push(ChatReply::call(
                "write_file",
                json!({"path": "src/lib.rs", "content": crate::runner_world::REFACTORED}),
            ))
            .push(ChatReply::call("run_command", json!({})))
            .push(ChatReply::finish(
                "Extracted the retry loop into `retry_with_backoff`.",
            ));
    }

    /// The first comment on pull request #2 that contains `needle`, once there is one.
    pub async fn comment_containing(
        &self,
        server: &OtaServer,
        what: &str,
        needle: &str,
    ) -> FakeComment {
        eventually(server, what, JOB_TIMEOUT, || {
            self.github
                .comments(REPO, PR)
                .into_iter()
                .find(|comment| comment.body.contains(needle))
        })
        .await
    }

    /// The first check run that was completed, whatever its conclusion, once there is one.
    pub async fn first_completed_check_run(&self, server: &OtaServer, what: &str) -> FakeCheckRun {
        eventually(server, what, JOB_TIMEOUT, || {
            self.github
                .check_runs(REPO)
                .into_iter()
                .find(|run| run.fields.get("status") == Some(&json!("completed")))
        })
        .await
    }

    /// The first pull request a job opened, once there is one.
    pub async fn opened_pull(&self, server: &OtaServer) -> FakeOpenedPull {
        eventually(server, "the pull request", JOB_TIMEOUT, || {
            self.github.opened_pulls(REPO).into_iter().next()
        })
        .await
    }

    /// The first check run that was completed with `conclusion`, once there is one.
    pub async fn completed_check_run(&self, server: &OtaServer, conclusion: &str) -> FakeCheckRun {
        let what = format!("a check run completed as {conclusion}");
        eventually(server, &what, JOB_TIMEOUT, || {
            self.github.check_runs(REPO).into_iter().find(|run| {
                run.fields.get("status") == Some(&json!("completed"))
                    && run.fields.get("conclusion") == Some(&json!(conclusion))
            })
        })
        .await
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// The environment `ota serve` gets, as a user would set it.
    pub fn environment(&self) -> Vec<(String, String)> {
        [
            ("APP_ID", APP_ID.to_string()),
            ("PRIVATE_KEY", PRIVATE_KEY_PEM.to_owned()),
            ("WEBHOOK_SECRET", SECRET.to_owned()),
            ("APP_SLUG", APP_SLUG.to_owned()),
            ("GITHUB_API_URL", self.github.base_url()),
            ("GIT_BASE_URL", self.git.base_url()),
            ("OLLAMA_HOST", self.ollama.host()),
            ("RUST_LOG", "info".to_owned()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
    }

    /// Starts `ota serve` (the binary at `program`) with [`Self::environment`] and `args`.
    /// A server with the dashboard's sign-in, on which the App has been installed (an
    /// `installation.created` delivery), once its installation page is listed; with the
    /// page's path, where an operator writes the installation's policies.
    pub async fn serve_installed(&self, program: &str, args: &[&str]) -> (OtaServer, String) {
        let environment = crate::dashboard_client::oauth_environment(self);
        let server = OtaServer::start_with(program, self.data_dir(), &environment, args);
        let created = Delivery::json(
            "installation",
            &crate::policy::installation_event("created"),
            SECRET,
        );
        assert_eq!(server.post(&created).await.0, 202);
        let page = format!("/installations/{INSTALLATION}");
        let deadline = Instant::now() + JOB_TIMEOUT;
        loop {
            let (_, list) = server.get("/installations").await;
            if list.contains(&format!("href=\"{page}\"")) {
                break;
            }
            assert!(Instant::now() < deadline, "no installation: {list}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        (server, page)
    }

    pub fn serve(&self, program: &str, args: &[&str]) -> OtaServer {
        OtaServer::start(program, self.data_dir(), &self.environment(), args)
    }

    /// `ota jobs` on this world's data directory, which must succeed: its listing.
    pub fn job_list(&self, program: &str) -> String {
        let (ok, out) = self.ota(program, &["jobs"]);
        assert!(ok, "ota jobs failed: {out}");
        out
    }

    /// The job's status, as the first line of `ota job <id>` ends.
    pub fn job_status(&self, program: &str, id: &str) -> String {
        let (ok, details) = self.ota(program, &["job", id]);
        assert!(ok, "{details}");
        details
            .lines()
            .next()
            .and_then(|line| line.rsplit(" · ").next())
            .unwrap_or_default()
            .to_owned()
    }

    /// Runs an `ota` command on this world's data directory; returns its exit status
    /// and output.
    pub fn ota(&self, program: &str, args: &[&str]) -> (bool, String) {
        let output = Command::new(program)
            .args(args)
            .arg("--data-dir")
            .arg(self.data_dir())
            .env_remove("OTA_DATA_DIR")
            .output()
            .expect("run ota");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), text)
    }
}

/// The id of the first job of an `ota jobs` listing (below its header line).
pub fn first_job_id(listing: &str) -> Option<String> {
    listing
        .lines()
        .nth(1)
        .and_then(|line| line.split_whitespace().next())
        .map(str::to_owned)
}

/// A comment on pull request #2 by `login`, as the App receives it.
pub fn pr_comment(login: &str, body: &str) -> Value {
    let mut payload = fixtures::as_app_delivery(
        fixtures::example("issue_comment", Some("created")),
        INSTALLATION,
    );
    payload["installation"]["id"] = json!(INSTALLATION);
    payload["comment"]["body"] = json!(body);
    payload["comment"]["id"] = json!(rand_id());
    payload["comment"]["user"]["login"] = json!(login);
    payload["sender"]["login"] = json!(login);
    payload["repository"]["default_branch"] = json!(DEFAULT_BRANCH);
    payload["issue"]["number"] = json!(PR);
    payload["issue"]["pull_request"] =
        json!({ "url": format!("https://api.github.com/repos/{REPO}/pulls/{PR}") });
    payload
}

fn rand_id() -> u64 {
    let text = unique("c");
    text.bytes().fold(1_000_000u64, |acc, byte| {
        acc.wrapping_mul(31).wrapping_add(u64::from(byte))
    }) % 1_000_000_000
}

/// One `ota serve` process.
pub struct OtaServer {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The operator's token, from the sign-in link it printed (or `OTA_OPERATOR_TOKEN`).
    pub operator_token: String,
    /// Where its stderr (its log) goes.
    pub log: PathBuf,
}

impl OtaServer {
    /// Starts `ota serve` on `data_dir` with exactly `env` (besides the inherited
    /// environment, from which the App's settings are removed) and `args`.
    pub fn start_with(
        program: &str,
        data_dir: &Path,
        env: &[(String, String)],
        args: &[&str],
    ) -> Self {
        Self::start(program, data_dir, env, args)
    }

    fn start(program: &str, data_dir: &Path, env: &[(String, String)], args: &[&str]) -> Self {
        let log = data_dir.join(format!("{}.log", unique("serve")));
        std::fs::create_dir_all(data_dir).expect("data directory");
        let log_file = std::fs::File::create(&log).expect("server log");
        let mut child = Command::new(program)
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .env_remove("OLLAMA_API_KEY")
            .env_remove("APP_ID")
            .env_remove("PRIVATE_KEY")
            .env_remove("PRIVATE_KEY_PATH")
            .env_remove("WEBHOOK_SECRET")
            .env_remove("OTA_DATA_DIR")
            .envs(
                env.iter()
                    .map(|(name, value)| (name.as_str(), value.as_str())),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .expect("start ota serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut url = None;
        let sign_in = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(rest) = line.split("listening on ").nth(1) {
                        url = Some(rest.trim().to_owned());
                    }
                    if let Some(rest) = line.split("sign in: ").nth(1) {
                        break rest.trim().to_owned();
                    }
                }
                _ => {
                    let _ = child.wait();
                    panic!(
                        "ota serve did not start; its log:\n{}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    );
                }
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let url = url.expect("the listening line comes before the sign-in line");
        let printed = sign_in
            .split_once("token=")
            .map(|(_, token)| token.to_owned())
            .expect("a sign-in link with its token");
        let operator_token = match printed.strip_prefix('$') {
            Some(variable) => env
                .iter()
                .find(|(name, _)| name == variable)
                .map(|(_, value)| value.clone())
                .expect("the variable the sign-in link names"),
            None => printed,
        };
        Self {
            child,
            url,
            operator_token,
            log,
        }
    }

    /// Posts a signed delivery; returns the status and the JSON answer.
    pub async fn post(&self, delivery: &Delivery) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .post(format!("{}/webhook", self.url))
            .body(delivery.body.clone());
        if let Some(event) = &delivery.event {
            request = request.header("X-GitHub-Event", event);
        }
        if let Some(id) = &delivery.delivery_id {
            request = request.header("X-GitHub-Delivery", id);
        }
        if let Some(content_type) = &delivery.content_type {
            request = request.header("Content-Type", content_type);
        }
        if let Some(signature) = delivery.signature_header() {
            request = request.header("X-Hub-Signature-256", signature);
        }
        let response = request.send().await.expect("post the delivery");
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// GETs `path` as the operator (the token as a bearer token); returns the status and
    /// the body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = reqwest::Client::new()
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.operator_token)
            .send()
            .await
            .expect("get");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// POSTs the form `form` to `path` as the operator's script (the token as a bearer
    /// token: no form token needed), following no redirect; returns the status, the
    /// `Location` and the body.
    pub async fn post_as_operator(
        &self,
        path: &str,
        form: &[(&str, &str)],
    ) -> (u16, Option<String>, String) {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let response = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.operator_token)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("post");
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        (status, location, response.text().await.unwrap_or_default())
    }

    /// GETs `path` as anyone who can reach the server; returns the status and the body.
    pub async fn get_anonymously(&self, path: &str) -> (u16, String) {
        let response = reqwest::get(format!("{}{path}", self.url))
            .await
            .expect("get");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// Sends `method path` with `headers` (and a form `body`), as a browser that does not
    /// follow redirects: the status, the cookies set and the body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, &str)],
        form: Option<&str>,
    ) -> Answer {
        let mut request = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
            .request(method, format!("{}{path}", self.url));
        if let Some(form) = form {
            request = request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form.to_owned());
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("send the request");
        let status = response.status().as_u16();
        let set_cookies = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|value| value.to_str().ok().map(str::to_owned))
            .collect();
        let body = response.text().await.unwrap_or_default();
        Answer {
            status,
            set_cookies,
            body,
        }
    }

    /// Signs in as a browser does, with the printed link: the `name=value` of the session
    /// cookie the server set.
    pub async fn sign_in(&self) -> String {
        let response = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
            .get(format!("{}/signin?token={}", self.url, self.operator_token))
            .send()
            .await
            .expect("sign in");
        assert_eq!(response.status().as_u16(), 303, "sign-in did not redirect");
        response
            .headers()
            .get("set-cookie")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .expect("a session cookie")
            .to_owned()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, as a crash or `kill -9` would end it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OtaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What [`OtaServer::send`] got back.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// The `Set-Cookie` headers, whole.
    pub set_cookies: Vec<String>,
    pub body: String,
}

impl Answer {
    /// The `name=value` pair the answer set for the cookie `name`, if it set one with a
    /// value.
    pub fn cookie(&self, name: &str) -> Option<String> {
        let prefix = format!("{name}=");
        self.set_cookies
            .iter()
            .filter_map(|cookie| cookie.split(';').next())
            .find(|pair| pair.starts_with(&prefix) && pair.len() > prefix.len())
            .map(str::to_owned)
    }

    /// The whole `Set-Cookie` header for the cookie `name`.
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        let prefix = format!("{name}=");
        self.set_cookies
            .iter()
            .find(|cookie| cookie.starts_with(&prefix))
            .map(String::as_str)
    }
}

/// Waits until `check` returns `Some`, or panics with `what` and the server's log.
pub async fn eventually<T>(
    server: &OtaServer,
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        if Instant::now() > deadline {
            panic!(
                "timed out waiting for {what}; the server's log:\n{}",
                server.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
