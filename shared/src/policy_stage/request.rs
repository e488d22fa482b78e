//! Requests from outside GitHub — a schedule's tick, an operator's run — on the default
//! branch head: each task is decided, limited, recorded, reported and started as any other
//! job is ([`PolicyStage::start_job`]). A request nobody can act on (an invalid config, an
//! unknown task, no default branch) leaves an `invalid` entry in the audit log, which is
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
use crate::ports::{GitHub, Permission, RepoScope};

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
        let Some(branch) = request.repository.default_branch.clone() else {
            return self
                .audit(refuse("the request names no default branch".to_owned()))
                .await;
        };
        let config = match self.load_config(&scope, &branch).await? {
            Ok(config) => config,
            Err(errors) => {
                let reason = format!(
                    ".ollama-turbo.yml on {branch} is invalid ({} problems)",
                    errors.problems().len()
                );
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
            };
            // A schedule's read-only task has no pull request to answer on: it reports on
            // the repository's tracking issue.
            let thread = match (&request.source, config.task(task.as_str())) {
                (RequestSource::Schedule { .. }, Some(spec)) if !spec.deliverable.edits_code() => {
                    Some(self.tracking_thread(&scope, request.repository.id).await?)
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
