//! The runner's launch environment: the variables a launcher starts a runner with (ECS
//! container overrides, a child process's environment). [`RunnerLaunch::to_env`] writes
//! them in every launcher and [`RunnerLaunch::from_env`] reads them in every runner, so
//! the two sides cannot drift apart.
//!
//! None of them is secret: launchers put them where operators (and the ECS API) can read
//! them. Errors still quote only what a launcher itself writes (a job id, an attempt, an
//! endpoint kind), never the Ollama URL, which a hand-started runner may give credentials.

use super::{EndpointKind, ModelEndpoint, RunnerLaunch};
use crate::job::JobId;
use std::fmt;
use std::time::Duration;

/// The runner's environment variable holding the job id.
pub const JOB_ID_VAR: &str = "OTA_JOB_ID";
/// The runner's environment variable holding the attempt (1 for the first dispatch).
pub const ATTEMPT_VAR: &str = "OTA_ATTEMPT";
/// Which Ollama the runner talks to: `self_hosted` or `hosted`.
pub const MODEL_ENDPOINT_VAR: &str = "OTA_MODEL_ENDPOINT";
/// The base URL of that Ollama.
pub const OLLAMA_URL_VAR: &str = "OTA_OLLAMA_URL";
/// The job's maximum runtime in whole seconds, after which the runner gives up.
pub const MAX_RUNTIME_VAR: &str = "OTA_MAX_RUNTIME_SECONDS";
/// The Fargate runner's attempt credential (`shared::job::RunnerCredential`). Not part of
/// [`RunnerLaunch::to_env`]: it is a secret, which only the ECS launcher puts in the
/// environment (a container override, readable with `ecs:DescribeTasks`), acceptable
/// only because it is good for that one attempt's token requests and nothing else. A
/// child process of `ota serve` gets its credential on its stdin instead.
pub const CREDENTIAL_VAR: &str = "OTA_RUNNER_CREDENTIAL";

/// One variable of the launch environment that is missing or unreadable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LaunchVarError {
    /// Not set, or blank.
    #[error("{0} is not set")]
    Missing(&'static str),
    /// Set to something the runner cannot use; `problem` says what was expected.
    #[error("{var} {problem}")]
    Invalid { var: &'static str, problem: String },
}

impl LaunchVarError {
    /// The variable at fault.
    pub fn var(&self) -> &'static str {
        match self {
            Self::Missing(var) | Self::Invalid { var, .. } => var,
        }
    }
}

/// Every problem of a launch environment, in the order of [`RunnerLaunch::to_env`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchEnvError(pub Vec<LaunchVarError>);

impl LaunchEnvError {
    pub fn problems(&self) -> &[LaunchVarError] {
        &self.0
    }
}

impl fmt::Display for LaunchEnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, problem) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LaunchEnvError {}

impl RunnerLaunch {
    /// The variables the runner starts with. Never a secret: launchers put these where
    /// operators (and the ECS API) can read them.
    pub fn to_env(&self) -> Vec<(&'static str, String)> {
        vec![
            (JOB_ID_VAR, self.job.as_str().to_owned()),
            (ATTEMPT_VAR, self.attempt.to_string()),
            (MODEL_ENDPOINT_VAR, self.endpoint.kind.as_str().to_owned()),
            (OLLAMA_URL_VAR, self.endpoint.url.clone()),
            (
                MAX_RUNTIME_VAR,
                self.max_runtime
                    .as_secs()
                    .saturating_add(u64::from(self.max_runtime.subsec_nanos() > 0))
                    .to_string(),
            ),
        ]
    }

