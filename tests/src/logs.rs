//! Captures what the code under test logs, as the JSON lines the Lambda would print.

use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }

    /// A JSON-formatting subscriber writing into this buffer.
    pub fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + use<> {
        let buffer = self.clone();
        tracing_subscriber::fmt()
            .json()
            .with_writer(move || buffer.clone())
            .with_max_level(tracing::Level::TRACE)
            .finish()
    }
}

impl CapturedLogs {
    /// Like [`Self::subscriber`], through `filter` (a binary's own, e.g.
    /// `ota_aws::log_filter`).
    pub fn subscriber_with(
        &self,
        filter: tracing_subscriber::EnvFilter,
    ) -> impl tracing::Subscriber + Send + Sync + use<> {
        let buffer = self.clone();
        tracing_subscriber::fmt()
            .json()
            .with_writer(move || buffer.clone())
            .with_env_filter(filter)
            .finish()
    }
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
