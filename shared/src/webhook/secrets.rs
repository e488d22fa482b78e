//! The webhook secret, read once per process and re-read on a mismatch so that a
//! rotation takes effect without a restart, while deliveries signed with the previous
//! secret are still accepted during the switch.

use super::signature::Signature;
use crate::ports::{SecretError, SecretSource, SecretVersion};
use secrecy::SecretString;
use std::time::{Duration, Instant};
use tokio::sync::RwLock;

/// How often, at most, a mismatching signature may make the process re-read the
/// secret: forged requests must not turn into a flood of Secrets Manager calls.
pub const DEFAULT_MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

pub struct WebhookSecrets<S> {
    source: S,
    min_refresh_interval: Duration,
    loaded: RwLock<Option<Loaded>>,
}

#[derive(Clone)]
struct Loaded {
    current: SecretString,
    previous: Option<SecretString>,
    /// Whether `previous` was looked up at all; the first mismatch always does.
    previous_looked_up: bool,
    at: Instant,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("signature does not match the webhook secret")]
    Mismatch,
    #[error(transparent)]
    Unavailable(#[from] SecretError),
}

impl<S: SecretSource> WebhookSecrets<S> {
    pub fn new(source: S, min_refresh_interval: Duration) -> Self {
        Self {
            source,
            min_refresh_interval,
            loaded: RwLock::new(None),
        }
    }

    /// Forgets the secrets read: the next delivery reads them again. For a process that
    /// rotates the secret itself (`ota serve`'s settings page), so that a new secret
    /// and the end of an overlap take effect at once rather than at the next refresh.
    pub async fn forget(&self) {
        *self.loaded.write().await = None;
    }

    /// Accepts a signature made with the current secret or, after a rotation, the
    /// previous one.
    pub async fn verify(&self, signature: &Signature, body: &[u8]) -> Result<(), VerifyError> {
        let loaded = self.loaded_or_load().await?;
        if matches_any(&loaded, signature, body) {
            return Ok(());
        }
        let due = !loaded.previous_looked_up || loaded.at.elapsed() >= self.min_refresh_interval;
        if !due {
            return Err(VerifyError::Mismatch);
        }
        let refreshed = self.refresh(loaded.at).await?;
        if matches_any(&refreshed, signature, body) {
            Ok(())
        } else {
            Err(VerifyError::Mismatch)
        }
    }

    async fn loaded_or_load(&self) -> Result<Loaded, SecretError> {
        if let Some(loaded) = self.loaded.read().await.as_ref() {
            return Ok(loaded.clone());
        }
        let mut slot = self.loaded.write().await;
        if let Some(loaded) = slot.as_ref() {
            return Ok(loaded.clone());
        }
        let loaded = Loaded {
            current: self.fetch_current().await?,
            previous: None,
            previous_looked_up: false,
            at: Instant::now(),
        };
        *slot = Some(loaded.clone());
        Ok(loaded)
    }

    /// Re-reads both versions, unless another request already did since `seen_at`.
    async fn refresh(&self, seen_at: Instant) -> Result<Loaded, SecretError> {
        let mut slot = self.loaded.write().await;
        if let Some(loaded) = slot.as_ref().filter(|loaded| loaded.at > seen_at) {
            return Ok(loaded.clone());
        }
        let loaded = Loaded {
            current: self.fetch_current().await?,
            previous: self.source.fetch(SecretVersion::Previous).await?,
            previous_looked_up: true,
            at: Instant::now(),
        };
        *slot = Some(loaded.clone());
        Ok(loaded)
    }

    async fn fetch_current(&self) -> Result<SecretString, SecretError> {
        self.source
            .fetch(SecretVersion::Current)
            .await?
            .ok_or_else(|| SecretError("the webhook secret has no current version".to_owned()))
    }
}

fn matches_any(loaded: &Loaded, signature: &Signature, body: &[u8]) -> bool {
    signature.matches(&loaded.current, body)
        || loaded
            .previous
            .as_ref()
            .is_some_and(|previous| signature.matches(previous, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::signature::sign;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A secret store whose versions the test rotates, counting reads.
    #[derive(Default)]
    struct Rotating {
        versions: Mutex<(String, Option<String>)>,
        reads: AtomicUsize,
    }

    impl Rotating {
        fn with(current: &str) -> Self {
            let store = Self::default();
            store.rotate(current);
            store
        }
        fn rotate(&self, next: &str) {
            let mut versions = self.versions.lock().expect("lock");
            let old = std::mem::replace(&mut versions.0, next.to_owned());
            versions.1 = (!old.is_empty()).then_some(old);
        }
    }

    impl SecretSource for &Rotating {
        async fn fetch(&self, version: SecretVersion) -> Result<Option<SecretString>, SecretError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            let versions = self.versions.lock().expect("lock");
            Ok(match version {
                SecretVersion::Current => Some(versions.0.clone().into()),
                SecretVersion::Previous => versions.1.clone().map(Into::into),
            })
        }
    }

    fn signed(secret: &str, body: &[u8]) -> Signature {
        Signature::parse(&sign(secret.as_bytes(), body)).expect("well-formed")
    }

    #[tokio::test]
    async fn reads_the_secret_once_while_signatures_match() {
        let store = Rotating::with("one");
        let secrets = WebhookSecrets::new(&store, Duration::from_secs(3600));
        for _ in 0..3 {
            secrets
                .verify(&signed("one", b"x"), b"x")
                .await
                .expect("valid");
        }
        assert_eq!(store.reads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn after_rotation_both_new_and_previous_secrets_are_accepted() {
        let store = Rotating::with("one");
        let secrets = WebhookSecrets::new(&store, Duration::from_secs(3600));
        secrets
            .verify(&signed("one", b"x"), b"x")
            .await
            .expect("valid");
        store.rotate("two");
        secrets
            .verify(&signed("two", b"x"), b"x")
            .await
            .expect("new secret");
        secrets
            .verify(&signed("one", b"x"), b"x")
            .await
            .expect("previous secret");
        assert!(matches!(
            secrets.verify(&signed("three", b"x"), b"x").await,
            Err(VerifyError::Mismatch)
        ));
    }

    #[tokio::test]
    async fn forged_signatures_do_not_flood_the_store() {
        let store = Rotating::with("one");
        let secrets = WebhookSecrets::new(&store, Duration::from_secs(3600));
        for _ in 0..10 {
            let _ = secrets.verify(&signed("forged", b"x"), b"x").await;
        }
        // The first load, then one refresh of current + previous; no more.
        assert_eq!(store.reads.load(Ordering::SeqCst), 3);
    }
}
