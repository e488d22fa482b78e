//! The job workflow's definition: its shape, and what follows each error.

use super::*;

const POLICY: RetryPolicy = RetryPolicy::DEFAULT;

#[test]
fn transient_run_errors_retry_with_the_policys_backoff_until_it_is_used_up() {
    for name in crate::job::TRANSIENT_ERRORS {
        assert_eq!(
            after_error(Wait::Run, name, None, 0, &POLICY, 1.0),
            AfterError::Retry {
                delay: POLICY.backoff(1)
            },
            "{name}"
        );
        assert_eq!(
            after_error(Wait::Run, name, None, 2, &POLICY, 0.5),
            AfterError::Retry {
                delay: POLICY.backoff(3).mul_f64(0.5)
            },
        );
        assert_eq!(
            after_error(Wait::Run, name, None, POLICY.max_attempts, &POLICY, 0.5),
            AfterError::DeadLetter
        );
    }
    assert_eq!(
        STATES_HEARTBEAT_TIMEOUT,
        crate::job::JobError::HeartbeatTimeout.name()
    );
}

#[test]
fn timeouts_become_the_waits_own_errors() {
    assert_eq!(
        after_error(Wait::Run, STATES_TIMEOUT, None, 0, &POLICY, 0.0),
        AfterError::Report {
            error: "Runner.TimedOut".to_owned(),
            cause: Some(RUN_TIMED_OUT_CAUSE.to_owned())
        }
    );
    assert_eq!(
        after_error(Wait::Approval, STATES_TIMEOUT, None, 0, &POLICY, 0.0),
        AfterError::Report {
            error: "Approval.Expired".to_owned(),
            cause: Some(APPROVAL_EXPIRED_CAUSE.to_owned())
        }
    );
}

#[test]
fn final_errors_are_reported_and_unknown_ones_dead_lettered() {
    assert_eq!(
        after_error(
            Wait::Run,
            "Runner.BadConfig",
            Some("bad yaml"),
            0,
            &POLICY,
            0.0
        ),
        AfterError::Report {
            error: "Runner.BadConfig".to_owned(),
            cause: Some("bad yaml".to_owned())
        }
    );
    assert_eq!(
        after_error(Wait::Approval, "Approval.Denied", None, 0, &POLICY, 0.0),
        AfterError::Report {
            error: "Approval.Denied".to_owned(),
            cause: None
        }
    );
    for (wait, name) in [
        (Wait::Run, "States.Runtime"),
        (Wait::Run, "Approval.Denied"),
        (Wait::Approval, "Runner.Failed"),
        (Wait::Approval, "Runner.ModelUnavailable"),
    ] {
        assert_eq!(
            after_error(wait, name, None, 0, &POLICY, 0.0),
            AfterError::DeadLetter,
            "{wait:?} {name}"
        );
    }
}

#[test]
fn every_state_is_defined_once_and_every_edge_leads_to_one() {
    for name in StateName::ALL {
        let defined = JOB_MACHINE
            .states
            .iter()
            .filter(|state| state.name == name)
            .count();
        assert_eq!(defined, 1, "{name}");
        for next in JOB_MACHINE.successors(name) {
            assert!(JOB_MACHINE.state(next).is_some(), "{name} -> {next}");
        }
        assert_eq!(StateName::from_name(name.as_str()), Some(name));
    }
    assert_eq!(JOB_MACHINE.states.len(), StateName::ALL.len());
}

#[test]
fn every_state_is_reachable_and_every_path_ends() {
    let mut seen = vec![JOB_MACHINE.start];
    let mut queue = vec![JOB_MACHINE.start];
    while let Some(name) = queue.pop() {
        let next = JOB_MACHINE.successors(name);
        let is_final = matches!(
            JOB_MACHINE.state(name).map(|state| state.kind),
            Some(StateKind::Final(_))
        );
        assert_eq!(next.is_empty(), is_final, "{name}");
        for state in next {
            if !seen.contains(&state) {
                seen.push(state);
                queue.push(state);
            }
        }
    }
    assert_eq!(seen.len(), StateName::ALL.len(), "reached {seen:?}");
}

#[test]
fn a_catch_all_is_the_last_catcher_and_only_the_run_retries() {
    for state in JOB_MACHINE.states {
        let (retry, catch) = match state.kind {
            StateKind::Wait { retry, catch, .. } => (retry, catch),
            StateKind::Report { catch, .. } => (None, catch),
            _ => continue,
        };
        for (i, catcher) in catch.iter().enumerate() {
            if catcher.errors == Errors::All {
                assert_eq!(i, catch.len() - 1, "{}", state.name);
            }
        }
        assert_eq!(
            retry.is_some(),
            state.name == StateName::Dispatch,
            "{}",
            state.name
        );
    }
}

#[test]
fn a_heartbeat_timeout_matches_a_timeout_catcher_as_in_step_functions() {
    assert!(Errors::Timeout.matches(STATES_HEARTBEAT_TIMEOUT));
    assert!(Errors::Timeout.matches(STATES_TIMEOUT));
    assert!(!Errors::Timeout.matches("Runner.Failed"));
    assert!(Errors::All.matches("States.Runtime"));
    assert!(Errors::Transient.matches(STATES_HEARTBEAT_TIMEOUT));
    // The run's own catchers see exhausted heartbeat timeouts before its timeout catcher.
    assert_eq!(
        JOB_MACHINE.on_error(
            StateName::Dispatch,
            STATES_HEARTBEAT_TIMEOUT,
            3,
            &POLICY,
            0.0
        ),
        Caught::Catch(catch(Errors::Transient, StateName::DeadLetter))
    );
}

#[test]
fn a_failed_report_of_an_ended_job_keeps_the_jobs_error() {
    let Caught::Catch(catcher) =
        JOB_MACHINE.on_error(StateName::ReportEnded, "Lambda.Unknown", 0, &POLICY, 0.0)
    else {
        panic!("ReportEnded catches everything");
    };
    assert_eq!(catcher.next, StateName::DeadLetter);
    assert!(!catcher.becomes_the_error);
    assert_eq!(
        JOB_MACHINE.on_error(
            StateName::ReportDeadLettered,
            "Lambda.Unknown",
            0,
            &POLICY,
            0.0
        ),
        Caught::Uncaught
    );
}

#[test]
fn the_docs_draw_this_machine() {
    let diagram = JOB_MACHINE.mermaid();
    for (name, page) in [
        (
            "docs/workflow.md",
            include_str!("../../../docs/workflow.md"),
        ),
        (
            "docs/architecture.md",
            include_str!("../../../docs/architecture.md"),
        ),
    ] {
        assert!(
            page.contains(&format!("```mermaid\n{diagram}```")),
            "{name} must show the machine as drawn by JOB_MACHINE.mermaid():\n{diagram}"
        );
    }
}
