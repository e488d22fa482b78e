//! The runner's settings, read once from its environment: the job and model endpoint the
//! dispatch stage passes per task (its launch environment, [`RunnerLaunch::from_env`]),
//! and the deployment's settings the task definition sets. No secret is read from the environment: the App's private key and
//! the hosted Ollama's API key are read from Secrets Manager by ARN.

use shared::ports::RunnerLaunch;
use shared::settings::EnvReader;

/// The App's slug when `APP_SLUG` is not set: commits are by `<slug>[bot]`.
pub const DEFAULT_APP_SLUG: &str = "ollama-turbo-agent";

/// github.com's REST API root, when `GITHUB_API_URL` is not set.
const DEFAULT_API_URL: &str = "https://api.github.com";

/// Everything the runner reads from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerEnv {
    /// `OTA_JOB_ID`, `OTA_ATTEMPT`, `OTA_MODEL_ENDPOINT`, `OTA_OLLAMA_URL`.
    pub launch: RunnerLaunch,
    /// `OLLAMA_API_KEY_SECRET_ARN`: the hosted service's API key, when the job runs there.
    pub ollama_key_secret: Option<String>,
    /// `JOBS_TABLE`.
    pub table: String,
    /// `STATE_MACHINE_ARN`.
    pub state_machine_arn: String,
    /// `APP_ID`.
    pub app_id: u64,
    /// `PRIVATE_KEY_SECRET_ARN`.
    pub private_key_secret: String,
    /// `APP_SLUG`.
    pub app_slug: String,
    /// `GITHUB_API_URL`.
    pub api_url: String,
    /// `GIT_BASE_URL`, else derived from the API URL ([`git_base_url`]).
    pub git_base_url: String,
}

/// The Git host's root for a REST API root: `https://github.com` for github.com's API,
/// `https://HOST` for a GitHub Enterprise Server's `https://HOST/api/v3`.
pub fn git_base_url(api_url: &str) -> String {
    let api = api_url.trim_end_matches('/');
    if let Some(rest) = api.strip_prefix("https://api.") {
        return format!("https://{rest}");
    }
    api.strip_suffix("/api/v3").unwrap_or(api).to_owned()
}

impl RunnerEnv {
    /// Reads the settings through `var`, naming every missing or invalid one.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let launch = RunnerLaunch::from_env(&var);
        let mut env = EnvReader::new(&var);
        if let Err(err) = &launch {
            for problem in err.problems() {
                env.problem(problem.to_string());
            }
        }
        let table = env.required("JOBS_TABLE");
        let state_machine_arn = env.required("STATE_MACHINE_ARN");
        let app_id: u64 = env.required_parsed("APP_ID", "a number");
        let private_key_secret = env.required("PRIVATE_KEY_SECRET_ARN");
        let api_url = env
            .optional("GITHUB_API_URL")
            .unwrap_or_else(|| DEFAULT_API_URL.to_owned());
        let settings = (
            env.optional("OLLAMA_API_KEY_SECRET_ARN"),
            env.optional("APP_SLUG"),
            env.optional("GIT_BASE_URL"),
        );
        let (ollama_key_secret, app_slug, git_base) = env.finish(settings)?;
        let Ok(launch) = launch else {
            return Err("the runner's settings are incomplete".to_owned());
        };
        Ok(Self {
            launch,
            ollama_key_secret,
            table,
            state_machine_arn,
            app_id,
            private_key_secret,
            app_slug: app_slug.unwrap_or_else(|| DEFAULT_APP_SLUG.to_owned()),
            git_base_url: git_base.unwrap_or_else(|| git_base_url(&api_url)),
            api_url,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::ports::EndpointKind;
    use std::collections::HashMap;

    #[test]
    fn the_git_host_follows_the_api() {
        assert_eq!(git_base_url("https://api.github.com"), "https://github.com");
        assert_eq!(
            git_base_url("https://api.github.com/"),
            "https://github.com"
        );
        assert_eq!(
            git_base_url("https://ghe.example.com/api/v3"),
            "https://ghe.example.com"
        );
    }

    #[test]
    fn reads_the_dispatch_contract_and_names_what_is_missing() {
        let vars: HashMap<&str, &str> = [
            ("OTA_JOB_ID", "j0123456789abcdef0123"),
            ("OTA_ATTEMPT", "2"),
            ("OTA_MODEL_ENDPOINT", "hosted"),
            ("OTA_OLLAMA_URL", "https://ollama.com"),
            ("JOBS_TABLE", "jobs"),
            (
                "STATE_MACHINE_ARN",
                "arn:aws:states:us-east-1:1:stateMachine:ota",
            ),
            ("APP_ID", "42"),
            ("PRIVATE_KEY_SECRET_ARN", "arn:key"),
        ]
        .into();
        let env =
            RunnerEnv::from_vars(|name| vars.get(name).map(|v| (*v).to_owned())).expect("settings");
        assert_eq!(env.launch.attempt, 2);
        assert_eq!(env.launch.endpoint.kind, EndpointKind::Hosted);
        assert_eq!(env.git_base_url, "https://github.com");
        assert_eq!(env.app_slug, DEFAULT_APP_SLUG);
        let err = RunnerEnv::from_vars(|name| (name == "APP_ID").then(|| "x".to_owned()))
            .expect_err("missing");
        for name in [
            "OTA_JOB_ID",
            "JOBS_TABLE",
            "STATE_MACHINE_ARN",
            "PRIVATE_KEY_SECRET_ARN",
            "APP_ID must be a number",
        ] {
            assert!(err.contains(name), "{err}");
        }
    }
}
