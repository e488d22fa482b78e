//! Scale to zero of a managed GPU Ollama service ([`GpuService`]), as pure decisions the
//! dispatch stage applies.
//!
//! - A job that asks for a slot while the service is stopped asks for it to start
//!   ([`on_demand`]); asking again while it starts or serves is not done (and would
//!   change nothing).
//! - Until the service is ready, the GPU takes no job ([`down_reason`] becomes
//!   [`Endpoints::self_hosted_down`](super::Endpoints)): a job for it *waits in line* with
//!   a reason its check run shows, and the sweep dispatches it once the service is ready.
//!   A job its policy lets use Ollama's hosted service overflows there meanwhile, if the
//!   deployment has one.
//! - With no job running on the GPU and none in line for the idle period, the service is
//!   stopped ([`idle_check`], at every sweep); the time it became idle is kept in the
//!   slots record ([`Slots::gpu_idle_since_ms`]), since no dispatch outlives a request.

use crate::ports::{EndpointKind, GpuService, GpuState, Slots};
use std::time::Duration;

/// What a job waiting for the GPU is told while the service is not ready.
pub const STARTING: &str =
    "the GPU Ollama service is starting, which takes a few minutes after it was idle";

/// How long the GPU service runs with nothing to do before it is stopped, when the
/// deployment does not say: long enough that a burst of comments reuses a warm GPU,
/// short enough that an idle evening costs little.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(15 * 60);

/// The GPU service a dispatcher starts and stops, and after how long idle it stops it.
#[derive(Debug, Clone)]
pub struct ManagedGpu<G> {
    pub service: G,
    pub idle: Duration,
}

/// What to ask of the GPU service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GpuAction {
    Nothing,
    Start,
    Stop,
}

/// A job asks for a slot: start the service unless it is asked for already.
pub fn on_demand(state: GpuState) -> GpuAction {
    match state {
        GpuState::Stopped => GpuAction::Start,
        GpuState::Starting | GpuState::Ready => GpuAction::Nothing,
    }
}

/// Why the GPU takes no job in `state`; `None` once it is ready.
pub fn down_reason(state: GpuState) -> Option<String> {
    match state {
        GpuState::Ready => None,
        GpuState::Stopped | GpuState::Starting => Some(STARTING.to_owned()),
    }
}

/// Whether the GPU has work: a job holds an unexpired lease on it, or a job waits in line
/// (every job in line would take the GPU first).
pub fn in_use(slots: &Slots, now_ms: u64) -> bool {
    !slots.waiting.is_empty()
        || slots
            .leases
            .iter()
            .any(|lease| lease.endpoint == EndpointKind::SelfHosted && lease.expires_at_ms > now_ms)
}

/// At a sweep: keeps the idle clock in `slots` and says whether to stop the service. The
/// clock starts at the first sweep that finds the service up with nothing to do, and is
/// cleared by any work or once the service is stopped; [`GpuAction::Stop`] repeats at
/// every sweep until the service reads as stopped, so a stop that failed is asked again.
pub fn idle_check(slots: &mut Slots, state: GpuState, now_ms: u64, idle: Duration) -> GpuAction {
    if state == GpuState::Stopped || in_use(slots, now_ms) {
        slots.gpu_idle_since_ms = None;
        return GpuAction::Nothing;
    }
    let since = *slots.gpu_idle_since_ms.get_or_insert(now_ms);
    if now_ms.saturating_sub(since) >= crate::clock::millis(idle) {
        GpuAction::Stop
    } else {
        GpuAction::Nothing
    }
}

/// What a dispatcher has seen of its GPU service during one request (or one wake of the
/// line): read once, and known to be starting once it was asked to.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Seen(Option<GpuState>);

impl Seen {
    /// The service's state, read on first use; `None` with no managed service.
    pub(super) async fn state<G: GpuService>(
        &mut self,
        gpu: Option<&ManagedGpu<G>>,
    ) -> Result<Option<GpuState>, crate::ports::GpuError> {
        let Some(gpu) = gpu else {
            return Ok(None);
        };
        if let Some(state) = self.0 {
            return Ok(Some(state));
        }
        let state = gpu.service.state().await?;
        self.0 = Some(state);
        Ok(Some(state))
    }

    /// Applies [`on_demand`]: starts a stopped service, once.
    pub(super) async fn demand<G: GpuService>(
        &mut self,
        gpu: Option<&ManagedGpu<G>>,
    ) -> Result<Option<GpuState>, crate::ports::GpuError> {
        let (Some(managed), Some(state)) = (gpu, self.state(gpu).await?) else {
            return Ok(None);
        };
        if on_demand(state) == GpuAction::Start {
            tracing::info!("a job needs the GPU: starting the GPU Ollama service");
            managed.service.start().await?;
            self.0 = Some(GpuState::Starting);
            return Ok(Some(GpuState::Starting));
        }
        Ok(Some(state))
    }
}

#[cfg(test)]
#[path = "gpu_tests.rs"]
mod tests;
