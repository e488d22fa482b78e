//! Everything that stops `ota run` before the agent starts, in the words the user reads:
//! what is wrong and what to do about it. One place, so the wording is consistent and
//! tested.

use std::path::PathBuf;

use shared::config::{CONFIG_FILE_NAME, ConfigErrors};

use super::repo::GitFailure;

/// Why `ota run` could not start, or could not finish its bookkeeping.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{} is not a directory; pass a git checkout with `--repo PATH`", .path.display())]
    NoSuchDirectory { path: PathBuf },

    #[error(
        "{} is not in a git checkout ({detail}); pass one with `--repo PATH`, or `git init` and commit first",
        .path.display()
    )]
    NotARepository { path: PathBuf, detail: String },

    #[error(
        "the repository at {} has no commits yet; commit your files first, since the agent's branch starts from HEAD",
        .root.display()
    )]
    NoCommits { root: PathBuf },

    #[error("{}", config_problems(.commit, .errors))]
    InvalidConfig {
        commit: String,
        errors: ConfigErrors,
    },

    #[error("{}", unknown_task(.task, .known))]
    UnknownTask { task: String, known: Vec<String> },

    #[error(
        "`{task}` reviews a pull request's diff, which a local checkout does not have; ask for it on the pull request with `/ollama {task}`"
    )]
    ReviewIsNotLocal { task: String },

    #[error("`--model` needs a model name, such as `qwen3-coder:30b`")]
    EmptyModel,

    #[error(
        "OLLAMA_HOST is Ollama's hosted service ({host}), which needs an API key: set OLLAMA_API_KEY (create one at https://ollama.com/settings/keys)"
    )]
    HostedWithoutKey { host: String },

    /// `OLLAMA_HOST` unreadable, or a key that can't be sent.
    #[error("{0}")]
    OllamaSettings(String),

    #[error("{}", unreachable(.host, .reason, *.host_is_default))]
    OllamaUnreachable {
        host: String,
        reason: String,
        /// `OLLAMA_HOST` was not set, so the default was tried.
        host_is_default: bool,
    },

    #[error("{0}")]
    OllamaRefused(String),

    /// The server does not have the model, or the model can't call tools.
    #[error("{message}, or pass `--model`; nothing was started")]
    ModelUnusable { message: String },

    /// The task runs a command, and no command sandbox works on this machine.
    #[error("{reason}; nothing was started")]
    NoSandbox { reason: String },

    #[error("a branch named {branch} already exists; run again for another name")]
    BranchTaken { branch: String },

    #[error(transparent)]
    Git(#[from] GitFailure),
}

fn config_problems(commit: &str, errors: &ConfigErrors) -> String {
    let problems = errors.problems();
    let count = match problems.len() {
        1 => "a problem".to_owned(),
        n => format!("{n} problems"),
    };
    let mut text =
        format!("{CONFIG_FILE_NAME} at HEAD ({commit}) has {count}, so nothing was started:\n");
    for problem in problems {
        text.push_str(&format!("  - {problem}\n"));
    }
    text.push_str(
        "Fix the file and commit the fix (`ota run` reads the committed file, as the App \
         does), then run again. Every key is described in docs/config.md.",
    );
    text
}

fn unknown_task(task: &str, known: &[String]) -> String {
    format!(
        "this repository has no task `{task}`; the tasks it knows are {}. Tasks of your own \
         are defined in {CONFIG_FILE_NAME}.",
        known
            .iter()
            .map(|name| format!("`{name}`"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn unreachable(host: &str, reason: &str, host_is_default: bool) -> String {
    let tried = if host_is_default {
        format!("{host} (the default, as OLLAMA_HOST is not set)")
    } else {
        format!("{host} (from OLLAMA_HOST)")
    };
    format!(
        "cannot reach Ollama at {tried}: {reason}\n\
         To fix it, either:\n  \
         - start Ollama on this machine: `ollama serve` (https://ollama.com/download), or\n  \
         - point OLLAMA_HOST at a running server, e.g. `OLLAMA_HOST=gpu-box:11434 ota run ...`, or\n  \
         - use Ollama's hosted service: `OLLAMA_HOST=https://ollama.com` with OLLAMA_API_KEY set to an API key"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::config::RepoConfig;

    #[test]
    fn unreachable_names_the_url_and_every_way_out() {
        let text = RunError::OllamaUnreachable {
            host: "http://127.0.0.1:11434".into(),
            reason: "connection refused".into(),
            host_is_default: true,
        }
        .to_string();
        assert!(text.starts_with(
            "cannot reach Ollama at http://127.0.0.1:11434 (the default, as OLLAMA_HOST is not set): connection refused"
        ));
        for way in [
            "`ollama serve`",
            "point OLLAMA_HOST",
            "OLLAMA_HOST=https://ollama.com",
            "OLLAMA_API_KEY",
        ] {
            assert!(text.contains(way), "{way} missing from {text}");
        }
    }

    #[test]
    fn config_problems_are_listed_with_their_place() {
        let errors = RepoConfig::parse(
            "version: 1\nautomation:\n  tasks:\n    refactor:\n      timout: 5m\n",
        )
        .expect_err("an unknown key");
        let text = RunError::InvalidConfig {
            commit: "abc1234".into(),
            errors,
        }
        .to_string();
        assert!(
            text.starts_with(".ollama-turbo.yml at HEAD (abc1234) has a problem"),
            "{text}"
        );
        assert!(text.contains("line 5"), "{text}");
        assert!(text.contains("`timout`"), "{text}");
        assert!(text.contains("commit the fix"), "{text}");
    }

    #[test]
    fn unknown_tasks_list_the_known_ones() {
        let text = RunError::UnknownTask {
            task: "refactr".into(),
            known: vec!["docs".into(), "refactor".into()],
        }
        .to_string();
        assert_eq!(
            text,
            "this repository has no task `refactr`; the tasks it knows are `docs`, `refactor`. \
             Tasks of your own are defined in .ollama-turbo.yml."
        );
    }
}
