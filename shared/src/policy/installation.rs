//! Installation-level policies, set by the App's operator: for the repositories a pattern
//! matches, which triggers may start jobs, who may start them, whether approval is always
//! required and how long a job may run. The most specific matching policy wins.

use crate::ids::RepoFullName;
pub use crate::ports::{InstallationPolicy, TriggerKind};

impl TriggerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Comment => "comment",
            Self::PrOpened => "pr_opened",
            Self::Push => "push",
            Self::CheckSuite => "check_suite",
            Self::CiFailed => "ci_failed",
            Self::Labeled => "labeled",
            Self::Schedule => "schedule",
            Self::Operator => "operator",
        }
    }
}

impl InstallationPolicy {
    /// How specific the pattern is: literal characters count, wildcards do not.
    fn specificity(&self) -> usize {
        self.repo_pattern
            .chars()
            .filter(|c| !matches!(c, '*' | '?'))
            .count()
    }

    pub fn matches(&self, repo: &RepoFullName) -> bool {
        repo_pattern_matches(&self.repo_pattern, repo)
    }
}

/// Whether `repo` matches `pattern` (`acme/*`, `acme/api-?`), in any case: `*` matches
/// any run of characters except `/`, `?` one character except `/`.
pub fn repo_pattern_matches(pattern: &str, repo: &RepoFullName) -> bool {
    glob_match(
        pattern.to_ascii_lowercase().as_bytes(),
        repo.as_str().to_ascii_lowercase().as_bytes(),
    )
}

/// The most specific policy whose pattern matches `repo`; on a tie, the first by name so
/// the answer never depends on storage order.
pub fn matching_policy<'p>(
    policies: &'p [InstallationPolicy],
    repo: &RepoFullName,
) -> Option<&'p InstallationPolicy> {
    policies
        .iter()
        .filter(|policy| policy.matches(repo))
        .min_by(|a, b| {
            b.specificity()
                .cmp(&a.specificity())
                .then_with(|| a.name.cmp(&b.name))
        })
}

/// `*` matches any run of characters except `/`, `?` one character except `/`.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if (c == b'?' && text[t] != b'/') || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) if text[star_t] != b'/' => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                _ => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::InstallationId;

    fn policy(name: &str, pattern: &str) -> InstallationPolicy {
        InstallationPolicy {
            installation: InstallationId(1),
            name: name.to_owned(),
            repo_pattern: pattern.to_owned(),
            allowed_triggers: None,
            allowed_users: None,
            require_approval: None,
            max_runtime_seconds: None,
            allow_hosted_model: None,
            user_jobs_per_hour: None,
            installation_jobs_per_hour: None,
            allowed_overrides: None,
            token_budget: None,
            plan_first: None,
        }
    }

    #[test]
    fn globs_match_within_one_path_segment() {
        let repo = RepoFullName::new("octo-org/api-server");
        assert!(policy("a", "*/*").matches(&repo));
        assert!(policy("a", "octo-org/*").matches(&repo));
        assert!(policy("a", "octo-org/api-*").matches(&repo));
        assert!(policy("a", "Octo-Org/API-Server").matches(&repo));
        assert!(!policy("a", "octo-org/web-*").matches(&repo));
        assert!(
            !policy("a", "*").matches(&repo),
            "* does not cross the slash"
        );
        assert!(!policy("a", "octo-org/api-serve?x").matches(&repo));
        assert!(policy("a", "octo-org/api-serve?").matches(&repo));
    }

    #[test]
    fn the_most_specific_policy_wins() {
        let policies = vec![
            policy("everything", "*/*"),
            policy("org", "octo-org/*"),
            policy("api", "octo-org/api-*"),
        ];
        let chosen = |repo: &str| {
            matching_policy(&policies, &RepoFullName::new(repo)).map(|policy| policy.name.as_str())
        };
        assert_eq!(chosen("octo-org/api-server"), Some("api"));
        assert_eq!(chosen("octo-org/web"), Some("org"));
        assert_eq!(chosen("someone/else"), Some("everything"));
        assert_eq!(
            matching_policy(&policies[1..], &RepoFullName::new("a/b")),
            None
        );
    }
}
