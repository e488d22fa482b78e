//! `X-Hub-Signature-256`: HMAC-SHA256 of the raw body, keyed with the webhook secret.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const PREFIX: &str = "sha256=";

/// A parsed `sha256=<64 hex digits>` header value.
#[derive(Clone, PartialEq, Eq)]
pub struct Signature([u8; 32]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("X-Hub-Signature-256 must be `sha256=` followed by 64 hex digits")]
    Malformed,
}

impl Signature {
    pub fn parse(header: &str) -> Result<Self, SignatureError> {
        let hex_digits = header
            .trim()
            .strip_prefix(PREFIX)
            .ok_or(SignatureError::Malformed)?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex_digits, &mut bytes).map_err(|_| SignatureError::Malformed)?;
        Ok(Self(bytes))
    }

    /// Constant-time comparison against the HMAC of `body` under `secret`.
    pub fn matches(&self, secret: &SecretString, body: &[u8]) -> bool {
        let mut mac = mac(secret.expose_secret().as_bytes());
        mac.update(body);
        mac.verify_slice(&self.0).is_ok()
    }
}

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signature(..)")
    }
}

/// The header value GitHub would send for `body` signed with `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = mac(secret);
    mac.update(body);
    format!("{PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
}

fn mac(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; the error type exists only for fixed-size MACs.
    match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC-SHA256 accepts keys of any length"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GitHub's documented example ("Validating webhook deliveries").
    const GITHUB_SECRET: &str = "It's a Secret to Everybody";
    const GITHUB_PAYLOAD: &[u8] = b"Hello, World!";
    const GITHUB_SIGNATURE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn matches_githubs_test_vector() {
        assert_eq!(
            sign(GITHUB_SECRET.as_bytes(), GITHUB_PAYLOAD),
            GITHUB_SIGNATURE
        );
        let signature = Signature::parse(GITHUB_SIGNATURE).expect("well-formed");
        assert!(signature.matches(&SecretString::from(GITHUB_SECRET), GITHUB_PAYLOAD));
    }

    #[test]
    fn a_changed_body_or_secret_does_not_match() {
        let signature = Signature::parse(GITHUB_SIGNATURE).expect("well-formed");
        assert!(!signature.matches(&SecretString::from(GITHUB_SECRET), b"Hello, World?"));
        assert!(!signature.matches(&SecretString::from("another secret"), GITHUB_PAYLOAD));
    }

    #[test]
    fn malformed_headers_are_refused() {
        for header in [
            "",
            "sha256=",
            "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1",
            "sha256=zz7107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        ] {
            assert_eq!(
                Signature::parse(header),
                Err(SignatureError::Malformed),
                "{header}"
            );
        }
    }

    #[test]
    fn debug_output_hides_the_digest() {
        let signature = Signature::parse(GITHUB_SIGNATURE).expect("well-formed");
        assert_eq!(format!("{signature:?}"), "Signature(..)");
    }
}
