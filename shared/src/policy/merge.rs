//! `output.merge: after_approval`, decided over plain data: which reviewers' approvals of a
//! pull request's head stand, and whether the checks on that head have passed. The policy
//! stage asks GitHub for the reviews, the reviewers' roles and the checks, and merges
//! only when both say yes (`policy_stage/merge.rs`).

use crate::ids::CommitSha;
use crate::ports::{HeadCheck, Permission, PullReview};

/// The least role whose approval merges: GitHub's "write access" (write, maintain, admin).
pub const MIN_MERGE_APPROVER_ROLE: Permission = Permission::Write;

/// The check conclusions that count as passed: GitHub's own rule for required checks
/// ("Required status checks must have a `successful`, `skipped`, or `neutral` conclusion",
/// "About protected branches").
pub const PASSING_CONCLUSIONS: [&str; 3] = ["success", "neutral", "skipped"];

/// The reviewers whose latest review (oldest first as GitHub lists them) approves `head`,
/// in the order they approved. A comment after an approval leaves it standing, as on
/// GitHub; a request for changes or a dismissal withdraws it; an approval of an older
/// commit does not count (the head changed after it).
pub fn head_approvers(reviews: &[PullReview], head: &CommitSha) -> Vec<String> {
    let mut latest: Vec<(&str, &PullReview)> = Vec::new();
    for review in reviews {
        let state = review.state.to_ascii_uppercase();
        // Comments and pending reviews decide nothing.
        if review.reviewer.is_empty()
            || !matches!(
                state.as_str(),
                "APPROVED" | "CHANGES_REQUESTED" | "DISMISSED"
            )
        {
            continue;
        }
        latest.retain(|(reviewer, _)| !reviewer.eq_ignore_ascii_case(&review.reviewer));
        latest.push((review.reviewer.as_str(), review));
    }
    latest
        .into_iter()
        .filter(|(_, review)| {
            review.state.eq_ignore_ascii_case("approved") && review.commit.as_ref() == Some(head)
        })
        .map(|(reviewer, _)| reviewer.to_owned())
        .collect()
}

/// Where the checks of a head stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChecksState {
    /// Every check completed and passed (or there are none).
    Passed,
    /// These have not completed yet.
    Pending(Vec<String>),
    /// These completed without passing.
    Failed(Vec<String>),
}

/// The state of `checks`, leaving out those `is_own` says the App made: its own check
/// runs report its jobs (a review still running on the pull request, say), they are not
/// the repository's CI, and the App is not told when they complete (its own suite's
/// events are dropped at the edge), so waiting for them could wait forever.
pub fn checks_state(checks: &[HeadCheck], is_own: impl Fn(&HeadCheck) -> bool) -> ChecksState {
    let mut pending = Vec::new();
    let mut failed = Vec::new();
    for check in checks.iter().filter(|check| !is_own(check)) {
        if check.status != "completed" {
            pending.push(check.name.clone());
        } else if !check
            .conclusion
            .as_deref()
            .is_some_and(|conclusion| PASSING_CONCLUSIONS.contains(&conclusion))
        {
            failed.push(check.name.clone());
        }
    }
    if !failed.is_empty() {
        ChecksState::Failed(failed)
    } else if !pending.is_empty() {
        ChecksState::Pending(pending)
    } else {
        ChecksState::Passed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(c: char) -> CommitSha {
        CommitSha::new(c.to_string().repeat(40))
    }

    fn review(reviewer: &str, state: &str, commit: char) -> PullReview {
        PullReview {
            reviewer: reviewer.to_owned(),
            state: state.to_owned(),
            commit: Some(sha(commit)),
        }
    }

    fn check(name: &str, status: &str, conclusion: Option<&str>, app: &str) -> HeadCheck {
        HeadCheck {
            name: name.to_owned(),
            status: status.to_owned(),
            conclusion: conclusion.map(str::to_owned),
            app_slug: Some(app.to_owned()),
        }
    }

    #[test]
    fn only_a_reviewers_latest_verdict_on_the_head_counts() {
        let head = sha('b');
        let reviews = [
            review("alice", "APPROVED", 'a'),
            review("bob", "APPROVED", 'b'),
            review("bob", "COMMENTED", 'b'),
            review("carol", "APPROVED", 'b'),
            review("carol", "CHANGES_REQUESTED", 'b'),
            review("dave", "CHANGES_REQUESTED", 'a'),
            review("Dave", "approved", 'b'),
            review("erin", "APPROVED", 'b'),
            review("erin", "DISMISSED", 'b'),
        ];
        // alice approved an older commit; bob's comment leaves his approval; carol
        // withdrew hers; dave changed his mind (logins are case-insensitive); erin's was
        // dismissed.
        assert_eq!(head_approvers(&reviews, &head), ["bob", "Dave"]);
        assert!(head_approvers(&reviews[..1], &head).is_empty());
        assert!(head_approvers(&[], &head).is_empty());
    }

    #[test]
    fn an_approval_of_a_lost_commit_or_by_no_one_counts_for_nothing() {
        let head = sha('b');
        let lost = PullReview {
            commit: None,
            ..review("alice", "APPROVED", 'b')
        };
        let ghost = review("", "APPROVED", 'b');
        assert!(head_approvers(&[lost, ghost], &head).is_empty());
    }

    #[test]
    fn checks_pass_when_every_other_apps_run_completed_as_github_counts_a_pass() {
        let own = |check: &HeadCheck| check.app_slug.as_deref() == Some("ota");
        assert_eq!(checks_state(&[], own), ChecksState::Passed);
        let green = [
            check("test", "completed", Some("success"), "github-actions"),
            check("docs", "completed", Some("skipped"), "github-actions"),
            check("lint", "completed", Some("neutral"), "github-actions"),
            check("ollama review", "in_progress", None, "ota"),
            check("ollama fix", "completed", Some("failure"), "ota"),
        ];
        assert_eq!(checks_state(&green, own), ChecksState::Passed);

        let pending = [
            check("test", "queued", None, "github-actions"),
            check("lint", "completed", Some("success"), "github-actions"),
        ];
        assert_eq!(
            checks_state(&pending, own),
            ChecksState::Pending(vec!["test".to_owned()])
        );

        let failed = [
            check("test", "in_progress", None, "github-actions"),
            check("lint", "completed", Some("failure"), "github-actions"),
            check("e2e", "completed", Some("cancelled"), "github-actions"),
            check("old", "completed", None, "github-actions"),
        ];
        assert_eq!(
            checks_state(&failed, own),
            ChecksState::Failed(vec!["lint".to_owned(), "e2e".to_owned(), "old".to_owned()])
        );
    }
}
