//! The policy store port: the installation policies an operator sets, and the triggers
//! they name. What a policy decides is the `policy` module's.

use super::StoreError;
use crate::ids::InstallationId;
use serde::{Deserialize, Serialize};
use std::future::Future;

/// What starts a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    /// A `/ollama` command in a comment.
    Comment,
    /// A pull request opened, synchronized or reopened.
    PrOpened,
    Push,
    /// "Re-run" on the App's check suite or check run.
    CheckSuite,
    /// A pull request's checks failed (`ci_failed`).
    CiFailed,
    /// A label of the `labeled` trigger added to an issue or pull request.
    Labeled,
    /// A schedule of the repository's config fired.
    Schedule,
    /// An operator of the App asked for it (`ota`), not GitHub.
    Operator,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallationPolicy {
    pub installation: InstallationId,
    /// A name for the audit log.
    pub name: String,
    /// A glob over `owner/name`: `*`, `octo-org/*`, `octo-org/api-?`, `octo-org/web`.
    pub repo_pattern: String,
    /// `None`: every trigger.
    #[serde(default)]
    pub allowed_triggers: Option<Vec<TriggerKind>>,
    /// `None`: anyone with the permission the action needs.
    #[serde(default)]
    pub allowed_users: Option<Vec<String>>,
    /// `Some(true)` forces approval for every job, whatever the repository's config says.
    #[serde(default)]
    pub require_approval: Option<bool>,
    #[serde(default)]
    pub max_runtime_seconds: Option<u64>,
    /// May jobs use Ollama's hosted service (rather than only the self-hosted one)?
    #[serde(default)]
    pub allow_hosted_model: Option<bool>,
    /// Jobs per user per hour, overriding the default.
    #[serde(default)]
    pub user_jobs_per_hour: Option<u32>,
    /// Jobs per installation per hour, overriding the default.
    #[serde(default)]
    pub installation_jobs_per_hour: Option<u32>,
    /// The keys of `.ollama-turbo.yml` a repository may set over the organisation's
    /// defaults, as dotted key paths (`automation.tasks`, `automation.triggers.pr_opened`),
    /// each allowing every key below it. `None`: every key.
    #[serde(default)]
    pub allowed_overrides: Option<Vec<String>>,
    /// The most tokens the installation's jobs may use per UTC day and month, counted
    /// over all its repositories; checked when a job on a repository this policy
    /// matches would start. `None`: no cap.
    #[serde(default)]
    pub token_budget: Option<TokenBudget>,
    /// Tasks whose jobs start with a plan to approve (plan, approve, apply) whatever the
    /// repository's config says: task names, or `*` for every task that changes code.
    /// `None`: as the repository's config says.
    #[serde(default)]
    pub plan_first: Option<Vec<String>>,
}

impl InstallationPolicy {
    /// Whether jobs of `task` (one that changes code) start with a plan under this policy.
    pub fn plans_first(&self, task: &str) -> bool {
        self.plan_first
            .iter()
            .flatten()
            .any(|name| name == "*" || name == task)
    }
}

/// An installation policy's `token_budget`: the tokens (prompt and completion) the
/// installation's jobs may use per UTC day and per UTC month. An unset one is no cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenBudget {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_day: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_month: Option<u64>,
}

pub trait PolicyStore: Send + Sync {
    fn policies(
        &self,
        installation: InstallationId,
    ) -> impl Future<Output = Result<Vec<InstallationPolicy>, StoreError>> + Send;

    fn put_policy(
        &self,
        policy: &InstallationPolicy,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
