//! Concurrency caps and model routing: which Ollama a job runs on, if any has room.
//!
//! Running jobs hold *leases* in one small record, [`Slots`], read and written with a
//! version check ([`SlotStore`]), so two dispatches racing for the last slot cannot both
//! win. A lease is keyed by job, so a retried dispatch renews its own lease rather than
//! taking a second one, and names the attempt whose runner holds it. It is released when
//! that runner has exited ([`release`]: the process reaped on one machine, ECS's task
//! STOPPED event on AWS), not when the job's status says it finished: a runner still
//! retrying its model call holds its slot. Each lease also expires on its own, shortly
//! after the longest an attempt can last, so a lease whose release was lost frees itself.
//!
//! A job goes to the self-hosted GPU while it has a free slot. When the GPU is full (or
//! there is none) and the installation's policy allows Ollama's hosted service, it goes
//! there. When neither has room, or its installation has its share running, the attempt
//! *waits*: it joins the line ([`Slots::waiting`], oldest first) and its workflow wait
//! stays open until a slot frees. No capacity is never a failed attempt. Those ahead in
//! line come first: a newcomer gets a slot only if the waiters before it, placed in order,
//! leave one it can use.

mod store;

pub use store::{
    acquire, acquire_telling, check_gpu_idle, release, wait_for_launch_capacity, waiting, withdraw,
};

use crate::ids::InstallationId;
use crate::job::{JobId, Timeouts};
use crate::ports::{EndpointKind, Lease, ModelEndpoint, Slots, Waiter};
use std::time::Duration;

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
    /// Why the self-hosted GPU takes no job now although it is configured (its managed
    /// service is stopped or starting, [`crate::dispatch::gpu`]); `None` when it takes
    /// jobs. A job that would run there waits in line with this reason.
    pub self_hosted_down: Option<String>,
}

