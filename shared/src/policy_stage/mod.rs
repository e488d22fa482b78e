//! The policy stage: one normalized event in, the decisions carried out. It parses
//! commands, loads `.ollama-turbo.yml` from the default branch, checks permissions,
//! installation policies, token budgets and rate limits, records jobs and starts their workflows, and
//! answers on GitHub. Handlers are grouped by area, as in the files below.
//!
//! Every step is safe to repeat: a message processed twice (a redelivery, or a retry
//! after a transient error) finds its job by id, its comments by marker, its execution
//! by name, and does only what is missing.

mod ci_failed;
mod comment;
pub mod dashboard;
mod events;
mod labels;
mod manage;
mod merge;
pub mod operations;
mod paths;
mod plans;
mod request;
mod run;
pub mod schedules;
mod voice;

use crate::config::{
    AllowedOverrides, BaseFile, CONFIG_FILE_NAME, ConfigErrors, ConfigLayers, ORG_CONFIG_REPO,
    RepoConfig, base_from_file, layered_config_from_file,
};
use crate::envelope::{Envelope, Subject};
use crate::ids::RepoFullName;
use crate::inbound::Inbound;
use crate::policy::matching_policy;
use crate::policy_stage::operations::{OperationError, record};
use crate::ports::{
    AuditEntry, AuditLog, InstallationStore, JobStore, PolicyStore, RateLimiter, ScheduleRegistry,
    StoreError, TokenLedger,
};
use crate::ports::{GitHub, GitHubError, RepoScope};
use crate::ports::{Workflow, WorkflowError};
use crate::webhook::intake::AppIdentity;

/// Every record the stage reads and writes.
pub trait Store:
    JobStore + InstallationStore + PolicyStore + AuditLog + RateLimiter + ScheduleRegistry + TokenLedger
{
}
impl<T> Store for T where
    T: JobStore
        + InstallationStore
        + PolicyStore
        + AuditLog
        + RateLimiter
        + ScheduleRegistry
        + TokenLedger
{
}

/// Jobs one user may start per hour in one installation, unless a policy says otherwise.
pub const DEFAULT_USER_JOBS_PER_HOUR: u32 = 20;
/// Jobs one installation may start per hour, unless a policy says otherwise: a GPU runs a
/// handful of agents at a time, so more than this would only queue up.
pub const DEFAULT_INSTALLATION_JOBS_PER_HOUR: u32 = 200;

/// The hourly job limits that apply to a repository: its policy's where that policy sets
/// them, else the defaults. The policy stage counts against these, and the dashboard
/// shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EffectiveLimits<'p> {
    pub user: (u32, Option<&'p str>),
    pub installation: (u32, Option<&'p str>),
}

impl<'p> EffectiveLimits<'p> {
    /// The limits under `policy` (the repository's matching one, if any); each with the
    /// name of the policy that set it, `None` for a default.
    pub fn of(policy: Option<&'p crate::policy::InstallationPolicy>) -> Self {
        let from = |value: Option<u32>, default: u32| match (value, policy) {
            (Some(value), Some(policy)) => (value, Some(policy.name.as_str())),
            _ => (default, None),
        };
        Self {
            user: from(
                policy.and_then(|policy| policy.user_jobs_per_hour),
                DEFAULT_USER_JOBS_PER_HOUR,
            ),
            installation: from(
                policy.and_then(|policy| policy.installation_jobs_per_hour),
                DEFAULT_INSTALLATION_JOBS_PER_HOUR,
            ),
        }
    }
}

pub struct PolicyStage<G, S, W> {
    pub github: G,
    pub store: S,
    pub workflow: W,
    /// Unix milliseconds now; a function so that tests of time windows can set it.
    pub clock: fn() -> u64,
    /// Who the App is: the `ci_failed` trigger tells its own commits from others'.
    pub app: AppIdentity,
}

/// Why an event could not be processed (yet). The caller retries transient errors.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Workflow(#[from] WorkflowError),
    /// Something this event needs has not happened yet (e.g. the workflow has not reached
    /// its approval wait); trying again later will work.
    #[error("not ready: {0}")]
    NotReady(String),
}

