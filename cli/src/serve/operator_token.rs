//! The operator's token: what opens the server's pages (the status page, the setup) until
//! GitHub sign-in exists. `OTA_OPERATOR_TOKEN`, or generated at the first start into
//! `<data-dir>/operator-token` (mode 0600) and read from there after. The operator gets it
//! once, as the sign-in link printed at start; a browser trades it for a session cookie,
//! a script sends it as `Authorization: Bearer`. It is never logged.

use crate::setup::private_file::{read_if_exists, write_private};
use anyhow::Context;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use std::fmt;
use std::path::{Path, PathBuf};
use subtle::ConstantTimeEq;

/// The token's file in the data directory.
pub const TOKEN_FILE: &str = "operator-token";

/// The variable that gives the token instead of the file.
pub const TOKEN_VARIABLE: &str = "OTA_OPERATOR_TOKEN";

/// 32 random bytes: unguessable, as the setup state.
const TOKEN_BYTES: usize = 32;

/// What the session cookie's value is derived from, with the token as the key: the cookie
/// proves the token was shown without being the token, and changes when the token does.
const SESSION_LABEL: &[u8] = b"ota serve operator session v1";

/// Where the token came from: the sign-in line prints the file's token, never the
/// environment's (the operator has that one already, and the terminal may be a journal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    Environment,
    File(PathBuf),
}

/// The operator's token and the session value derived from it.
pub struct OperatorToken {
    token: SecretString,
    session: SecretString,
    pub source: TokenSource,
}

impl fmt::Debug for OperatorToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OperatorToken")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl OperatorToken {
    /// The environment's token, else the data directory's, created on first use.
    pub fn load_or_create(
        from_environment: Option<SecretString>,
        data_dir: &Path,
    ) -> anyhow::Result<Self> {
        if let Some(token) = from_environment {
            return Ok(Self::new(token, TokenSource::Environment));
        }
        let path = data_dir.join(TOKEN_FILE);
        let stored = read_if_exists(&path)?
            .map(|text| text.trim().to_owned())
            .filter(|text| !text.is_empty());
        let token = match stored {
            Some(token) => token,
            None => {
                let token = random_token().context("generating the operator token")?;
                write_private(&path, format!("{token}\n").as_bytes())?;
                token
            }
        };
        Ok(Self::new(
            SecretString::from(token),
            TokenSource::File(path),
        ))
    }

    pub fn new(token: SecretString, source: TokenSource) -> Self {
        let session = session_value(&token);
        Self {
            token,
            session,
            source,
        }
    }

    /// Whether `presented` is the token, compared in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        same(self.token.expose_secret(), presented)
    }

    /// Whether `presented` is the session cookie's value, compared in constant time.
    pub fn matches_session(&self, presented: &str) -> bool {
        same(self.session.expose_secret(), presented)
    }

    /// The session cookie's value.
    pub fn session(&self) -> &SecretString {
        &self.session
    }

    /// The link that signs a browser in, for the one start-up line meant for the
    /// operator: with the file's token, or naming the variable that holds it.
    pub fn sign_in_url(&self, base_url: &str) -> String {
        let base = base_url.trim_end_matches('/');
        match &self.source {
            TokenSource::File(_) => format!("{base}/signin?token={}", self.token.expose_secret()),
            TokenSource::Environment => format!("{base}/signin?token=${TOKEN_VARIABLE}"),
        }
    }
}

fn session_value(token: &SecretString) -> SecretString {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(token.expose_secret().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(SESSION_LABEL);
    SecretString::from(hex::encode(mac.finalize().into_bytes()))
}

fn random_token() -> anyhow::Result<String> {
    let mut bytes = [0_u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(|err| anyhow::anyhow!("no random bytes: {err}"))?;
    Ok(hex::encode(bytes))
}

/// Equality that takes as long whatever the first differing byte.
fn same(expected: &str, presented: &str) -> bool {
    bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_token_is_kept_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = OperatorToken::load_or_create(None, dir.path()).unwrap();
        let path = dir.path().join(TOKEN_FILE);
        assert_eq!(first.source, TokenSource::File(path.clone()));
        let stored = std::fs::read_to_string(&path).unwrap();
        assert_eq!(stored.trim().len(), 2 * TOKEN_BYTES);
        assert!(first.matches(stored.trim()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = OperatorToken::load_or_create(None, dir.path()).unwrap();
        assert!(again.matches(stored.trim()));
        assert!(again.matches_session(first.session().expose_secret()));
        assert!(
            first
                .sign_in_url("http://127.0.0.1:3000/")
                .ends_with(&format!("/signin?token={}", stored.trim()))
        );
    }

    #[test]
    fn the_environments_token_wins_and_is_not_printed() {
        let dir = tempfile::tempdir().unwrap();
        let token = "an operator token from the environment";
        let operator =
            OperatorToken::load_or_create(Some(SecretString::from(token)), dir.path()).unwrap();
        assert!(operator.matches(token));
        assert!(!operator.matches("an operator token from the environmen"));
        assert!(!operator.matches(""));
        assert!(!dir.path().join(TOKEN_FILE).exists());
        let url = operator.sign_in_url("http://127.0.0.1:3000");
        assert_eq!(
            url,
            "http://127.0.0.1:3000/signin?token=$OTA_OPERATOR_TOKEN"
        );
        assert!(!format!("{operator:?}").contains(token));
    }

    #[test]
    fn the_session_is_not_the_token() {
        let operator =
            OperatorToken::new(SecretString::from("t".repeat(30)), TokenSource::Environment);
        let session = operator.session().expose_secret().to_owned();
        assert_ne!(session, "t".repeat(30));
        assert!(operator.matches_session(&session));
        assert!(!operator.matches_session(&"t".repeat(30)));
        assert!(!operator.matches(&session));
    }
}
