//! `.ollama-turbo.yml`: the per-repository configuration, its defaults, validation and JSON Schema.
//!
//! [`RepoConfig::parse`] turns the file's text into a checked configuration, or into
//! [`ConfigErrors`] that list every problem with its line, column and field;
//! [`config_errors_comment`] renders them for a pull-request comment or a check run.
//! A repository without the file uses [`RepoConfig::default`], which is what an empty
//! file parses to. Nothing here does I/O: fetching the file from the default branch
//! happens at the edges.
//!
//! The user reference is `docs/config.md`; editors complete and check the file with
//! `docs/ollama-turbo.schema.json`, which a test keeps in step with the types here.
//!
//! Parsing runs in two steps: `yaml` reads the text into the `raw` types (syntax, types
//! and unknown keys; the first such error stops it), then `resolve` checks values and
//! references between keys, layers the defaults, and reports all problems at once.

mod branch;
mod check;
mod cron;
mod deliverable;
mod duration;
mod encoding;
mod error;
mod fetched;
mod layers;
pub mod limits;
mod model;
mod overrides;
mod paths;
mod raw;
mod report;
mod resolve;
mod resolve_labels;
mod resolve_triggers;
mod sampling;
mod suggest;
mod task;
mod timezone;
mod yaml;

#[cfg(test)]
mod schema_tests;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

/// The YAML reader's settings (limits, strict booleans, no duplicate keys), for other
/// files the operator writes.
pub(crate) fn yaml_options() -> serde_saphyr::Options {
    yaml::options()
}

pub use crate::job::{AllowedOverrides, BaseFile, ConfigLayers};
pub use branch::BranchPattern;
pub use cron::CronSchedule;
pub use deliverable::Deliverable;
pub use duration::format_duration;
pub use error::{ConfigErrors, ConfigFile, Position, Problem, ProblemKind};
pub use fetched::{base_from_file, config_from_file, layered_config_from_file};
pub use model::{
    Approval, CheckSuiteTrigger, CiFailedTrigger, CommentTrigger, DEFAULT_CI_FIX_ATTEMPTS,
    LabelTrigger, MAX_CI_FIX_ATTEMPTS, MergeMethod, MergeWhen, OutputMode, PrAction,
    PrOpenedTrigger, PushTrigger, ScheduleTrigger, Triggers,
};
pub use overrides::check_override_path;
pub use paths::{PathFilter, PathPattern};
pub use report::config_errors_comment;
pub use sampling::{MAX_TEMPERATURE, MAX_TOP_K, Sampling, Think};
pub use task::{
    BuiltinTask, MAX_TASK_NAME_CHARS, RESERVED_TASK_NAMES, TaskConfig, TaskName, TaskNameError,
};
pub use timezone::ScheduleZone;

use limits::{CURRENT_VERSION, MAX_FILE_BYTES};

/// Where the file lives, at the root of the repository's default branch.
pub const CONFIG_FILE_NAME: &str = ".ollama-turbo.yml";

/// The repository of an account whose [`CONFIG_FILE_NAME`] holds the organisation's
/// defaults: GitHub's own name for an account's repository of shared files (its default
/// community health files live there), so organisations already have and guard it.
pub const ORG_CONFIG_REPO: &str = ".github";

/// A repository's checked configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoConfig {
    /// Always [`limits::CURRENT_VERSION`]: other versions are rejected.
    pub version: u32,
    pub triggers: Triggers,
    pub approval: Approval,
    pub output: OutputMode,
    /// `automation.output.push_to_pr_branch`: a job started because a pull request's
    /// checks failed pushes its fix onto the pull request's branch (same repository only)
    /// instead of opening a pull request against it.
    pub push_to_pr_branch: bool,
    /// `automation.output.merge`: whether the App merges its own pull requests once
    /// approved by someone with write access and their checks passed.
    pub merge: MergeWhen,
    /// `automation.output.merge_method`: how it merges them.
    pub merge_method: MergeMethod,
    /// Built-in and custom tasks; read through [`RepoConfig::task`].
    tasks: BTreeMap<TaskName, TaskConfig>,
    /// What the repository's file was read with (the organisation's defaults, the keys it
    /// may set): a job carries them to the runner, which reads the file again.
    layers: ConfigLayers,
}

impl Default for RepoConfig {
    /// The configuration of a repository without the file.
    fn default() -> Self {
        Self {
            version: CURRENT_VERSION,
            triggers: Triggers::default(),
            approval: Approval::default(),
            output: OutputMode::default(),
            push_to_pr_branch: false,
            merge: MergeWhen::default(),
            merge_method: MergeMethod::default(),
            tasks: resolve::builtin_tasks(),
            layers: ConfigLayers::default(),
        }
    }
}

impl RepoConfig {
    /// Parses and checks the text of a `.ollama-turbo.yml`.
    pub fn parse(text: &str) -> Result<Self, ConfigErrors> {
        Self::parse_layered(text, &ConfigLayers::default())
    }

    /// Parses and checks the text of a repository's `.ollama-turbo.yml` over `layers`: the
    /// organisation's defaults it extends, and the keys it may set. Each problem names
    /// the file it is in.
    pub fn parse_layered(text: &str, layers: &ConfigLayers) -> Result<Self, ConfigErrors> {
        if text.len() > MAX_FILE_BYTES {
            return Err(too_large(text.len()));
        }
        if let Some(base) = &layers.base
            && base.text.len() > MAX_FILE_BYTES
        {
            return Err(
                too_large(base.text.len()).in_file(&ConfigFile::Base(Box::new(base.repo.clone())))
            );
        }
        layers::parse_layered(text, layers)
    }

    /// [`RepoConfig::parse`] for the file's bytes as fetched: checks the size before
    /// anything else, then that the bytes are UTF-8 (a UTF-8 byte-order mark is allowed
    /// and skipped; a UTF-16 one is named, and other bytes are placed by line and column).
    pub fn parse_bytes(bytes: &[u8]) -> Result<Self, ConfigErrors> {
        Self::parse_bytes_layered(bytes, &ConfigLayers::default())
    }

    /// [`RepoConfig::parse_bytes`] over `layers`, as [`RepoConfig::parse_layered`].
    pub fn parse_bytes_layered(bytes: &[u8], layers: &ConfigLayers) -> Result<Self, ConfigErrors> {
        if bytes.len() > MAX_FILE_BYTES {
            return Err(too_large(bytes.len()));
        }
        let text =
            encoding::utf8_text(bytes).map_err(|problem| ConfigErrors::new(vec![problem]))?;
        Self::parse_layered(text, layers)
    }

    /// What the file was read with: the organisation's defaults and the keys it may set.
    pub fn layers(&self) -> &ConfigLayers {
        &self.layers
    }

    /// The task called `name`, built-in or custom, with every setting resolved.
    pub fn task(&self, name: &str) -> Option<&TaskConfig> {
        self.tasks.get(name)
    }

    /// Every task name, built-in and custom, in alphabetical order.
    pub fn task_names(&self) -> impl Iterator<Item = &TaskName> {
        self.tasks.keys()
    }

    /// Every task, in alphabetical order of name.
    pub fn tasks(&self) -> impl Iterator<Item = &TaskConfig> {
        self.tasks.values()
    }
}

fn too_large(size: usize) -> ConfigErrors {
    ConfigErrors::new(vec![Problem::whole_file(ProblemKind::TooLarge {
        size,
        limit: MAX_FILE_BYTES,
    })])
}
