//! The I/O the domain needs, as small traits: one file per port, each implemented for
//! AWS in `ota-aws` and for one machine in `ota-local` (the GitHub port by `ota-github`
//! for both). Ports use the domain's plain types (ids, job records, envelopes); the
//! domain's stages use the ports — never the other way round.

mod app_secrets;
mod audit;
mod control_plane;
mod github;
mod gpu;
mod installations;
mod jobs;
mod launcher;
mod policies;
mod queue;
mod rate;
mod schedules;
mod secrets;
mod slots;
mod store_error;
mod tokens;
mod workflow;

pub use app_secrets::*;
pub use audit::*;
pub use control_plane::*;
pub use github::*;
pub use gpu::*;
pub use installations::*;
pub use jobs::*;
pub use launcher::*;
pub use policies::*;
pub use queue::*;
pub use rate::*;
pub use schedules::*;
pub use secrets::*;
pub use slots::*;
pub use store_error::*;
pub use tokens::*;
pub use workflow::*;

#[cfg(test)]
mod tests {
    /// The modules a port may import from: the domain's plain types, which never import
    /// a port themselves.
    const BELOW_THE_PORTS: [&str; 5] = ["ids", "job", "envelope", "inbound", "ports"];

    /// Every `crate::<module>` a source file names.
    fn crate_modules(source: &str) -> Vec<String> {
        source
            .match_indices("crate::")
            .map(|(at, _)| {
                source[at + "crate::".len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect()
            })
            .collect()
    }

    #[test]
    fn ports_import_only_the_plain_types_below_them_and_those_never_import_a_port() {
        let ports = [
            include_str!("app_secrets.rs"),
            include_str!("audit.rs"),
            include_str!("control_plane.rs"),
            include_str!("github.rs"),
            include_str!("gpu.rs"),
            include_str!("installations.rs"),
            include_str!("jobs.rs"),
            include_str!("launcher.rs"),
            include_str!("launcher/environment.rs"),
            include_str!("policies.rs"),
            include_str!("queue.rs"),
            include_str!("rate.rs"),
            include_str!("schedules.rs"),
            include_str!("secrets.rs"),
            include_str!("slots.rs"),
            include_str!("store_error.rs"),
            include_str!("workflow.rs"),
        ];
        for source in ports {
            for module in crate_modules(source) {
                assert!(
                    BELOW_THE_PORTS.contains(&module.as_str()),
                    "a port imports crate::{module}"
                );
            }
        }
        let below = [
            include_str!("../ids.rs"),
            include_str!("../envelope.rs"),
            include_str!("../inbound.rs"),
            include_str!("../job/mod.rs"),
            include_str!("../job/error.rs"),
            include_str!("../job/id.rs"),
            include_str!("../job/layers.rs"),
            include_str!("../job/machine.rs"),
            include_str!("../job/record.rs"),
            include_str!("../job/retry.rs"),
            include_str!("../job/status.rs"),
            include_str!("../job/wait.rs"),
        ];
        for source in below {
            for module in crate_modules(source) {
                assert!(
                    module != "ports" && BELOW_THE_PORTS.contains(&module.as_str()),
                    "a plain type imports crate::{module}"
                );
            }
        }
    }
}
