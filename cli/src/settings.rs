//! What `ota serve` and its runners read at start-up: the flags, the environment (with the
//! names GitHub App developers know from Probot) and the App's credentials, from the
//! environment or, after the setup flow, from `app.json` in the data directory.

use crate::setup::AppFile;
use ota_runner::job::{DEFAULT_APP_SLUG, git_base_url};
use secrecy::{ExposeSecret, SecretString};
use shared::ids::AppId;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// github.com's REST API.
pub const DEFAULT_API_URL: &str = "https://api.github.com";
/// A local Ollama, as Ollama's own CLI defaults to.
pub const DEFAULT_OLLAMA_HOST: &str = "http://127.0.0.1:11434";
/// Ollama's hosted service.
pub const HOSTED_OLLAMA_URL: &str = "https://ollama.com";

/// The data directory, shared by every command that works on the local database.
#[derive(Debug, Clone, clap::Args)]
pub struct DataDir {
    /// Where the database, the App's credentials and the runner logs are kept.
    #[arg(long = "data-dir", env = "OTA_DATA_DIR", default_value = "./.ota")]
    pub path: PathBuf,
}

/// `ota serve`'s flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub data_dir: DataDir,
    /// The address to listen on: the webhook at `/webhook`, the status page at `/`.
    #[arg(long, env = "OTA_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,
    /// The URL GitHub reaches this server at (a tunnel's), for the App's webhook.
    #[arg(long, env = "OTA_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Runners at once on the self-hosted Ollama: its `OLLAMA_NUM_PARALLEL`.
    #[arg(long, env = "OTA_GPU_SLOTS", default_value_t = 1)]
    pub gpu_slots: u32,
    /// Runners at once on Ollama's hosted service (with `OLLAMA_API_KEY`).
    #[arg(long, env = "OTA_HOSTED_SLOTS", default_value_t = 2)]
    pub hosted_slots: u32,
    /// Runners at once of one installation.
    #[arg(long, env = "OTA_INSTALLATION_SLOTS", default_value_t = 4)]
    pub installation_slots: u32,
    /// Seconds before the first retry of a job that failed for a passing reason; each
    /// further retry waits twice as long, with full jitter (as the AWS deployment's
    /// `RetryIntervalSeconds`).
    #[arg(long, env = "OTA_RETRY_INTERVAL_SECONDS", default_value_t = shared::job::RETRY_INTERVAL.as_secs())]
    pub retry_interval_seconds: u64,
    /// Seconds between the schedules' ticks, each on the boundary of the interval: a
    /// minute, the unit of cron, unless the schedules' next fire times are to be looked
    /// at more often.
    #[arg(long, env = "OTA_SCHEDULE_TICK_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=60))]
    pub schedule_tick_seconds: u64,
    /// Seconds a client has to send a request's headers (and an idle connection is kept):
    /// a slower one is disconnected, so that stalled connections cannot pile up.
    #[arg(long, env = "OTA_HEADER_TIMEOUT_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout_seconds: u64,
    /// Seconds a client has to send a request's whole body once its headers arrived: a
    /// slower one is answered 408. GitHub sends a delivery at once.
    #[arg(long, env = "OTA_BODY_TIMEOUT_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub body_timeout_seconds: u64,
}

/// The App's identity and secrets.
#[derive(Clone)]
pub struct AppSettings {
    pub app_id: AppId,
    /// Its slug: commits are by `<slug>[bot]`, and its own comments are ignored.
    pub slug: String,
    pub private_key: SecretString,
    pub webhook_secret: SecretString,
    /// The webhook secret before the last rotation and until when it is still accepted
    /// (Unix milliseconds); only the data directory's file keeps one.
    pub previous_webhook_secret: Option<(SecretString, u64)>,
    /// Where they came from, for the log: the environment, or the data directory's file.
    pub source: String,
    /// Whether they came from the data directory's file, which the dashboard's settings
    /// page rotates them in (from the environment, they are rotated there).
    pub stored: bool,
}

