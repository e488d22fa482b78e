//! [`Deliverable`]: what a task's job produces — a pull request with its changes, or a
//! review of the pull request it came from. It lives with the tasks in `config`, because it
//! is part of a task's definition: each built-in task has one, and a repository's own task
//! gets one when `.ollama-turbo.yml` is resolved. What the runner may do (edit, run
//! commands, which tool ends the run), what it does once the agent is done, and which
//! GitHub permissions it needs all follow from it.

/// What a task's job produces. Every decision that depends on it goes through the methods
/// below or an exhaustive `match`, so a new kind of deliverable is decided everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Deliverable {
    /// Code changes, committed on a new branch `ollama/<task>-<short job id>` and proposed
    /// as a pull request into the branch the job ran on. The agent edits files, may run
    /// the task's command, and ends with `finish`.
    PullRequest,
    /// A review of the pull request the job came from: a summary and comments on lines of
    /// its diff, no commits. The agent only reads, and ends with `submit_review`.
    Review,
}

impl Deliverable {
    pub const ALL: [Self; 2] = [Self::PullRequest, Self::Review];

    /// Whether the agent changes files: it may edit and write them, run the task's command
    /// to check its work, and hand a failing command back to the model (`auto_fix`). A task
    /// that changes nothing has nothing to check.
    pub fn edits_code(self) -> bool {
        match self {
            Self::PullRequest => true,
            Self::Review => false,
        }
    }

    /// Whether the job's work goes onto a pull request that exists before it runs (a review
    /// is posted on it); a pull request deliverable opens its own. `ota run`, which works
    /// on a local checkout with no pull request, can only run tasks for which this is false.
    pub fn needs_existing_pull_request(self) -> bool {
        match self {
            Self::PullRequest => false,
            Self::Review => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_pull_request_edits_code_and_only_a_review_needs_one_to_exist() {
        assert!(Deliverable::PullRequest.edits_code());
        assert!(!Deliverable::Review.edits_code());
        assert!(!Deliverable::PullRequest.needs_existing_pull_request());
        assert!(Deliverable::Review.needs_existing_pull_request());
    }
}
