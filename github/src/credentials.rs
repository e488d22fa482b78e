//! The GitHub App's own identity: its id and private key, and the short-lived RS256 JWT
//! signed with them that GitHub exchanges for installation tokens.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use shared::ids::AppId;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How far `iat` is set in the past: GitHub refuses JWTs issued "in the future", and the
/// clocks of a Lambda and of GitHub may disagree by a few seconds. GitHub's own docs
/// recommend 60 s.
pub const JWT_BACKDATE: Duration = Duration::from_secs(60);

/// How long a JWT is valid after now. GitHub refuses an `exp` more than 10 minutes after
/// `iat`; 9 minutes after now (10 after the backdated `iat`) stays inside that with the
/// backdate, and a JWT is only ever used for the one request it was signed for.
pub const JWT_LIFETIME: Duration = Duration::from_secs(9 * 60);

/// The App's id and the PEM private key GitHub generated for it. `Debug` never shows the
/// key.
#[derive(Clone)]
pub struct AppCredentials {
    pub app_id: AppId,
    /// The App's RSA private key in PEM form (PKCS#1 as GitHub hands it out, or PKCS#8).
    pub private_key: SecretString,
}

impl fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppCredentials")
            .field("app_id", &self.app_id)
            .field("private_key", &"[REDACTED]")
            .finish()
    }
}

impl AppCredentials {
    /// Checks that the private key is an RSA private key in PEM form that can sign the
    /// App's JWTs, as every client built on it will; the error carries no key material.
    pub fn check_private_key(&self) -> Result<(), SetupError> {
        AppSigner::new(self).map(|_| ())
    }
}

/// The App's key as every client of one process shares it, so that a new key (a rotation
/// from the dashboard's settings) is used by all of them from the next JWT on, without
/// a restart. `Debug` never shows the key.
#[derive(Clone)]
pub struct AppKey {
    app_id: AppId,
    signer: Arc<RwLock<Arc<AppSigner>>>,
}

impl fmt::Debug for AppKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppKey")
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

impl AppKey {
    /// Parses the key; fails as [`AppCredentials::check_private_key`] does.
    pub fn new(credentials: &AppCredentials) -> Result<Self, SetupError> {
        Ok(Self {
            app_id: credentials.app_id,
            signer: Arc::new(RwLock::new(Arc::new(AppSigner::new(credentials)?))),
        })
    }

    pub fn app_id(&self) -> AppId {
        self.app_id
    }

    /// Signs with `private_key` from now on (the same App's: the id stays). The key is
    /// checked first; on an error the old one stays.
    pub fn replace(&self, private_key: SecretString) -> Result<(), SetupError> {
        let signer = AppSigner::new(&AppCredentials {
            app_id: self.app_id,
            private_key,
        })?;
        *self.signer.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(signer);
        Ok(())
    }

    /// A JWT signed with the key in use now.
    pub(crate) fn sign(&self, now: SystemTime) -> Result<SecretString, String> {
        let signer = Arc::clone(&self.signer.read().unwrap_or_else(PoisonError::into_inner));
        signer.sign(now)
    }
}

/// Why the client could not be set up. Neither variant carries key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    #[error(
        "the GitHub App private key is not a valid RSA private key in PEM form ({0}); \
         use the `.pem` file GitHub generated for the App"
    )]
    InvalidPrivateKey(String),
    #[error("the GitHub API base URL `{url}` is not valid: {reason}")]
    InvalidBaseUrl { url: String, reason: String },
    #[error("could not build the HTTP client for GitHub: {0}")]
    HttpClient(String),
}

/// The claims GitHub reads from an App JWT.
#[derive(Debug, Serialize)]
struct Claims {
    iat: u64,
    exp: u64,
    iss: String,
}

/// Signs App JWTs with the key parsed once, at start.
pub(crate) struct AppSigner {
    app_id: AppId,
    key: EncodingKey,
}

impl fmt::Debug for AppSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppSigner")
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

impl AppSigner {
    pub(crate) fn new(credentials: &AppCredentials) -> Result<Self, SetupError> {
        let pem = credentials.private_key.expose_secret().trim().as_bytes();
        let key = EncodingKey::from_rsa_pem(pem)
            .map_err(|err| SetupError::InvalidPrivateKey(err.to_string()))?;
        let signer = Self {
            app_id: credentials.app_id,
            key,
        };
        // Some malformed keys parse but cannot sign: find out now rather than on the
        // first webhook.
        signer
            .sign(SystemTime::now())
            .map_err(SetupError::InvalidPrivateKey)?;
        Ok(signer)
    }

    /// A JWT valid from [`JWT_BACKDATE`] before `now` to [`JWT_LIFETIME`] after it. The
    /// error says why signing failed, without key material.
    pub(crate) fn sign(&self, now: SystemTime) -> Result<SecretString, String> {
        let now = now
            .duration_since(UNIX_EPOCH)
            .map_err(|_| "the system clock is before 1970".to_owned())?;
        let claims = Claims {
            iat: now.saturating_sub(JWT_BACKDATE).as_secs(),
            exp: (now + JWT_LIFETIME).as_secs(),
            iss: self.app_id.to_string(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map(SecretString::from)
            .map_err(|err| format!("could not sign the App JWT: {err}"))
    }
}
