//! The setup's `state`: a random value this server hands to GitHub with the manifest and
//! expects back on the callback, bound to the browser that started the setup (by a random
//! value in that browser's `ota_setup` cookie), good once, for an hour. A callback link
//! made by anyone else — with their own App's code, a state they saw, or no cookie — cannot
//! plant an App here.

use super::SetupError;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// The cookie that binds a setup to its browser.
pub const SETUP_COOKIE: &str = "ota_setup";

/// GitHub's manifest codes expire after an hour: a state lives as long.
pub const STATE_LIFETIME: Duration = Duration::from_secs(3600);

/// 32 random bytes: unguessable.
const RANDOM_BYTES: usize = 32;

/// Setups started and not finished at once; the oldest gives way. Only the operator can
/// start one, so a few tabs are all there is.
const MAX_PENDING: usize = 8;

/// The setups started in this process (a restart forgets them: start again).
#[derive(Debug, Clone, Default)]
pub struct PendingSetups {
    pending: Arc<Mutex<Vec<Pending>>>,
    /// Held while a callback trades its code and stores the App: one App at a time.
    finishing: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Debug)]
struct Pending {
    state: String,
    browser: String,
    expires: Instant,
}

/// A started setup: the state for GitHub, the value for the browser's cookie.
#[derive(Debug, Clone)]
pub struct Started {
    pub state: String,
    pub browser: String,
}

impl PendingSetups {
    /// A new setup, bound to a new browser value.
    pub fn start(&self) -> Result<Started, SetupError> {
        self.start_at(Instant::now())
    }

    /// Spends `state` if this browser (`browser`, its cookie) started it, within the hour.
    pub fn redeem(&self, state: &str, browser: Option<&str>) -> Result<(), SetupError> {
        self.redeem_at(state, browser, Instant::now())
    }

    /// Held while the App is traded for and stored.
    pub async fn finishing(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.finishing.lock().await
    }

    fn start_at(&self, now: Instant) -> Result<Started, SetupError> {
        let started = Started {
            state: random_hex()?,
            browser: random_hex()?,
        };
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        pending.retain(|setup| setup.expires > now);
        if pending.len() >= MAX_PENDING {
            pending.remove(0);
        }
        pending.push(Pending {
            state: started.state.clone(),
            browser: started.browser.clone(),
            expires: now + STATE_LIFETIME,
        });
        Ok(started)
    }

    fn redeem_at(
        &self,
        state: &str,
        browser: Option<&str>,
        now: Instant,
    ) -> Result<(), SetupError> {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        pending.retain(|setup| setup.expires > now);
        let index = pending
            .iter()
            .position(|setup| same(&setup.state, state))
            .ok_or(SetupError::StateMismatch)?;
        // Someone else's browser presenting a state it saw leaves it to its owner.
        let owner = browser.is_some_and(|browser| same(&pending[index].browser, browser));
        if !owner {
            return Err(SetupError::OtherBrowser);
        }
        pending.remove(index);
        Ok(())
    }
}

fn random_hex() -> Result<String, SetupError> {
    let mut bytes = [0_u8; RANDOM_BYTES];
    getrandom::fill(&mut bytes).map_err(|err| SetupError::NoRandomness(err.to_string()))?;
    Ok(hex::encode(bytes))
}

/// Equality that takes as long whatever the first differing byte. The length is not
/// secret (always 64).
fn same(expected: &str, presented: &str) -> bool {
    bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_is_random_and_good_once_for_its_browser() {
        let setups = PendingSetups::default();
        let first = setups.start().unwrap();
        let second = setups.start().unwrap();
        assert_eq!(first.state.len(), 2 * RANDOM_BYTES);
        assert!(first.state.bytes().all(|byte| byte.is_ascii_hexdigit()));
        assert_ne!(first.state, second.state);
        assert_ne!(first.browser, second.browser);

        setups.redeem(&first.state, Some(&first.browser)).unwrap();
        assert_eq!(
            setups.redeem(&first.state, Some(&first.browser)),
            Err(SetupError::StateMismatch),
            "used"
        );
        setups.redeem(&second.state, Some(&second.browser)).unwrap();
    }

    #[test]
    fn another_browser_or_none_cannot_spend_a_state() {
        let setups = PendingSetups::default();
        let mine = setups.start().unwrap();
        let theirs = setups.start().unwrap();
        assert_eq!(
            setups.redeem(&mine.state, Some(&theirs.browser)),
            Err(SetupError::OtherBrowser)
        );
        assert_eq!(
            setups.redeem(&mine.state, None),
            Err(SetupError::OtherBrowser)
        );
        assert_eq!(
            setups.redeem(&"0".repeat(64), Some(&mine.browser)),
            Err(SetupError::StateMismatch)
        );
        assert_eq!(
            setups.redeem(&mine.state[1..], Some(&mine.browser)),
            Err(SetupError::StateMismatch)
        );
        // The owner still can.
        setups.redeem(&mine.state, Some(&mine.browser)).unwrap();
    }

    #[test]
    fn a_state_expires_after_an_hour() {
        let setups = PendingSetups::default();
        let now = Instant::now();
        let started = setups.start_at(now).unwrap();
        let later = now + STATE_LIFETIME + Duration::from_secs(1);
        assert_eq!(
            setups.redeem_at(&started.state, Some(&started.browser), later),
            Err(SetupError::StateMismatch)
        );
    }

    #[test]
    fn the_oldest_of_too_many_setups_gives_way() {
        let setups = PendingSetups::default();
        let first = setups.start().unwrap();
        let rest: Vec<Started> = (0..MAX_PENDING).map(|_| setups.start().unwrap()).collect();
        assert_eq!(
            setups.redeem(&first.state, Some(&first.browser)),
            Err(SetupError::StateMismatch)
        );
        for started in rest {
            setups
                .redeem(&started.state, Some(&started.browser))
                .unwrap();
        }
    }
}
