//! [`Runner`]: one job from start to answer. See the module documentation of `job`.

use super::live::feed_check_run;
use super::text::{commit_message, pull_request_body, pull_request_title};
use crate::agent::candidates::{Selection, run_task};
use crate::agent::{
    AgentReport, AgentSettings, BudgetKind, Outcome, ProgressSink, TaskInput, TaskSpec,
};
use crate::ollama::OllamaClient;
use crate::tools::Workspace;
use crate::workspace::{Checkout, GitAuth, GitError, Identity, PushError, Remote};
use ota_github::{GitHubClient, PreviousReview};
use shared::clock::now_ms;
use shared::config::{
    BuiltinTask, CONFIG_FILE_NAME, Deliverable, OutputMode, layered_config_from_file,
};
use shared::dispatch::{RunOutput, TestRun, runner_started};
use shared::job::{JobError, JobId, JobRecord, PlanStep, TaskToken, Trigger, Wait, plan_text};
use shared::metrics::{self, Metric};
use shared::ports::EndpointKind;
use shared::ports::{GitHub, GitHubError, InlineComment, NewPullRequest, NewReview, RepoScope};
use shared::ports::{JobStore, StoreError};
use shared::ports::{Workflow, WorkflowError};
use std::time::Duration;
use tracing::Instrument;

/// A job that cannot go on, with the named error its wait ends with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub error: JobError,
    pub cause: String,
}

impl Failure {
    fn new(error: JobError, cause: impl Into<String>) -> Self {
        Self {
            error,
            cause: cause.into(),
        }
    }

    fn github(what: &str, err: &GitHubError) -> Self {
        let error = if err.is_transient() {
            JobError::RunnerGitHubUnavailable
        } else {
            JobError::RunnerFailed
        };
        Self::new(error, format!("{what}: {err}"))
    }

    fn git(err: &GitError) -> Self {
        let error = if err.transient {
            JobError::RunnerGitHubUnavailable
        } else {
            JobError::RunnerFailed
        };
        Self::new(error, err.to_string())
    }
}

/// How a job ended, as its wait was answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Finished {
    Succeeded(RunOutput),
    Failed(Failure),
    /// The wait was over before the runner answered (cancelled, replaced): nothing sent.
    Stopped,
}

