//! Signed-in browsers. On one server (`ota serve`) a session is a random id the server
//! keeps with the user's login and GitHub token (the token never leaves the server).
//! Where requests are served by many short-lived processes that share nothing (the
//! dashboard function on AWS), the session is sealed instead: its login, token and expiry
//! encrypted and authenticated (ChaCha20-Poly1305, with a key derived from the session
//! key) into the id itself, which only this server's key opens. Either way the browser
//! holds the id in a cookie signed with the server's session key (HMAC-SHA256) and
//! bounded by an expiry, `HttpOnly`, `SameSite=Lax`, `Secure` behind HTTPS. Each session
//! has its CSRF token, derived from the key and the id, that every form carries back.

use hmac::{Hmac, Mac};
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "ota_session";

/// The cookie that binds a sign-in's `state` to the browser that started it.
pub const STATE_COOKIE: &str = "ota_oauth_state";

/// The key's file in the data directory.
pub const KEY_FILE: &str = "dashboard-session.key";

/// A session lasts as long as GitHub's user access token it holds (eight hours by
/// default, `docs.github.com`: "Generating a user access token for a GitHub App").
pub const SESSION_LIFETIME: Duration = Duration::from_secs(8 * 3600);

/// A sign-in must come back from GitHub within this long (GitHub's codes live ten
/// minutes).
pub const STATE_LIFETIME: Duration = Duration::from_secs(600);

/// The most sessions kept at once; the oldest go first beyond it.
const MAX_SESSIONS: usize = 10_000;

/// The key that signs cookies and derives CSRF tokens. Never printed.
pub struct SessionKey([u8; 32]);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(..)")
    }
}

impl SessionKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A new random key.
    pub fn generate() -> anyhow::Result<Self> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|err| anyhow::anyhow!("no randomness for the session key: {err}"))?;
        Ok(Self(bytes))
    }

    /// The key in `data_dir`, made (readable by its owner only) when there is none yet.
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Self> {
        use anyhow::Context;
        let path = data_dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let bytes = hex::decode(text.trim())
                    .ok()
                    .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                    .with_context(|| {
                        format!(
                            "{} is not a session key (64 hex digits); delete it to make a new one",
                            path.display()
                        )
                    })?;
                Ok(Self(bytes))
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate()?;
                write_private(&path, &hex::encode(key.0))
                    .with_context(|| format!("cannot write {}", path.display()))?;
                Ok(key)
            }
            Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// A key of its own for `purpose`, derived from this one.
    fn derive(&self, purpose: &str) -> [u8; 32] {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return [0; 32];
        };
        mac.update(b"derive|");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn mac(&self, parts: &[&str]) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return String::new();
        };
        for part in parts {
            mac.update(part.as_bytes());
            mac.update(b"|");
        }
        hex::encode(mac.finalize().into_bytes())
    }

    /// The signed value `id.expires.mac`.
    pub fn sign(&self, purpose: &str, id: &str, expires_at_ms: u64) -> String {
        let expires = expires_at_ms.to_string();
        let mac = self.mac(&[purpose, id, &expires]);
        format!("{id}.{expires}.{mac}")
    }

    /// The id of a value [`Self::sign`] made for `purpose`, if its signature holds and it
    /// has not expired at `now_ms`.
    pub fn verify(&self, purpose: &str, value: &str, now_ms: u64) -> Option<String> {
        let mut parts = value.splitn(3, '.');
        let (id, expires, mac) = (parts.next()?, parts.next()?, parts.next()?);
        let expected = self.mac(&[purpose, id, expires]);
        if !bool::from(expected.as_bytes().ct_eq(mac.as_bytes())) {
            return None;
        }
        (expires.parse::<u64>().ok()? > now_ms).then(|| id.to_owned())
    }

    /// The CSRF token of the session (or operator sign-in) `binding`.
    pub fn csrf(&self, binding: &str) -> String {
        self.mac(&["csrf", binding])
    }

    /// Whether `sent` is the CSRF token of `binding`.
    pub fn csrf_matches(&self, binding: &str, sent: &str) -> bool {
        bool::from(self.csrf(binding).as_bytes().ct_eq(sent.as_bytes()))
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

/// A random id, 32 hex digits.
pub fn random_id() -> Option<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).ok()?;
    Some(hex::encode(bytes))
}