    /// Reads what [`to_env`](Self::to_env) wrote through `get` (the process environment
    /// in a runner). Every variable is required, as every launcher writes all of them;
    /// values are trimmed and a blank one counts as missing. The error names every
    /// variable that is missing or unreadable.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, LaunchEnvError> {
        let read = |var: &'static str| {
            get(var)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
                .ok_or(LaunchVarError::Missing(var))
        };
        let job = read(JOB_ID_VAR).and_then(|raw| {
            JobId::parse(&raw).map_err(|err| LaunchVarError::Invalid {
                var: JOB_ID_VAR,
                problem: format!("is not a job id ({err})"),
            })
        });
        let attempt = read(ATTEMPT_VAR).and_then(|raw| match raw.parse::<u32>() {
            Ok(attempt) if attempt >= 1 => Ok(attempt),
            _ => Err(LaunchVarError::Invalid {
                var: ATTEMPT_VAR,
                problem: format!("must be a positive number, not {raw:?}"),
            }),
        });
        let kind = read(MODEL_ENDPOINT_VAR).and_then(|raw| {
            endpoint_kind(&raw).ok_or_else(|| LaunchVarError::Invalid {
                var: MODEL_ENDPOINT_VAR,
                problem: format!(
                    "must be `{}` or `{}`, not {raw:?}",
                    EndpointKind::SelfHosted,
                    EndpointKind::Hosted
                ),
            })
        });
        let url = read(OLLAMA_URL_VAR);
        let max_runtime = read(MAX_RUNTIME_VAR).and_then(|raw| match raw.parse::<u64>() {
            Ok(seconds) if seconds >= 1 => Ok(Duration::from_secs(seconds)),
            _ => Err(LaunchVarError::Invalid {
                var: MAX_RUNTIME_VAR,
                problem: format!("must be a positive number of seconds, not {raw:?}"),
            }),
        });
        match (job, attempt, kind, url, max_runtime) {
            (Ok(job), Ok(attempt), Ok(kind), Ok(url), Ok(max_runtime)) => Ok(Self {
                job,
                attempt,
                endpoint: ModelEndpoint { kind, url },
                max_runtime,
            }),
            (job, attempt, kind, url, max_runtime) => Err(LaunchEnvError(
                [
                    job.err(),
                    attempt.err(),
                    kind.err(),
                    url.err(),
                    max_runtime.err(),
                ]
                .into_iter()
                .flatten()
                .collect(),
            )),
        }
    }
}

