//! The runner's settings, read once from its environment: the job and model endpoint the
//! dispatch stage passes per task (its launch environment, [`RunnerLaunch::from_env`]),
//! its attempt's credential), and the deployment's settings the task definition sets.
//! The runner holds no long-lived secret: its GitHub token and, for a job on the hosted
//! service, the Ollama API key come from the dispatch function (`DISPATCH_FUNCTION`),
//! which it asks with the attempt's credential (`OTA_RUNNER_CREDENTIAL`).

use shared::job::RunnerCredential;
use shared::ports::{CREDENTIAL_VAR, RunnerLaunch};
use shared::settings::EnvReader;

/// The App's slug when `APP_SLUG` is not set: commits are by `<slug>[bot]`.
pub const DEFAULT_APP_SLUG: &str = "ollama-turbo-agent";

/// github.com's REST API root, when `GITHUB_API_URL` is not set.
const DEFAULT_API_URL: &str = "https://api.github.com";

/// Everything the runner reads from its environment.
/// `Debug` never shows the credential.
#[derive(Debug, Clone)]
pub struct RunnerEnv {
    /// `OTA_JOB_ID`, `OTA_ATTEMPT`, `OTA_MODEL_ENDPOINT`, `OTA_OLLAMA_URL`.
    pub launch: RunnerLaunch,
    /// `OTA_RUNNER_CREDENTIAL`: the attempt's credential, for the job's token.
    pub credential: RunnerCredential,
    /// `DISPATCH_FUNCTION`: the dispatch Lambda's name or ARN, which hands out the token.
    pub dispatch_function: String,
    /// `JOBS_TABLE`.
    pub table: String,
    /// `STATE_MACHINE_ARN`.
    pub state_machine_arn: String,
    /// `APP_ID`.
    pub app_id: u64,
    /// `APP_SLUG`.
    pub app_slug: String,
    /// `GITHUB_API_URL`.
    pub api_url: String,
    /// `GIT_BASE_URL`, else derived from the API URL ([`git_base_url`]).
    pub git_base_url: String,
}

/// The Git host's root for a REST API root (one definition, in `ota-github`).
pub use ota_github::web_base_url as git_base_url;

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
        let dispatch_function = env.required("DISPATCH_FUNCTION");
        let credential = env.required(CREDENTIAL_VAR);
        let credential = match RunnerCredential::parse(&credential) {
            Ok(credential) => Some(credential),
            Err(err) => {
                // An empty one was already named missing; the value is never quoted.
                if !credential.is_empty() {
                    env.problem(format!("{CREDENTIAL_VAR}: {err}"));
                }
                None
            }
        };
        let api_url = env
            .optional("GITHUB_API_URL")
            .unwrap_or_else(|| DEFAULT_API_URL.to_owned());
        let settings = (env.optional("APP_SLUG"), env.optional("GIT_BASE_URL"));
        let (app_slug, git_base) = env.finish(settings)?;
        let (Ok(launch), Some(credential)) = (launch, credential) else {
            return Err("the runner's settings are incomplete".to_owned());
        };
        Ok(Self {
            launch,
            credential,
            dispatch_function,
            table,
            state_machine_arn,
            app_id,
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
            ("OTA_MAX_RUNTIME_SECONDS", "1800"),
            ("JOBS_TABLE", "jobs"),
            (
                "STATE_MACHINE_ARN",
                "arn:aws:states:us-east-1:1:stateMachine:ota",
            ),
            ("APP_ID", "42"),
            ("DISPATCH_FUNCTION", "ota-dispatch"),
            ("OTA_RUNNER_CREDENTIAL", CREDENTIAL),
        ]
        .into();
        let env =
            RunnerEnv::from_vars(|name| vars.get(name).map(|v| (*v).to_owned())).expect("settings");
        assert_eq!(env.launch.attempt, 2);
        assert_eq!(
            env.launch.max_runtime,
            std::time::Duration::from_secs(1_800)
        );
        assert_eq!(env.launch.endpoint.kind, EndpointKind::Hosted);
        assert_eq!(env.git_base_url, "https://github.com");
        assert_eq!(env.app_slug, DEFAULT_APP_SLUG);
        assert_eq!(env.dispatch_function, "ota-dispatch");
        assert_eq!(env.credential.expose(), CREDENTIAL);
        assert!(!format!("{env:?}").contains(CREDENTIAL));
        let err = RunnerEnv::from_vars(|name| (name == "APP_ID").then(|| "x".to_owned()))
            .expect_err("missing");
        for name in [
            "OTA_JOB_ID",
            "JOBS_TABLE",
            "STATE_MACHINE_ARN",
            "DISPATCH_FUNCTION is not set",
            "OTA_RUNNER_CREDENTIAL is not set",
            "APP_ID must be a number",
        ] {
            assert!(err.contains(name), "{err}");
        }
    }

    #[test]
    fn a_malformed_credential_is_named_but_never_quoted() {
        let err = RunnerEnv::from_vars(|name| {
            (name == "OTA_RUNNER_CREDENTIAL").then(|| "hunter2".to_owned())
        })
        .expect_err("malformed");
        assert!(
            err.contains("OTA_RUNNER_CREDENTIAL: a runner credential is 64"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
    }

    /// A well-formed credential (64 hexadecimal characters).
    const CREDENTIAL: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
}
