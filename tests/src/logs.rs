//! Captures what the code under test logs, as the JSON lines the Lambda would print.

use std::io::Write;
use std::sync::{Arc, Mutex, Once};

use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber, span};

#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }

    /// A JSON-formatting subscriber writing into this buffer, at every level, with the
    /// metric events as the EMF lines the AWS binaries print (`ota_aws::emf`).
    pub fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + use<> {
        self.subscriber_with(tracing_subscriber::EnvFilter::new("trace"))
    }

    /// The EMF documents among the lines (those with an `_aws` member), parsed.
    pub fn metrics(&self) -> Vec<serde_json::Value> {
        self.text()
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|doc| doc.get("_aws").is_some())
            .collect()
    }

    /// The EMF documents that publish the metric `name`.
    pub fn metric(&self, name: &str) -> Vec<serde_json::Value> {
        self.metrics()
            .into_iter()
            .filter(|doc| {
                doc["_aws"]["CloudWatchMetrics"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|directive| directive["Metrics"].as_array().into_iter().flatten())
                    .any(|metric| metric["Name"] == name)
            })
            .collect()
    }
}

impl CapturedLogs {
    /// Like [`Self::subscriber`], through `filter` (a binary's own, e.g.
    /// `ota_aws::log_filter`).
    pub fn subscriber_with(
        &self,
        filter: tracing_subscriber::EnvFilter,
    ) -> impl tracing::Subscriber + Send + Sync + use<> {
        keep_callsites_undecided();
        let buffer = self.clone();
        ota_aws::emf::subscriber(filter, move || buffer.clone(), true)
    }
}

/// Installs [`Undecided`] as the global subscriber, once per test binary.
///
/// A test captures its logs with a subscriber scoped to its own future, while other tests
/// run on other threads with none. A log statement first reached on one of those threads,
/// while a test's subscriber is being set up on another, can have its interest cached as
/// "never", and then the test's subscriber never sees it (a line the test waits for is
/// missing only when the machine is busy). With a global subscriber that never decides,
/// every log statement asks the subscriber in force each time it runs.
fn keep_callsites_undecided() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Only fails if a global subscriber is already set, which then decides instead.
        let _ = tracing::subscriber::set_global_default(Undecided);
    });
}

/// A subscriber that records nothing and caches no decision about any log statement.
struct Undecided;

impl Subscriber for Undecided {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }

    fn enabled(&self, _: &Metadata<'_>) -> bool {
        false
    }

    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }

    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}

    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}

    fn event(&self, _: &Event<'_>) {}

    fn enter(&self, _: &span::Id) {}

    fn exit(&self, _: &span::Id) {}
}

impl Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
