//! `output.merge: after_approval`: the App merges a pull request it opened once someone
//! with write access approved its head and the head's checks passed, whichever comes
//! last. Both orders arrive here: an approving review ([`PolicyStage::review_submitted`])
//! and a check suite that completed well ([`PolicyStage::check_suite_passed`]).
//!
//! Either event only says "look again": the pull request, its reviews, the reviewers'
//! roles and the head's checks are read from GitHub each time, so a redelivery or a late
//! event decides on what is true now. The merge is pinned to the head that was approved
//! (GitHub refuses it with 409 if the head moved meanwhile), and a merged pull request is
//! closed, so nothing is merged twice.

use super::{PolicyStage, StageError, Store, scope_of};
use crate::config::MergeWhen;
use crate::envelope::{CheckSuite, Comment, Envelope, ReviewVerdict};
use crate::policy::merge::{
    ChecksState, MIN_MERGE_APPROVER_ROLE, PASSING_CONCLUSIONS, checks_state, head_approvers,
};
use crate::policy::messages::merged_comment;
use crate::policy::short_sha;
use crate::ports::{AuditEntry, GitHub, MergeOutcome, RepoScope, Workflow};

impl<G: GitHub, S: Store, W: Workflow> PolicyStage<G, S, W> {
    /// A review was submitted: an approval of one of the App's pull requests may be the
    /// last thing its merge waited for.
    pub(super) async fn review_submitted(
        &self,
        envelope: &Envelope,
        comment: &Comment,
        review: &ReviewVerdict,
    ) -> Result<(), StageError> {
        // Decided from the event before any I/O: most reviews are not approvals of ours.
        if !review.is_approval() || !self.app.is_bot(&review.pull_request_author) {
            return Ok(());
        }
        let Some(scope) = scope_of(envelope) else {
            return Ok(());
        };
        self.merge_if_ready(envelope, &scope, comment.number, Some(review))
            .await
    }

    /// A check suite passed: if it was the last one on an approved pull request of the
    /// App's, the merge waited for it.
    pub(super) async fn check_suite_passed(
        &self,
        envelope: &Envelope,
        suite: &CheckSuite,
    ) -> Result<(), StageError> {
        let passed = suite
            .conclusion
            .as_deref()
            .is_some_and(|conclusion| PASSING_CONCLUSIONS.contains(&conclusion));
        // GitHub lists no pull request for a suite whose head branch is in a fork; the
        // App's pull requests never are.
        let (true, Some(scope)) = (passed, scope_of(envelope)) else {
            return Ok(());
        };
        for &number in &suite.pull_requests {
            self.merge_if_ready(envelope, &scope, number, None).await?;
        }
        Ok(())
    }