impl From<OperationError> for StageError {
    fn from(err: OperationError) -> Self {
        match err {
            OperationError::Store(err) => Self::Store(err),
            OperationError::Workflow(err) => Self::Workflow(err),
            OperationError::KeptChanging(what) => Self::NotReady(what),
            OperationError::RetryName(err) => Self::Store(StoreError::Corrupt(err.to_string())),
        }
    }
}

impl StageError {
    pub fn is_transient(&self) -> bool {
        match self {
            Self::GitHub(err) => err.is_transient(),
            Self::Store(err) => err.is_transient(),
            Self::Workflow(err) => err.is_transient(),
            Self::NotReady(_) => true,
        }
    }
}

impl<G: GitHub, S: Store, W: Workflow> PolicyStage<G, S, W> {
    pub fn new(github: G, store: S, workflow: W) -> Self {
        Self {
            github,
            store,
            workflow,
            clock: crate::clock::now_ms,
            app: AppIdentity::default(),
        }
    }

    /// The stage, knowing who the App is (see [`PolicyStage::app`]).
    pub fn with_app(mut self, app: AppIdentity) -> Self {
        self.app = app;
        self
    }

    /// Processes one message of the intake queue. `Ok` means done (including "nothing to
    /// do"); an error means it should be processed again later if it is transient.
    pub async fn handle_inbound(&self, inbound: &Inbound) -> Result<(), StageError> {
        // Boxed: the two paths together nest too deep for the compiler to lay out inline.
        match inbound {
            Inbound::Delivery(envelope) => Box::pin(self.handle(envelope)).await,
            Inbound::Request(request) => Box::pin(self.requested(request)).await,
        }
    }

    /// Processes one GitHub delivery.
    pub async fn handle(&self, envelope: &Envelope) -> Result<(), StageError> {
        match &envelope.subject {
            Subject::Installation(installation) => {
                self.installation_changed(envelope, installation).await
            }
            Subject::Comment(comment) => {
                self.comment_created(envelope, comment).await?;
                match &comment.review {
                    Some(review) => self.review_submitted(envelope, comment, review).await,
                    None => Ok(()),
                }
            }
            Subject::PullRequest(pr) => self.pull_request_changed(envelope, pr).await,
            Subject::Push(push) => self.pushed(envelope, push).await,
            Subject::CheckSuite(suite) => match envelope.action.as_deref() {
                Some("completed") => {
                    self.check_suite_completed(envelope, suite).await?;
                    self.check_suite_passed(envelope, suite).await
                }
                _ => self.check_suite_rerequested(envelope, suite).await,
            },
            Subject::CheckRun(run) => self.check_run_rerequested(envelope, run).await,
            Subject::Issue(issue) => self.issue_changed(envelope, issue).await,
            Subject::Ping { .. } => Ok(()),
        }
    }

    /// The repository's configuration from its default branch — never from a pull
    /// request's head, which must not be able to loosen the rules that judge it — over
    /// the organisation's defaults (see [`PolicyStage::org_defaults`]) and within the
    /// keys the matching installation policy lets it set. A file that cannot be read (too
    /// large, not UTF-8, no such branch) is a problem to report like an invalid one; only
    /// a missing file means the defaults (the organisation's, when there are some).
    async fn load_config(
        &self,
        scope: &RepoScope,
        default_branch: &str,
    ) -> Result<Result<RepoConfig, ConfigErrors>, StageError> {
        let file = self
            .github
            .file(scope, CONFIG_FILE_NAME, default_branch)
            .await?;
        let base = match self.org_defaults(scope).await? {
            Ok(base) => base,
            Err(errors) => return Ok(Err(errors)),
        };
        let policies = self.store.policies(scope.installation).await?;
        let overrides = matching_policy(&policies, &scope.repo).and_then(|policy| {
            policy
                .allowed_overrides
                .as_ref()
                .map(|paths| AllowedOverrides {
                    policy: policy.name.clone(),
                    paths: paths.clone(),
                })
        });
        let layers = ConfigLayers { base, overrides };
        Ok(layered_config_from_file(file, default_branch, &layers))
    }

