//! The webhook's metrics line (EMF, `shared::metrics::Emf`), printed by the function
//! itself since the HTTP edge has its receipt at hand: what a delivery says in the logs is
//! the domain's (`shared::webhook::telemetry`), on AWS and on one machine alike. The other
//! stages' and the runner's metrics are `shared::metrics::Metric`s.

pub use shared::metrics::{Emf, NAMESPACE};
use shared::webhook::intake::{Outcome, Receipt};

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