impl Endpoints {
    /// The URL of `kind`, if it is configured and takes jobs now.
    fn url(&self, kind: EndpointKind) -> Option<&str> {
        match kind {
            EndpointKind::SelfHosted if self.self_hosted_down.is_some() => None,
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
    /// The attempt asking (1 for the first).
    pub attempt: u32,
    /// The job may use Ollama's hosted service: its installation's policy allows it and
    /// it has a model for it ([`crate::dispatch::may_use_hosted`]).
    pub allow_hosted: bool,
    pub now_ms: u64,
    /// The job's timeouts: the lease lasts [`lease_duration`] unless released.
    pub timeouts: Timeouts,
}

/// The answer to a [`SlotRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Run on this endpoint; the lease is taken (or renewed).
    Admitted(ModelEndpoint),
    /// No room: the attempt is in line now; why, in a sentence for its status.
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

    /// Decides where `request`'s job runs and takes (or renews) its lease, or puts the
    /// attempt in line (keeping its place if it is there already). Expired leases are
    /// dropped first. Pure: the caller stores the result.
    pub fn admit(
        &mut self,
        request: &SlotRequest,
        limits: &Limits,
        endpoints: &Endpoints,
    ) -> Admission {
        self.prune(request.now_ms);
        let expires_at_ms = request
            .now_ms
            .saturating_add(crate::clock::millis(lease_duration(&request.timeouts)));
        if let Some(lease) = self
            .leases
            .iter_mut()
            .find(|lease| lease.job == request.job)
            && let Some(endpoint) = endpoints.endpoint(lease.endpoint)
        {
            lease.expires_at_ms = expires_at_ms;
            lease.attempt = lease.attempt.max(request.attempt);
            self.waiting.retain(|waiter| waiter.job != request.job);
            return Admission::Admitted(endpoint);
        }
        self.leases.retain(|lease| lease.job != request.job);

        // Those ahead in line are placed first, in order, as if they ran.
        let mut placed = self.leases.clone();
        let mut ahead = 0;
        for waiter in self
            .waiting
            .iter()
            .take_while(|waiter| waiter.job != request.job)
        {
            let seeker = Seeker {
                installation: waiter.installation,
                allow_hosted: waiter.allow_hosted,
            };
            if let Ok(kind) = place(&placed, &seeker, limits, endpoints) {
                ahead += 1;
                placed.push(Lease {
                    job: waiter.job.clone(),
                    installation: waiter.installation,
                    endpoint: kind,
                    attempt: waiter.attempt,
                    expires_at_ms,
                });
            }
        }
        let seeker = Seeker {
            installation: request.installation,
            allow_hosted: request.allow_hosted,
        };
        let found = place(&placed, &seeker, limits, endpoints).and_then(|kind| {
            endpoints
                .endpoint(kind)
                .map(|endpoint| (kind, endpoint))
                .ok_or_else(|| format!("no {} is configured", kind.description()))
        });
        match found {
            Ok((kind, endpoint)) => {
                self.waiting.retain(|waiter| waiter.job != request.job);
                self.leases.push(Lease {
                    job: request.job.clone(),
                    installation: request.installation,
                    endpoint: kind,
                    attempt: request.attempt,
                    expires_at_ms,
                });
                Admission::Admitted(endpoint)
            }
            Err(blocked) => {
                // Blocked only by those ahead: say so, else what is full now.
                let reason = match place(&self.leases, &seeker, limits, endpoints) {
                    Ok(_) => format!(
                        "{ahead} job{} ahead of it in line for the same slots",
                        plural(ahead)
                    ),
                    Err(_) => blocked,
                };
                self.queue(request, &reason);
                Admission::Full(reason)
            }
        }
    }

    /// Puts `request`'s attempt in line with `reason`, keeping its place if it is there.
    pub fn queue(&mut self, request: &SlotRequest, reason: &str) {
        if let Some(waiter) = self
            .waiting
            .iter_mut()
            .find(|waiter| waiter.job == request.job)
        {
            waiter.attempt = request.attempt;
            waiter.allow_hosted = request.allow_hosted;
            waiter.timeouts = request.timeouts;
            reason.clone_into(&mut waiter.reason);
            return;
        }
        self.waiting.push(Waiter {
            job: request.job.clone(),
            installation: request.installation,
            attempt: request.attempt,
            allow_hosted: request.allow_hosted,
            since_ms: request.now_ms,
            reason: reason.to_owned(),
            timeouts: request.timeouts,
        });
    }

    /// The runner of `job`'s attempt `attempt` exited: frees the job's slot, unless a later
    /// attempt holds it now. `false` when there was nothing to free.
    pub fn release(&mut self, job: &JobId, attempt: u32) -> bool {
        let before = self.leases.len();
        self.leases
            .retain(|lease| !(&lease.job == job && lease.attempt <= attempt));
        self.leases.len() != before
    }

    /// Takes `job` out of the line (it finished, or its wait is over); `false` when it was
    /// not in it.
    pub fn withdraw(&mut self, job: &JobId) -> bool {
        let before = self.waiting.len();
        self.waiting.retain(|waiter| &waiter.job != job);
        self.waiting.len() != before
    }
}

/// Who looks for a slot, as [`place`] needs it.
struct Seeker {
    installation: InstallationId,
    allow_hosted: bool,
}

fn count(leases: &[Lease], keep: impl Fn(&Lease) -> bool) -> u32 {
    u32::try_from(leases.iter().filter(|lease| keep(lease)).count()).unwrap_or(u32::MAX)
}

/// Where a job would run among `leases`, or why it cannot now.
fn place(
    leases: &[Lease],
    seeker: &Seeker,
    limits: &Limits,
    endpoints: &Endpoints,
) -> Result<EndpointKind, String> {
    let of_installation = count(leases, |lease| lease.installation == seeker.installation);
    if of_installation >= limits.per_installation {
        return Err(format!(
            "installation {} already has {of_installation} job{} running, its limit",
            seeker.installation,
            plural(of_installation)
        ));
    }
    let on_gpu = count(leases, |lease| lease.endpoint == EndpointKind::SelfHosted);
    let on_hosted = count(leases, |lease| lease.endpoint == EndpointKind::Hosted);
    if endpoints.url(EndpointKind::SelfHosted).is_some() && on_gpu < limits.gpu_slots {
        return Ok(EndpointKind::SelfHosted);
    }
    if seeker.allow_hosted && endpoints.hosted.is_some() && on_hosted < limits.hosted_slots {
        return Ok(EndpointKind::Hosted);
    }
    Err(full_reason(seeker, limits, endpoints, on_gpu, on_hosted))
}

fn plural(count: u32) -> &'static str {
    if count == 1 { "" } else { "s" }
}

/// Why neither endpoint could take the job.
fn full_reason(
    seeker: &Seeker,
    limits: &Limits,
    endpoints: &Endpoints,
    on_gpu: u32,
    on_hosted: u32,
) -> String {
    if let (Some(down), None) = (&endpoints.self_hosted_down, &endpoints.hosted) {
        return down.clone();
    }
    let gpu = if let Some(down) = &endpoints.self_hosted_down {
        down.clone()
    } else if endpoints.self_hosted.is_some() {
        format!(
            "all {} slot{} of the self-hosted GPU are busy ({on_gpu} running)",
            limits.gpu_slots,
            plural(limits.gpu_slots)
        )
    } else {
        "no self-hosted GPU is configured".to_owned()
    };
    let hosted = if !seeker.allow_hosted {
        "the job may not use Ollama's hosted service (the installation's policy does not \
         allow it, or the task names no `hosted_model`)"
    } else if endpoints.hosted.is_none() {
        "Ollama's hosted service is not configured"
    } else if on_hosted >= limits.hosted_slots {
        "Ollama's hosted service is at its limit of jobs"
    } else {
        "Ollama's hosted service has room"
    };
    format!("{gpu}, and {hosted}")
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
