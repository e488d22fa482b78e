//! Who may see and do what, as GitHub says: a signed-in user sees the jobs of the
//! repositories their token reaches through the App's installations, and acts on a job
//! (approve, cancel, retry) only with `push` on its repository. GitHub's answer is kept
//! for [`REACH_TTL`] per user, so a page costs no call most of the time and a revoked
//! permission stops working within that time. Editing an installation's policies takes
//! being an admin of the installation's account ([`account_admin`]): the account itself
//! for a user's account (by id: a login can change hands), an active admin for an
//! organization's; that answer is kept for [`REACH_TTL`] too. The server's owner, signed
//! in with the operator's token, sees and does everything.

use crate::github::{
    Account, GitHubError, GitHubUser, GitHubUsers, Membership, Permissions, Reach,
};
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
    /// Whether a user administers an installation's account, by (login, user id,
    /// installation): a login that changes hands is another user.
    admins: Mutex<HashMap<AdminKey, (u64, AccountAdmin)>>,
}

/// (login, user id, installation).
type AdminKey = (String, u64, u64);

/// Whether a user may edit an installation's policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountAdmin {
    Yes,
    /// No: the sentence says who may, and why this user is not among them.
    No(String),
}

/// Whether `user` administers `account` (`None`: GitHub lists no such installation for
/// them), given their `membership` of it when it is an organization.
pub fn account_admin(
    user: &GitHubUser,
    installation: u64,
    account: Option<&Account>,
    membership: Option<&Membership>,
) -> AccountAdmin {
    let Some(account) = account else {
        return AccountAdmin::No(format!(
            "GitHub lists no installation {installation} for you, so you cannot be an admin of its account."
        ));
    };
    let owner_too = "(and the server's owner)";
    match account.kind.as_str() {
        "User" if account.id == user.id => AccountAdmin::Yes,
        "User" => AccountAdmin::No(format!(
            "This installation is on the personal account {}: only that account {owner_too} edits its policies, and you are signed in as {}.",
            account.login, user.login
        )),
        "Organization" => match membership {
            Some(membership) if membership.role == "admin" && membership.state == "active" => {
                AccountAdmin::Yes
            }
            Some(membership) if membership.role == "admin" => AccountAdmin::No(format!(
                "This installation is on the organization {}: its admins {owner_too} edit its policies. Your admin membership is {}: accept the invitation on GitHub first.",
                account.login, membership.state
            )),
            Some(membership) => AccountAdmin::No(format!(
                "This installation is on the organization {}: its admins {owner_too} edit its policies. You are a {} of it, not an admin.",
                account.login,
                membership.role.replace('_', " ")
            )),
            None => AccountAdmin::No(format!(
                "This installation is on the organization {}: its admins {owner_too} edit its policies. You are not a member of it.",
                account.login
            )),
        },
        other => AccountAdmin::No(format!(
            "This installation is on the {other} account {}: only the server's owner edits its policies here.",
            account.login
        )),
    }
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

    /// Whether `user` administers installation `installation`'s account, from the cache
    /// while it is fresh at `now_ms`.
    pub async fn admin(
        &self,
        github: &GitHubUsers,
        user: &GitHubUser,
        token: &SecretString,
        installation: u64,
        now_ms: u64,
    ) -> Result<AccountAdmin, GitHubError> {
        let ttl = u64::try_from(REACH_TTL.as_millis()).unwrap_or(u64::MAX);
        let key = (user.login.clone(), user.id, installation);
        if let Ok(admins) = self.admins.lock()
            && let Some((at, answer)) = admins.get(&key)
            && now_ms.saturating_sub(*at) < ttl
        {
            return Ok(answer.clone());
        }
        let account = github.installation_account(token, installation).await?;
        let membership = match &account {
            Some(account) if account.kind == "Organization" => {
                match github.org_membership(token, &account.login).await {
                    Ok(membership) => membership,
                    Err(GitHubError::NotPermitted(_)) => {
                        return Err(GitHubError::NotPermitted(format!(
                            "GitHub does not tell the dashboard who administers the organization {}: the App lacks the organization permission “Members: read” (or the organization blocks it). The organization's owner accepts the App's new permissions in the installation's settings on GitHub",
                            account.login
                        )));
                    }
                    Err(err) => return Err(err),
                }
            }
            _ => None,
        };
        let answer = account_admin(user, installation, account.as_ref(), membership.as_ref());
        if let Ok(mut admins) = self.admins.lock() {
            admins.retain(|_, (at, _)| now_ms.saturating_sub(*at) < ttl);
            admins.insert(key, (now_ms, answer.clone()));
        }
        Ok(answer)
    }

    /// Forgets `login`'s answers (on sign-out, or when GitHub rejects the token).
    pub fn forget(&self, login: &str) {
        if let Ok(mut answers) = self.answers.lock() {
            answers.remove(login);
        }
        if let Ok(mut admins) = self.admins.lock() {
            admins.retain(|(cached, _, _), _| cached != login);
        }
    }
}

/// The user's permissions on `repo`, `None` when they cannot see it.
pub fn on_repo(reach: &Reach, repo: &str) -> Option<Permissions> {
    reach
        .get(&repo.to_ascii_lowercase())
        .map(|(_, permissions)| *permissions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(login: &str, id: u64) -> GitHubUser {
        GitHubUser {
            login: login.to_owned(),
            id,
        }
    }

    fn account(login: &str, id: u64, kind: &str) -> Account {
        Account {
            login: login.to_owned(),
            id,
            kind: kind.to_owned(),
        }
    }

    fn member(role: &str, state: &str) -> Membership {
        Membership {
            role: role.to_owned(),
            state: state.to_owned(),
        }
    }

    #[test]
    fn a_user_account_is_administered_by_that_account_only_by_id() {
        let mona = user("mona", 7);
        assert_eq!(
            account_admin(&mona, 1, Some(&account("mona", 7, "User")), None),
            AccountAdmin::Yes
        );
        // The login is mona's now, but the account is the one that had it before.
        let AccountAdmin::No(why) =
            account_admin(&mona, 1, Some(&account("mona", 8, "User")), None)
        else {
            panic!("another account with the same login");
        };
        assert!(why.contains("personal account mona"), "{why}");
        assert!(matches!(
            account_admin(&mona, 1, Some(&account("hubot", 9, "User")), None),
            AccountAdmin::No(_)
        ));
    }

    #[test]
    fn an_organization_is_administered_by_its_active_admins() {
        let mona = user("mona", 7);
        let org = account("acme", 100, "Organization");
        assert_eq!(
            account_admin(&mona, 1, Some(&org), Some(&member("admin", "active"))),
            AccountAdmin::Yes
        );
        for (membership, expected) in [
            (Some(member("admin", "pending")), "is pending"),
            (
                Some(member("member", "active")),
                "You are a member of it, not an admin.",
            ),
            (
                Some(member("billing_manager", "active")),
                "You are a billing manager of it",
            ),
            (None, "You are not a member of it."),
        ] {
            let AccountAdmin::No(why) = account_admin(&mona, 1, Some(&org), membership.as_ref())
            else {
                panic!("{membership:?} is no admin");
            };
            assert!(why.contains(expected), "{why}");
            assert!(why.contains("organization acme: its admins"), "{why}");
        }
        assert!(matches!(
            account_admin(&mona, 1, None, None),
            AccountAdmin::No(_)
        ));
    }
}