/// One signed-in GitHub user.
#[derive(Clone)]
pub struct UserSession {
    pub login: String,
    /// The user's id on GitHub: a login can change hands, an id cannot.
    pub user_id: u64,
    /// The user's access token, for the permission checks; never shown.
    pub token: SecretString,
    pub expires_at_ms: u64,
}

impl std::fmt::Debug for UserSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserSession")
            .field("login", &self.login)
            .field("user_id", &self.user_id)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish_non_exhaustive()
    }
}

/// The sessions this server holds, or opens from their sealed ids.
pub struct Sessions {
    store: Store,
}

enum Store {
    Memory(Mutex<HashMap<String, UserSession>>),
    Sealed(Box<LessSafeKey>),
}

impl Default for Sessions {
    /// Sessions kept in this process (`ota serve`).
    fn default() -> Self {
        Self {
            store: Store::Memory(Mutex::default()),
        }
    }
}

/// The purpose the sealing key is derived for.
const SEAL_PURPOSE: &str = "session-seal";

impl Sessions {
    /// Sessions sealed into their ids with a key derived from `key`: nothing is kept, so
    /// any process with the same key opens them. Signing out clears the browser's cookie;
    /// a copy of it taken before would hold until it expires.
    pub fn sealed(key: &SessionKey) -> Self {
        let bytes = key.derive(SEAL_PURPOSE);
        let store = UnboundKey::new(&CHACHA20_POLY1305, &bytes)
            .map(|key| Store::Sealed(Box::new(LessSafeKey::new(key))))
            // A 32-byte key always fits ChaCha20-Poly1305; kept in memory otherwise.
            .unwrap_or_else(|_| Store::Memory(Mutex::default()));
        Self { store }
    }

    /// Starts `session`; returns the id the cookie carries (`None` without randomness).
    pub fn open(&self, session: UserSession, now_ms: u64) -> Option<String> {
        match &self.store {
            Store::Memory(_) => {
                let id = random_id()?;
                self.insert(id.clone(), session, now_ms);
                Some(id)
            }
            Store::Sealed(key) => {
                let mut nonce = [0u8; NONCE_LEN];
                getrandom::fill(&mut nonce).ok()?;
                let mut sealed = format!(
                    "{}\n{}\n{}\n{}",
                    session.expires_at_ms,
                    session.user_id,
                    session.login,
                    session.token.expose_secret()
                )
                .into_bytes();
                key.seal_in_place_append_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(SEAL_PURPOSE.as_bytes()),
                    &mut sealed,
                )
                .ok()?;
                let mut id = hex::encode(nonce);
                id.push_str(&hex::encode(sealed));
                Some(id)
            }
        }
    }

    /// Keeps `session` under `id` (sessions kept in this process only).
    pub fn insert(&self, id: String, session: UserSession, now_ms: u64) {
        let Store::Memory(sessions) = &self.store else {
            return;
        };
        if let Ok(mut sessions) = sessions.lock() {
            sessions.retain(|_, kept| kept.expires_at_ms > now_ms);
            if sessions.len() >= MAX_SESSIONS
                && let Some(oldest) = sessions
                    .iter()
                    .min_by_key(|(_, kept)| kept.expires_at_ms)
                    .map(|(id, _)| id.clone())
            {
                sessions.remove(&oldest);
            }
            sessions.insert(id, session);
        }
    }

    /// The live session of `id`, if there is one.
    pub fn get(&self, id: &str, now_ms: u64) -> Option<UserSession> {
        let session = match &self.store {
            Store::Memory(sessions) => sessions.lock().ok()?.get(id).cloned()?,
            Store::Sealed(key) => unseal(key, id)?,
        };
        (session.expires_at_ms > now_ms).then_some(session)
    }

    pub fn remove(&self, id: &str) {
        if let Store::Memory(sessions) = &self.store
            && let Ok(mut sessions) = sessions.lock()
        {
            sessions.remove(id);
        }
    }
}

