//! The I/O the domain needs, as small traits: one file per port, each implemented for
//! AWS in `ota-aws` and for one machine in `ota-local` (the GitHub port by `ota-github`
//! for both). Ports use the domain's plain types (ids, job records, envelopes); the
//! domain's stages use the ports — never the other way round.

mod audit;
mod github;
mod installations;
mod jobs;
mod launcher;
mod policies;
mod queue;
mod rate;
mod secrets;
mod slots;
mod store_error;
mod workflow;

pub use audit::*;
pub use github::*;
pub use installations::*;
pub use jobs::*;
pub use launcher::*;
pub use policies::*;
pub use queue::*;
pub use rate::*;
pub use secrets::*;
pub use slots::*;
pub use store_error::*;
pub use workflow::*;