/// Why the runner could not even answer its wait.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("job {0} has no task token for its run; it was not dispatched")]
    NoTaskToken(JobId),
    #[error("job store: {0}")]
    Store(#[from] StoreError),
    #[error("workflow: {0}")]
    Workflow(#[from] WorkflowError),
}

/// Everything one job needs; built once in `main`.
pub struct Runner<S, W> {
    pub store: S,
    pub workflow: W,
    /// The GitHub client, its tokens from the control plane ([`super::brokered_client`]).
    pub github: GitHubClient,
    pub ollama: OllamaClient,
    pub agent: AgentSettings,
    /// The Git host's root (`https://github.com`).
    pub git_base_url: String,
    pub identity: Identity,
    pub endpoint: Option<EndpointKind>,
    /// [`shared::job::HEARTBEAT_INTERVAL`] in production.
    pub heartbeat_interval: Duration,
    /// [`super::LIVE_UPDATE_INTERVAL`] in production.
    pub live_update_interval: Duration,
    /// The job's maximum runtime (the launch's [`shared::ports::RunnerLaunch::max_runtime`]):
    /// the attempt gives up with `Runner.TimedOut` after that long, clone to push. The
    /// workflow's run wait lasts longer on Step Functions, where it also holds the time in
    /// line, so the runtime is kept here.
    pub max_runtime: Duration,
}

impl<S: JobStore, W: Workflow> Runner<S, W> {
    /// Runs job `id` and answers its wait once.
    pub async fn run_job(&self, id: &JobId) -> Result<Finished, RunnerError> {
        let token = self
            .store
            .task_token(id, Wait::Run)
            .await?
            .ok_or_else(|| RunnerError::NoTaskToken(id.clone()))?;
        let job = match runner_started(&self.store, id, now_ms()).await {
            Ok(job) => job,
            Err(StoreError::Conflict { current }) => {
                let cause = format!("job {id} can no longer run (it is {current:?})");
                return self
                    .answer(&token, Err(Failure::new(JobError::RunnerFailed, cause)))
                    .await;
            }
            Err(err) => return Err(err.into()),
        };
        metrics::record(&Metric::RunnerStarted {
            endpoint: self.endpoint_name(),
        });
        let span = tracing::info_span!("job", job = %job.id, repo = %job.repo, task = %job.task);
        self.run_started(&job, &token).instrument(span).await
    }

    async fn run_started(
        &self,
        job: &JobRecord,
        token: &TaskToken,
    ) -> Result<Finished, RunnerError> {
        tracing::info!(commit = %job.commit.as_str(), "runner started");
        self.agent.sandbox.log_setup();
        let started = std::time::Instant::now();
        let result = tokio::select! {
            result = self.work(job) => result,
            () = tokio::time::sleep(self.max_runtime) => {
                let seconds = self.max_runtime.as_secs();
                tracing::warn!(max_runtime_seconds = seconds, "the attempt ran out of time");
                Err(Failure::new(
                    JobError::RunnerTimedOut,
                    format!("The attempt did not finish within its maximum runtime of {seconds} seconds."),
                ))
            }
            stopped = self.heartbeats(token) => {
                tracing::warn!(reason = %stopped, "the job's wait is over; stopping");
                return Ok(Finished::Stopped);
            }
        };
        self.count_attempt(&result, started.elapsed());
        self.answer(token, result).await
    }

    /// The endpoint's kind as a metric dimension.
    fn endpoint_name(&self) -> &'static str {
        self.endpoint.map_or("unknown", EndpointKind::as_str)
    }

    /// The attempt's outcome, time and tokens (known only from a run that succeeded).
    fn count_attempt(&self, result: &Result<RunOutput, Failure>, took: Duration) {
        let (outcome, tokens) = match result {
            Ok(output) => (
                "succeeded",
                Some(output.tokens.prompt + output.tokens.completion),
            ),
            Err(failure) => (failure.error.name(), None),
        };
        metrics::record(&Metric::Attempt {
            endpoint: self.endpoint_name(),
            outcome,
            seconds: took.as_secs_f64(),
            tokens,
        });
    }

    /// Sends heartbeats until one is refused; returns why.
    async fn heartbeats(&self, token: &TaskToken) -> WorkflowError {
        let mut ticks = tokio::time::interval(self.heartbeat_interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            tracing::debug!("sending a heartbeat");
            match self.workflow.heartbeat(token).await {
                Ok(()) => tracing::info!("heartbeat sent"),
                Err(WorkflowError::TokenExpired) => return WorkflowError::TokenExpired,
                Err(err) => tracing::warn!(error = %err, "heartbeat failed; trying again later"),
            }
        }
    }

    async fn answer(
        &self,
        token: &TaskToken,
        result: Result<RunOutput, Failure>,
    ) -> Result<Finished, RunnerError> {
        let sent = match &result {
            Ok(output) => {
                tracing::info!(
                    pull_request = output.pull_request_url.as_deref(),
                    branch = output.branch.as_deref(),
                    "job succeeded"
                );
                self.workflow.succeed(token, &output.to_task_output()).await
            }
            Err(failure) => {
                tracing::warn!(error = failure.error.name(), cause = %failure.cause, "job failed");
                self.workflow
                    .fail(token, failure.error, &failure.cause)
                    .await
            }
        };
        match sent {
            Ok(()) => Ok(match result {
                Ok(output) => Finished::Succeeded(output),
                Err(failure) => Finished::Failed(failure),
            }),
            Err(WorkflowError::TokenExpired) => Ok(Finished::Stopped),
            Err(err) => Err(err.into()),
        }
    }

    /// A git credential made from a token asked for now: the client's cache hands out a
    /// fresh one once the last is near its expiry.
    async fn git_auth(&self, scope: &RepoScope) -> Result<GitAuth, Failure> {
        let token = self
            .github
            .installation_token(scope, self.github.permissions())
            .await
            .map_err(|err| Failure::github("minting an installation token", &err))?;
        Ok(GitAuth::installation_token(token.secret()))
    }

    async fn task_spec(
        &self,
        job: &JobRecord,
        scope: &RepoScope,
    ) -> Result<(TaskSpec, Publish, Option<BuiltinTask>), Failure> {
        let file = self
            .github
            .file(scope, CONFIG_FILE_NAME, "")
            .await
            .map_err(|err| Failure::github("reading .ollama-turbo.yml", &err))?;
        // Over what the policy stage read it with (the organisation's defaults, which this
        // token cannot read, and the keys the repository may set), as the job carries them.
        let config = layered_config_from_file(file, "", &job.config_layers).map_err(|errors| {
            Failure::new(
                JobError::RunnerBadConfig,
                format!("{CONFIG_FILE_NAME} on the default branch is invalid: {errors}"),
            )
        })?;
        let task = config.task(&job.task).ok_or_else(|| {
            Failure::new(
                JobError::RunnerBadConfig,
                format!("{CONFIG_FILE_NAME} defines no task `{}`", job.task),
            )
        })?;
        let mut spec = TaskSpec::from_config(task);
        // Ollama's hosted service has its own models: a job sent there runs the task's
        // `hosted_model` (dispatch sends a job there only when it has one, or when no GPU
        // is configured and `model` is the only choice).
        let hosted = self.endpoint == Some(EndpointKind::Hosted);
        task.model_for(hosted).clone_into(&mut spec.model);
        let ci_fix = matches!(job.trigger, Trigger::CiFailed { .. });
        let publish = match config.output {
            OutputMode::PushDirect => Publish::OntoBranch,
            _ if ci_fix && config.push_to_pr_branch => Publish::OntoBranch,
            OutputMode::BranchOnly => Publish::BranchOnly,
            OutputMode::PullRequest => Publish::PullRequest,
        };
        Ok((spec, publish, task.builtin))
    }

    async fn work(&self, job: &JobRecord) -> Result<RunOutput, Failure> {
        let scope = RepoScope {
            installation: job.installation,
            repo: job.repo.clone(),
        };
        let (mut spec, mut publish, builtin) = self.task_spec(job, &scope).await?;
        if job.is_plan() {
            spec = spec.for_planning();
        }
        if spec.tools.run_command
            && let Some(reason) = self.agent.sandbox.unavailable()
        {
            tracing::error!(job = %job.id, "{reason}");
            return Err(Failure::new(
                JobError::RunnerFailed,
                format!("the task's command was not run: {reason}"),
            ));
        }
        self.check_model(job, &spec.model).await?;
        let remote = Remote::for_repo(&self.git_base_url, job.repo.as_str());
        let checkout = Checkout::clone_at(&remote, &job.commit, &self.git_auth(&scope).await?)
            .await
            .map_err(|err| Failure::git(&err))?;
        tracing::info!("cloned the repository");
        let earlier = self.earlier_review(job, &scope, &spec).await;
        let resolving = if builtin == Some(BuiltinTask::Resolve) {
            let resolving = self.merge_base(job, &scope, &checkout).await?;
            // The merge goes onto the pull request's branch when the App may push there.
            publish = if resolving.from_fork {
                Publish::PullRequest
            } else {
                Publish::OntoBranch
            };
            Some(resolving)
        } else {
            None
        };
        let (report, selection) = self
            .run_agent(
                job,
                &scope,
                &spec,
                &checkout,
                earlier.as_ref(),
                resolving.as_ref(),
            )
            .await?;
        if let Some(resolving) = &resolving {
            resolving.check_markers(&checkout)?;
        }
        let mut output = RunOutput {
            summary: String::new(),
            pull_request_url: None,
            branch: None,
            tests: report
                .last_command
                .iter()
                .map(|run| TestRun {
                    command: run.command.clone(),
                    passed: run.succeeded(),
                    summary: None,
                })
                .collect(),
            model: spec.model.clone(),
            endpoint: self.endpoint,
            tokens: report.tokens,
            details: Some(details(&report, selection.as_ref())),
        };
        match &report.outcome {
            Outcome::Finished { summary } if job.is_plan() => {
                // The plan is the job's result: the report posts it for approval.
                output.summary = plan_text(summary);
                Ok(output)
            }
            Outcome::Finished { summary } => {
                match spec.deliverable {
                    Deliverable::Review => {
                        output.summary = self
                            .post_review(job, &scope, &report, summary, earlier.as_ref())
                            .await?;
                    }
                    Deliverable::PullRequest => {
                        let work = Work {
                            checkout: &checkout,
                            report: &report,
                            summary,
                            candidates: selection.as_ref(),
                        };
                        match publish {
                            Publish::OntoBranch => {
                                self.push_onto_branch(job, &scope, &work, &mut output)
                                    .await?;
                            }
                            Publish::BranchOnly => {
                                self.push_branch(job, &scope, &work, &mut output).await?;
                            }
                            Publish::PullRequest => {
                                self.propose_changes(job, &scope, &work, &mut output)
                                    .await?;
                            }
                        }
                    }
                }
                Ok(output)
            }
            Outcome::BudgetExhausted { budget } => {
                let what = format!("the {budget} budget ran out");
                let message = commit_message(job, &format!("Stopped: {what}."), true);
                let kept = match self.publish(job, &scope, &checkout, &message).await {
                    Ok(Some(branch)) => format!("; the partial work is on branch `{branch}`"),
                    Ok(None) => "; nothing had changed yet".to_owned(),
                    Err(failure) => {
                        format!("; the partial work could not be pushed: {}", failure.cause)
                    }
                };
                let error = if *budget == BudgetKind::WallClock {
                    JobError::RunnerTimedOut
                } else {
                    JobError::RunnerBudgetExceeded
                };
                Err(Failure::new(
                    error,
                    format!("{what} after {} turns{kept}", report.turns),
                ))
            }
            other => {
                let error = other.job_error().unwrap_or(JobError::RunnerFailed);
                let cause = match other {
                    Outcome::GaveUp { reason } => format!("the agent gave up: {reason}"),
                    Outcome::ModelUnavailable { message } => {
                        format!("the model is unavailable: {message}")
                    }
                    Outcome::ModelRejected { message, .. } => {
                        format!("the model refused: {message}")
                    }
                    Outcome::ThoughtPastBudget { max_tokens } => {
                        crate::agent::thought_past_budget_text(*max_tokens)
                    }
                    Outcome::UnreadableReplies { message } => format!(
                        "the model's replies could not be read, twice in a row; a model that \
                         follows Ollama's chat format may do better (set `model` in \
                         .ollama-turbo.yml). Last: {message}"
                    ),
                    _ => other.label(),
                };
                Err(Failure::new(error, cause))
            }
        }
    }

    /// Asks the server about the task's model before anything is cloned: a model it does
    /// not have, or one that can't call tools, ends the job here with what to change. The
    /// answer stays in the client's cache for the agent's own look.
    async fn check_model(&self, job: &JobRecord, model: &str) -> Result<(), Failure> {
        match self.ollama.check_model(model).await {
            Ok(info) => {
                tracing::info!(
                    model,
                    context_length = info.context_length,
                    tools = info.supports_tools(),
                    "the model is there"
                );
                Ok(())
            }
            Err(error) => {
                tracing::error!(job = %job.id, model, error = %error, "the model can't do this job");
                Err(Failure::new(error.job_error(), error.to_string()))
            }
        }
    }

    /// The thread the job came from, as the agent should read it: its title and
    /// description, and a pull request's diff. Without them the agent still works from
    /// the request and the code, so a failure here is logged, not fatal.
    async fn thread_context(
        &self,
        job: &JobRecord,
        scope: &RepoScope,
    ) -> (Option<String>, Option<String>) {
        let Some(number) = job.trigger.number() else {
            return (None, None);
        };
        let pull_request = job.trigger.on_pull_request();
        match self.github.thread_text(scope, number, pull_request).await {
            Ok(text) => (
                Some(format!("#{number}: {}\n\n{}", text.title, text.body)),
                text.diff,
            ),
            Err(err) => {
                tracing::warn!(job = %job.id, error = %err, "the thread's text could not be read");
                (None, None)
            }
        }
    }

    /// For a review of a pull request the App reviewed before: what it said then and,
    /// when the head moved on from the reviewed one, the diff since. A failure to read
    /// them is logged and the review covers the whole pull request.
    async fn earlier_review(
        &self,
        job: &JobRecord,
        scope: &RepoScope,
        spec: &TaskSpec,
    ) -> Option<Earlier> {
        let number = job.trigger.number()?;
        if spec.deliverable != Deliverable::Review || !job.trigger.on_pull_request() {
            return None;
        }
        let previous = match self.github.previous_review(scope, number).await {
            Ok(previous) => previous?,
            Err(err) => {
                tracing::warn!(job = %job.id, error = %err, "the earlier reviews could not be read; reviewing everything");
                return None;
            }
        };
        let since = if previous.commit == job.commit {
            None
        } else {
            match self
                .github
                .compare_diff(scope, &previous.commit, &job.commit)
                .await
            {
                Ok(diff) => diff,
                Err(err) => {
                    tracing::warn!(job = %job.id, error = %err, "the changes since the last review could not be read; reviewing everything");
                    None
                }
            }
        };
        Some(Earlier { previous, since })
    }

    /// The `resolve` task's first step: the pull request's base merged into the checkout,
    /// and the files left with conflicts.
    async fn merge_base(
        &self,
        job: &JobRecord,
        scope: &RepoScope,
        checkout: &Checkout,
    ) -> Result<Resolving, Failure> {
        let Some(number) = job
            .trigger
            .number()
            .filter(|_| job.trigger.on_pull_request())
        else {
            return Err(Failure::new(
                JobError::RunnerBadConfig,
                "`resolve` works on a pull request: ask for it on one".to_owned(),
            ));
        };
        let pull = self
            .github
            .pull_request(scope, number)
            .await
            .map_err(|err| Failure::github("reading the pull request", &err))?;
        let auth = self.git_auth(scope).await?;
        let conflicted = checkout
            .merge_branch(&pull.base_ref, &auth, &self.identity)
            .await
            .map_err(|err| Failure::git(&err))?;
        tracing::info!(base = %pull.base_ref, conflicted = conflicted.len(), "merged the base branch");
        Ok(Resolving {
            base: pull.base_ref,
            conflicted,
            from_fork: pull.from_fork,
        })
    }

    async fn run_agent(
        &self,
        job: &JobRecord,
        scope: &RepoScope,
        spec: &TaskSpec,
        checkout: &Checkout,
        earlier: Option<&Earlier>,
        resolving: Option<&Resolving>,
    ) -> Result<(AgentReport, Option<Selection>), Failure> {
        let workspace = Workspace::new(checkout.root()).map_err(|err| {
            Failure::new(
                JobError::RunnerFailed,
                format!("the clone is unusable: {err}"),
            )
        })?;
        let (issue, mut pr_diff) = self.thread_context(job, scope).await;
        let mut request = Some(job.params.clone()).filter(|p| !p.trim().is_empty());
        if let Some((base, diff)) = earlier.and_then(Earlier::incremental) {
            let note = format!(
                "You reviewed this pull request before, at commit {base}. Review only the \
                 changes since then: the diff below is of those changes alone."
            );
            request = Some(match request {
                Some(asked) => format!("{note}\n\n{asked}"),
                None => note,
            });
            pr_diff = Some(diff.to_owned());
        }
        if let Some(resolving) = resolving {
            let note = resolving.note();
            request = Some(match request {
                Some(asked) => format!("{note}\n\n{asked}"),
                None => note,
            });
        }
        if let Some(note) = job.plan.as_ref().and_then(plan_note) {
            request = Some(match request {
                Some(asked) => format!("{asked}\n\n{note}"),
                None => note,
            });
        }
        let input = TaskInput {
            request,
            issue,
            pr_diff,
        };
        let (sink, events) = ProgressSink::channel();
        // Best-of-N for a change made from the job's commit; `resolve` works on a merge in
        // progress, which one run settles.
        let mut spec = spec.clone();
        if resolving.is_some() || spec.deliverable != Deliverable::PullRequest {
            spec.candidates = 1;
        }
        // The run (and with it the sink) is dropped when it ends, which closes the channel
        // and ends the check-run feed.
        let agent_run = async {
            run_task(&self.ollama, &workspace, &spec, &self.agent, &input, sink)
                .await
                .map_err(|err| Failure::new(JobError::RunnerFailed, err.to_string()))
        };
        let feed = feed_check_run(
            &self.github,
            scope,
            job.check_run_id,
            format!("Working on `{}`", job.task),
            shared::report::text::log_pointer(&job.id, job.log.as_deref()),
            events,
            self.live_update_interval,
        );
        let (ran, _tail) = tokio::join!(agent_run, feed);
        ran
    }

    /// Commits the changes on the job's branch and pushes it; `None` when nothing changed.
    async fn publish(
        &self,
        job: &JobRecord,
        scope: &RepoScope,
        checkout: &Checkout,
        message: &str,
    ) -> Result<Option<String>, Failure> {
        let branch = job.branch_name();
        let Some(head) = checkout
            .commit_all(&branch, message, &self.identity)
            .await
            .map_err(|err| Failure::git(&err))?
        else {
            tracing::info!("no changes to commit");
            return Ok(None);
        };
        let auth = self.git_auth(scope).await?;
        checkout
            .push(&branch, &head, &auth)
            .await
            .map_err(|err| match err {
                PushError::Git(err) => Failure::git(&err),
                taken @ PushError::BranchTaken { .. } => {
                    Failure::new(JobError::RunnerFailed, taken.to_string())
                }
            })?;
        tracing::info!(branch = %branch, commit = %head.as_str(), "pushed the branch");
        Ok(Some(branch))
    }

    /// Commits the agent's changes on the job's branch, pushes it and opens the pull
    /// request; fills in the output's summary, branch and pull request. Without changes
    /// there is nothing to propose, and the summary says so.
    async fn propose_changes(
        &self,
        job: &JobRecord,
        scope: &RepoScope,
        work: &Work<'_>,
        output: &mut RunOutput,
    ) -> Result<(), Failure> {
        let Work {
            checkout,
            report,
            summary,
            ..
        } = *work;
        let message = commit_message(job, summary, false);
        let Some(branch) = self.publish(job, scope, checkout, &message).await? else {
            output.summary = format!("No changes: {}", summary.trim());
            return Ok(());
        };
        let pull = NewPullRequest {
            head: branch.clone(),
            base: base_branch(job),
            title: pull_request_title(job),
            body: pull_request_body(job, report, summary, &output.model, work.candidates),
        };
        let opened = self
            .github
            .open_pull_request(scope, &pull)
            .await
            .map_err(|err| Failure::github("opening the pull request", &err))?;
        output.summary = summary.trim().to_owned();
        output.branch = Some(branch);
        output.pull_request_url = Some(opened.url);
        Ok(())
    }

    /// Commits the changes on the job's branch and pushes it, without a pull request
    /// (`output.open_pr: false`).
    async fn push_branch(
        &self,
        job: &JobRecord,
        scope: &RepoScope,
        work: &Work<'_>,
        output: &mut RunOutput,
    ) -> Result<(), Failure> {
        let message = commit_message(job, work.summary, false);
        let Some(branch) = self.publish(job, scope, work.checkout, &message).await? else {
            output.summary = format!("No changes: {}", work.summary.trim());
            return Ok(());
        };
        output.summary = format!(
            "Pushed branch `{branch}` (no pull request: `open_pr` is off): {}",
            work.summary.trim()
        );
        output.branch = Some(branch);
        Ok(())
    }

    /// Commits the changes and pushes them onto the branch the job ran on: the pull
    /// request's own branch for `ci_failed` with `output.push_to_pr_branch`, any job's
    /// with `output.push_direct`. When the branch moved since the job started, the push
    /// would overwrite or miss that work: the changes go to a pull request against the
    /// branch instead, and the summary says why.
    async fn push_onto_branch(
        &self,
        job: &JobRecord,
        scope: &RepoScope,
        work: &Work<'_>,
        output: &mut RunOutput,
    ) -> Result<(), Failure> {
        let message = commit_message(job, work.summary, false);
        let Some(head) = work
            .checkout
            .commit_all(&job.branch_name(), &message, &self.identity)
            .await
            .map_err(|err| Failure::git(&err))?
        else {
            output.summary = format!("No changes: {}", work.summary.trim());
            return Ok(());
        };
        let branch = base_branch(job);
        let auth = self.git_auth(scope).await?;
        match work.checkout.push_onto(&branch, &head, &auth).await {
            Ok(()) => {
                tracing::info!(branch = %branch, commit = %head.as_str(), "pushed onto the branch the job ran on");
                output.summary = format!(
                    "Pushed onto `{branch}` as {}: {}",
                    &head.as_str()[..head.as_str().len().min(7)],
                    work.summary.trim()
                );
                output.branch = Some(branch);
                Ok(())
            }
            Err(PushError::BranchTaken { .. }) => {
                tracing::info!(branch = %branch, "the branch moved while the fix was made; opening a pull request against it");
                self.propose_changes(job, scope, work, output).await?;
                output.summary = format!(
                    "`{branch}` moved while the job ran, so the changes are proposed in a \
                     pull request against it: {}",
                    output.summary
                );
                Ok(())
            }
            Err(PushError::Git(err)) => Err(Failure::git(&err)),
        }
    }

    /// Posts the review the agent submitted on the job's pull request; returns the summary.
    async fn post_review(
        &self,
        job: &JobRecord,
        scope: &RepoScope,
        report: &AgentReport,
        summary: &str,
        earlier: Option<&Earlier>,
    ) -> Result<String, Failure> {
        let review = report.review.clone().unwrap_or_default();
        // A review goes on the pull request it is about; one without (a schedule's, on the
        // default branch) is told whole in the summary, which the report posts.
        let Some(number) = job
            .trigger
            .number()
            .filter(|_| job.trigger.on_pull_request())
        else {
            return Ok(review_without_pull_request(job, &review, summary));
        };
        let said_before =
            |comment: &InlineComment| {
                earlier.is_some_and(|earlier| {
                    earlier.previous.comments.iter().any(|(path, body)| {
                        *path == comment.path && body.trim() == comment.body.trim()
                    })
                })
            };
        let (repeated, comments): (Vec<InlineComment>, Vec<InlineComment>) = review
            .comments
            .iter()
            .map(|comment| InlineComment {
                path: comment.path.clone(),
                line: u64::try_from(comment.line).unwrap_or(u64::MAX),
                body: comment.body.clone(),
            })
            .partition(|comment| said_before(comment));
        let since = earlier.and_then(Earlier::incremental).map(|(base, _)| base);
        let scope_words = match since {
            Some(base) => format!("the changes since {}", short(base)),
            None => "the pull request".to_owned(),
        };
        let left_out = if repeated.is_empty() {
            String::new()
        } else {
            format!(" ({} made before, not repeated)", repeated.len())
        };
        if since.is_some() && comments.is_empty() {
            // Nothing new to say inline: the summary comment says it, no empty review.
            return Ok(format!(
                "Reviewed {scope_words}: no new inline comments{left_out}. {}",
                summary.trim()
            ));
        }
        let body = match since {
            Some(base) => format!(
                "Review of the changes since {}.\n\n{}",
                short(base),
                review.summary
            ),
            None => review.summary.clone(),
        };
        let posted = NewReview {
            commit: job.commit.clone(),
            body,
            comments,
        };
        let marker = format!("job:{}:review", job.id);
        self.github
            .review(scope, number, &marker, &posted)
            .await
            .map_err(|err| Failure::github("posting the review", &err))?;
        Ok(format!(
            "Reviewed {scope_words} with {} inline comment(s){left_out}: {}",
            posted.comments.len(),
            summary.trim()
        ))
    }
}