impl std::fmt::Debug for AppSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppSettings")
            .field("app_id", &self.app_id)
            .field("slug", &self.slug)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Whether the App is configured.
#[derive(Debug, Clone)]
pub enum AppConfig {
    Ready(AppSettings),
    /// Nothing (or not all) is configured: what is missing, for the setup page.
    Missing(Vec<String>),
}

/// The environment's settings besides the App's.
#[derive(Debug, Clone)]
pub struct Environment {
    /// `GITHUB_API_URL`: github.com's API or a GitHub Enterprise Server's `https://HOST/api/v3`.
    pub api_url: String,
    /// `GIT_BASE_URL`, else the Git host that goes with the API.
    pub git_base_url: String,
    /// `OLLAMA_HOST`.
    pub ollama_host: String,
    /// `OLLAMA_API_KEY`: Ollama's hosted service's key.
    pub ollama_api_key: Option<SecretString>,
    /// `OTA_OPERATOR_TOKEN`: the token that opens the pages; generated and kept in the data
    /// directory when not set.
    pub operator_token: Option<SecretString>,
    /// `GITHUB_CLIENT_ID` and `GITHUB_CLIENT_SECRET`: the App's OAuth client, for the
    /// dashboard's sign-in with GitHub; when unset, the ones the setup stored.
    pub oauth_client: Option<(String, SecretString)>,
}

/// The shortest `OTA_OPERATOR_TOKEN` accepted: a token anyone could guess opens the
/// server's setup to them. (A generated one has 64 hex digits.)
pub const MIN_OPERATOR_TOKEN_CHARS: usize = 24;

