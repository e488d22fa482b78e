//! What a repository's `.ollama-turbo.yml` is read with besides itself: the
//! organisation's defaults and the keys the installation policy lets it set. Plain data,
//! kept with the job record that carries it to the runner; `config::layers` reads a file
//! over it.

use serde::{Deserialize, Serialize};

use crate::ids::RepoFullName;

/// What a repository's file is read with besides itself. The default (no base, no
/// limits) reads the file alone, as before organisation defaults existed. A job carries
/// it (`JobRecord::config_layers`) so that the runner, which cannot read the `.github`
/// repository, rebuilds the configuration the policy stage judged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigLayers {
    /// The organisation's defaults, when the account's `.github` repository has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<BaseFile>,
    /// The matching installation policy's `allowed_overrides`, when it sets them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrides: Option<AllowedOverrides>,
}

impl ConfigLayers {
    /// Nothing besides the repository's file.
    pub fn is_empty(&self) -> bool {
        self.base.is_none() && self.overrides.is_none()
    }
}

/// The base file: its repository (`acme/.github`) and text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseFile {
    pub repo: RepoFullName,
    pub text: String,
}

/// The keys a repository may set, and the policy that says so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowedOverrides {
    pub policy: String,
    /// Key paths, each allowing every key below it (see `check_override_path`).
    pub paths: Vec<String>,
}
