//! The runner's credential: a random secret made for one attempt of one job when its
//! runner is launched, which lets that runner (and nothing else) ask the control plane
//! for the job's installation token. The runner holds no App key; the job record keeps
//! only a keyed digest of the credential ([`RunnerGrant`]), which
//! `shared::dispatch::credential` makes and checks.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Random bytes in a credential: 256 bits, far past guessing.
pub const CREDENTIAL_BYTES: usize = 32;

/// One attempt's credential, as hex. `Debug` never shows it.
#[derive(Clone)]
pub struct RunnerCredential(SecretString);

/// Why a text is not a credential. Never quotes the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a runner credential is {} hexadecimal characters", CREDENTIAL_BYTES * 2)]
pub struct CredentialFormatError;

impl RunnerCredential {
    /// A fresh credential from the operating system's random source.
    pub fn generate() -> Result<Self, String> {
        let mut bytes = [0u8; CREDENTIAL_BYTES];
        getrandom::fill(&mut bytes)
            .map_err(|err| format!("no randomness for a runner credential: {err}"))?;
        Ok(Self(SecretString::from(hex::encode(bytes))))
    }

    /// A credential as a runner received it (its stdin, its environment).
    pub fn parse(text: &str) -> Result<Self, CredentialFormatError> {
        let text = text.trim();
        if text.len() != CREDENTIAL_BYTES * 2 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(CredentialFormatError);
        }
        Ok(Self(SecretString::from(text.to_ascii_lowercase())))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for RunnerCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RunnerCredential([REDACTED])")
    }
}

/// What the job record keeps of the credential its current attempt's runner was started
/// with: which attempt, whether that attempt's model endpoint takes the hosted service's
/// API key, and a keyed digest of the credential (never the credential itself). A newer
/// attempt's grant replaces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunnerGrant {
    pub attempt: u32,
    /// The attempt runs on Ollama's hosted service, so its runner gets the API key.
    #[serde(default)]
    pub ollama_key: bool,
    /// HMAC-SHA256 over the job, the attempt and the credential, as hex.
    pub digest: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_credentials_are_long_distinct_and_parse_back() {
        let one = RunnerCredential::generate().expect("random");
        let two = RunnerCredential::generate().expect("random");
        assert_eq!(one.expose().len(), 64);
        assert_ne!(one.expose(), two.expose());
        let back = RunnerCredential::parse(&format!("{}\n", one.expose())).expect("parses");
        assert_eq!(back.expose(), one.expose());
        assert!(!format!("{one:?}").contains(one.expose()));
    }

    #[test]
    fn anything_else_is_refused_without_being_quoted() {
        for bad in ["", "short", &"g".repeat(64), &"a".repeat(63)] {
            let err = RunnerCredential::parse(bad).expect_err("not a credential");
            assert!(err.to_string().contains("64 hexadecimal"), "{err}");
        }
    }
}