impl Environment {
    /// Reads the environment through `var`, naming every wrong setting.
    pub fn read(var: &impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut problems = Vec::new();
        let api_url = non_empty(var("GITHUB_API_URL"))
            .unwrap_or_else(|| DEFAULT_API_URL.to_owned())
            .trim_end_matches('/')
            .to_owned();
        if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
            problems.push(format!(
                "GITHUB_API_URL must be an http(s) URL such as {DEFAULT_API_URL} or https://HOST/api/v3, not {api_url:?}"
            ));
        }
        let ollama_host =
            non_empty(var("OLLAMA_HOST")).unwrap_or_else(|| DEFAULT_OLLAMA_HOST.to_owned());
        if let Err(err) = ota_runner::ollama::OllamaHost::parse(&ollama_host) {
            problems.push(format!("OLLAMA_HOST: {err}"));
        }
        let git_base_url = non_empty(var("GIT_BASE_URL")).unwrap_or_else(|| git_base_url(&api_url));
        let operator_token = non_empty(var("OTA_OPERATOR_TOKEN"));
        if let Some(token) = &operator_token {
            let valid = token.chars().count() >= MIN_OPERATOR_TOKEN_CHARS
                && token.bytes().all(|byte| byte.is_ascii_graphic());
            if !valid {
                problems.push(format!(
                    "OTA_OPERATOR_TOKEN must be at least {MIN_OPERATOR_TOKEN_CHARS} printable \
                     characters without spaces (or unset it to have one generated)"
                ));
            }
        }
        let oauth_client = match (
            non_empty(var("GITHUB_CLIENT_ID")),
            non_empty(var("GITHUB_CLIENT_SECRET")),
        ) {
            (Some(id), Some(secret)) => Some((id, SecretString::from(secret))),
            (None, None) => None,
            (Some(_), None) => {
                problems.push("GITHUB_CLIENT_ID is set but GITHUB_CLIENT_SECRET is not; set both (the App's OAuth client) or neither".to_owned());
                None
            }
            (None, Some(_)) => {
                problems.push("GITHUB_CLIENT_SECRET is set but GITHUB_CLIENT_ID is not; set both (the App's OAuth client) or neither".to_owned());
                None
            }
        };
        if !problems.is_empty() {
            return Err(problems.join("; "));
        }
        Ok(Self {
            oauth_client,
            api_url,
            git_base_url,
            ollama_host,
            ollama_api_key: non_empty(var("OLLAMA_API_KEY")).map(SecretString::from),
            operator_token: operator_token.map(SecretString::from),
        })
    }

    /// The Ollama that jobs use when the installation's policy allows the hosted service
    /// and the local one is busy: the hosted service, when there is a key for it and the
    /// local Ollama is not already it.
    pub fn hosted_url(&self) -> Option<String> {
        let is_hosted = ota_runner::ollama::OllamaHost::parse(&self.ollama_host)
            .is_ok_and(|host| host.is_hosted());
        (self.ollama_api_key.is_some() && !is_hosted).then(|| HOSTED_OLLAMA_URL.to_owned())
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// The App's settings: from `APP_ID`, `PRIVATE_KEY` or `PRIVATE_KEY_PATH` and
/// `WEBHOOK_SECRET` if any of them is set, else from the data directory's `app.json`.
/// `Err` names every value that is set but wrong; missing ones make [`AppConfig::Missing`].
pub fn read_app(
    var: &impl Fn(&str) -> Option<String>,
    data_dir: &Path,
) -> Result<AppConfig, String> {
    let app_id = non_empty(var("APP_ID"));
    let key = non_empty(var("PRIVATE_KEY"));
    let key_path = non_empty(var("PRIVATE_KEY_PATH"));
    let secret = non_empty(var("WEBHOOK_SECRET"));
    let slug = non_empty(var("APP_SLUG"));
    if app_id.is_none() && key.is_none() && key_path.is_none() && secret.is_none() {
        return match AppFile::load(data_dir).map_err(|err| err.to_string())? {
            Some(file) => Ok(AppConfig::Ready(AppSettings {
                app_id: AppId(file.app_id),
                slug: slug.unwrap_or(file.slug),
                private_key: file.private_key,
                webhook_secret: file.webhook_secret,
                previous_webhook_secret: file.previous_webhook_secret,
                source: format!("{}", data_dir.join(crate::setup::APP_FILE).display()),
                stored: true,
            })),
            None => Ok(AppConfig::Missing(vec![
                "APP_ID is not set".to_owned(),
                "PRIVATE_KEY or PRIVATE_KEY_PATH is not set".to_owned(),
                "WEBHOOK_SECRET is not set".to_owned(),
            ])),
        };
    }
    let mut missing = Vec::new();
    let mut wrong = Vec::new();
    let app_id = match app_id {
        None => {
            missing.push("APP_ID is not set".to_owned());
            None
        }
        Some(raw) => match raw.parse::<u64>() {
            Ok(id) => Some(AppId(id)),
            Err(_) => {
                wrong.push(format!("APP_ID must be the App's numeric id, not {raw:?}"));
                None
            }
        },
    };
    let private_key = match (key, key_path) {
        (Some(key), _) => Some(SecretString::from(pem_from_env(&key))),
        (None, Some(path)) => match std::fs::read_to_string(&path) {
            Ok(text) => Some(SecretString::from(text)),
            Err(err) => {
                wrong.push(format!("PRIVATE_KEY_PATH: cannot read {path}: {err}"));
                None
            }
        },
        (None, None) => {
            missing.push("PRIVATE_KEY or PRIVATE_KEY_PATH is not set".to_owned());
            None
        }
    };
    if secret.is_none() {
        missing.push("WEBHOOK_SECRET is not set".to_owned());
    }
    if !wrong.is_empty() {
        wrong.extend(missing);
        return Err(wrong.join("; "));
    }
    match (app_id, private_key, secret) {
        (Some(app_id), Some(private_key), Some(secret)) => Ok(AppConfig::Ready(AppSettings {
            app_id,
            slug: slug.unwrap_or_else(|| DEFAULT_APP_SLUG.to_owned()),
            private_key,
            webhook_secret: SecretString::from(secret),
            previous_webhook_secret: None,
            source: "the environment".to_owned(),
            stored: false,
        })),
        _ => Ok(AppConfig::Missing(missing)),
    }
}

/// A PEM key as environments carry it: Probot accepts one with its line breaks written
/// as `\n`, on one line.
fn pem_from_env(raw: &str) -> String {
    if raw.contains('\n') {
        raw.to_owned()
    } else {
        raw.replace("\\n", "\n")
    }
}

/// A key that looks like PEM: checked properly when the GitHub client is built.
pub fn looks_like_pem(key: &SecretString) -> bool {
    key.expose_secret().contains("-----BEGIN")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn nothing_configured_is_missing_not_an_error() {
        let dir = tempfile::tempdir().expect("dir");
        let Ok(AppConfig::Missing(missing)) = read_app(&vars(&[]), dir.path()) else {
            panic!("expected missing settings");
        };
        assert_eq!(missing.len(), 3, "{missing:?}");
        assert!(missing[0].contains("APP_ID"));
    }

    #[test]
    fn wrong_values_are_named_with_the_missing_ones() {
        let dir = tempfile::tempdir().expect("dir");
        let err = read_app(
            &vars(&[
                ("APP_ID", "ollama"),
                ("PRIVATE_KEY_PATH", "/nonexistent/key.pem"),
            ]),
            dir.path(),
        )
        .expect_err("wrong");
        assert!(
            err.contains("APP_ID must be the App's numeric id, not \"ollama\""),
            "{err}"
        );
        assert!(
            err.contains("PRIVATE_KEY_PATH: cannot read /nonexistent/key.pem"),
            "{err}"
        );
        assert!(err.contains("WEBHOOK_SECRET is not set"), "{err}");
    }

    #[test]
    fn a_one_line_key_gets_its_line_breaks_back() {
        let dir = tempfile::tempdir().expect("dir");
        let config = read_app(
            &vars(&[
                ("APP_ID", "42"),
                (
                    "PRIVATE_KEY",
                    "-----BEGIN RSA PRIVATE KEY-----\\nabc\\n-----END RSA PRIVATE KEY-----",
                ),
                ("WEBHOOK_SECRET", "s3cret"),
            ]),
            dir.path(),
        )
        .expect("read");
        let AppConfig::Ready(app) = config else {
            panic!("expected a ready App");
        };
        assert_eq!(app.app_id, AppId(42));
        assert_eq!(app.slug, DEFAULT_APP_SLUG);
        assert!(
            app.private_key
                .expose_secret()
                .contains("-----\nabc\n-----")
        );
        assert!(!format!("{app:?}").contains("s3cret"));
    }

    #[test]
    fn the_environment_has_defaults_and_names_wrong_values() {
        let env = Environment::read(&vars(&[])).expect("defaults");
        assert_eq!(env.api_url, DEFAULT_API_URL);
        assert_eq!(env.git_base_url, "https://github.com");
        assert_eq!(env.ollama_host, DEFAULT_OLLAMA_HOST);
        assert_eq!(env.hosted_url(), None);
        let ghes = Environment::read(&vars(&[
            ("GITHUB_API_URL", "https://ghe.example.com/api/v3/"),
            ("OLLAMA_API_KEY", "key"),
        ]))
        .expect("ghes");
        assert_eq!(ghes.git_base_url, "https://ghe.example.com");
        assert_eq!(ghes.hosted_url().as_deref(), Some(HOSTED_OLLAMA_URL));
        let err =
            Environment::read(&vars(&[("GITHUB_API_URL", "api.github.com")])).expect_err("wrong");
        assert!(
            err.contains("GITHUB_API_URL must be an http(s) URL"),
            "{err}"
        );
    }

    #[test]
    fn a_guessable_operator_token_is_refused() {
        let err =
            Environment::read(&vars(&[("OTA_OPERATOR_TOKEN", "hunter2")])).expect_err("short");
        assert!(
            err.contains("OTA_OPERATOR_TOKEN must be at least 24"),
            "{err}"
        );
        let token = "a".repeat(MIN_OPERATOR_TOKEN_CHARS);
        let env = Environment::read(&vars(&[("OTA_OPERATOR_TOKEN", &token)])).expect("long");
        assert_eq!(
            env.operator_token.as_ref().map(ExposeSecret::expose_secret),
            Some(token.as_str())
        );
        assert!(!format!("{env:?}").contains(&token));
    }
}