/// The session sealed into `id`; `None` for anything this key did not seal.
fn unseal(key: &LessSafeKey, id: &str) -> Option<UserSession> {
    let bytes = hex::decode(id).ok()?;
    let (nonce, sealed) = bytes.split_at_checked(NONCE_LEN)?;
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut sealed = sealed.to_vec();
    let plain = key
        .open_in_place(nonce, Aad::from(SEAL_PURPOSE.as_bytes()), &mut sealed)
        .ok()?;
    let text = std::str::from_utf8(plain).ok()?;
    let mut parts = text.splitn(4, '\n');
    let expires_at_ms = parts.next()?.parse().ok()?;
    let user_id = parts.next()?.parse().ok()?;
    let login = parts.next()?.to_owned();
    let token = SecretString::from(parts.next()?.to_owned());
    Some(UserSession {
        login,
        user_id,
        token,
        expires_at_ms,
    })
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Lax`, `Secure` when asked; an empty value
/// with no lifetime removes the cookie.
pub fn set_cookie(name: &str, value: &str, path: &str, max_age: Duration, secure: bool) -> String {
    let mut cookie = format!(
        "{name}={value}; Path={path}; Max-Age={}; HttpOnly; SameSite=Lax",
        max_age.as_secs()
    );
    if secure {
        cookie.push_str("; Secure");
    }
    cookie
}

/// The value of cookie `name` in the request's headers.
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// The token itself, for a request to GitHub.
pub fn bearer(token: &SecretString) -> String {
    format!("Bearer {}", token.expose_secret())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_values_hold_until_they_expire_and_only_for_their_purpose() {
        let key = SessionKey::from_bytes([7; 32]);
        let value = key.sign("session", "abc", 2_000);
        assert_eq!(key.verify("session", &value, 1_999), Some("abc".to_owned()));
        assert_eq!(key.verify("session", &value, 2_000), None);
        assert_eq!(key.verify("state", &value, 1_000), None);
        let forged = value.replacen("abc", "abd", 1);
        assert_eq!(key.verify("session", &forged, 1_000), None);
        let other = SessionKey::from_bytes([8; 32]);
        assert_eq!(other.verify("session", &value, 1_000), None);
        assert!(key.csrf_matches("abc", &key.csrf("abc")));
        assert!(!key.csrf_matches("abd", &key.csrf("abc")));
        assert!(!key.csrf_matches("abc", ""));
    }

    #[test]
    fn sealed_sessions_open_with_their_key_only_and_until_they_expire() {
        let key = SessionKey::from_bytes([7; 32]);
        let sessions = Sessions::sealed(&key);
        let session = UserSession {
            login: "octocat".to_owned(),
            user_id: 583_231,
            token: SecretString::from("ghu_secret-token".to_owned()),
            expires_at_ms: 2_000,
        };
        let id = sessions.open(session, 1_000).expect("sealed");
        assert!(!id.contains("secret") && !id.contains("octocat"), "{id}");
        let opened = Sessions::sealed(&key)
            .get(&id, 1_999)
            .expect("opens anywhere");
        assert_eq!(opened.login, "octocat");
        assert_eq!(opened.user_id, 583_231);
        assert_eq!(opened.token.expose_secret(), "ghu_secret-token");
        assert!(sessions.get(&id, 2_000).is_none(), "expired");
        let other = Sessions::sealed(&SessionKey::from_bytes([8; 32]));
        assert!(other.get(&id, 1_000).is_none(), "another key");
        let mut forged = id.into_bytes();
        let last = forged.len() - 1;
        forged[last] = if forged[last] == b'0' { b'1' } else { b'0' };
        let forged = String::from_utf8(forged).expect("hex");
        assert!(sessions.get(&forged, 1_000).is_none(), "tampered");
        assert!(sessions.get("not hex", 1_000).is_none());
        assert!(Sessions::default().get("abc", 1_000).is_none());
    }

    #[test]
    fn cookies_are_http_only_lax_and_secure_behind_https() {
        assert_eq!(
            set_cookie("a", "b", "/", Duration::from_secs(60), false),
            "a=b; Path=/; Max-Age=60; HttpOnly; SameSite=Lax"
        );
        assert_eq!(
            set_cookie("a", "", "/x", Duration::ZERO, true),
            "a=; Path=/x; Max-Age=0; HttpOnly; SameSite=Lax; Secure"
        );
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(
            axum::http::header::COOKIE,
            axum::http::HeaderValue::from_static("x=1; ota_session=abc.1.f; y=2"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc.1.f"));
        assert_eq!(cookie(&headers, "z"), None);
    }

    #[cfg(unix)]
    #[test]
    fn the_key_file_is_made_once_and_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let first = SessionKey::load_or_create(dir.path()).expect("made");
        let again = SessionKey::load_or_create(dir.path()).expect("read");
        assert_eq!(first.0, again.0);
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .expect("file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(dir.path().join(KEY_FILE), "nope").expect("spoil");
        let err = SessionKey::load_or_create(dir.path()).expect_err("refused");
        assert!(err.to_string().contains("not a session key"), "{err}");
    }
}
