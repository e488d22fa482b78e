//! Who may trigger what: installation policies, permission rules, approvals and rate
//! limits, decided by pure functions over plain data. The policy stage that carries the
//! decisions out, and the operations on a job, are in [`crate::policy_stage`].

mod budget;
mod decide;
mod file;
mod installation;
pub mod merge;
pub mod messages;

pub use crate::ports::TokenBudget;
pub use budget::{BudgetSpent, budget_spent};
pub use decide::{
    ApprovalReason, ApprovalRefusal, Denial, MIN_REQUEST_ROLE, RunDecision, RunRequest,
    approver_role, decide_approval, decide_run, may_give, needed_role, short_sha,
};
pub use file::{
    MAX_NAME_LEN, MAX_POLICIES, PolicyFileError, parse_policy_file, render_policy_file,
};
pub use installation::{InstallationPolicy, TriggerKind, matching_policy, repo_pattern_matches};
