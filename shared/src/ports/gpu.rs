//! The GPU service port: a GPU Ollama service the deployment starts when a job needs it
//! and stops when it has been idle (an ECS service on GPU instances on AWS, `ota-aws`'s
//! `EcsGpuService`). One machine has none ([`NoGpuService`]): its Ollama is the user's.

use std::fmt;
use std::future::Future;

/// What a GPU service is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GpuState {
    /// Nothing is asked of it: no instance, no task (ECS: desired count 0).
    Stopped,
    /// Asked for, not serving yet: an instance booting, the image or the models loading
    /// (ECS: desired count 1, no task passing its health check).
    Starting,
    /// A task serves with every model present (ECS: a running task that passes its
    /// health check).
    Ready,
}

impl fmt::Display for GpuState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Stopped => "stopped",
            Self::Starting => "starting",
            Self::Ready => "ready",
        })
    }
}

/// Why the GPU service could not be read or changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GpuError {
    /// No answer, throttled, or the service's API failed: try again later.
    #[error("the GPU service did not answer: {0}")]
    Unavailable(String),
    /// The service is missing or the call is not allowed: a misconfiguration.
    #[error("the GPU service refused: {0}")]
    Rejected(String),
}

impl GpuError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// A GPU Ollama service that can be started and stopped.
pub trait GpuService: Send + Sync {
    /// What it is doing now.
    fn state(&self) -> impl Future<Output = Result<GpuState, GpuError>> + Send;

    /// Asks for it to run (one task). Safe to repeat: asking a running or starting service
    /// changes nothing.
    fn start(&self) -> impl Future<Output = Result<(), GpuError>> + Send;

    /// Asks for it to stop (no task, and so no instance). Safe to repeat.
    fn stop(&self) -> impl Future<Output = Result<(), GpuError>> + Send;
}

/// No managed GPU service (one machine, or a stack pointed at an Ollama of its own): a
/// dispatcher with `gpu: None` is typed with it. It has no values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoGpuService {}

impl GpuService for NoGpuService {
    async fn state(&self) -> Result<GpuState, GpuError> {
        match *self {}
    }

    async fn start(&self) -> Result<(), GpuError> {
        match *self {}
    }

    async fn stop(&self) -> Result<(), GpuError> {
        match *self {}
    }
}
