//! The admission rules, from plain records.

use super::*;
use crate::ports::Slots;

const LIMITS: Limits = Limits {
    gpu_slots: 2,
    hosted_slots: 1,
    per_installation: 2,
};

fn job(n: u8) -> JobId {
    JobId::parse(&format!("j{n:020}")).expect("job id")
}

fn endpoints() -> Endpoints {
    Endpoints {
        self_hosted: Some("http://gpu:11434".to_owned()),
        hosted: Some("https://ollama.com".to_owned()),
        self_hosted_down: None,
    }
}

fn request(n: u8, installation: u64, allow_hosted: bool) -> SlotRequest {
    SlotRequest {
        job: job(n),
        installation: InstallationId(installation),
        attempt: 1,
        allow_hosted,
        now_ms: 1_000,
        timeouts: TIMEOUTS,
    }
}

/// A lease of 60 seconds.
const TIMEOUTS: Timeouts = Timeouts {
    approval: Duration::from_secs(60),
    heartbeat: Duration::from_secs(10),
    max_runtime: Duration::from_secs(50),
    max_queue: crate::job::MAX_QUEUE,
};

fn kind(admission: &Admission) -> Option<EndpointKind> {
    match admission {
        Admission::Admitted(endpoint) => Some(endpoint.kind),
        Admission::Full(_) => None,
    }
}

#[test]
fn jobs_fill_the_gpu_then_spill_to_hosted_only_when_allowed() {
    let mut slots = Slots::default();
    let endpoints = endpoints();
    let gpu = Some(EndpointKind::SelfHosted);
    assert_eq!(
        kind(&slots.admit(&request(1, 1, true), &LIMITS, &endpoints)),
        gpu
    );
    assert_eq!(
        kind(&slots.admit(&request(2, 2, true), &LIMITS, &endpoints)),
        gpu
    );
    let refused = slots.admit(&request(3, 3, false), &LIMITS, &endpoints);
    assert_eq!(
        refused,
        Admission::Full(
            "all 2 slots of the self-hosted GPU are busy (2 running), and the job \
             may not use Ollama's hosted service (the installation's policy does not allow it, \
             or the task names no `hosted_model`)"
                .to_owned()
        )
    );
    assert_eq!(
        kind(&slots.admit(&request(3, 3, true), &LIMITS, &endpoints)),
        Some(EndpointKind::Hosted)
    );
    let Admission::Full(reason) = slots.admit(&request(4, 4, true), &LIMITS, &endpoints) else {
        panic!("hosted is full too");
    };
    assert!(
        reason.ends_with("hosted service is at its limit of jobs"),
        "{reason}"
    );
    assert_eq!(slots.leases.len(), 3);
    let waiting: Vec<&JobId> = slots.waiting.iter().map(|waiter| &waiter.job).collect();
    assert_eq!(
        waiting,
        [&job(4)],
        "the refused wait in line until admitted"
    );
}

#[test]
fn one_installation_cannot_take_every_slot() {
    let limits = Limits {
        gpu_slots: 8,
        per_installation: 1,
        ..LIMITS
    };
    let mut slots = Slots::default();
    assert!(kind(&slots.admit(&request(1, 7, true), &limits, &endpoints())).is_some());
    assert_eq!(
        slots.admit(&request(2, 7, true), &limits, &endpoints()),
        Admission::Full("installation 7 already has 1 job running, its limit".to_owned())
    );
    assert!(kind(&slots.admit(&request(2, 8, true), &limits, &endpoints())).is_some());
}

#[test]
fn a_retried_job_renews_its_own_lease() {
    let mut slots = Slots::default();
    let first = slots.admit(&request(1, 1, false), &LIMITS, &endpoints());
    let mut later = request(1, 1, false);
    later.now_ms = 30_000;
    assert_eq!(slots.admit(&later, &LIMITS, &endpoints()), first);
    assert_eq!(slots.leases.len(), 1);
    assert_eq!(slots.leases[0].expires_at_ms, 90_000);
}

#[test]
fn expired_and_released_leases_free_their_slots() {
    let mut slots = Slots::default();
    slots.admit(&request(1, 1, false), &LIMITS, &endpoints());
    slots.admit(&request(2, 2, false), &LIMITS, &endpoints());
    assert!(kind(&slots.admit(&request(3, 3, false), &LIMITS, &endpoints())).is_none());
    assert!(slots.release(&job(1), 1));
    assert!(!slots.release(&job(1), 1));
    assert!(kind(&slots.admit(&request(3, 3, false), &LIMITS, &endpoints())).is_some());
    let mut much_later = request(4, 4, false);
    much_later.now_ms = 1_000 + 61_000;
    assert!(kind(&slots.admit(&much_later, &LIMITS, &endpoints())).is_some());
    assert_eq!(slots.leases.len(), 1, "the others expired: {slots:?}");
}

#[test]
fn without_a_gpu_jobs_need_the_hosted_service() {
    let endpoints = Endpoints {
        self_hosted: None,
        hosted: Some("https://ollama.com".to_owned()),
        self_hosted_down: None,
    };
    let mut slots = Slots::default();
    assert_eq!(
        slots.admit(&request(1, 1, false), &LIMITS, &endpoints),
        Admission::Full(
            "no self-hosted GPU is configured, and the job may not use Ollama's \
             hosted service (the installation's policy does not allow it, or the task names no \
             `hosted_model`)"
                .to_owned()
        )
    );
    assert_eq!(
        kind(&slots.admit(&request(1, 1, true), &LIMITS, &endpoints)),
        Some(EndpointKind::Hosted)
    );
}

