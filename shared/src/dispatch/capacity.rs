//! Concurrency caps and model routing: which Ollama a job runs on, if any has room.
//!
//! Running jobs hold *leases* in one small record, [`Slots`], read and written with a
//! version check ([`SlotStore`]), so two dispatches racing for the last slot cannot both
//! win. A lease is keyed by job, so a retried dispatch renews its own lease rather than
//! taking a second one; the report stage releases it when the job ends. Each lease also
//! expires on its own, shortly after the longest an attempt can last, so a lease whose
//! release was lost (a report that ended in a dead-letter queue) frees itself.
//!
//! A job goes to the self-hosted GPU while it has a free slot. When the GPU is full (or
//! there is none) and the installation's policy allows Ollama's hosted service, it goes
//! there; otherwise the dispatch fails with `Dispatch.NoCapacity` and the workflow tries
//! again after its backoff.

use crate::ids::InstallationId;
use crate::job::{JobId, Timeouts};
use crate::ports::{
    EndpointKind, Lease, ModelEndpoint, SlotStore, Slots, StoreError, VersionedSlots,
};
use std::time::Duration;

/// How often an acquire or release reads and writes the slots again after losing a race
/// to another dispatch: a handful of concurrent dispatches is the most a GPU's worth of
/// jobs produces, and each round trip takes milliseconds.
const VERSION_ATTEMPTS: usize = 8;

/// How many jobs may run at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// On the self-hosted GPU: the parallel requests its Ollama serves
    /// (`OLLAMA_NUM_PARALLEL`), so that no job waits in Ollama's own queue.
    pub gpu_slots: u32,
    /// On Ollama's hosted service, all installations together: its rate limits are per
    /// account.
    pub hosted_slots: u32,
    /// Of one installation, wherever they run, so that one busy installation cannot take
    /// every slot.
    pub per_installation: u32,
}

/// The Ollama services this deployment can use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints {
    /// The self-hosted GPU Ollama's base URL.
    pub self_hosted: Option<String>,
    /// Ollama's hosted service's base URL.
    pub hosted: Option<String>,
}

impl Endpoints {
    fn url(&self, kind: EndpointKind) -> Option<&str> {
        match kind {
            EndpointKind::SelfHosted => self.self_hosted.as_deref(),
            EndpointKind::Hosted => self.hosted.as_deref(),
        }
    }

    fn endpoint(&self, kind: EndpointKind) -> Option<ModelEndpoint> {
        self.url(kind).map(|url| ModelEndpoint {
            kind,
            url: url.to_owned(),
        })
    }
}

/// A job asking for a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotRequest {
    pub job: JobId,
    pub installation: InstallationId,
    /// The installation's policy lets the job use Ollama's hosted service.
    pub allow_hosted: bool,
    pub now_ms: u64,
    /// How long the lease lasts unless released: see [`lease_duration`].
    pub lease: Duration,
}

/// The answer to a [`SlotRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Run on this endpoint; the lease is taken (or renewed).
    Admitted(ModelEndpoint),
    /// No room: why, in a sentence for the job's report.
    Full(String),
}

/// How long a lease lasts: one attempt at its longest (the maximum runtime), plus one
/// heartbeat interval for the report stage to release it after the attempt ends.
pub fn lease_duration(timeouts: &Timeouts) -> Duration {
    timeouts.max_runtime.saturating_add(timeouts.heartbeat)
}

impl Slots {
    fn prune(&mut self, now_ms: u64) {
        self.leases.retain(|lease| lease.expires_at_ms > now_ms);
    }

    fn count(&self, keep: impl Fn(&Lease) -> bool) -> u32 {
        u32::try_from(self.leases.iter().filter(|lease| keep(lease)).count()).unwrap_or(u32::MAX)
    }

