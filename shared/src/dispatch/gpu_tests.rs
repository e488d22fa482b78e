//! Scale to zero, from plain records: idle timing, start requests made once, and jobs
//! that wait for the GPU rather than fail.

use super::*;
use crate::dispatch::{Admission, Endpoints, Limits, SlotRequest};
use crate::ids::InstallationId;
use crate::job::{JobId, Timeouts};
use crate::ports::{GpuError, Lease};
use std::sync::Mutex;

const IDLE: Duration = Duration::from_secs(15 * 60);
const MINUTE_MS: u64 = 60_000;

const TIMEOUTS: Timeouts = Timeouts {
    approval: Duration::from_secs(60),
    heartbeat: Duration::from_secs(10),
    max_runtime: Duration::from_secs(50),
    max_queue: crate::job::MAX_QUEUE,
};

const LIMITS: Limits = Limits {
    gpu_slots: 4,
    hosted_slots: 2,
    per_installation: 2,
};

fn job(n: u8) -> JobId {
    JobId::parse(&format!("j{n:020}")).expect("job id")
}

fn request(n: u8, allow_hosted: bool, now_ms: u64) -> SlotRequest {
    SlotRequest {
        job: job(n),
        installation: InstallationId(u64::from(n)),
        attempt: 1,
        allow_hosted,
        now_ms,
        timeouts: TIMEOUTS,
    }
}

fn endpoints(state: GpuState, hosted: bool) -> Endpoints {
    Endpoints {
        self_hosted: Some("http://ollama.ota.internal:11434".to_owned()),
        hosted: hosted.then(|| "https://ollama.com".to_owned()),
        self_hosted_down: down_reason(state),
    }
}

fn gpu_lease(n: u8, expires_at_ms: u64) -> Lease {
    Lease {
        job: job(n),
        installation: InstallationId(1),
        endpoint: EndpointKind::SelfHosted,
        attempt: 1,
        expires_at_ms,
    }
}

#[test]
fn only_a_stopped_service_is_asked_to_start() {
    assert_eq!(on_demand(GpuState::Stopped), GpuAction::Start);
    assert_eq!(on_demand(GpuState::Starting), GpuAction::Nothing);
    assert_eq!(on_demand(GpuState::Ready), GpuAction::Nothing);
}

#[test]
fn a_job_for_the_gpu_waits_while_the_service_starts_and_runs_once_it_is_ready() {
    let mut slots = Slots::default();
    for state in [GpuState::Stopped, GpuState::Starting] {
        let admission = slots.admit(&request(1, false, 1_000), &LIMITS, &endpoints(state, false));
        assert_eq!(admission, Admission::Full(STARTING.to_owned()), "{state}");
        assert_eq!(slots.waiting.len(), 1, "in line while {state}");
        assert!(slots.leases.is_empty());
    }
    let admission = slots.admit(
        &request(1, false, 2_000),
        &LIMITS,
        &endpoints(GpuState::Ready, false),
    );
    let Admission::Admitted(endpoint) = admission else {
        panic!("admitted once ready: {admission:?}");
    };
    assert_eq!(endpoint.kind, EndpointKind::SelfHosted);
    assert!(slots.waiting.is_empty());
}

#[test]
fn with_hosted_overflow_an_allowed_job_runs_there_while_the_gpu_starts() {
    let mut slots = Slots::default();
    let starting = endpoints(GpuState::Starting, true);
    let admission = slots.admit(&request(1, true, 1_000), &LIMITS, &starting);
    assert!(
        matches!(&admission, Admission::Admitted(endpoint) if endpoint.kind == EndpointKind::Hosted),
        "{admission:?}"
    );
    let Admission::Full(reason) = slots.admit(&request(2, false, 1_000), &LIMITS, &starting) else {
        panic!("a job without the hosted service waits");
    };
    assert!(reason.starts_with(STARTING), "{reason}");
    assert!(
        reason.contains("may not use Ollama's hosted service"),
        "{reason}"
    );
}

#[test]
fn a_gpu_lease_is_not_renewed_while_the_service_is_down() {
    let mut slots = Slots {
        leases: vec![gpu_lease(1, 100_000)],
        ..Slots::default()
    };
    let admission = slots.admit(
        &request(1, false, 1_000),
        &LIMITS,
        &endpoints(GpuState::Starting, false),
    );
    assert_eq!(admission, Admission::Full(STARTING.to_owned()));
    assert!(slots.leases.is_empty());
}