/// What the App said in its earlier reviews of the job's pull request, and the diff
/// since the head it last reviewed when that head is an ancestor of the job's.
struct Earlier {
    previous: PreviousReview,
    since: Option<String>,
}

impl Earlier {
    /// The head last reviewed and the diff since, when the review covers only that.
    fn incremental(&self) -> Option<(&str, &str)> {
        self.since
            .as_deref()
            .map(|diff| (self.previous.commit.as_str(), diff))
    }
}

/// The `resolve` task's merge: the base branch, the files it left with conflicts, and
/// whether the pull request's branch is in a fork (where the App cannot push).
struct Resolving {
    base: String,
    conflicted: Vec<String>,
    from_fork: bool,
}

impl Resolving {
    /// What the agent is told of the merge.
    fn note(&self) -> String {
        if self.conflicted.is_empty() {
            return format!(
                "`{}` merged into this branch without conflicts. Run the project's check and \
                 fix what the merge broke, if anything.",
                self.base
            );
        }
        let mut note = format!(
            "`{}` has been merged into this branch. Files with conflicts:",
            self.base
        );
        for path in &self.conflicted {
            note.push_str(&format!("\n- {path}"));
        }
        note
    }

    /// Fails the job when a conflicted file still has a conflict marker line.
    fn check_markers(&self, checkout: &Checkout) -> Result<(), Failure> {
        let left: Vec<&str> = self
            .conflicted
            .iter()
            .filter(|path| {
                std::fs::read_to_string(checkout.root().join(path)).is_ok_and(|text| {
                    text.lines().any(|line| {
                        line.starts_with("<<<<<<< ")
                            || line.starts_with(">>>>>>> ")
                            || line == "======="
                    })
                })
            })
            .map(String::as_str)
            .collect();
        if left.is_empty() {
            return Ok(());
        }
        Err(Failure::new(
            JobError::RunnerFailed,
            format!(
                "conflict markers are left in {}; nothing was pushed",
                left.join(", ")
            ),
        ))
    }
}

