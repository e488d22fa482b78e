//! What the end-to-end tests of `ota`'s commands share: what the binary did, and the
//! check of its exit code that shows everything it printed when the code is wrong.

use std::process::Output;

/// What the binary did.
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Text that must never be printed (an API key the run was given).
    secrets: Vec<String>,
}

impl From<Output> for Ran {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            secrets: Vec::new(),
        }
    }
}

impl Ran {
    /// [`Self::assert_code`] also checks that `secret` was never printed.
    pub fn never_showing(mut self, secret: &str) -> Self {
        self.secrets.push(secret.to_owned());
        self
    }

    pub fn assert_code(&self, code: i32) {
        assert_eq!(
            self.code,
            Some(code),
            "stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        for secret in &self.secrets {
            assert!(!self.stdout.contains(secret) && !self.stderr.contains(secret));
        }
    }
}
