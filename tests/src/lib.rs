//! Test support shared by every end-to-end test: AWS served by a local moto server, real
//! GitHub payloads, signed deliveries shaped as Lambda Function URL events, and log
//! capture. Fakes live here, at the network edge, never in the code under test. Each part
//! of the App has one world that starts what its tests need and offers their steps as
//! methods; `tests/README.md` states how a test file is laid out.

pub mod agent_harness;
pub mod aws;
pub mod browser;
pub mod control_plane_contract;
pub mod dashboard_client;
pub mod dashboard_stack;
pub mod delivery;
pub mod deploy_script;
pub mod deployed;
pub mod fake_github;
pub mod fake_lambda;
pub mod fake_ollama;
pub mod fake_ollama_models;
pub mod fixtures;
pub mod git_server;
pub mod github_client;
pub mod logs;
pub mod ota_server;
pub mod policy;
pub mod redact;
pub mod runner_world;
pub mod serve_events;
pub mod sqs_redrive;
pub mod stack;
pub mod store_contract;
pub mod webhook;
pub mod workflow;

/// A name no other test in this run (or an earlier run against the same moto) uses.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