    /// Merges pull request `number` if the repository asks for it, it is the App's and
    /// open, its head is approved by someone with write access and its checks passed.
    /// `review` is the approval that brought the event, if one did.
    async fn merge_if_ready(
        &self,
        envelope: &Envelope,
        scope: &RepoScope,
        number: u64,
        review: Option<&ReviewVerdict>,
    ) -> Result<(), StageError> {
        let Some(config) = self.config_or_log(envelope, scope).await? else {
            return Ok(());
        };
        if config.merge != MergeWhen::AfterApproval {
            return Ok(());
        }
        let not_yet = |why: &str| {
            tracing::info!(
                delivery = %envelope.delivery,
                repo = %scope.repo,
                pull_request = number,
                why,
                "not merging the pull request"
            );
        };
        let pr = self.github.pull_request(scope, number).await?;
        if !self.app.is_bot(&pr.author) {
            return Ok(()); // not the App's: never merged by it
        }
        if pr.state != "open" || pr.merged {
            not_yet("it is closed or merged already");
            return Ok(());
        }
        let reviews = self.github.reviews(scope, number).await?;
        let mut approvers = Vec::new();
        let mut without_write = Vec::new();
        for login in head_approvers(&reviews, &pr.head_sha) {
            // "Could not check" is an error to retry, never a role.
            let role = self.github.permission(scope, &login).await?;
            if role >= MIN_MERGE_APPROVER_ROLE {
                approvers.push(login);
            } else {
                without_write.push((login, role));
            }
        }
        if approvers.is_empty() {
            let why = if !without_write.is_empty() {
                let named: Vec<String> = without_write
                    .iter()
                    .map(|(login, role)| format!("{login} ({})", role.as_str()))
                    .collect();
                format!(
                    "its head's approvers lack write access: {}",
                    named.join(", ")
                )
            } else if let Some(older) = review.and_then(|review| review.commit.as_ref())
                && *older != pr.head_sha
            {
                format!(
                    "the approval is of an older head, {}, not of its head {}",
                    short_sha(older),
                    short_sha(&pr.head_sha)
                )
            } else {
                format!("no approval of its head {}", short_sha(&pr.head_sha))
            };
            not_yet(&why);
            // An approval that merges nothing because of who gave it is a decision worth
            // keeping, once: when it arrives, not on every later check suite.
            if let Some(review) = review
                && without_write
                    .iter()
                    .any(|(login, _)| login.eq_ignore_ascii_case(&review.reviewer))
            {
                self.audit_merge(envelope, scope, number, &review.reviewer, "denied", why)
                    .await?;
            }
            return Ok(());
        }
        let Some(checks) = self.github.head_checks(scope, &pr.head_sha).await? else {
            not_yet("its head has more check runs than the App reads");
            return Ok(());
        };
        let own = |slug: &str| self.app.is_bot(&format!("{slug}[bot]"));
        match checks_state(&checks, |check| check.app_slug.as_deref().is_some_and(own)) {
            ChecksState::Passed => {}
            ChecksState::Pending(names) => {
                not_yet(&format!("checks still running: {}", names.join(", ")));
                return Ok(());
            }
            ChecksState::Failed(names) => {
                not_yet(&format!("checks did not pass: {}", names.join(", ")));
                return Ok(());
            }
        }
        let method = config.merge_method;
        let actor = approvers.join(", ");
        let merged = match self
            .github
            .merge_pull_request(scope, number, &pr.head_sha, method.as_str())
            .await?
        {
            MergeOutcome::Merged { sha } => sha,
            MergeOutcome::NotMergeable(message) if message.contains("not allowed") => {
                // The repository refuses the configured method: nothing later changes
                // that but a person.
                tracing::warn!(
                    delivery = %envelope.delivery,
                    repo = %scope.repo,
                    pull_request = number,
                    method = method.as_str(),
                    %message,
                    "not merging the pull request: the repository does not allow \
                     `automation.output.merge_method`"
                );
                let reason = format!("merge method `{}` refused: {message}", method.as_str());
                self.audit_merge(envelope, scope, number, &actor, "refused", reason)
                    .await?;
                return Ok(());
            }
            MergeOutcome::NotMergeable(message) => {
                // Branch protection, a conflict, or merged meanwhile (a redelivery or
                // the other event racing this one): the next event looks again.
                not_yet(&format!("GitHub says it cannot be merged: {message}"));
                return Ok(());
            }
            MergeOutcome::HeadMoved(message) => {
                let why = format!(
                    "its head moved after {} was approved: {message}",
                    short_sha(&pr.head_sha)
                );
                not_yet(&why);
                self.audit_merge(envelope, scope, number, &actor, "refused", why)
                    .await?;
                return Ok(());
            }
        };
        tracing::info!(
            delivery = %envelope.delivery,
            repo = %scope.repo,
            pull_request = number,
            merge_commit = %merged.as_str(),
            "merged the App's approved pull request"
        );
        let reason = format!(
            "approved at {}, checks passed; merged with `{}` as {}",
            short_sha(&pr.head_sha),
            method.as_str(),
            short_sha(&merged)
        );
        self.audit_merge(envelope, scope, number, &actor, "merged", reason)
            .await?;
        // The marker names the head: a retry after a failure here finds the comment.
        let marker = format!("merge:{number}:{}", pr.head_sha.as_str());
        let body = merged_comment(&approvers, method, &pr.head_sha);
        self.github.comment(scope, number, &marker, &body).await?;
        Ok(())
    }

    /// An audit entry for a merge of pull request `number`, made or refused.
    async fn audit_merge(
        &self,
        envelope: &Envelope,
        scope: &RepoScope,
        number: u64,
        actor: &str,
        decision: &str,
        reason: String,
    ) -> Result<(), StageError> {
        self.audit(AuditEntry {
            installation: scope.installation,
            repo: Some(scope.repo.clone()),
            at_ms: (self.clock)(),
            delivery: envelope.delivery.to_string(),
            actor: actor.to_owned(),
            command: format!("merge #{number}"),
            decision: decision.to_owned(),
            reason,
            policy: None,
            job: None,
        })
        .await
    }
}
