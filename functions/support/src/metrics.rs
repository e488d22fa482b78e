//! CloudWatch embedded metric format (EMF): one JSON log line that CloudWatch turns into
//! metrics, so functions publish metrics without an API call on the request path. Only
//! the Lambdas publish metrics; what a delivery says in the logs is the domain's
//! (`shared::webhook::telemetry`), on AWS and on one machine alike.

use serde_json::{Map, Value, json};
use shared::webhook::intake::{Outcome, Receipt};

/// The CloudWatch namespace of every metric the project publishes.
pub const NAMESPACE: &str = "OllamaTurboAgent";

/// One EMF document under construction.
#[derive(Debug, Default)]
pub struct Emf {
    root: Map<String, Value>,
    directives: Vec<Value>,
}

impl Emf {
    pub fn new() -> Self {
        Self::default()
    }

    /// A dimension value or a plain property (searchable in Logs Insights).
    pub fn property(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.root.insert(key.to_owned(), value.into());
        self
    }

    /// Counts published under each of `dimension_sets` (`&[]` for no dimension).
    pub fn counts(mut self, dimension_sets: &[&[&str]], counts: &[(&str, u64)]) -> Self {
        for (name, value) in counts {
            self.root.insert((*name).to_owned(), json!(value));
        }
        self.directives.push(json!({
            "Namespace": NAMESPACE,
            "Dimensions": dimension_sets,
            "Metrics": counts
                .iter()
                .map(|(name, _)| json!({ "Name": name, "Unit": "Count" }))
                .collect::<Vec<_>>(),
        }));
        self
    }

    pub fn to_line(&self, timestamp_millis: u64) -> String {
        let mut root = self.root.clone();
        root.insert(
            "_aws".to_owned(),
            json!({ "Timestamp": timestamp_millis, "CloudWatchMetrics": self.directives }),
        );
        Value::Object(root).to_string()
    }
}

/// The EMF line of a webhook receipt: `Received` always, one of `Queued` / `Ignored` /
/// `Rejected`, and `Rejected` again by `Reason`.
pub fn receipt_line(receipt: &Receipt, timestamp_millis: u64) -> String {
    let outcome = receipt.outcome.name();
    let mut emf = Emf::new()
        .property("Outcome", outcome)
        .property("event", receipt.event.clone())
        .property(
            "delivery",
            receipt.delivery.as_ref().map(|id| id.to_string()),
        );
    let count = |name: &str| u64::from(outcome == name);
    emf = emf.counts(
        &[&[]],
        &[
            ("Received", 1),
            ("Queued", count("queued")),
            ("Ignored", count("ignored")),
        ],
    );
    if let Outcome::Rejected(rejection) = &receipt.outcome {
        emf = emf
            .property("Reason", rejection.reason())
            .counts(&[&[], &["Reason"]], &[("Rejected", 1)]);
    }
    emf.to_line(timestamp_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_document_cloudwatch_accepts() {
        let line = Emf::new()
            .property("Reason", "bad_signature")
            .counts(&[&[]], &[("Received", 1)])
            .counts(&[&["Reason"]], &[("Rejected", 1)])
            .to_line(1_700_000_000_000);
        let doc: Value = serde_json::from_str(&line).expect("json");
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_000u64);
        let directives = doc["_aws"]["CloudWatchMetrics"].as_array().expect("array");
        assert_eq!(directives.len(), 2);
        assert_eq!(directives[1]["Dimensions"], json!([["Reason"]]));
        assert_eq!(
            directives[1]["Metrics"],
            json!([{"Name": "Rejected", "Unit": "Count"}])
        );
        assert_eq!(doc["Rejected"], 1);
        assert_eq!(doc["Reason"], "bad_signature");
    }
}
