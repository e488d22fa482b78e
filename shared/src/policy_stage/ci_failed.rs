//! The `ci_failed` trigger: a pull request's checks failed (`check_suite` `completed`
//! with a failing conclusion), so the configured tasks start on its head with the failing
//! checks' names, output and annotations as their text.
//!
//! One job per task and head, whatever the number of failing suites (each workflow has
//! its own) or deliveries: the job id is derived from the repository, the head commit and
//! the task's index. The loop guard counts the fix jobs in a row that each followed a
//! failure of the App's own commit, and stops at `max_attempts`.

use super::run::{Ask, Target, ThreadRef};
use super::voice::Voice;
use super::{PolicyStage, StageError, Store, scope_of};
use crate::envelope::{CheckSuite, Envelope};
use crate::excerpt::cut_chars;
use crate::job::{JobId, Trigger};
use crate::policy::TriggerKind;
use crate::policy::messages::ci_fix_gave_up_comment;
use crate::ports::{ChangeSet, FailedCheck, GitHub, Permission, Workflow};

/// The suite conclusions that start a fix: GitHub's `failure`, `timed_out` and
/// `startup_failure` (not `cancelled`, `action_required`, `neutral`, `stale`, `skipped`).
const FAILING: [&str; 3] = ["failure", "timed_out", "startup_failure"];

/// How many of a pull request's jobs are read to count the fix attempts in a row.
const THREAD_JOBS: usize = 100;

/// The most characters of one check's output in the task text, and of the whole text.
const CHECK_OUTPUT_CHARS: usize = 2_000;
const TASK_TEXT_CHARS: usize = 12_000;

impl<G: GitHub, S: Store, W: Workflow> PolicyStage<G, S, W> {
    pub(super) async fn check_suite_completed(
        &self,
        envelope: &Envelope,
        suite: &CheckSuite,
    ) -> Result<(), StageError> {
        let failed = suite
            .conclusion
            .as_deref()
            .is_some_and(|conclusion| FAILING.contains(&conclusion));
        // GitHub lists no pull request for a suite whose head branch is in a fork.
        let (true, Some(&number), Some(scope)) =
            (failed, suite.pull_requests.first(), scope_of(envelope))
        else {
            return Ok(());
        };
        let Some(config) = self.config_or_log(envelope, &scope).await? else {
            return Ok(());
        };
        let trigger = &config.triggers.ci_failed;
        let tasks = trigger.tasks().to_vec();
        if tasks.is_empty()
            || !self
                .paths_admit(
                    envelope,
                    &scope,
                    &trigger.paths,
                    None,
                    ChangeSet::PullRequest(number),
                )
                .await?
        {
            return Ok(());
        }
        let pr = self.github.pull_request(&scope, number).await?;
        if pr.head_sha != suite.head_sha || pr.state != "open" {
            tracing::info!(
                delivery = %envelope.delivery,
                repo = %scope.repo,
                pull_request = number,
                "checks failed on a commit that is no longer the open pull request's head; nothing to fix"
            );
            return Ok(());
        }
        let own_head = suite
            .head_author
            .as_deref()
            .is_some_and(|author| self.app.is_bot(author));
        let attempt = if own_head {
            self.last_fix_attempt(&scope.repo, number).await? + 1
        } else {
            1
        };
        if attempt > trigger.max_attempts {
            tracing::info!(
                delivery = %envelope.delivery,
                repo = %scope.repo,
                pull_request = number,
                attempts = trigger.max_attempts,
                "checks still fail after the App's fix attempts; not trying again"
            );
            let marker = format!("ci-failed:{}:gave-up", suite.head_sha.as_str());
            let body = ci_fix_gave_up_comment(trigger.max_attempts, suite.head_sha.as_str());
            self.github.comment(&scope, number, &marker, &body).await?;
            return Ok(());
        }
        let checks = self.github.failed_checks(&scope, suite.id).await?;
        let text = task_text(&checks, suite, attempt, trigger.max_attempts);
        let short = &suite.head_sha.as_str()[..suite.head_sha.as_str().len().min(7)];
        for (index, task) in tasks.iter().enumerate() {
            let ask = Ask {
                job: JobId::for_ci_failure(&scope.repo, &suite.head_sha, index),
                trigger: TriggerKind::CiFailed,
                task: task.as_str().to_owned(),
                params: text.clone(),
                // Like every trigger: not judged by the sender's role; forks need approval.
                permission: Permission::None,
                command: format!("ci_failed {short} (attempt {attempt})"),
                fix_attempt: attempt,
                plan: None,
            };
            let target = Target {
                commit: suite.head_sha.clone(),
                git_ref: pr.head_ref.clone(),
                from_fork: pr.from_fork,
                thread: Some(ThreadRef {
                    number,
                    on_pull_request: true,
                    comment: None,
                }),
            };
            self.run_on(envelope, &scope, &config, ask, target, &mut Voice::Direct)
                .await?;
        }
        Ok(())
    }

    /// The attempt number of the pull request's newest `ci_failed` job; 0 if none.
    async fn last_fix_attempt(
        &self,
        repo: &crate::ids::RepoFullName,
        number: u64,
    ) -> Result<u32, StageError> {
        let jobs = self
            .store
            .jobs_for_thread(repo, number, THREAD_JOBS)
            .await?;
        Ok(jobs
            .iter()
            .filter_map(|job| match job.trigger {
                Trigger::CiFailed { attempt, .. } => Some((job.created_at_ms, attempt)),
                _ => None,
            })
            .max_by_key(|(created, _)| *created)
            .map_or(0, |(_, attempt)| attempt))
    }
}

/// The task's text: which checks failed and what they said, for the agent.
fn task_text(checks: &[FailedCheck], suite: &CheckSuite, attempt: u32, max: u32) -> String {
    let mut text = format!(
        "The pull request's checks failed on commit {}. Find the cause and fix it.",
        suite.head_sha.as_str()
    );
    if attempt > 1 {
        text.push_str(&format!(
            " This is attempt {attempt} of {max}: the previous fix did not make the checks pass."
        ));
    }
    if checks.is_empty() {
        text.push_str(
            "\n\nGitHub listed no failing check run with details; run the project's checks to \
             find what fails.",
        );
    }
    for check in checks {
        text.push_str(&format!("\n\n## {} ({})", check.name, check.conclusion));
        for part in [&check.title, &check.summary, &check.text] {
            let part = part.trim();
            if !part.is_empty() {
                text.push('\n');
                text.push_str(&cut_chars(part, CHECK_OUTPUT_CHARS));
            }
        }
        if !check.annotations.is_empty() {
            text.push_str("\nAnnotations:");
            for note in &check.annotations {
                text.push_str("\n- ");
                text.push_str(&cut_chars(note, 300));
            }
        }
    }
    cut_chars(&text, TASK_TEXT_CHARS)
}