/// A commit's first seven hex digits, as GitHub shows them.
fn short(sha: &str) -> &str {
    &sha[..sha.len().min(7)]
}

/// Where a finished job's changes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Publish {
    /// A new branch and a pull request into the branch the job ran on.
    PullRequest,
    /// A new branch alone.
    BranchOnly,
    /// Onto the branch the job ran on, as a fast-forward.
    OntoBranch,
}

/// What the agent left to publish.
#[derive(Clone, Copy)]
struct Work<'a> {
    checkout: &'a Checkout,
    report: &'a AgentReport,
    summary: &'a str,
    /// Best-of-N's candidates, when the task made several.
    candidates: Option<&'a Selection>,
}

/// A review with no pull request to post it on, as text: what it says and each comment with
/// the line it is about (the agent's own summary when it submitted no review).
fn review_without_pull_request(
    job: &JobRecord,
    review: &crate::agent::Review,
    summary: &str,
) -> String {
    let short = job.commit.as_str().get(..7).unwrap_or(job.commit.as_str());
    let said = if review.summary.trim().is_empty() {
        summary.trim()
    } else {
        review.summary.trim()
    };
    let mut text = format!("Review of `{}` at `{short}`: {said}", base_branch(job));
    for comment in &review.comments {
        text.push_str(&format!(
            "\n- `{}:{}`: {}",
            comment.path,
            comment.line,
            comment.body.trim()
        ));
    }
    text
}

