//! Installation tokens: the permission sets they are minted with (a runner's follow from
//! what its tasks deliver), the token itself (which never prints), and the cache that
//! reuses one until shortly before it expires.

use crate::endpoints::{
    DASHBOARD_USER_CALLS, Endpoint, MERGE_CALLS, Needs, POLICY_AND_REPORT_CALLS, runner_calls,
};
use secrecy::SecretString;
use serde::Serialize;
use shared::config::Deliverable;
use shared::ports::RepoScope;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

/// A cached token is replaced this long before GitHub's `expires_at`, so that a token
/// handed out is still good for a whole job step (a runner pushing a branch, a report
/// stage posting a comment and a check run) and clock skew cannot bite.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// A level of access in an installation token's `permissions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    Read,
    Write,
}

/// The permissions asked for when minting a token, by GitHub's names (`contents`,
/// `pull_requests`, ...). A token never gets more than the App was granted; asking for
/// less than the App has keeps each stage to what it needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(transparent)]
pub struct TokenPermissions(BTreeMap<String, Access>);

impl TokenPermissions {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) one permission.
    pub fn with(mut self, name: &str, access: Access) -> Self {
        self.0.insert(name.to_owned(), access);
        self
    }

    pub fn get(&self, name: &str) -> Option<Access> {
        self.0.get(name).copied()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, Access)> {
        self.0.iter().map(|(name, access)| (name.as_str(), *access))
    }

    /// What a component that makes `calls` needs: for each call, the first permission
    /// [`Endpoint::needs`] names, at the highest level any call asks for; and `metadata:
    /// read`, which GitHub adds to every token with a repository permission anyway.
    pub fn for_calls(calls: &[Endpoint]) -> Self {
        calls.iter().fold(
            Self::new().with("metadata", Access::Read),
            |set, call| match call.needs() {
                Needs::AnyOf([(name, access), ..]) => set.union(Self::new().with(name, *access)),
                Needs::AnyOf([]) | Needs::Nothing | Needs::AppJwt => set,
            },
        )
    }

    /// What the policy and report stages need: the calls of
    /// [`crate::endpoints::POLICY_AND_REPORT_CALLS`].
    pub fn policy_and_report() -> Self {
        Self::for_calls(POLICY_AND_REPORT_CALLS)
    }

    /// What the policy stage's merge needs ([`crate::endpoints::MERGE_CALLS`]): `contents:
    /// write`, in a token minted for the merge alone.
    pub fn merge() -> Self {
        Self::for_calls(MERGE_CALLS)
    }

    /// What the App needs for the dashboard's calls with a user's token
    /// ([`crate::endpoints::DASHBOARD_USER_CALLS`]); no installation token is minted with
    /// it, the App asks for it so that its users' tokens carry it.
    pub fn dashboard_user() -> Self {
        Self::for_calls(DASHBOARD_USER_CALLS)
    }

    /// What a runner needs to produce `deliverable`: the calls of
    /// [`crate::endpoints::runner_calls`] (its config file, the issue and the pull
    /// request's diff, its check run, a clone; then pushing a branch and opening the pull
    /// request, or posting the review).
    pub fn to_deliver(deliverable: Deliverable) -> Self {
        Self::for_calls(&runner_calls(deliverable))
    }

    /// What the runner asks for: enough to deliver any task's [`Deliverable`]
    /// ([`Self::to_deliver`]), because its client is built, and mints its first token to
    /// read `.ollama-turbo.yml`, before it knows which task it runs.
    pub fn runner() -> Self {
        Deliverable::ALL
            .into_iter()
            .map(Self::to_deliver)
            .fold(Self::new(), Self::union)
    }

    /// Whether a token with these permissions may call `endpoint`.
    pub fn allows(&self, endpoint: Endpoint) -> bool {
        endpoint.allowed(|name| self.get(name))
    }

    /// Every permission of either set, at the higher of the two levels.
    fn union(mut self, other: Self) -> Self {
        for (name, access) in other.0 {
            let level = self.0.entry(name).or_insert(access);
            *level = (*level).max(access);
        }
        self
    }
}

/// An installation access token scoped to one repository. `Debug` shows only when it
/// expires; the token is reached through [`secrecy::ExposeSecret`] on [`Self::secret`].
#[derive(Clone)]
pub struct InstallationToken {
    secret: SecretString,
    expires_at: SystemTime,
}

impl InstallationToken {
    /// A token as GitHub (or a broker passing GitHub's answer on) handed it out.
    pub fn new(secret: SecretString, expires_at: SystemTime) -> Self {
        Self { secret, expires_at }
    }

    pub fn secret(&self) -> &SecretString {
        &self.secret
    }

    /// GitHub's `expires_at` (tokens live one hour).
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// Still good for at least [`REFRESH_MARGIN`] after `now`.
    fn fresh_at(&self, now: SystemTime) -> bool {
        now + REFRESH_MARGIN < self.expires_at
    }
}