/// The kind named as [`EndpointKind::as_str`] names it.
fn endpoint_kind(raw: &str) -> Option<EndpointKind> {
    [EndpointKind::SelfHosted, EndpointKind::Hosted]
        .into_iter()
        .find(|kind| kind.as_str() == raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn launch() -> RunnerLaunch {
        RunnerLaunch {
            job: JobId::parse("j0123456789abcdef0123").expect("job id"),
            attempt: 2,
            endpoint: ModelEndpoint {
                kind: EndpointKind::Hosted,
                url: "https://ollama.com".to_owned(),
            },
            max_runtime: Duration::from_secs(1_800),
        }
    }

    /// `launch`'s environment with `name` set to `value` (`None`: removed).
    fn env_with(name: &str, value: Option<&str>) -> HashMap<&'static str, String> {
        let mut env: HashMap<_, _> = launch().to_env().into_iter().collect();
        match value {
            Some(value) => env.insert(
                ALL_VARS
                    .into_iter()
                    .find(|var| *var == name)
                    .expect("a launch variable"),
                value.to_owned(),
            ),
            None => env.remove(name),
        };
        env
    }

    const ALL_VARS: [&str; 5] = [
        JOB_ID_VAR,
        ATTEMPT_VAR,
        MODEL_ENDPOINT_VAR,
        OLLAMA_URL_VAR,
        MAX_RUNTIME_VAR,
    ];

    fn read(env: &HashMap<&'static str, String>) -> Result<RunnerLaunch, LaunchEnvError> {
        RunnerLaunch::from_env(|name| env.get(name).cloned())
    }

    #[test]
    fn the_runner_environment_names_the_job_and_its_endpoint_only() {
        assert_eq!(
            launch().to_env(),
            [
                ("OTA_JOB_ID", "j0123456789abcdef0123".to_owned()),
                ("OTA_ATTEMPT", "2".to_owned()),
                ("OTA_MODEL_ENDPOINT", "hosted".to_owned()),
                ("OTA_OLLAMA_URL", "https://ollama.com".to_owned()),
                ("OTA_MAX_RUNTIME_SECONDS", "1800".to_owned()),
            ]
        );
    }

    #[test]
    fn what_a_launcher_writes_a_runner_reads_back() {
        for kind in [EndpointKind::SelfHosted, EndpointKind::Hosted] {
            for attempt in [1, 7, u32::MAX] {
                let launch = RunnerLaunch {
                    attempt,
                    endpoint: ModelEndpoint {
                        kind,
                        url: "http://gpu.internal:11434".to_owned(),
                    },
                    ..launch()
                };
                let env: HashMap<_, _> = launch.to_env().into_iter().collect();
                assert_eq!(read(&env), Ok(launch));
            }
        }
    }

    #[test]
    fn values_are_trimmed() {
        let env = env_with(ATTEMPT_VAR, Some(" 2\n"));
        assert_eq!(read(&env), Ok(launch()));
    }

    #[test]
    fn each_missing_or_blank_variable_is_named() {
        for var in ALL_VARS {
            for value in [None, Some(""), Some("  ")] {
                let err = read(&env_with(var, value)).expect_err("missing");
                assert_eq!(err.problems(), [LaunchVarError::Missing(var)]);
                assert_eq!(err.to_string(), format!("{var} is not set"));
            }
        }
    }

    #[test]
    fn each_unreadable_variable_is_named_with_what_it_must_be() {
        for (var, value, expected) in [
            (JOB_ID_VAR, "job-1", "OTA_JOB_ID is not a job id"),
            (JOB_ID_VAR, "j0123", "OTA_JOB_ID is not a job id"),
            (
                ATTEMPT_VAR,
                "x",
                "OTA_ATTEMPT must be a positive number, not \"x\"",
            ),
            (
                ATTEMPT_VAR,
                "0",
                "OTA_ATTEMPT must be a positive number, not \"0\"",
            ),
            (ATTEMPT_VAR, "-1", "OTA_ATTEMPT must be a positive number"),
            (
                ATTEMPT_VAR,
                "4294967296",
                "OTA_ATTEMPT must be a positive number",
            ),
            (
                MODEL_ENDPOINT_VAR,
                "gpu",
                "OTA_MODEL_ENDPOINT must be `self_hosted` or `hosted`, not \"gpu\"",
            ),
            (MODEL_ENDPOINT_VAR, "Hosted", "OTA_MODEL_ENDPOINT must be"),
            (
                MAX_RUNTIME_VAR,
                "0",
                "OTA_MAX_RUNTIME_SECONDS must be a positive number of seconds, not \"0\"",
            ),
            (MAX_RUNTIME_VAR, "30m", "OTA_MAX_RUNTIME_SECONDS must be"),
        ] {
            let err = read(&env_with(var, Some(value))).expect_err("invalid");
            assert_eq!(err.problems().len(), 1, "{err}");
            assert_eq!(err.problems()[0].var(), var);
            assert!(
                matches!(err.problems()[0], LaunchVarError::Invalid { .. }),
                "{err:?}"
            );
            assert!(err.to_string().starts_with(expected), "{err}");
        }
    }

    #[test]
    fn an_empty_environment_names_every_variable_in_order() {
        let err = RunnerLaunch::from_env(|_| None).expect_err("empty");
        assert_eq!(
            err.to_string(),
            "OTA_JOB_ID is not set; OTA_ATTEMPT is not set; OTA_MODEL_ENDPOINT is not set; \
             OTA_OLLAMA_URL is not set; OTA_MAX_RUNTIME_SECONDS is not set"
        );
    }

    #[test]
    fn the_ollama_url_is_never_quoted() {
        let secret = "https://user:hunter2@ollama.internal";
        let mut env = env_with(OLLAMA_URL_VAR, Some(secret));
        env.insert(ATTEMPT_VAR, "x".to_owned());
        env.insert(JOB_ID_VAR, "nope".to_owned());
        let err = read(&env).expect_err("invalid");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
    }
}