    /// The organisation's defaults: `.ollama-turbo.yml` on the default branch of the
    /// account's `.github` repository, read with the installation. The App may not be
    /// installed on that repository (GitHub then refuses the token: 422), the repository
    /// or the file may not exist: each means no defaults, which a log line says. A file
    /// there that cannot be read is a problem in that file.
    async fn org_defaults(
        &self,
        scope: &RepoScope,
    ) -> Result<Result<Option<BaseFile>, ConfigErrors>, StageError> {
        let repo = RepoFullName::new(format!("{}/{ORG_CONFIG_REPO}", scope.repo.owner()));
        // The `.github` repository's own file is read once, as its own.
        if repo.as_str().eq_ignore_ascii_case(scope.repo.as_str()) {
            return Ok(Ok(None));
        }
        let base_scope = RepoScope {
            installation: scope.installation,
            repo: repo.clone(),
        };
        match self.github.file(&base_scope, CONFIG_FILE_NAME, "").await {
            Ok(file) => {
                let base = base_from_file(file, &repo);
                if let Ok(None) = base {
                    tracing::info!(repo = %scope.repo, defaults = %repo, "no organisation defaults: {repo} has no {CONFIG_FILE_NAME}");
                }
                Ok(base)
            }
            Err(error) if error.is_transient() => Err(error.into()),
            Err(error) => {
                tracing::info!(
                    repo = %scope.repo,
                    defaults = %repo,
                    %error,
                    "no organisation defaults: {repo} could not be read (is the App installed on it?)"
                );
                Ok(Ok(None))
            }
        }
    }

    async fn audit(&self, entry: AuditEntry) -> Result<(), StageError> {
        record(&self.store, &entry).await?;
        Ok(())
    }
}

/// The repository an event is about, as seen by its installation.
fn scope_of(envelope: &Envelope) -> Option<RepoScope> {
    Some(RepoScope {
        installation: envelope.installation?,
        repo: envelope.repository.as_ref()?.full_name.clone(),
    })
}

fn default_branch(envelope: &Envelope) -> String {
    envelope
        .repository
        .as_ref()
        .and_then(|repo| repo.default_branch.clone())
        .unwrap_or_default()
}

/// A marker unique to one comment the stage may write while processing one delivery.
fn marker(envelope: &Envelope, what: &str) -> String {
    format!("delivery:{}:{what}", envelope.delivery)
}

#[cfg(test)]
mod limits_tests {
    use super::*;
    use crate::ids::InstallationId;
    use crate::policy::InstallationPolicy;

    fn policy(user: Option<u32>, installation: Option<u32>) -> InstallationPolicy {
        InstallationPolicy {
            installation: InstallationId(1),
            name: "careful".to_owned(),
            repo_pattern: "*".to_owned(),
            allowed_triggers: None,
            allowed_users: None,
            require_approval: None,
            max_runtime_seconds: None,
            allow_hosted_model: None,
            user_jobs_per_hour: user,
            installation_jobs_per_hour: installation,
            allowed_overrides: None,
            token_budget: None,
            plan_first: None,
        }
    }

    #[test]
    fn a_policy_s_limits_apply_where_it_sets_them_and_the_defaults_elsewhere() {
        assert_eq!(
            EffectiveLimits::of(None),
            EffectiveLimits {
                user: (DEFAULT_USER_JOBS_PER_HOUR, None),
                installation: (DEFAULT_INSTALLATION_JOBS_PER_HOUR, None),
            }
        );
        let some = policy(Some(3), None);
        assert_eq!(
            EffectiveLimits::of(Some(&some)),
            EffectiveLimits {
                user: (3, Some("careful")),
                installation: (DEFAULT_INSTALLATION_JOBS_PER_HOUR, None),
            }
        );
        let both = policy(None, Some(50));
        assert_eq!(
            EffectiveLimits::of(Some(&both)).installation,
            (50, Some("careful"))
        );
        assert_eq!(
            EffectiveLimits::of(Some(&both)).user,
            (DEFAULT_USER_JOBS_PER_HOUR, None)
        );
    }
}