impl fmt::Debug for InstallationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstallationToken")
            .field("token", &"[REDACTED]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

type TokenKey = (RepoScope, TokenPermissions);

/// Tokens by (installation, repository, permission set). Lives as long as the client: in
/// a warm Lambda, across invocations.
#[derive(Default)]
pub(crate) struct TokenCache {
    tokens: Mutex<HashMap<TokenKey, InstallationToken>>,
}

impl TokenCache {
    pub(crate) fn get(
        &self,
        scope: &RepoScope,
        permissions: &TokenPermissions,
        now: SystemTime,
    ) -> Option<InstallationToken> {
        let tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        tokens
            .get(&(scope.clone(), permissions.clone()))
            .filter(|token| token.fresh_at(now))
            .cloned()
    }

    /// Keeps `token` and drops every token too close to expiry to be handed out again.
    pub(crate) fn put(
        &self,
        scope: &RepoScope,
        permissions: &TokenPermissions,
        token: InstallationToken,
        now: SystemTime,
    ) {
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        tokens.retain(|_, cached| cached.fresh_at(now));
        if token.fresh_at(now) {
            tokens.insert((scope.clone(), permissions.clone()), token);
        }
    }

    /// Forgets a token GitHub no longer accepts (revoked, or the installation changed).
    pub(crate) fn forget(&self, scope: &RepoScope, permissions: &TokenPermissions) {
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        tokens.remove(&(scope.clone(), permissions.clone()));
    }

    pub(crate) fn len(&self) -> usize {
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use shared::ids::{InstallationId, RepoFullName};

    fn scope(repo: &str) -> RepoScope {
        RepoScope {
            installation: InstallationId(7),
            repo: RepoFullName::new(repo),
        }
    }

    #[test]
    fn debug_never_shows_the_token() {
        let token = InstallationToken::new(
            SecretString::from("ghs_supersecret"),
            SystemTime::UNIX_EPOCH,
        );
        assert!(!format!("{token:?}").contains("ghs_supersecret"));
        assert_eq!(token.secret().expose_secret(), "ghs_supersecret");
    }

    #[test]
    fn permissions_serialize_as_githubs_map() {
        let json = serde_json::to_value(TokenPermissions::runner()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "metadata": "read",
                "contents": "write",
                "pull_requests": "write",
                "issues": "read",
                "checks": "write",
            })
        );
    }

    #[test]
    fn each_set_allows_every_call_of_its_component() {
        let policy = TokenPermissions::policy_and_report();
        for call in POLICY_AND_REPORT_CALLS {
            assert!(policy.allows(*call), "policy and report: {call:?}");
        }
        for call in MERGE_CALLS {
            assert!(TokenPermissions::merge().allows(*call), "merge: {call:?}");
        }
        assert_eq!(
            policy.get("contents"),
            Some(Access::Read),
            "the stages' everyday token pushes and merges nothing"
        );
        for deliverable in Deliverable::ALL {
            let set = TokenPermissions::to_deliver(deliverable);
            for call in runner_calls(deliverable) {
                assert!(set.allows(call), "{deliverable:?}: {call:?}");
            }
        }
    }

    #[test]
    fn the_runner_reads_the_issue_and_the_pull_request() {
        for set in Deliverable::ALL
            .map(TokenPermissions::to_deliver)
            .into_iter()
            .chain([TokenPermissions::runner()])
        {
            assert!(set.allows(Endpoint::GetIssue), "{set:?}");
            assert!(set.allows(Endpoint::ListPullFiles), "{set:?}");
            assert!(set.get("issues") >= Some(Access::Read), "{set:?}");
            assert!(set.get("pull_requests") >= Some(Access::Read), "{set:?}");
        }
    }

    #[test]
    fn the_runner_can_deliver_every_deliverable() {
        let runner = TokenPermissions::runner();
        for deliverable in Deliverable::ALL {
            for (name, access) in TokenPermissions::to_deliver(deliverable).iter() {
                assert!(
                    runner.get(name).is_some_and(|granted| granted >= access),
                    "{deliverable:?} needs {name}: {access:?}"
                );
            }
        }
        assert_eq!(
            TokenPermissions::to_deliver(Deliverable::PullRequest),
            runner,
            "a pull request needs all of it"
        );
        assert_eq!(
            TokenPermissions::to_deliver(Deliverable::Review).get("contents"),
            Some(Access::Read),
            "a review pushes nothing"
        );
    }

    #[test]
    fn cache_keeps_tokens_per_repo_and_permission_set_until_the_margin() {
        let cache = TokenCache::default();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let policy = TokenPermissions::policy_and_report();
        let token =
            InstallationToken::new(SecretString::from("t1"), now + Duration::from_secs(3600));
        cache.put(&scope("o/a"), &policy, token, now);

        assert!(cache.get(&scope("o/a"), &policy, now).is_some());
        assert!(cache.get(&scope("o/b"), &policy, now).is_none());
        assert!(
            cache
                .get(&scope("o/a"), &TokenPermissions::runner(), now)
                .is_none()
        );
        let near_expiry = now + Duration::from_secs(3600) - REFRESH_MARGIN;
        assert!(cache.get(&scope("o/a"), &policy, near_expiry).is_none());

        cache.forget(&scope("o/a"), &policy);
        assert!(cache.get(&scope("o/a"), &policy, now).is_none());
    }

    #[test]
    fn a_token_too_close_to_expiry_is_not_cached() {
        let cache = TokenCache::default();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let token = InstallationToken::new(SecretString::from("t"), now + REFRESH_MARGIN);
        cache.put(&scope("o/a"), &TokenPermissions::runner(), token, now);
        assert_eq!(cache.len(), 0);
    }
}
