//! A new comment: find the commands in it and carry out the first
//! [`MAX_COMMANDS_PER_COMMENT`]. Bad commands are listed with what to fix, and the good
//! ones in the same comment still run; whatever they all come to is said in the
//! comment's one reply ([`Voice`]).

use super::run::{Ask, ThreadRef};
use super::voice::Voice;
use super::{PolicyStage, StageError, Store, default_branch, marker, scope_of};
use crate::command::{
    Command, CommentCommands, Ignored, KnownTasks, MAX_COMMANDS_PER_COMMENT,
    command_errors_comment, help_text, parse_comment,
};
use crate::config::{RepoConfig, config_errors_comment};
use crate::envelope::{Comment, Envelope};
use crate::excerpt::excerpt;
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
        let mut voice = Voice::gathered();
        let config = match self.load_config(&scope, &default_branch(envelope)).await? {
            Ok(config) => config,
            Err(errors) => {
                let reply = config_errors_comment(&errors);
                let marker = marker(envelope, "config");
                voice
                    .say(&self.github, &scope, comment.number, &marker, reply)
                    .await?;
                voice
                    .post_reply(&self.github, &scope, comment.number, envelope, None)
                    .await?;
                let reason = format!(
                    "{} problem(s) in .ollama-turbo.yml",
                    errors.problems().len()
                );
                return self
                    .audit(comment_entry(
                        self,
                        envelope,
                        &scope,
                        "invalid_config",
                        reason,
                    ))
                    .await;
            }
        };

        let tasks = known_tasks(&config);
        let CommentCommands { taken, ignored } =
            CommentCommands::take(parse_comment(&comment.body, &tasks));
        if let Some(reply) = command_errors_comment(&taken) {
            let marker = marker(envelope, "errors");
            voice
                .say(&self.github, &scope, comment.number, &marker, reply)
                .await?;
        }
        let thread = ThreadRef::from_comment(comment);
        let mut commenter = Commenter::new();
        for (index, parsed) in taken.iter().enumerate() {
            let Ok(command) = &parsed.result else {
                continue;
            };
            voice.about(Some((parsed.line, &parsed.source)));
            // The audit trail and the logs keep the start of the line, not all of it.
            let source = excerpt(&parsed.source);
            let context = CommandContext {
                envelope,
                scope: &scope,
                config: &config,
                thread: &thread,
                index,
                source: &source,
            };
            self.carry_out(&context, command, &tasks, &mut commenter, &mut voice)
                .await?;
        }
        if let Some(Ignored { count, from_line }) = ignored {
            let reason = format!(
                "{count} command(s) from line {from_line} on, past the first \
                 {MAX_COMMANDS_PER_COMMENT} of the comment"
            );
            self.audit(comment_entry(self, envelope, &scope, "ignored", reason))
                .await?;
        }
        voice
            .post_reply(&self.github, &scope, comment.number, envelope, ignored)
            .await
    }

    async fn carry_out(
        &self,
        context: &CommandContext<'_>,
        command: &Command,
        tasks: &KnownTasks,
        commenter: &mut Commenter,
        voice: &mut Voice,
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
                let marker = marker(envelope, &format!("{index}:help"));
                voice
                    .say(
                        &self.github,
                        scope,
                        thread.number,
                        &marker,
                        help_text(tasks),
                    )
                    .await
            }
            Command::Status => {
                let jobs = self
                    .store
                    .jobs_for_thread(&scope.repo, thread.number, STATUS_JOBS)
                    .await?;
                let marker = marker(envelope, &format!("{index}:status"));
                voice
                    .say(
                        &self.github,
                        scope,
                        thread.number,
                        &marker,
                        status_comment(&jobs),
                    )
                    .await
            }
            Command::Run { task, text } => {
                let permission = commenter
                    .permission(&self.github, scope, &envelope.sender.login)
                    .await?;
                let ask = Ask {
                    fix_attempt: 0,
                    job: JobId::for_command(&envelope.delivery, index),
                    trigger: TriggerKind::Comment,
                    task: task.as_str().to_owned(),
                    params: text.clone(),
                    permission,
                    command: context.source.to_owned(),
                    plan: None,
                };
                self.run(envelope, scope, context.config, thread, ask, voice)
                    .await
            }
            Command::Approve { job } => self.approve(context, job.as_ref(), commenter, voice).await,
            Command::Cancel { job } => self.cancel(context, job.as_ref(), commenter, voice).await,
            Command::Retry { job } => self.retry(context, job.as_ref(), commenter, voice).await,
            Command::Revise { notes } => self.revise(context, notes, commenter, voice).await,
        }
    }
}

/// An audit entry about the comment as a whole (its config, its ignored commands).
fn comment_entry<G, S, W>(
    stage: &PolicyStage<G, S, W>,
    envelope: &Envelope,
    scope: &RepoScope,
    decision: &str,
    reason: String,
) -> AuditEntry {
    AuditEntry {
        installation: scope.installation,
        repo: Some(scope.repo.clone()),
        at_ms: (stage.clock)(),
        delivery: envelope.delivery.to_string(),
        actor: envelope.sender.login.clone(),
        command: "comment".to_owned(),
        decision: decision.to_owned(),
        reason,
        policy: None,
        job: None,
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