#[test]
fn the_idle_clock_starts_when_the_work_ends_and_stops_the_service_after_the_idle_period() {
    let mut slots = Slots {
        leases: vec![gpu_lease(1, 10 * MINUTE_MS)],
        ..Slots::default()
    };
    // Busy: a job holds a GPU lease.
    assert_eq!(
        idle_check(&mut slots, GpuState::Ready, MINUTE_MS, IDLE),
        GpuAction::Nothing
    );
    assert_eq!(slots.gpu_idle_since_ms, None);
    // The job's runner exited.
    slots.leases.clear();
    let idle_from = 2 * MINUTE_MS;
    assert_eq!(
        idle_check(&mut slots, GpuState::Ready, idle_from, IDLE),
        GpuAction::Nothing
    );
    assert_eq!(slots.gpu_idle_since_ms, Some(idle_from));
    let almost = idle_from + crate::clock::millis(IDLE) - 1;
    assert_eq!(
        idle_check(&mut slots, GpuState::Ready, almost, IDLE),
        GpuAction::Nothing
    );
    let due = idle_from + crate::clock::millis(IDLE);
    assert_eq!(
        idle_check(&mut slots, GpuState::Ready, due, IDLE),
        GpuAction::Stop
    );
    // A stop that did not take is asked again at the next sweep.
    assert_eq!(
        idle_check(&mut slots, GpuState::Ready, due + MINUTE_MS, IDLE),
        GpuAction::Stop
    );
    // Once stopped the clock is cleared.
    assert_eq!(
        idle_check(&mut slots, GpuState::Stopped, due + 2 * MINUTE_MS, IDLE),
        GpuAction::Nothing
    );
    assert_eq!(slots.gpu_idle_since_ms, None);
}

#[test]
fn work_in_the_idle_period_resets_the_clock() {
    let mut slots = Slots {
        gpu_idle_since_ms: Some(0),
        ..Slots::default()
    };
    // A job waits in line (the service is starting for it).
    slots.admit(
        &request(1, false, MINUTE_MS),
        &LIMITS,
        &endpoints(GpuState::Starting, false),
    );
    let late = crate::clock::millis(IDLE) * 2;
    assert_eq!(
        idle_check(&mut slots, GpuState::Starting, late, IDLE),
        GpuAction::Nothing
    );
    assert_eq!(slots.gpu_idle_since_ms, None);
}

#[test]
fn an_expired_lease_is_no_work() {
    let slots = Slots {
        leases: vec![gpu_lease(1, 5_000)],
        ..Slots::default()
    };
    assert!(in_use(&slots, 4_999));
    assert!(!in_use(&slots, 5_000));
}

#[test]
fn a_service_started_for_a_job_that_left_stops_after_the_idle_period() {
    let mut slots = Slots::default();
    assert_eq!(
        idle_check(&mut slots, GpuState::Starting, 0, IDLE),
        GpuAction::Nothing
    );
    assert_eq!(
        idle_check(
            &mut slots,
            GpuState::Starting,
            crate::clock::millis(IDLE),
            IDLE
        ),
        GpuAction::Stop
    );
}

/// A GPU service that records what it was asked.
struct Recording {
    state: Mutex<GpuState>,
    calls: Mutex<Vec<&'static str>>,
}

impl GpuService for Recording {
    async fn state(&self) -> Result<GpuState, GpuError> {
        self.calls.lock().expect("calls").push("state");
        Ok(*self.state.lock().expect("state"))
    }

    async fn start(&self) -> Result<(), GpuError> {
        self.calls.lock().expect("calls").push("start");
        *self.state.lock().expect("state") = GpuState::Starting;
        Ok(())
    }

    async fn stop(&self) -> Result<(), GpuError> {
        self.calls.lock().expect("calls").push("stop");
        Ok(())
    }
}

#[tokio::test]
async fn a_wake_of_many_waiters_reads_the_service_once_and_starts_it_once() {
    let gpu = ManagedGpu {
        service: Recording {
            state: Mutex::new(GpuState::Stopped),
            calls: Mutex::new(Vec::new()),
        },
        idle: IDLE,
    };
    let mut seen = Seen::default();
    for _ in 0..3 {
        let state = seen.demand(Some(&gpu)).await.expect("demand");
        assert_eq!(state, Some(GpuState::Starting));
    }
    assert_eq!(
        *gpu.service.calls.lock().expect("calls"),
        ["state", "start"]
    );

    // A later request reads it afresh, and asks nothing of a service already starting.
    let state = Seen::default().demand(Some(&gpu)).await.expect("demand");
    assert_eq!(state, Some(GpuState::Starting));
    assert_eq!(
        *gpu.service.calls.lock().expect("calls"),
        ["state", "start", "state"]
    );
}

#[tokio::test]
async fn without_a_managed_service_nothing_is_read_or_asked() {
    let none: Option<&ManagedGpu<crate::ports::NoGpuService>> = None;
    assert_eq!(Seen::default().demand(none).await.expect("demand"), None);
}
