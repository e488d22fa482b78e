//! The job workflow, defined once as data: its states, which state follows which, the two
//! waits, the retry of the run and where each error is caught. Step Functions runs it as
//! `statemachine/job.asl.json`, which `ota-aws` renders from [`JOB_MACHINE`] (a test keeps
//! the committed file current); `ota serve`'s engine walks [`JOB_MACHINE`] itself. Neither
//! engine has a state, an edge or a catch of its own.
//!
//! Error matching follows Step Functions: a catcher or retrier names errors, or
//! `States.Timeout` (which a heartbeat timeout matches too), or `States.ALL` (anything).

use super::error::{JobError, STATES_TIMEOUT, TRANSIENT_ERRORS};
use super::retry::RetryPolicy;
use super::wait::Wait;
use std::fmt;
use std::time::Duration;

/// Step Functions' wildcard error name.
pub const STATES_ALL: &str = "States.ALL";

/// Step Functions' name for a wait whose worker stopped sending heartbeats.
pub const STATES_HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";

/// The cause recorded when a run's `States.Timeout` becomes [`JobError::RunnerTimedOut`].
pub const RUN_TIMED_OUT_CAUSE: &str =
    "The run did not end within the maximum runtime (after any wait in line for a runner).";
/// The cause recorded when the approval's `States.Timeout` becomes
/// [`JobError::ApprovalExpired`].
pub const APPROVAL_EXPIRED_CAUSE: &str = "Nobody approved the job within its approval timeout.";

/// The errors the approval wait reports as the job's end; anything else but its timeout
/// is dead-lettered.
pub const APPROVAL_REPORTED_ERRORS: [JobError; 2] =
    [JobError::ApprovalDenied, JobError::JobCancelled];

/// The errors the run reports as the job's end: every named error that is neither
/// transient nor the approval's.
pub const RUN_REPORTED_ERRORS: [JobError; 6] = [
    JobError::RunnerBadConfig,
    JobError::RunnerBudgetExceeded,
    JobError::RunnerAgentGaveUp,
    JobError::RunnerTimedOut,
    JobError::RunnerFailed,
    JobError::JobCancelled,
];

/// A state of the job workflow, by its name in the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateName {
    NeedsApproval,
    AwaitApproval,
    ApprovalExpired,
    ReportRunning,
    Dispatch,
    RunTimedOut,
    ReportSucceeded,
    ReportEnded,
    DeadLetter,
    ReportDeadLettered,
    Succeeded,
    Ended,
    DeadLettered,
}

impl StateName {
    pub const ALL: [StateName; 13] = [
        Self::NeedsApproval,
        Self::AwaitApproval,
        Self::ApprovalExpired,
        Self::ReportRunning,
        Self::Dispatch,
        Self::RunTimedOut,
        Self::ReportSucceeded,
        Self::ReportEnded,
        Self::DeadLetter,
        Self::ReportDeadLettered,
        Self::Succeeded,
        Self::Ended,
        Self::DeadLettered,
    ];

    /// The state's name in the state machine, and in the local engine's rows.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NeedsApproval => "NeedsApproval",
            Self::AwaitApproval => "AwaitApproval",
            Self::ApprovalExpired => "ApprovalExpired",
            Self::ReportRunning => "ReportRunning",
            Self::Dispatch => "Dispatch",
            Self::RunTimedOut => "RunTimedOut",
            Self::ReportSucceeded => "ReportSucceeded",
            Self::ReportEnded => "ReportEnded",
            Self::DeadLetter => "DeadLetter",
            Self::ReportDeadLettered => "ReportDeadLettered",
            Self::Succeeded => "Succeeded",
            Self::Ended => "Ended",
            Self::DeadLettered => "DeadLettered",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == name)
    }
}

impl fmt::Display for StateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which errors a catcher or retrier handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Errors {
    /// The transient errors ([`TRANSIENT_ERRORS`]).
    Transient,
    /// These named errors.
    Named(&'static [JobError]),
    /// A wait's timeout (`States.Timeout`; a heartbeat timeout matches it too).
    Timeout,
    /// Any error (`States.ALL`).
    All,
}

impl Errors {
    /// The names as the state machine lists them in `ErrorEquals`.
    pub fn names(self) -> Vec<&'static str> {
        match self {
            Self::Transient => TRANSIENT_ERRORS.to_vec(),
            Self::Named(errors) => errors.iter().map(|error| error.name()).collect(),
            Self::Timeout => vec![STATES_TIMEOUT],
            Self::All => vec![STATES_ALL],
        }
    }

