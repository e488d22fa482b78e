//! The setup's `state`: a random value this server hands to GitHub with the manifest and
//! expects back on the callback, so that only a setup started here can store an App here
//! (a forged callback link cannot plant someone else's App).

use super::SetupError;
use super::private_file::{read_if_exists, remove_if_exists, write_private};
use std::path::{Path, PathBuf};

/// The file's name in the data directory.
pub const STATE_FILE: &str = "setup-state";

/// 32 random bytes: unguessable.
const STATE_BYTES: usize = 32;

/// The state kept in `<data-dir>/setup-state` (mode 0600). It outlives a restart, so a
/// setup started before one can still finish.
#[derive(Debug, Clone)]
pub struct SetupState {
    path: PathBuf,
}

impl SetupState {
    pub fn in_dir(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join(STATE_FILE),
        }
    }

    /// The current state, created on first use. Several tabs share one state, so any of
    /// them may finish the setup.
    pub fn get_or_create(&self) -> Result<String, SetupError> {
        if let Some(state) = self.current()? {
            return Ok(state);
        }
        let state = random_state()?;
        write_private(&self.path, state.as_bytes())?;
        Ok(state)
    }

    /// Whether `presented` is the current state, compared in constant time.
    pub fn verify(&self, presented: &str) -> Result<(), SetupError> {
        match self.current()? {
            Some(state) if same(state.as_bytes(), presented.as_bytes()) => Ok(()),
            _ => Err(SetupError::StateMismatch),
        }
    }

    /// Forgets the state once the setup succeeded: the callback link cannot be replayed.
    pub fn clear(&self) -> Result<(), SetupError> {
        remove_if_exists(&self.path)
    }

    fn current(&self) -> Result<Option<String>, SetupError> {
        Ok(read_if_exists(&self.path)?
            .map(|state| state.trim().to_owned())
            .filter(|state| !state.is_empty()))
    }
}

fn random_state() -> Result<String, SetupError> {
    let mut bytes = [0_u8; STATE_BYTES];
    getrandom::fill(&mut bytes).map_err(|err| SetupError::NoRandomness(err.to_string()))?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// Equality that takes as long whatever the first differing byte, so that timing does not
/// tell how much of a guess was right. The length is not secret (always 64).
fn same(expected: &[u8], presented: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(expected.ct_eq(presented))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_is_random_stable_until_cleared_and_verified() {
        let dir = tempfile::tempdir().unwrap();
        let state = SetupState::in_dir(dir.path());
        let first = state.get_or_create().unwrap();
        assert_eq!(first.len(), 2 * STATE_BYTES);
        assert!(first.bytes().all(|byte| byte.is_ascii_hexdigit()));
        assert_eq!(state.get_or_create().unwrap(), first);
        state.verify(&first).unwrap();

        state.clear().unwrap();
        assert_eq!(state.verify(&first), Err(SetupError::StateMismatch));
        assert_ne!(state.get_or_create().unwrap(), first);
    }

    #[test]
    fn a_wrong_or_missing_state_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let state = SetupState::in_dir(dir.path());
        assert_eq!(state.verify(""), Err(SetupError::StateMismatch));
        let good = state.get_or_create().unwrap();
        let mut wrong = good.clone();
        wrong.replace_range(..1, if good.starts_with('0') { "1" } else { "0" });
        assert_eq!(state.verify(&wrong), Err(SetupError::StateMismatch));
        assert_eq!(state.verify(&good[1..]), Err(SetupError::StateMismatch));
        assert_eq!(state.verify(""), Err(SetupError::StateMismatch));
    }
}
