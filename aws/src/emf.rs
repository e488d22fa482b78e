//! The metrics of every AWS binary (the Lambdas, the Fargate runner) as CloudWatch's
//! embedded metric format: a `tracing` layer that prints the EMF line of each metric event
//! (`shared::metrics`, target [`shared::metrics::TARGET`]) alone on a line, as CloudWatch
//! Logs needs it, and the subscriber every binary logs through.

use std::io::Write;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{EnvFilter, FilterExt, filter_fn};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// Prints the `emf` field of metric events, one line each, to its writer.
pub struct EmfLayer<W> {
    writer: W,
}

impl<W> EmfLayer<W> {
    pub fn new(writer: W) -> Self {
        Self { writer }
    }
}

/// Whether `target` is that of metric events.
fn is_metric(target: &str) -> bool {
    target == shared::metrics::TARGET
}

struct EmfField(Option<String>);

impl Visit for EmfField {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "emf" {
            self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "emf" {
            // `emf = %line` arrives here, through `Display`.
            self.0 = Some(format!("{value:?}"));
        }
    }
}

impl<S, W> Layer<S> for EmfLayer<W>
where
    S: Subscriber,
    W: for<'a> MakeWriter<'a> + 'static,
{
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if !is_metric(event.metadata().target()) {
            return;
        }
        let mut field = EmfField(None);
        event.record(&mut field);
        if let Some(line) = field.0 {
            let mut writer = self.writer.make_writer();
            // One write per line, so concurrent lines never interleave.
            let _ = writer.write_all(format!("{line}\n").as_bytes());
        }
    }
}

/// The subscriber of an AWS binary: JSON log lines through `filter` (without the metric
/// events) and the metric events' EMF lines, both to `writer` (stdout in the binaries,
/// a buffer in tests). `with_time`: Lambda stamps lines itself, the runner's do not get
/// stamped by awslogs.
pub fn subscriber<W>(
    filter: EnvFilter,
    writer: W,
    with_time: bool,
) -> impl Subscriber + for<'a> LookupSpan<'a> + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Clone + Send + Sync + 'static,
{
    let logs = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_writer(writer.clone());
    let logs = if with_time {
        logs.boxed()
    } else {
        logs.without_time().boxed()
    };
    tracing_subscriber::registry()
        .with(logs.with_filter(filter.and(filter_fn(|meta| !is_metric(meta.target())))))
        .with(EmfLayer::new(writer).with_filter(filter_fn(|meta| is_metric(meta.target()))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::metrics::{self, Metric};
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("buffer").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_metric_is_an_emf_line_of_its_own_whatever_the_log_level() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = subscriber(EnvFilter::new("error"), move || writer.clone(), false);
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!("not logged at level error");
            metrics::record(&Metric::ConfigurationError {
                component: "policy",
                setting: "APP_ID",
            });
        });
        let text = String::from_utf8(buffer.0.lock().expect("buffer").clone()).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        let doc: serde_json::Value = serde_json::from_str(lines[0]).expect("json");
        assert_eq!(doc["ConfigurationErrors"], 1);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            metrics::NAMESPACE
        );
    }
}
