//! The job lifecycle: its states and the one table of allowed moves between them, which
//! both engines (Step Functions and `ota serve`) and both stores (DynamoDB, SQLite) obey.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a job is in its life. The serde names are the values stored and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Created, not yet looked at by an engine.
    Queued,
    /// Waiting for `/approve` from someone allowed to give it (holds a task token).
    AwaitingApproval,
    /// Asking for a runner. Also where a job goes back to before each retry.
    Dispatching,
    /// A runner reported that it started and is sending heartbeats.
    Running,
    Succeeded,
    Failed,
    Cancelled,
    /// Nobody approved within the approval timeout.
    Expired,
    /// Ended by the catch-all: an error the workflow has no name for. Needs an operator.
    DeadLettered,
}

/// How many states there are; the transition table has one row per state.
const STATE_COUNT: usize = 9;

use JobStatus::{
    AwaitingApproval, Cancelled, DeadLettered, Dispatching, Expired, Failed, Queued, Running,
    Succeeded,
};

/// THE lifecycle: for each state (in declaration order), the states it may move to.
///
/// - Every non-terminal state may end as `cancelled` (`/cancel`), `failed` (a named
///   permanent error) or `dead_lettered` (the catch-all).
/// - `queued → dispatching` when no approval is needed, `queued → awaiting_approval` when it is.
/// - `awaiting_approval → dispatching | expired` (approved, or the approval wait timed out).
/// - `dispatching → running` once the runner reports it started; only `running` can succeed.
/// - `dispatching → dispatching`: a retry before any runner marked the job running (a
///   runner that died at start-up).
///   It is a real write: the store records the new attempt, so stores must not treat
///   "already dispatching" as a no-op when the attempt number differs.
/// - `running → dispatching`: a retry after a transient failure of the runner
///   (`Runner.ModelUnavailable`, `Runner.GitHubUnavailable`, `States.HeartbeatTimeout`).
/// - Terminal states have no way out: `/retry` creates a new job instead.
const TRANSITIONS: [(JobStatus, &[JobStatus]); STATE_COUNT] = [
    (
        Queued,
        &[
            AwaitingApproval,
            Dispatching,
            Cancelled,
            Failed,
            DeadLettered,
        ],
    ),
    (
        AwaitingApproval,
        &[Dispatching, Expired, Cancelled, Failed, DeadLettered],
    ),
    (
        Dispatching,
        &[Running, Dispatching, Cancelled, Failed, DeadLettered],
    ),
    (
        Running,
        &[Succeeded, Dispatching, Cancelled, Failed, DeadLettered],
    ),
    (Succeeded, &[]),
    (Failed, &[]),
    (Cancelled, &[]),
    (Expired, &[]),
    (DeadLettered, &[]),
];

// The table is indexed by `status as usize`: its rows must follow declaration order.
const _: () = {
    let mut i = 0;
    while i < STATE_COUNT {
        assert!(TRANSITIONS[i].0 as usize == i);
        i += 1;
    }
};

/// The table read backwards, computed at compile time from [`TRANSITIONS`].
#[derive(Clone, Copy)]
struct Predecessors {
    states: [JobStatus; STATE_COUNT],
    len: usize,
}

static PREDECESSORS: [Predecessors; STATE_COUNT] = invert(&TRANSITIONS);

const fn invert(table: &[(JobStatus, &[JobStatus]); STATE_COUNT]) -> [Predecessors; STATE_COUNT] {
    let mut out = [Predecessors {
        states: [Queued; STATE_COUNT],
        len: 0,
    }; STATE_COUNT];
    let mut from = 0;
    while from < STATE_COUNT {
        let next = table[from].1;
        let mut i = 0;
        while i < next.len() {
            let to = next[i] as usize;
            out[to].states[out[to].len] = table[from].0;
            out[to].len += 1;
            i += 1;
        }
        from += 1;
    }
    out
}

impl JobStatus {
    pub const ALL: [JobStatus; STATE_COUNT] = [
        Queued,
        AwaitingApproval,
        Dispatching,
        Running,
        Succeeded,
        Failed,
        Cancelled,
        Expired,
        DeadLettered,
    ];