    /// Whether `error` (a name) is one of these, by Step Functions' rules.
    pub fn matches(self, error: &str) -> bool {
        self.names().into_iter().any(|name| {
            name == error
                || name == STATES_ALL
                || (name == STATES_TIMEOUT && error == STATES_HEARTBEAT_TIMEOUT)
        })
    }
}

/// Where an error goes when a state fails with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Catcher {
    pub errors: Errors,
    pub next: StateName,
    /// Whether the caught error becomes the job's error (`ResultPath: $.error`). A failed
    /// report or dead-letter keeps the error the job had, and sets its own aside.
    pub becomes_the_error: bool,
}

const fn catch(errors: Errors, next: StateName) -> Catcher {
    Catcher {
        errors,
        next,
        becomes_the_error: true,
    }
}

const fn catch_aside(errors: Errors, next: StateName) -> Catcher {
    Catcher {
        errors,
        next,
        becomes_the_error: false,
    }
}

/// What the report stage is told: the message kinds of its `WorkflowReport`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    Running,
    Succeeded,
    Ended,
    DeadLettered,
}

impl ReportKind {
    /// The `kind` of the report message.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Ended => "ended",
            Self::DeadLettered => "dead_lettered",
        }
    }
}

/// How a finished job ended, as its final state says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Succeeded,
    /// Failed, cancelled, expired: a named outcome that was reported.
    Ended,
    /// Set aside for the operators, and reported.
    DeadLettered,
}

/// What a state does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateKind {
    /// Goes to `required` when the job needs approval, else to `otherwise`.
    ApprovalChoice {
        required: StateName,
        otherwise: StateName,
    },
    /// Waits for whoever holds the wait's task token. With `retry`, these errors start
    /// the wait over after the retry policy's backoff while retries last; `catch` is
    /// looked at in order once they are used up.
    Wait {
        wait: Wait,
        retry: Option<Errors>,
        catch: &'static [Catcher],
        next: StateName,
    },
    /// Replaces the job's error with a named one and its cause.
    SetError {
        error: JobError,
        cause: &'static str,
        next: StateName,
    },
    /// Hands the job to the report stage.
    Report {
        report: ReportKind,
        catch: &'static [Catcher],
        next: StateName,
    },
    /// Sets the job and its error aside for the operators; goes on to `next` whether or
    /// not that worked.
    DeadLetter { next: StateName },
    /// The end.
    Final(Ending),
}

/// One state of the workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct State {
    pub name: StateName,
    pub kind: StateKind,
}

/// The job workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Machine {
    pub start: StateName,
    pub states: &'static [State],
}

use StateName::*;

/// Any other error of a wait or a report is the catch-all's: the dead-letter path.
const TO_DEAD_LETTER: Catcher = catch(Errors::All, DeadLetter);