#[test]
fn a_lease_outlives_the_longest_attempt() {
    let timeouts = Timeouts::DEFAULT;
    assert_eq!(
        lease_duration(&timeouts),
        timeouts.max_runtime + timeouts.heartbeat
    );
}

fn waiting(slots: &Slots) -> Vec<JobId> {
    slots
        .waiting
        .iter()
        .map(|waiter| waiter.job.clone())
        .collect()
}

#[test]
fn no_room_puts_the_attempt_in_line_and_it_keeps_its_place() {
    let limits = Limits {
        gpu_slots: 1,
        hosted_slots: 0,
        per_installation: 10,
    };
    let mut slots = Slots::default();
    assert!(kind(&slots.admit(&request(1, 1, false), &limits, &endpoints())).is_some());
    for n in [2, 3] {
        assert!(kind(&slots.admit(&request(n, n.into(), false), &limits, &endpoints())).is_none());
    }
    // Asking again keeps the place: the line is oldest first.
    assert!(kind(&slots.admit(&request(2, 2, false), &limits, &endpoints())).is_none());
    assert_eq!(waiting(&slots), [job(2), job(3)]);

    assert!(slots.release(&job(1), 1));
    assert_eq!(
        slots.admit(&request(3, 3, false), &limits, &endpoints()),
        Admission::Full("1 job ahead of it in line for the same slots".to_owned()),
        "the newer waiter does not jump the line"
    );
    assert!(kind(&slots.admit(&request(2, 2, false), &limits, &endpoints())).is_some());
    assert_eq!(waiting(&slots), [job(3)]);
}

#[test]
fn a_waiter_over_its_installations_share_blocks_no_other_installation() {
    let limits = Limits {
        gpu_slots: 4,
        hosted_slots: 0,
        per_installation: 1,
    };
    let mut slots = Slots::default();
    assert!(kind(&slots.admit(&request(1, 7, false), &limits, &endpoints())).is_some());
    assert_eq!(
        slots.admit(&request(2, 7, false), &limits, &endpoints()),
        Admission::Full("installation 7 already has 1 job running, its limit".to_owned())
    );
    assert!(kind(&slots.admit(&request(3, 8, false), &limits, &endpoints())).is_some());
    assert_eq!(waiting(&slots), [job(2)]);
}

#[test]
fn nine_jobs_of_one_installation_run_four_at_a_time_and_the_rest_wait() {
    let limits = Limits {
        gpu_slots: 8,
        hosted_slots: 0,
        per_installation: 4,
    };
    let mut slots = Slots::default();
    let admitted: Vec<u8> = (1..=9)
        .filter(|&n| kind(&slots.admit(&request(n, 1, false), &limits, &endpoints())).is_some())
        .collect();
    assert_eq!(admitted, [1, 2, 3, 4]);
    assert_eq!(waiting(&slots), (5..=9).map(job).collect::<Vec<_>>());
    assert!(slots.release(&job(2), 1));
    // Everyone in line asks again (a wake): only the oldest gets the freed slot.
    let next: Vec<u8> = (5..=9)
        .filter(|&n| kind(&slots.admit(&request(n, 1, false), &limits, &endpoints())).is_some())
        .collect();
    assert_eq!(next, [5]);
    assert_eq!(slots.leases.len(), 4);
}

#[test]
fn only_the_exit_of_the_runner_holding_the_lease_frees_it() {
    let mut slots = Slots::default();
    slots.admit(&request(1, 1, false), &LIMITS, &endpoints());
    let mut retry = request(1, 1, false);
    retry.attempt = 2;
    assert!(kind(&slots.admit(&retry, &LIMITS, &endpoints())).is_some());
    assert!(
        !slots.release(&job(1), 1),
        "the first attempt's runner exiting late frees nothing"
    );
    assert_eq!(slots.leases.len(), 1);
    assert!(slots.release(&job(1), 2));
    assert!(slots.leases.is_empty());
}

#[test]
fn a_finished_job_leaves_the_line() {
    let limits = Limits {
        gpu_slots: 0,
        hosted_slots: 0,
        per_installation: 1,
    };
    let mut slots = Slots::default();
    assert!(kind(&slots.admit(&request(1, 1, false), &limits, &endpoints())).is_none());
    assert!(slots.withdraw(&job(1)));
    assert!(!slots.withdraw(&job(1)));
    assert!(slots.waiting.is_empty());
}

#[test]
fn a_job_overflows_to_the_hosted_service_only_with_a_hosted_model() {
    use crate::dispatch::may_use_hosted;
    let both = endpoints();
    assert!(may_use_hosted(Some("gpt-oss:120b"), &both));
    assert!(
        !may_use_hosted(None, &both),
        "without a hosted model the job waits for the GPU"
    );
    let hosted_only = Endpoints {
        self_hosted: None,
        ..endpoints()
    };
    assert!(
        may_use_hosted(None, &hosted_only),
        "with no GPU, the task's model is meant for the hosted service"
    );
}
