//! Reaching Ollama before any work starts: `OLLAMA_HOST` and `OLLAMA_API_KEY` read as
//! Ollama's own CLI reads them, and one `GET /api/version`, so that a server that is not
//! running is reported at once, with how to start one or point to one, instead of after
//! a minute of retries in the middle of the run. Then one `POST /api/show`, so that a
//! model the server does not have, or one that can't call tools, is reported before a
//! worktree or branch exists.

use ota_runner::ollama::{ClientOptions, OllamaClient, OllamaEnv, OllamaError};

use super::errors::RunError;

/// The client, and the server's version when it told it.
#[derive(Debug)]
pub struct Connection {
    pub client: OllamaClient,
    pub version: Option<String>,
}

/// Connects to the Ollama that the environment read through `var` names.
pub async fn connect(var: impl Fn(&str) -> Option<String>) -> Result<Connection, RunError> {
    let host_is_default = var("OLLAMA_HOST").is_none_or(|host| host.trim().is_empty());
    let env =
        OllamaEnv::from_vars(&var).map_err(|err| RunError::OllamaSettings(err.to_string()))?;
    let host = env.host.to_string();
    if env.host.is_hosted() && env.api_key.is_none() {
        return Err(RunError::HostedWithoutKey { host });
    }
    let client = OllamaClient::new(&env, ClientOptions::default())
        .map_err(|err| RunError::OllamaSettings(err.to_string()))?;
    let version = match client.version().await {
        Ok(version) => version,
        Err(OllamaError::Unreachable { reason, .. }) => {
            return Err(RunError::OllamaUnreachable {
                host,
                reason,
                host_is_default,
            });
        }
        Err(OllamaError::TimedOut { after, .. }) => {
            return Err(RunError::OllamaUnreachable {
                host,
                reason: format!("no answer within {}s", after.as_secs()),
                host_is_default,
            });
        }
        Err(other) => return Err(RunError::OllamaRefused(other.to_string())),
    };
    Ok(Connection { client, version })
}

/// Asks the server about `model` (the answer stays in the client's cache for the agent).
pub async fn check_model(client: &OllamaClient, model: &str) -> Result<(), RunError> {
    match client.check_model(model).await {
        Ok(_) => Ok(()),
        Err(error @ (OllamaError::ModelNotFound { .. } | OllamaError::ToolsUnsupported { .. })) => {
            Err(RunError::ModelUnusable {
                message: error.to_string(),
            })
        }
        Err(other) => Err(RunError::OllamaRefused(other.to_string())),
    }
}