/// The job workflow both engines run.
pub const JOB_MACHINE: Machine = Machine {
    start: NeedsApproval,
    states: &[
        State {
            name: NeedsApproval,
            kind: StateKind::ApprovalChoice {
                required: AwaitApproval,
                otherwise: ReportRunning,
            },
        },
        State {
            name: AwaitApproval,
            kind: StateKind::Wait {
                wait: Wait::Approval,
                retry: None,
                catch: &[
                    catch(Errors::Timeout, ApprovalExpired),
                    catch(Errors::Named(&APPROVAL_REPORTED_ERRORS), ReportEnded),
                    TO_DEAD_LETTER,
                ],
                next: ReportRunning,
            },
        },
        State {
            name: ApprovalExpired,
            kind: StateKind::SetError {
                error: JobError::ApprovalExpired,
                cause: APPROVAL_EXPIRED_CAUSE,
                next: ReportEnded,
            },
        },
        State {
            name: ReportRunning,
            kind: StateKind::Report {
                report: ReportKind::Running,
                catch: &[TO_DEAD_LETTER],
                next: Dispatch,
            },
        },
        State {
            name: Dispatch,
            kind: StateKind::Wait {
                wait: Wait::Run,
                retry: Some(Errors::Transient),
                // Order matters: exhausted transient errors before `States.Timeout`
                // (which a heartbeat timeout also matches), then the permanent errors.
                catch: &[
                    catch(Errors::Transient, DeadLetter),
                    catch(Errors::Timeout, RunTimedOut),
                    catch(Errors::Named(&RUN_REPORTED_ERRORS), ReportEnded),
                    TO_DEAD_LETTER,
                ],
                next: ReportSucceeded,
            },
        },
        State {
            name: RunTimedOut,
            kind: StateKind::SetError {
                error: JobError::RunnerTimedOut,
                cause: RUN_TIMED_OUT_CAUSE,
                next: ReportEnded,
            },
        },
        State {
            name: ReportSucceeded,
            kind: StateKind::Report {
                report: ReportKind::Succeeded,
                catch: &[TO_DEAD_LETTER],
                next: Succeeded,
            },
        },
        State {
            name: ReportEnded,
            kind: StateKind::Report {
                report: ReportKind::Ended,
                catch: &[catch_aside(Errors::All, DeadLetter)],
                next: Ended,
            },
        },
        State {
            name: DeadLetter,
            kind: StateKind::DeadLetter {
                next: ReportDeadLettered,
            },
        },
        State {
            name: ReportDeadLettered,
            kind: StateKind::Report {
                report: ReportKind::DeadLettered,
                catch: &[],
                next: DeadLettered,
            },
        },
        State {
            name: Succeeded,
            kind: StateKind::Final(Ending::Succeeded),
        },
        State {
            name: Ended,
            kind: StateKind::Final(Ending::Ended),
        },
        State {
            name: DeadLettered,
            kind: StateKind::Final(Ending::DeadLettered),
        },
    ],
};

/// What follows a state's error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Caught {
    /// Start the wait over after `delay` (its retrier's errors, while retries last).
    Retry { delay: Duration },
    /// Go to the catcher's state.
    Catch(Catcher),
    /// Nothing catches it: the execution fails.
    Uncaught,
}

impl Machine {
    /// The state called `name`. Every [`StateName`] is in [`JOB_MACHINE`] (a test says so).
    pub fn state(&self, name: StateName) -> Option<&'static State> {
        self.states.iter().find(|state| state.name == name)
    }

    /// What follows `error` (a [`JobError`] name, or one of Step Functions' own) in state
    /// `name`. `retries_so_far` counts the state's retries before this attempt
    /// (`$$.State.RetryCount`); `unit_random` in `[0, 1]` draws the jitter.
    pub fn on_error(
        &self,
        name: StateName,
        error: &str,
        retries_so_far: u32,
        policy: &RetryPolicy,
        unit_random: f64,
    ) -> Caught {
        let (retry, catchers) = match self.state(name).map(|state| state.kind) {
            Some(StateKind::Wait { retry, catch, .. }) => (retry, catch),
            Some(StateKind::Report { catch, .. }) => (None, catch),
            _ => (None, &[][..]),
        };
        if let Some(retried) = retry
            && retried.matches(error)
            && retries_so_far < policy.max_attempts
        {
            return Caught::Retry {
                delay: policy.delay_before_retry(retries_so_far + 1, unit_random),
            };
        }
        catchers
            .iter()
            .find(|catcher| catcher.errors.matches(error))
            .map_or(Caught::Uncaught, |catcher| Caught::Catch(*catcher))
    }

    /// The states `name` can move to, in the order the definition names them.
    pub fn successors(&self, name: StateName) -> Vec<StateName> {
        let Some(state) = self.state(name) else {
            return Vec::new();
        };
        match state.kind {
            StateKind::ApprovalChoice {
                required,
                otherwise,
            } => vec![required, otherwise],
            StateKind::Wait { catch, next, .. } | StateKind::Report { catch, next, .. } => {
                let mut out = vec![next];
                for catcher in catch {
                    if !out.contains(&catcher.next) {
                        out.push(catcher.next);
                    }
                }
                out
            }
            StateKind::SetError { next, .. } | StateKind::DeadLetter { next } => vec![next],
            StateKind::Final(_) => Vec::new(),
        }
    }

    /// The state that waits on `wait`.
    pub fn wait_state(&self, wait: Wait) -> Option<StateName> {
        self.states.iter().find_map(|state| match state.kind {
            StateKind::Wait { wait: w, .. } if w == wait => Some(state.name),
            _ => None,
        })
    }
}

