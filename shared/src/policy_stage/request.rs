//! Requests from outside GitHub — a schedule's tick, an operator's run — on the default
//! branch head: each task is decided, limited, recorded, reported and started as any other
//! job is ([`PolicyStage::start_job`]). A request nobody can act on (an invalid config, an
//! unknown task, a repository the installation cannot reach) leaves an `invalid` entry in the audit log, which is
//! where the operator who asked looks.

use super::comment::known_tasks;
use super::run::{Ask, Requester, Target};
use super::voice::Voice;
use super::{PolicyStage, StageError, Store};
use crate::envelope::AccountKind;
use crate::inbound::{Request, RequestSource};
use crate::job::JobId;
use crate::policy::TriggerKind;
use crate::ports::AuditEntry;
use crate::ports::Workflow;
use crate::ports::{GitHub, GitHubError, Permission, RepoScope};

impl<G: GitHub, S: Store, W: Workflow> PolicyStage<G, S, W> {
    pub(super) async fn requested(&self, request: &Request) -> Result<(), StageError> {
        let scope = RepoScope {
            installation: request.installation,
            repo: request.repository.full_name.clone(),
        };
        let trigger = trigger_of(&request.source);
        let refuse = |reason: String| AuditEntry {
            installation: scope.installation,
            repo: Some(scope.repo.clone()),
            at_ms: (self.clock)(),
            delivery: request.id.to_string(),
            actor: request.source.requester(),
            command: trigger.as_str().to_owned(),
            decision: "invalid".to_owned(),
            reason,
            policy: None,
            job: None,
        };
        // What the requester did not know of the repository, GitHub tells; a repository
        // it does not show this installation is not one to run on.
        let (repo_id, branch) = match (request.repository.id, &request.repository.default_branch) {
            (Some(id), Some(branch)) => (id, branch.clone()),
            _ => match self.github.repository(&scope).await {
                Ok(info) => (info.id, info.default_branch),
                Err(GitHubError::NotFound(_)) => {
                    let reason = format!(
                        "{} is not a repository installation {} can reach",
                        scope.repo, scope.installation
                    );
                    return self.audit(refuse(reason)).await;
                }
                Err(err) => return Err(err.into()),
            },
        };
        let config = match self.load_config(&scope, &branch).await? {
            Ok(config) => config,
            Err(errors) => {
                let reason = match errors.problems().len() {
                    1 => format!(".ollama-turbo.yml on {branch} is invalid (1 problem)"),
                    n => format!(".ollama-turbo.yml on {branch} is invalid ({n} problems)"),
                };
                return self.audit(refuse(reason)).await;
            }
        };
        let known = known_tasks(&config);
        let commit = self.github.branch_head(&scope, &branch).await?;
        let requester = Requester {
            id: &request.id,
            login: request.source.requester(),
            // Nobody on GitHub asked: the source is judged by the trigger's policy alone.
            kind: AccountKind::Bot,
        };
        for (index, task) in request.tasks.iter().enumerate() {
            let Some(task) = known.find(task) else {
                let reason = format!("{task} is not a task of {}", scope.repo);
                self.audit(refuse(reason)).await?;
                continue;
            };
            let ask = Ask {
                fix_attempt: 0,
                job: JobId::for_trigger(&request.id, index),
                trigger,
                task: task.as_str().to_owned(),
                params: request.text.clone(),
                permission: Permission::None,
                command: trigger.as_str().to_owned(),
                plan: None,
            };
            // A schedule's read-only task has no pull request to answer on: it reports on
            // the repository's tracking issue.
            let thread = match (&request.source, config.task(task.as_str())) {
                (RequestSource::Schedule { .. }, Some(spec)) if !spec.deliverable.edits_code() => {
                    Some(self.tracking_thread(&scope, repo_id).await?)
                }
                _ => None,
            };
            let target = Target {
                commit: commit.clone(),
                git_ref: branch.clone(),
                from_fork: false,
                thread,
            };
            // Nobody to answer: a request has no thread.
            self.start_job(&requester, &scope, &config, ask, target, &mut Voice::Direct)
                .await?;
        }
        Ok(())
    }
}

/// The trigger that installation policies allow or refuse for a request.
pub(super) fn trigger_of(source: &RequestSource) -> TriggerKind {
    match source {
        RequestSource::Schedule { .. } => TriggerKind::Schedule,
        RequestSource::Operator { .. } => TriggerKind::Operator,
    }
}
