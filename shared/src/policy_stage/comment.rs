//! A new comment: find the commands in it and carry each out. Bad commands get one reply
//! that lists what to fix; the good ones in the same comment still run.

use super::run::{Ask, ThreadRef};
use super::{PolicyStage, StageError, Store, default_branch, marker, scope_of};
use crate::command::{
    Command, KnownTasks, ParsedCommand, command_errors_comment, help_text, parse_comment,
};
use crate::config::{RepoConfig, config_errors_comment};
use crate::envelope::{Comment, Envelope};
use crate::job::JobId;
use crate::policy::TriggerKind;
use crate::policy::messages::status_comment;
use crate::ports::AuditEntry;
use crate::ports::Workflow;
use crate::ports::{GitHub, Permission, RepoScope};

/// How many jobs `/ollama status` lists.
const STATUS_JOBS: usize = 20;

/// The commenter's role, asked of GitHub at most once per comment.
pub(super) struct Commenter {
    cached: Option<Permission>,
}

impl Commenter {
    pub(super) fn new() -> Self {
        Self { cached: None }
    }

    pub(super) async fn permission<G: GitHub>(
        &mut self,
        github: &G,
        scope: &RepoScope,
        login: &str,
    ) -> Result<Permission, StageError> {
        if let Some(permission) = self.cached {
            return Ok(permission);
        }
        // "Could not check" is an error to retry, never a permission.
        let permission = github.permission(scope, login).await?;
        self.cached = Some(permission);
        Ok(permission)
    }
}

impl<G: GitHub, S: Store, W: Workflow> PolicyStage<G, S, W> {
    pub(super) async fn comment_created(
        &self,
        envelope: &Envelope,
        comment: &Comment,
    ) -> Result<(), StageError> {
        // Most comments are conversation: find that out before any I/O.
        if parse_comment(&comment.body, &KnownTasks::builtin()).is_empty() {
            return Ok(());
        }
        let Some(scope) = scope_of(envelope) else {
            return Ok(());
        };
        let config = match self.load_config(&scope, &default_branch(envelope)).await? {
            Ok(config) => config,
            Err(errors) => {
                self.github
                    .comment(
                        &scope,
                        comment.number,
                        &marker(envelope, "config"),
                        &config_errors_comment(&errors),
                    )
                    .await?;
                return self
                    .audit(AuditEntry {
                        installation: scope.installation,
                        repo: Some(scope.repo.clone()),
                        at_ms: (self.clock)(),
                        delivery: envelope.delivery.to_string(),
                        actor: envelope.sender.login.clone(),
                        command: "comment".to_owned(),
                        decision: "invalid_config".to_owned(),
                        reason: format!(
                            "{} problem(s) in .ollama-turbo.yml",
                            errors.problems().len()
                        ),
                        policy: None,
                        job: None,
                    })
                    .await;
            }
        };

        let tasks = known_tasks(&config);
        let parsed = parse_comment(&comment.body, &tasks);
        if let Some(reply) = command_errors_comment(&parsed) {
            self.github
                .comment(&scope, comment.number, &marker(envelope, "errors"), &reply)
                .await?;
        }
        let thread = ThreadRef::from_comment(comment);
        let mut commenter = Commenter::new();
        for (index, ParsedCommand { result, source, .. }) in parsed.iter().enumerate() {
            let Ok(command) = result else { continue };
            let context = CommandContext {
                envelope,
                scope: &scope,
                config: &config,
                thread: &thread,
                index,
                source,
            };
            self.carry_out(&context, command, &tasks, &mut commenter)
                .await?;
        }
        Ok(())
    }

    async fn carry_out(
        &self,
        context: &CommandContext<'_>,
        command: &Command,
        tasks: &KnownTasks,
        commenter: &mut Commenter,
    ) -> Result<(), StageError> {
        let CommandContext {
            envelope,
            scope,
            thread,
            index,
            ..
        } = *context;
        match command {
            Command::Help => {
                self.github
                    .comment(
                        scope,
                        thread.number,
                        &marker(envelope, &format!("{index}:help")),
                        &help_text(tasks),
                    )
                    .await?;
                Ok(())
            }
            Command::Status => {
                let jobs = self
                    .store
                    .jobs_for_thread(&scope.repo, thread.number, STATUS_JOBS)
                    .await?;
                self.github
                    .comment(
                        scope,
                        thread.number,
                        &marker(envelope, &format!("{index}:status")),
                        &status_comment(&jobs),
                    )
                    .await?;
                Ok(())
            }
            Command::Run { task, text } => {
                let permission = commenter
                    .permission(&self.github, scope, &envelope.sender.login)
                    .await?;
                let ask = Ask {
                    job: JobId::for_command(&envelope.delivery, index),
                    trigger: TriggerKind::Comment,
                    task: task.as_str().to_owned(),
                    params: text.clone(),
                    permission,
                    command: context.source.to_owned(),
                };
                self.run(envelope, scope, context.config, thread, ask).await
            }
            Command::Approve { job } => self.approve(context, job.as_ref(), commenter).await,
            Command::Cancel { job } => self.cancel(context, job.as_ref(), commenter).await,
            Command::Retry { job } => self.retry(context, job.as_ref(), commenter).await,
        }
    }
}

/// Where a command was given and what surrounds it.
#[derive(Clone, Copy)]
pub(super) struct CommandContext<'a> {
    pub envelope: &'a Envelope,
    pub scope: &'a RepoScope,
    pub config: &'a RepoConfig,
    pub thread: &'a ThreadRef,
    /// The command's position in its comment: part of its job's id and markers.
    pub index: usize,
    /// The command's line, for the audit log.
    pub source: &'a str,
}

/// The tasks a comment may name: the built-in ones and the repository's own.
pub(super) fn known_tasks(config: &RepoConfig) -> KnownTasks {
    let mut tasks = KnownTasks::builtin();
    for task in config.tasks() {
        tasks.add(task.name.as_str(), Some(task.description.clone()));
    }
    tasks
}
