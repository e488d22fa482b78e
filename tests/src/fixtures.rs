//! Real GitHub webhook payloads from `@octokit/webhooks-examples` (MIT), installed by
//! `scripts/test` from the npm registry at a pinned version.

use serde_json::Value;
use std::path::PathBuf;
use std::sync::OnceLock;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn index() -> &'static Vec<Value> {
    static INDEX: OnceLock<Vec<Value>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let path = root().join("node_modules/@octokit/webhooks-examples/api.github.com/index.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|err| {
            panic!(
                "{}: {err}; run the suite with `scripts/test`, which installs the npm fixtures",
                path.display()
            )
        });
        serde_json::from_str(&text).expect("webhooks-examples index is JSON")
    })
}

/// Every example payload of `event`.
pub fn examples(event: &str) -> Vec<Value> {
    index()
        .iter()
        .find(|entry| entry["name"] == event)
        .and_then(|entry| entry["examples"].as_array())
        .cloned()
        .unwrap_or_default()
}

/// The first example of `event` with `action`.
pub fn example(event: &str, action: Option<&str>) -> Value {
    examples(event)
        .into_iter()
        .find(|example| example["action"].as_str() == action)
        .unwrap_or_else(|| panic!("no `{event}` example with action {action:?}"))
}

/// The payload as a GitHub App receives it: with an `installation`.
pub fn as_app_delivery(mut payload: Value, installation_id: u64) -> Value {
    if payload.get("installation").is_none() {
        payload["installation"] = serde_json::json!({ "id": installation_id });
    }
    payload
}
