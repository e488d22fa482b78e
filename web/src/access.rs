//! Who may see and do what, as GitHub says: a signed-in user sees the jobs of the
//! repositories their token reaches through the App's installations, and acts on a job
//! (approve, cancel, retry) only with `push` on its repository. GitHub's answer is kept
//! for [`REACH_TTL`] per user, so a page costs no call most of the time and a revoked
//! permission stops working within that time. The server's owner, signed in with the
//! operator's token, sees and does everything.

use crate::github::{GitHubError, GitHubUsers, Permissions, Reach};
use secrecy::SecretString;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long GitHub's answer about a user's repositories is trusted.
pub const REACH_TTL: Duration = Duration::from_secs(60);

/// The last answer per user login.
#[derive(Default)]
pub struct AccessCache {
    answers: Mutex<HashMap<String, (u64, Arc<Reach>)>>,
}

impl AccessCache {
    /// The repositories `login` reaches, from the cache while it is fresh at `now_ms`.
    pub async fn reach(
        &self,
        github: &GitHubUsers,
        login: &str,
        token: &SecretString,
        now_ms: u64,
    ) -> Result<Arc<Reach>, GitHubError> {
        let ttl = u64::try_from(REACH_TTL.as_millis()).unwrap_or(u64::MAX);
        if let Ok(answers) = self.answers.lock()
            && let Some((at, reach)) = answers.get(login)
            && now_ms.saturating_sub(*at) < ttl
        {
            return Ok(Arc::clone(reach));
        }
        let reach = Arc::new(github.reach(token).await?);
        if let Ok(mut answers) = self.answers.lock() {
            answers.retain(|_, (at, _)| now_ms.saturating_sub(*at) < ttl);
            answers.insert(login.to_owned(), (now_ms, Arc::clone(&reach)));
        }
        Ok(reach)
    }

    /// Forgets `login`'s answer (on sign-out, or when GitHub rejects the token).
    pub fn forget(&self, login: &str) {
        if let Ok(mut answers) = self.answers.lock() {
            answers.remove(login);
        }
    }
}

/// The user's permissions on `repo`, `None` when they cannot see it.
pub fn on_repo(reach: &Reach, repo: &str) -> Option<Permissions> {
    reach
        .get(&repo.to_ascii_lowercase())
        .map(|(_, permissions)| *permissions)
}