/// The branch the job came from, which the pull request goes into.
fn base_branch(job: &JobRecord) -> String {
    job.git_ref
        .strip_prefix("refs/heads/")
        .unwrap_or(&job.git_ref)
        .to_owned()
}

/// The longer account for the check run: outcome, files, last command, numbers.
/// What the agent is told of the plan it revises or carries out.
fn plan_note(step: &PlanStep) -> Option<String> {
    match step {
        PlanStep::Draft {
            previous: Some(previous),
            notes,
            ..
        } => Some(format!(
            "You planned this task before. Your plan was:\n\n{previous}\n\nA maintainer asks \
             you to plan it again: {}\nWrite the revised plan, whole.",
            notes.as_deref().unwrap_or("improve it.")
        )),
        PlanStep::Draft { .. } => None,
        PlanStep::Apply {
            approved_by, text, ..
        } => Some(format!(
            "@{approved_by} approved this plan for the task; carry it out:\n\n{text}\n\nFollow \
             the plan. Where you must depart from it (it missed something, or a step is wrong), \
             do what the task needs and end your summary with a section **Departures from the \
             plan** saying where and why; when you followed it, say so there."
        )),
    }
}

fn details(report: &AgentReport, candidates: Option<&Selection>) -> String {
    let mut text = format!(
        "Outcome: {}\nTurns: {}\nTime: {} s\n",
        report.outcome.label(),
        report.turns,
        report.elapsed.as_secs()
    );
    if !report.files_changed.is_empty() {
        text.push_str("Files changed:\n");
        for file in &report.files_changed {
            text.push_str(&format!("- {file}\n"));
        }
    }
    if let Some(run) = &report.last_command {
        text.push_str(&format!("\nLast command:\n{run}\n"));
    }
    if let Some(selection) = candidates {
        text.push_str(&format!("\nCandidates:\n{}", selection.markdown()));
    }
    text
}