    /// Decides where `request`'s job runs and takes (or renews) its lease. Expired leases
    /// are dropped first. Pure: the caller stores the result.
    pub fn admit(
        &mut self,
        request: &SlotRequest,
        limits: &Limits,
        endpoints: &Endpoints,
    ) -> Admission {
        self.prune(request.now_ms);
        let expires_at_ms = request
            .now_ms
            .saturating_add(crate::clock::millis(request.lease));
        if let Some(lease) = self
            .leases
            .iter_mut()
            .find(|lease| lease.job == request.job)
            && let Some(endpoint) = endpoints.endpoint(lease.endpoint)
        {
            lease.expires_at_ms = expires_at_ms;
            return Admission::Admitted(endpoint);
        }
        self.leases.retain(|lease| lease.job != request.job);

        let of_installation = self.count(|lease| lease.installation == request.installation);
        if of_installation >= limits.per_installation {
            return Admission::Full(format!(
                "installation {} already has {of_installation} job{} running, its limit",
                request.installation,
                plural(of_installation)
            ));
        }
        let on_gpu = self.count(|lease| lease.endpoint == EndpointKind::SelfHosted);
        let on_hosted = self.count(|lease| lease.endpoint == EndpointKind::Hosted);
        let gpu_free = endpoints.self_hosted.is_some() && on_gpu < limits.gpu_slots;
        let hosted_free =
            request.allow_hosted && endpoints.hosted.is_some() && on_hosted < limits.hosted_slots;
        let kind = if gpu_free {
            EndpointKind::SelfHosted
        } else if hosted_free {
            EndpointKind::Hosted
        } else {
            return Admission::Full(full_reason(request, limits, endpoints, on_gpu, on_hosted));
        };
        let Some(endpoint) = endpoints.endpoint(kind) else {
            return Admission::Full(format!("no {} is configured", kind.description()));
        };
        self.leases.push(Lease {
            job: request.job.clone(),
            installation: request.installation,
            endpoint: kind,
            expires_at_ms,
        });
        Admission::Admitted(endpoint)
    }

    /// Gives up `job`'s lease; `false` when it held none.
    pub fn release(&mut self, job: &JobId) -> bool {
        let before = self.leases.len();
        self.leases.retain(|lease| &lease.job != job);
        self.leases.len() != before
    }
}

fn plural(count: u32) -> &'static str {
    if count == 1 { "" } else { "s" }
}

/// Why neither endpoint could take the job.
fn full_reason(
    request: &SlotRequest,
    limits: &Limits,
    endpoints: &Endpoints,
    on_gpu: u32,
    on_hosted: u32,
) -> String {
    let gpu = if endpoints.self_hosted.is_some() {
        format!(
            "all {} slot{} of the self-hosted GPU are busy ({on_gpu} running)",
            limits.gpu_slots,
            plural(limits.gpu_slots)
        )
    } else {
        "no self-hosted GPU is configured".to_owned()
    };
    let hosted = if !request.allow_hosted {
        "the installation's policy does not allow Ollama's hosted service"
    } else if endpoints.hosted.is_none() {
        "Ollama's hosted service is not configured"
    } else if on_hosted >= limits.hosted_slots {
        "Ollama's hosted service is at its limit of jobs"
    } else {
        "Ollama's hosted service has room"
    };
    format!("{gpu}, and {hosted}")
}

/// [`Slots::admit`] against the store, trying again when another dispatch wrote first.
pub async fn acquire<S: SlotStore>(
    store: &S,
    request: &SlotRequest,
    limits: &Limits,
    endpoints: &Endpoints,
) -> Result<Admission, StoreError> {
    for _ in 0..VERSION_ATTEMPTS {
        let VersionedSlots { mut slots, version } = store.slots().await?;
        let before = slots.clone();
        let admission = slots.admit(request, limits, endpoints);
        if slots == before {
            return Ok(admission);
        }
        match store.put_slots(&slots, version).await {
            Ok(()) => return Ok(admission),
            Err(StoreError::Conflict { .. }) => continue,
            Err(err) => return Err(err),
        }
    }
    Err(StoreError::Unavailable(format!(
        "the runner slots kept changing over {VERSION_ATTEMPTS} attempts"
    )))
}

/// [`Slots::release`] against the store. Releasing a lease that is gone is harmless.
pub async fn release<S: SlotStore>(store: &S, job: &JobId) -> Result<(), StoreError> {
    for _ in 0..VERSION_ATTEMPTS {
        let VersionedSlots { mut slots, version } = store.slots().await?;
        if !slots.release(job) {
            return Ok(());
        }
        match store.put_slots(&slots, version).await {
            Ok(()) => return Ok(()),
            Err(StoreError::Conflict { .. }) => continue,
            Err(err) => return Err(err),
        }
    }
    Err(StoreError::Unavailable(format!(
        "the runner slots kept changing over {VERSION_ATTEMPTS} attempts"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        }
    }

    fn request(n: u8, installation: u64, allow_hosted: bool) -> SlotRequest {
        SlotRequest {
            job: job(n),
            installation: InstallationId(installation),
            allow_hosted,
            now_ms: 1_000,
            lease: Duration::from_secs(60),
        }
    }

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
                "all 2 slots of the self-hosted GPU are busy (2 running), and the \
                 installation's policy does not allow Ollama's hosted service"
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
        assert!(slots.release(&job(1)));
        assert!(!slots.release(&job(1)));
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
        };
        let mut slots = Slots::default();
        assert_eq!(
            slots.admit(&request(1, 1, false), &LIMITS, &endpoints),
            Admission::Full(
                "no self-hosted GPU is configured, and the installation's policy does not \
                 allow Ollama's hosted service"
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
}