impl Machine {
    /// The workflow as a Mermaid state diagram, for the docs (a test keeps
    /// `docs/workflow.md` showing this one).
    pub fn mermaid(&self) -> String {
        let mut out = String::from("stateDiagram-v2\n");
        let mut edge = |from: &str, to: &str, label: &str| {
            out.push_str(&format!("    {from} --> {to}"));
            if !label.is_empty() {
                out.push_str(&format!(": {label}"));
            }
            out.push('\n');
        };
        edge("[*]", self.start.as_str(), "");
        for state in self.states {
            let from = state.name.as_str();
            match state.kind {
                StateKind::ApprovalChoice {
                    required,
                    otherwise,
                } => {
                    edge(from, required.as_str(), "approval required");
                    edge(from, otherwise.as_str(), "otherwise");
                }
                StateKind::Wait {
                    wait,
                    retry,
                    catch,
                    next,
                } => {
                    let done = match wait {
                        Wait::Approval => "approved",
                        Wait::Run => "run output",
                    };
                    edge(from, next.as_str(), done);
                    if let Some(errors) = retry {
                        edge(from, from, &format!("retry {}", errors.names().join(", ")));
                    }
                    for catcher in catch {
                        let label = if Some(catcher.errors) == retry {
                            "retries used up".to_owned()
                        } else {
                            catcher.errors.names().join(", ")
                        };
                        edge(from, catcher.next.as_str(), &label);
                    }
                }
                StateKind::Report {
                    report,
                    catch,
                    next,
                } => {
                    edge(
                        from,
                        next.as_str(),
                        &format!("reported {}", report.as_str()),
                    );
                    for catcher in catch {
                        edge(
                            from,
                            catcher.next.as_str(),
                            &catcher.errors.names().join(", "),
                        );
                    }
                }
                StateKind::SetError { error, next, .. } => edge(from, next.as_str(), error.name()),
                StateKind::DeadLetter { next } => edge(from, next.as_str(), ""),
                StateKind::Final(_) => edge(from, "[*]", ""),
            }
        }
        out
    }
}

/// Where the workflow goes after a wait's error, in the words of its outcome.
#[derive(Debug, Clone, PartialEq)]
pub enum AfterError {
    /// Dispatch the run again after `delay` (the run's transient errors, while retries last).
    Retry { delay: Duration },
    /// Report the job as ended with this error (`ReportEnded`): a final, named outcome.
    Report {
        error: String,
        cause: Option<String>,
    },
    /// Set the job aside (`DeadLetter`): retries are used up, or nobody named the error.
    DeadLetter,
}

/// What follows `error` ending `wait`, read from [`JOB_MACHINE`]: its retrier and catchers,
/// then the states that set a named error, up to the report or the dead-letter path.
pub fn after_error(
    wait: Wait,
    error: &str,
    cause: Option<&str>,
    retries_so_far: u32,
    policy: &RetryPolicy,
    unit_random: f64,
) -> AfterError {
    let Some(state) = JOB_MACHINE.wait_state(wait) else {
        return AfterError::DeadLetter;
    };
    let catcher = match JOB_MACHINE.on_error(state, error, retries_so_far, policy, unit_random) {
        Caught::Retry { delay } => return AfterError::Retry { delay },
        Caught::Uncaught => return AfterError::DeadLetter,
        Caught::Catch(catcher) => catcher,
    };
    let (mut error, mut cause) = (error.to_owned(), cause.map(str::to_owned));
    let mut next = catcher.next;
    loop {
        match JOB_MACHINE.state(next).map(|state| state.kind) {
            Some(StateKind::SetError {
                error: named,
                cause: why,
                next: after,
            }) => {
                error = named.name().to_owned();
                cause = Some(why.to_owned());
                next = after;
            }
            Some(StateKind::Report {
                report: ReportKind::Ended,
                ..
            }) => return AfterError::Report { error, cause },
            _ => return AfterError::DeadLetter,
        }
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