    /// The stored name, as serde writes it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Queued => "queued",
            AwaitingApproval => "awaiting_approval",
            Dispatching => "dispatching",
            Running => "running",
            Succeeded => "succeeded",
            Failed => "failed",
            Cancelled => "cancelled",
            Expired => "expired",
            DeadLettered => "dead_lettered",
        }
    }

    /// The status stored as `name`, `None` for anything else.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == name)
    }

    /// The states this one may move to.
    pub fn allowed_next(self) -> &'static [JobStatus] {
        TRANSITIONS[self as usize].1
    }

    /// Whether a job in `self` may move to `to`.
    pub fn can_move_to(self, to: JobStatus) -> bool {
        self.allowed_next().contains(&to)
    }

    /// `Ok` if the move is in the table.
    pub fn check_move(self, to: JobStatus) -> Result<(), TransitionError> {
        if self.can_move_to(to) {
            Ok(())
        } else {
            Err(TransitionError { from: self, to })
        }
    }

    /// The states a job must be in for a move to `to` to be allowed: the condition of a
    /// store's conditional update (`status IN (...)`), so that two writers racing (a
    /// `/cancel` and the runner's success) cannot both win. Empty for `queued`, which is
    /// only ever the state a job is created in.
    pub fn expected_current_statuses(to: JobStatus) -> &'static [JobStatus] {
        let predecessors = &PREDECESSORS[to as usize];
        &predecessors.states[..predecessors.len]
    }

    /// Finished: no move leads out of it.
    pub fn is_terminal(self) -> bool {
        self.allowed_next().is_empty()
    }

    /// The finished statuses a job can be run again from, as a new job (`/retry`, `ota
    /// retry`): every way of ending except success, which has nothing to run again for.
    pub const RETRYABLE: [JobStatus; 4] = [Failed, Cancelled, Expired, DeadLettered];

    /// Whether a job in this status may be run again: one of [`Self::RETRYABLE`].
    pub fn is_retryable(self) -> bool {
        Self::RETRYABLE.contains(&self)
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A move the lifecycle does not allow, e.g. a late success for a cancelled job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a job cannot move from {from} to {to}")]
pub struct TransitionError {
    pub from: JobStatus,
    pub to: JobStatus,
}

impl TransitionError {
    /// The job is already where the move would take it: a redelivered message. Callers
    /// usually treat this as done rather than as a failure.
    pub fn is_repeat(&self) -> bool {
        self.from == self.to
    }

    /// The job had already finished; whatever asked for the move came too late.
    pub fn job_already_finished(&self) -> bool {
        self.from.is_terminal()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lifecycle written out again, independently of [`TRANSITIONS`], as a spec.
    fn spec(from: JobStatus, to: JobStatus) -> bool {
        matches!(
            (from, to),
            (Queued, AwaitingApproval | Dispatching)
                | (AwaitingApproval, Dispatching | Expired)
                | (Dispatching, Running | Dispatching)
                | (Running, Succeeded | Dispatching)
                | (
                    Queued | AwaitingApproval | Dispatching | Running,
                    Cancelled | Failed | DeadLettered
                )
        )
    }

    #[test]
    fn every_pair_of_states_is_allowed_or_refused_as_specified() {
        let mut allowed = 0;
        for from in JobStatus::ALL {
            for to in JobStatus::ALL {
                let expected = spec(from, to);
                assert_eq!(from.can_move_to(to), expected, "{from} -> {to}");
                assert_eq!(from.check_move(to).is_ok(), expected, "{from} -> {to}");
                if expected {
                    allowed += 1;
                } else {
                    assert_eq!(from.check_move(to), Err(TransitionError { from, to }));
                }
            }
        }
        assert_eq!(allowed, 20);
    }

    #[test]
    fn terminal_states_are_the_five_endings() {
        let terminal: Vec<_> = JobStatus::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(
            terminal,
            [Succeeded, Failed, Cancelled, Expired, DeadLettered]
        );
        for status in terminal {
            assert!(status.allowed_next().is_empty());
        }
    }

    #[test]
    fn every_ending_but_success_can_be_retried() {
        let retryable: Vec<_> = JobStatus::ALL
            .into_iter()
            .filter(|s| s.is_retryable())
            .collect();
        assert_eq!(retryable, [Failed, Cancelled, Expired, DeadLettered]);
        assert!(retryable.iter().all(|s| s.is_terminal()));
    }

    #[test]
    fn every_terminal_state_is_reachable_and_every_state_can_end() {
        for to in JobStatus::ALL {
            if to != Queued {
                assert!(!JobStatus::expected_current_statuses(to).is_empty(), "{to}");
            }
        }
        for from in JobStatus::ALL.into_iter().filter(|s| !s.is_terminal()) {
            for end in [Cancelled, Failed, DeadLettered] {
                assert!(from.can_move_to(end), "{from} -> {end}");
            }
        }
    }

    #[test]
    fn store_conditions_are_the_table_read_backwards() {
        for to in JobStatus::ALL {
            let expected: Vec<_> = JobStatus::ALL
                .into_iter()
                .filter(|from| from.can_move_to(to))
                .collect();
            assert_eq!(JobStatus::expected_current_statuses(to), expected, "{to}");
        }
        assert_eq!(JobStatus::expected_current_statuses(Queued), []);
        assert_eq!(JobStatus::expected_current_statuses(Succeeded), [Running]);
        assert_eq!(
            JobStatus::expected_current_statuses(Dispatching),
            [Queued, AwaitingApproval, Dispatching, Running]
        );
        assert_eq!(
            JobStatus::expected_current_statuses(Cancelled),
            [Queued, AwaitingApproval, Dispatching, Running]
        );
    }

    #[test]
    fn refused_moves_explain_themselves() {
        let late = Cancelled.check_move(Succeeded).expect_err("refused");
        assert!(late.job_already_finished());
        assert!(!late.is_repeat());
        assert_eq!(
            late.to_string(),
            "a job cannot move from cancelled to succeeded"
        );
        let repeat = Running.check_move(Running).expect_err("refused");
        assert!(repeat.is_repeat());
        assert!(!repeat.job_already_finished());
    }

    #[test]
    fn serde_names_are_the_stored_names() {
        for status in JobStatus::ALL {
            let json = serde_json::to_string(&status).expect("serialize");
            assert_eq!(json, format!("\"{}\"", status.as_str()));
            assert_eq!(
                serde_json::from_str::<JobStatus>(&json).expect("deserialize"),
                status
            );
            assert_eq!(JobStatus::from_name(status.as_str()), Some(status));
        }
        let names: Vec<_> = JobStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "queued",
                "awaiting_approval",
                "dispatching",
                "running",
                "succeeded",
                "failed",
                "cancelled",
                "expired",
                "dead_lettered"
            ]
        );
        assert_eq!(JobStatus::from_name("Running"), None);
    }
}
